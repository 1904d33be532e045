//! `laneguard test` and `laneguard validate`, and the engine every subcommand builds from
//! `--rules` / `--policy` (or the embedded defaults).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use laneguard::engine::Engine;
use laneguard::policy::{Policy, PolicyChecks};
use laneguard::rules::{RuleError, RuleSet, testing};

/// Where rules and policy come from.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// Directory of rule files (`*.toml`, one rule each; default: the embedded pack).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Policy file (default: the embedded example `rules/policy.toml`).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// Loaded configuration.
pub struct Config {
    /// The policy.
    pub policy: Arc<Policy>,
    /// The rules that loaded.
    pub rules: RuleSet,
    /// Rule files that did not load.
    pub errors: Vec<RuleError>,
}

impl ConfigArgs {
    /// Load the policy (an invalid policy is an error) and the rules (invalid rule files are
    /// reported; the others load).
    pub fn load(&self) -> anyhow::Result<Config> {
        let policy = match &self.policy {
            Some(p) => Policy::load(p)?,
            None => Policy::embedded(),
        };
        let (rules, errors) = match &self.rules {
            Some(dir) => {
                RuleSet::load_dir(dir).with_context(|| format!("reading rules from {}", dir.display()))?
            }
            None => RuleSet::embedded(),
        };
        Ok(Config {
            policy: Arc::new(policy),
            rules,
            errors,
        })
    }
}

impl Config {
    /// The engine: policy enrichment, the policy checks, then the rules.
    pub fn into_engine(self) -> Engine {
        let mut engine = Engine::default();
        engine.set_policy(Arc::clone(&self.policy));
        engine.add_detector(Box::new(PolicyChecks::new(Arc::clone(&self.policy))));
        engine.add_detector(Box::new(self.rules));
        engine
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
    for e in &config.errors {
        eprintln!("laneguard: {e}");
    }
    println!(
        "{} rules loaded, {} invalid",
        config.rules.rules().len(),
        config.errors.len()
    );
    Ok(if config.errors.is_empty() {
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
    for e in &config.errors {
        println!("FAIL {e}");
    }
    let outcomes = testing::run_all(&config.rules, Some(&config.policy));
    let mut passed = 0;
    let mut failed = config.errors.len();
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
