//! `laneguard learn`: learn the statement shapes of benign traffic per (zone, user, database)
//! and print a reviewable allowlist rule, or (`--applications`) what application zones read of
//! the catalogs as policy `[[applications]]` entries (docs/TUNING.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use clap::{Args, ValueEnum};

use laneguard_core::config::{Config, Sources};
use laneguard_core::input::{self, Input, InputOptions};
use laneguard_core::learn::Learner;
use laneguard_core::pipeline::Pipeline;
use laneguard_core::rules::allowlist::By;
use laneguard_core::sources::ParseOptions;
use laneguard_core::tune::{Label, Labels};

/// What a learned shape is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LearnBy {
    /// The statement's family: list arity, optional filters, pagination and plain column lists
    /// folded, so what an ORM varies is one shape.
    Family,
    /// The exact fingerprint of the normalized statement.
    Fingerprint,
}

/// `laneguard learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Corpus: files under `benign/` directories (or labeled benign in `labels.tsv`) are learned;
    /// with no benign label anywhere, every file is.
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    /// Policy file (zones); default: the embedded example.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Shapes seen fewer times are listed for review but not allowed (`min_seen` in the rule).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_seen: u64,
    /// What a shape is.
    #[arg(long, value_enum, default_value = "family")]
    pub by: LearnBy,
    /// Learn only the first FRACTION (0 to 1) of each benign file's lines, to measure the rest
    /// with `laneguard tune --split FRACTION`.
    #[arg(long, value_name = "FRACTION")]
    pub split: Option<f64>,
    /// Print `[[applications]]` policy entries (the catalog reads of application zones that the
    /// policy does not expect yet) instead of the allowlist rule.
    #[arg(long)]
    pub applications: bool,
}

/// Run `laneguard learn`.
pub fn run(args: &LearnArgs) -> anyhow::Result<ExitCode> {
    // The same engine as every other entry point (the learner ignores its findings): learning
    // sees events enriched exactly as detection does.
    let config = match Config::load(&Sources::from_paths(args.policy.as_deref(), None)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("laneguard: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let labels = Labels::for_corpus(&args.corpus)?;
    let (inputs, errors) = input::expand(std::slice::from_ref(&args.corpus));
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    let name = |i: &Input| i.display_name();
    let benign: Vec<&Input> = inputs
        .iter()
        .filter(|i| labels.of(&name(i)) == Label::Benign)
        .collect();
    let chosen: Vec<&Input> = if benign.is_empty() {
        eprintln!("laneguard learn: no file is labeled benign; learning from every file of the corpus");
        inputs.iter().collect()
    } else {
        benign
    };
    let counter = Arc::new(AtomicU64::new(0));
    let split = super::tune::split_of(args.split, chosen.iter().copied(), &counter)?;
    let mut engine = config.engine();
    let by = match args.by {
        LearnBy::Family => By::Family,
        LearnBy::Fingerprint => By::Fingerprint,
    };
    let mut learner = Learner::new(by, split);
    {
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut learner);
        for i in chosen {
            input::read_input(i, &InputOptions::default(), &mut pipeline, &counter)?;
        }
    }
    let corpus = args.corpus.display().to_string();
    let text = if args.applications {
        learner.to_applications(&corpus)
    } else {
        learner.to_rule(&corpus, args.min_seen)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    eprintln!(
        "laneguard learn: {} statements, {} profiles",
        learner.statements,
        learner.profiles.len()
    );
    Ok(ExitCode::SUCCESS)
}
