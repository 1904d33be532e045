//! The `laneguard` command line. Only wiring: every subcommand lives in `cli/`, everything they
//! compute lives in the library.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// laneguard: who ran what, from which network zone, against which data — and is that allowed?
#[derive(Debug, Parser)]
#[command(name = "laneguard", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay log files, directories or standard input through the detection engine.
    Replay(Box<cli::replay::ReplayArgs>),
    /// Classify SQL statements: one JSON line per statement.
    Classify(cli::ClassifyArgs),
    /// Run every rule's own tests through the real parsers and the policy.
    Test(cli::rules::TestArgs),
    /// Load the rules and the policy and report every problem with file and line.
    Validate(cli::rules::ValidateArgs),
    /// Measure a rule set on a labeled corpus: false/true positives per rule, noise budget.
    Tune(cli::tune::TuneArgs),
    /// Learn the statement shapes of benign traffic and print an allowlist rule.
    Learn(cli::learn::LearnArgs),
    /// Wrap raw log records into a CloudWatch Logs subscription Lambda event (for local runs).
    Envelope(cli::envelope::EnvelopeArgs),
    /// Validate a configuration directory (policy.toml + rules/) and pack it as the bundle the
    /// functions load (`LANEGUARD_CONFIG`).
    Bundle(cli::rules::BundleArgs),
    /// Re-run detection on the batches on the functions' on-failure queue and deliver their
    /// findings (SNS, SIEM); a message is deleted once delivered.
    #[cfg(feature = "aws")]
    Redrive(cli::redrive::RedriveArgs),
    /// Sigma rules: print the laneguard rule each compiles into, or check what loads and why not.
    Sigma(cli::sigma::SigmaArgs),
}

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    // `LANEGUARD_LOG`: `level` or `target=level,…` (tracing's `Targets`, no regex directives:
    // `EnvFilter` would turn on regex-automata's DFA builder for every regex the rules compile).
    let filter = std::env::var("LANEGUARD_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::WARN));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .finish()
        .with(filter)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Replay(args) => cli::replay::run(args),
        Command::Classify(args) => cli::classify::run(args),
        Command::Test(args) => cli::rules::test(args),
        Command::Validate(args) => cli::rules::validate(args),
        Command::Envelope(args) => cli::envelope::run(args),
        Command::Bundle(args) => cli::rules::bundle(args),
        #[cfg(feature = "aws")]
        Command::Redrive(args) => cli::redrive::run(args),
        Command::Tune(args) => cli::tune::run(args),
        Command::Learn(args) => cli::learn::run(args),
        Command::Sigma(args) => cli::sigma::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("laneguard: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
