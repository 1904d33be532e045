//! `laneguard sigma convert` and `laneguard sigma check`: what the loader makes of Sigma rules,
//! for review before they run. `convert` prints the laneguard rule each `.yml` compiles into
//! (what `--rules DIR` loads, plus generated tests to review); `check` prints one line per rule:
//! loaded (with its mode, severity and warnings) or refused (with why).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use laneguard_core::policy::Policy;
use laneguard_core::rules::{Mode, RuleSet};
use laneguard_core::sigma::settings::SigmaSettings;
use laneguard_core::sigma::{self, Converted, SigmaError, testgen};

/// `laneguard sigma`.
#[derive(Debug, Args)]
pub struct SigmaArgs {
    #[command(subcommand)]
    command: SigmaCommand,
}

#[derive(Debug, Subcommand)]
enum SigmaCommand {
    /// Print the laneguard rule (TOML) each Sigma rule compiles into, with generated tests.
    Convert(ConvertArgs),
    /// Report per Sigma rule: loaded (mode, severity, warnings) or refused (why).
    Check(CommonArgs),
}

/// What both subcommands read.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Policy whose `[sigma]` settings apply (modes, require success, placeholders; default:
    /// the embedded example policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Add "AWS accepted the call" (`errorCode` absent) to every rule without an errorCode test.
    #[arg(long)]
    require_success: bool,
    /// Mode for a Sigma status, e.g. `--mode experimental=alert` (repeatable).
    #[arg(long = "mode", value_name = "STATUS=MODE")]
    modes: Vec<String>,
    /// Sigma rule files (`.yml`, `.yaml`) or directories of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ConvertArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Write `<rule id>.toml` files into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Leave out the generated review tests.
    #[arg(long)]
    no_tests: bool,
}

/// Run `laneguard sigma …`.
pub fn run(args: &SigmaArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        SigmaCommand::Convert(a) => convert(a),
        SigmaCommand::Check(a) => check(a),
    }
}

impl CommonArgs {
    fn policy(&self) -> anyhow::Result<Arc<Policy>> {
        Ok(Arc::new(match &self.policy {
            Some(p) => Policy::load(p)?,
            None => Policy::try_embedded()?,
        }))
    }

    fn settings(&self, policy: &Policy) -> anyhow::Result<SigmaSettings> {
        let mut s = policy.sigma_settings().clone();
        if self.require_success {
            s.require_success = true;
        }
        for m in &self.modes {
            let (status, mode) = m
                .split_once('=')
                .with_context(|| format!("--mode {m:?}: expected STATUS=MODE"))?;
            let mode = match mode {
                "alert" => Mode::Alert,
                "shadow" => Mode::Shadow,
                "off" => Mode::Off,
                other => anyhow::bail!("--mode {m:?}: unknown mode {other:?} (alert, shadow, off)"),
            };
            match status {
                "stable" => s.modes.stable = mode,
                "test" => s.modes.test = mode,
                "experimental" => s.modes.experimental = mode,
                "deprecated" => s.modes.deprecated = mode,
                "unset" => s.modes.unset = mode,
                other => anyhow::bail!(
                    "--mode {m:?}: unknown status {other:?} (stable, test, experimental, deprecated, unset)"
                ),
            }
        }
        Ok(s)
    }

    /// Every Sigma file named, directories expanded (not recursively), in sorted order.
    fn files(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for p in &self.paths {
            if p.is_dir() {
                let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|f| f.is_file() && sigma::is_sigma_file(&f.to_string_lossy()))
                    .collect();
                in_dir.sort();
                out.extend(in_dir);
            } else {
                out.push(p.clone());
            }
        }
        Ok(out)
    }
}

/// Read (size checked first) and convert one file.
fn convert_file(path: &Path, settings: &SigmaSettings) -> Result<Converted, SigmaError> {
    let text = sigma::read(path)?;
    sigma::convert(&path.display().to_string(), &text, settings)
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Alert => "alert",
        Mode::Shadow => "shadow",
        Mode::Off => "off",
    }
}

fn warning_text(w: &sigma::Warning) -> String {
    match w.line {
        Some(l) => format!("line {l}: {}", w.text),
        None => w.text.clone(),
    }
}

fn convert(args: &ConvertArgs) -> anyhow::Result<ExitCode> {
    let policy = args.common.policy()?;
    let settings = args.common.settings(&policy)?;
    let mut refused = 0;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for path in args.common.files()? {
        let c = match convert_file(&path, &settings) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("laneguard: refused: {e}");
                refused += 1;
                continue;
            }
        };
        let mut text = String::new();
        for w in &c.warnings {
            text.push_str(&format!("# warning: {}\n", warning_text(w)));
        }
        text.push_str(&c.toml);
        if !args.no_tests {
            let (tests, note) = testgen::generate(&c, Some(&policy));
            text.push_str(
                "\n# Generated from the rule itself: they show what it does, not that it is right.\n# Replace them with real CloudTrail records.\n",
            );
            text.push_str(&testgen::toml(&tests));
            if let Some(n) = note {
                text.push_str(&format!("# note: {n}\n"));
            }
        }
        match &args.out {
            Some(dir) => {
                let dest = dir.join(format!("{}.toml", c.id));
                std::fs::write(&dest, &text).with_context(|| format!("writing {}", dest.display()))?;
                eprintln!("laneguard: {} → {}", path.display(), dest.display());
            }
            None => println!("# ---- {}\n{text}", path.display()),
        }
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn check(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let policy = args.policy()?;
    let settings = args.settings(&policy)?;
    let files = args.files()?;
    println!(
        "{:<8}  {:<58}  {:<6}  {:<8}  NOTES",
        "RESULT", "RULE", "MODE", "SEVERITY"
    );
    let (mut loaded, mut refused, mut warned) = (0, 0, 0);
    let mut texts = Vec::new();
    for path in &files {
        match convert_file(path, &settings) {
            Ok(c) => {
                loaded += 1;
                if !c.warnings.is_empty() {
                    warned += 1;
                }
                let first = c
                    .warnings
                    .first()
                    .map_or("-".to_owned(), |w| format!("warning: {}", warning_text(w)));
                println!(
                    "{:<8}  {:<58}  {:<6}  {:<8}  {first}",
                    "loaded",
                    c.id,
                    mode_name(c.mode),
                    c.severity.as_str()
                );
                for w in c.warnings.iter().skip(1) {
                    println!(
                        "{:<8}  {:<58}  {:<6}  {:<8}  warning: {}",
                        "",
                        "",
                        "",
                        "",
                        warning_text(w)
                    );
                }
                texts.push((path.display().to_string(), c.toml));
            }
            Err(e) => {
                refused += 1;
                let id = sigma::rule_id(&path.to_string_lossy());
                println!("{:<8}  {:<58}  {:<6}  {:<8}  {e}", "refused", id, "-", "-");
            }
        }
    }
    // Together: duplicate ids and the shared scanners are checked over the whole set.
    let named: Vec<(String, &str)> = texts
        .iter()
        .map(|(f, t)| (format!("{f} (converted)"), t.as_str()))
        .collect();
    let (_, errors) = RuleSet::from_sources(named.iter().map(|(f, t)| (f.as_str(), *t)));
    for e in &errors {
        println!("{:<8}  {:<58}  {:<6}  {:<8}  {e}", "refused", "(set)", "-", "-");
    }
    println!(
        "{} Sigma rules: {loaded} loaded ({warned} with warnings), {} refused",
        files.len(),
        refused + errors.len()
    );
    Ok(if refused + errors.len() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
