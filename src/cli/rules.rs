//! `laneguard test`, `laneguard validate` and `laneguard bundle`, and the configuration every
//! subcommand loads from `--config`, or `--rules` / `--policy`, or the embedded defaults.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use laneguard_core::bundle::{Bundle, BundleLimits};
use laneguard_core::config::{Config, ConfigError, InvalidRules, Sources};
use laneguard_core::rule_tests;

/// Where rules and policy come from.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// A configuration bundle — policy.toml beside a rules/ directory — as a directory, a
    /// `.tar.gz`, or `s3://bucket/key[?versionId=…]`: exactly what the deployed functions load.
    #[arg(long, value_name = "BUNDLE", conflicts_with_all = ["rules", "policy"])]
    pub config: Option<String>,
    /// Directory of rule files: `*.toml` (one rule each) and Sigma rules (`*.yml`, `*.yaml`)
    /// beside them (default: the embedded pack).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Policy file (default: the embedded example `rules/policy.toml`).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A rule file added to the rules (repeatable): a learned allowlist on top of the pack.
    #[arg(long, value_name = "FILE")]
    pub add_rules: Vec<PathBuf>,
}

impl ConfigArgs {
    /// The configuration sources these options name (reading a bundle when `--config` names
    /// one).
    pub fn sources(&self) -> anyhow::Result<Sources> {
        let Some(config) = &self.config else {
            return Ok(Sources {
                extra_rules: self.add_rules.clone(),
                ..Sources::from_paths(self.policy.as_deref(), self.rules.as_deref())
            });
        };
        let limits = BundleLimits::default();
        let bundle = if config.starts_with("s3://") {
            fetch_bundle(config, &limits)?
        } else {
            Bundle::from_path(std::path::Path::new(config), &limits)?
        };
        for entry in &bundle.ignored {
            eprintln!(
                "laneguard: {}: {entry} is neither the policy nor a rule file; not loaded",
                bundle.origin
            );
        }
        Ok(Sources {
            extra_rules: self.add_rules.clone(),
            ..bundle.sources()
        })
    }

    /// Load the policy (an invalid policy is an error) and the rules (invalid rule files are
    /// in [`Config::rejected`]; the others load).
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.sources()?)?)
    }
}

/// Load the configuration of a subcommand that detects (replay, tune): an invalid rule file
/// refuses the run unless `skip_invalid_rules` (`--skip-invalid-rules`) says to run without it.
/// On error everything is printed — each invalid rule file on its own line, `file:line: rule
/// id: reason` — and the exit status is 2 (a configuration error, like bad usage). `what` names
/// the configuration in messages (`""`, or `"baseline "`).
pub fn load_for_run(
    sources: anyhow::Result<Sources>,
    skip_invalid_rules: bool,
    what: &str,
) -> Result<Config, ExitCode> {
    let invalid = if skip_invalid_rules {
        InvalidRules::Skip
    } else {
        InvalidRules::Refuse
    };
    let error = match sources.map(|s| Config::load_for(&s, invalid)) {
        Ok(Ok(config)) => {
            for e in &config.rejected {
                eprintln!("laneguard: warning: {what}rule file skipped (--skip-invalid-rules): {e}");
            }
            return Ok(config);
        }
        Ok(Err(ConfigError::Rules { errors })) => {
            for e in &errors {
                eprintln!("laneguard: error: invalid {what}rule file: {e}");
            }
            eprintln!(
                "laneguard: error: {} invalid {what}rule file(s): refusing to run on part of the rules \
                 (fix them, or --skip-invalid-rules to run without them)",
                errors.len()
            );
            return Err(ExitCode::from(2));
        }
        Ok(Err(e)) => anyhow::Error::new(e),
        Err(e) => e,
    };
    eprintln!("laneguard: error: {what}configuration: {error:#}");
    Err(ExitCode::from(2))
}

#[cfg(feature = "aws")]
fn fetch_bundle(uri: &str, limits: &BundleLimits) -> anyhow::Result<Bundle> {
    super::aws::fetch_bundle(uri, limits)
}

#[cfg(not(feature = "aws"))]
fn fetch_bundle(uri: &str, _limits: &BundleLimits) -> anyhow::Result<Bundle> {
    anyhow::bail!("{uri}: this laneguard was built without the `aws` feature and cannot read S3")
}

/// `laneguard bundle`: validate a configuration directory and pack it for deployment.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The directory: policy.toml and rules/.
    pub dir: PathBuf,
    /// Write the `.tar.gz` here (default: standard output, unless it is a terminal).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Run `laneguard bundle`: the bundle is written only if every file loads and every rule test
/// passes — what the functions would refuse is refused here first.
pub fn bundle(args: &BundleArgs) -> anyhow::Result<ExitCode> {
    let bundle = match Bundle::from_dir(&args.dir, &BundleLimits::default()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("laneguard: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let config = match Config::load(&bundle.sources()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("laneguard: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    for e in &config.rejected {
        eprintln!("laneguard: {e}");
    }
    for w in config.warnings() {
        eprintln!("laneguard: warning: {w}");
    }
    let failed: Vec<_> = rule_tests::run_all(&config.rules, Some(&config.policy))
        .into_iter()
        .filter(|o| !o.passed)
        .collect();
    for o in &failed {
        eprintln!("laneguard: FAIL {} [{}]: {}", o.rule, o.file, o.message);
    }
    if !config.rejected.is_empty() || !failed.is_empty() {
        eprintln!(
            "laneguard bundle: not written: {} invalid rule files, {} failing rule tests",
            config.rejected.len(),
            failed.len()
        );
        return Ok(ExitCode::from(2));
    }
    let packed = bundle.pack().context("packing the bundle")?;
    match &args.output {
        Some(path) => std::fs::write(path, &packed).with_context(|| format!("writing {}", path.display()))?,
        None if std::io::stdout().is_terminal() => {
            eprintln!("laneguard bundle: refusing to write a binary archive to a terminal; use -o FILE");
            return Ok(ExitCode::from(2));
        }
        None => std::io::stdout().lock().write_all(&packed)?,
    }
    eprintln!(
        "laneguard bundle: {} rules and the policy of {}, {} bytes",
        config.rules.rules().len(),
        args.dir.display(),
        packed.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `laneguard validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// `laneguard test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print every test, not only failures.
    #[arg(long, short)]
    verbose: bool,
    /// Print each rule's card first: mode, severity, ATT&CK, and for an imported Sigma rule its
    /// Sigma id, status, level, author and credit, references, false positives and warnings.
    #[arg(long)]
    explain: bool,
}

/// The card `test --explain` prints for a rule.
fn explain(rule: &laneguard_core::rules::Rule) {
    let mode = match rule.mode {
        laneguard_core::rules::Mode::Alert => "alert",
        laneguard_core::rules::Mode::Shadow => "shadow",
        laneguard_core::rules::Mode::Off => "off",
    };
    println!("{} [{mode}, {}] {}", rule.id, rule.severity, rule.title);
    println!("  file: {}", rule.file);
    if !rule.attack.is_empty() {
        println!("  attack: {}", rule.attack.join(", "));
    }
    for r in &rule.references {
        println!("  reference: {r}");
    }
    if let Some(s) = &rule.sigma {
        println!(
            "  sigma: {} {:?} (status {}, level {})",
            s.id.as_deref().unwrap_or("(no id)"),
            s.title,
            s.status.as_deref().unwrap_or("-"),
            s.level.as_deref().unwrap_or("-")
        );
        println!("  author: {}", s.author.as_deref().unwrap_or("-"));
        println!("  credit: {}", s.credit);
        for r in &s.references {
            println!("  reference: {r}");
        }
        for f in &s.falsepositives {
            println!("  false positive: {f}");
        }
        if !s.tags.is_empty() {
            println!("  tags: {}", s.tags.join(", "));
        }
    }
    for w in &rule.warnings {
        match w.line {
            Some(l) => println!("  warning: line {l}: {}", w.text),
            None => println!("  warning: {}", w.text),
        }
    }
}

/// Run `laneguard validate`: load everything, report every problem with file and line.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("laneguard: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    for e in &config.rejected {
        eprintln!("laneguard: {e}");
    }
    let warnings = config.warnings();
    for w in &warnings {
        eprintln!("laneguard: warning: {w}");
    }
    println!(
        "{} rules loaded, {} invalid, {} warnings",
        config.rules.rules().len(),
        config.rejected.len(),
        warnings.len()
    );
    Ok(if config.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Run `laneguard test`: every rule's tests through the real parsers and the policy.
pub fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("laneguard: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    for e in &config.rejected {
        println!("FAIL {e}");
    }
    if args.explain {
        for rule in config.rules.rules() {
            explain(rule);
        }
    }
    let outcomes = rule_tests::run_all(&config.rules, Some(&config.policy));
    let mut passed = 0;
    let mut failed = config.rejected.len();
    for o in &outcomes {
        let what = match (o.index, &o.name) {
            (Some(i), Some(n)) => format!("test #{} ({n})", i + 1),
            (Some(i), None) => format!("test #{}", i + 1),
            (None, _) => "rule".to_owned(),
        };
        if o.passed {
            passed += 1;
            if args.verbose {
                println!("ok   {} {what}", o.rule);
            }
        } else {
            failed += 1;
            println!("FAIL {} {what} [{}]: {}", o.rule, o.file, o.message);
        }
    }
    println!(
        "{} rules, {} tests: {passed} passed, {failed} failed",
        config.rules.rules().len(),
        outcomes.iter().filter(|o| o.index.is_some()).count()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
