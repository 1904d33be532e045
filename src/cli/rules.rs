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
    /// Directory of rule files (`*.toml`, one rule each; default: the embedded pack).
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
    /// The configuration sources these options name.
    pub fn sources(&self) -> Sources {
        Sources {
            extra_rules: self.add_rules.clone(),
            ..Sources::from_paths(self.policy.as_deref(), self.rules.as_deref())
        }
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
