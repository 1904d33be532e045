//! `laneguard test` and `laneguard validate`, and the engine every subcommand builds from
//! `--rules` / `--policy` (or the embedded defaults).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use laneguard_core::config::{Config, ConfigError, Sources};
use laneguard_core::rule_tests;

/// Where rules and policy come from.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Directory of rule files: `*.toml` (one rule each) and Sigma rules (`*.yml`, `*.yaml`)
    /// beside them (default: the embedded pack).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Policy file (default: the embedded example `rules/policy.toml`).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration sources these options name.
    pub fn sources(&self) -> Sources {
        Sources::from_paths(self.policy.as_deref(), self.rules.as_deref())
    }

    /// Load the policy (an invalid policy is an error) and the rules (invalid rule files are
    /// in [`Config::rejected`]; the others load).
    pub fn load(&self) -> Result<Config, ConfigError> {
        Config::load(&self.sources())
    }
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
