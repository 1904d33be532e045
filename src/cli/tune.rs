//! `laneguard tune`: run a rule set (and optionally a baseline) over a labeled corpus and report,
//! per rule, false and true positives, who and what is behind them, projected alerts per day,
//! rules that never fired and attack records nothing caught; exit non-zero when the noise is
//! over budget, so a rule change that raises noise fails CI.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use clap::{Args, ValueEnum};

use laneguard_core::config::{Config, RulesSource, Sources};
use laneguard_core::input::{self, InputOptions};
use laneguard_core::pipeline::Pipeline;
use laneguard_core::policy;
use laneguard_core::rules::Mode;
use laneguard_core::sources::ParseOptions;
use laneguard_core::tune::{self, Labels, Tally};

use super::rules::ConfigArgs;

/// Output format of `tune`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TuneFormat {
    /// A table for people.
    Table,
    /// One JSON document for machines.
    Json,
}

/// `laneguard tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Labeled corpus: `benign/` and `attack/` directories anywhere below, or a `labels.tsv`.
    #[arg(long, value_name = "DIR")]
    pub corpus: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A baseline rule directory to compare with: prints the fire-set diff (new, lost, unchanged).
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Fail (exit 1) when non-shadow findings on benign records exceed N.
    #[arg(long, value_name = "N")]
    pub max_fp: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: TuneFormat,
}

struct RuleInfo {
    id: String,
    mode: Mode,
    fp_budget: Option<u64>,
}

fn run_corpus(args: &TuneArgs, config: Config) -> anyhow::Result<Tally> {
    let mut engine = config.engine();
    let mut tally = Tally::new(Labels::for_corpus(&args.corpus)?);
    {
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut tally);
        let (inputs, errors) = input::expand(std::slice::from_ref(&args.corpus));
        if let Some(e) = errors.into_iter().next() {
            return Err(e.into());
        }
        let counter = Arc::new(AtomicU64::new(0));
        for i in &inputs {
            input::read_input(i, &InputOptions::default(), &mut pipeline, &counter)?;
        }
        let d = pipeline.diagnostics();
        if d.total() > 0 {
            eprintln!(
                "laneguard tune: {} diagnostics while reading the corpus",
                d.total()
            );
        }
    }
    tally.finish();
    Ok(tally)
}

/// Run `laneguard tune`.
pub fn run(args: &TuneArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("laneguard: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    for e in &config.rejected {
        eprintln!("laneguard: rule not loaded: {e}");
    }
    let mut infos: Vec<RuleInfo> = config
        .rules
        .rules()
        .iter()
        .map(|r| RuleInfo {
            id: r.id.clone(),
            mode: r.mode,
            fp_budget: r.fp_budget,
        })
        .collect();
    for id in policy::RULE_IDS {
        infos.push(RuleInfo {
            id: (*id).to_owned(),
            mode: Mode::Alert,
            fp_budget: None,
        });
    }
    let tally = run_corpus(args, config)?;
    let fire_diff = match &args.baseline {
        Some(dir) => {
            // The same policy, the baseline's rules.
            let sources = Sources {
                rules: RulesSource::Dir(dir.clone()),
                ..args.config.sources()?
            };
            let base = Config::load(&sources)?;
            for e in &base.rejected {
                eprintln!("laneguard: baseline rule not loaded: {e}");
            }
            let base_tally = run_corpus(args, base)?;
            Some(tune::diff(&tally.fired, &base_tally.fired))
        }
        None => None,
    };

    let mut over_budget: Vec<String> = Vec::new();
    for info in &infos {
        if let (Some(budget), Some(t)) = (info.fp_budget, tally.rules.get(&info.id))
            && t.benign > budget
            && info.mode != Mode::Shadow
        {
            over_budget.push(format!(
                "{}: {} false positives, budget {budget}",
                info.id, t.benign
            ));
        }
    }
    let fp = tally.false_positives();
    if let Some(max) = args.max_fp
        && fp > max
    {
        over_budget.push(format!("{fp} false positives in total, --max-fp {max}"));
    }
    let never: Vec<&str> = infos
        .iter()
        .filter(|i| i.mode != Mode::Off && !tally.rules.contains_key(&i.id))
        .map(|i| i.id.as_str())
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        TuneFormat::Json => {
            let doc = serde_json::json!({
                "corpus": args.corpus.display().to_string(),
                "events": tally.events,
                "rules": tally.rules.iter().map(|(id, t)| {
                    let mode = infos.iter().find(|i| i.id == *id).map_or(Mode::Alert, |i| i.mode);
                    let mut top: Vec<(&String, &u64)> = t.shapes.iter().collect();
                    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                    serde_json::json!({
                        "rule": id, "mode": mode, "benign": t.benign, "attack": t.attack,
                        "unlabeled": t.unlabeled, "shadow": t.shadow,
                        "principals": t.principals.len(), "shapes": t.shapes.len(),
                        "top_shapes": top.iter().take(3).map(|(s, n)| serde_json::json!({"shape": s, "count": n})).collect::<Vec<_>>(),
                        "benign_per_day": tally.per_day(t.benign),
                    })
                }).collect::<Vec<_>>(),
                "false_positives": fp,
                "never_fired": never,
                "uncaught_attack_events": tally.uncaught_attack,
                "uncaught_examples": tally.uncaught_examples,
                "diff": fire_diff,
                "over_budget": over_budget,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        TuneFormat::Table => {
            writeln!(
                out,
                "{:<44} {:<6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>9}  TOP SHAPE",
                "RULE", "MODE", "FP", "TP", "OTHER", "PRINC", "SHAPES", "FP/DAY"
            )?;
            for (id, t) in &tally.rules {
                let mode = infos.iter().find(|i| i.id == *id).map_or(Mode::Alert, |i| i.mode);
                let top = t.shapes.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
                writeln!(
                    out,
                    "{:<44} {:<6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>9}  {}",
                    id,
                    format!("{mode:?}").to_lowercase(),
                    t.benign,
                    t.attack,
                    t.unlabeled,
                    t.principals.len(),
                    t.shapes.len(),
                    tally.per_day(t.benign).map_or("-".into(), |d| format!("{d:.1}")),
                    top.map_or(String::new(), |(s, n)| format!(
                        "{n}× {}",
                        s.chars().take(70).collect::<String>()
                    ))
                )?;
            }
            let ev = |l| tally.events.get(&l).copied().unwrap_or(0);
            writeln!(
                out,
                "\n{} events ({} benign, {} attack, {} unlabeled); {} false positives (shadow excluded); {} attack events raised nothing",
                tally.events.values().sum::<u64>(),
                ev(tune::Label::Benign),
                ev(tune::Label::Attack),
                ev(tune::Label::Unlabeled),
                fp,
                tally.uncaught_attack
            )?;
            if !never.is_empty() {
                writeln!(out, "never fired ({}): {}", never.len(), never.join(", "))?;
            }
            for e in tally.uncaught_examples.iter().take(10) {
                writeln!(out, "uncaught: {e}")?;
            }
            if let Some(d) = &fire_diff {
                writeln!(
                    out,
                    "\nagainst the baseline: {} new, {} lost, {} unchanged",
                    d.new.len(),
                    d.lost.len(),
                    d.unchanged
                )?;
                for f in d.new.iter().take(20) {
                    writeln!(out, "  + {} {}", f.rule, f.origin)?;
                }
                for f in d.lost.iter().take(20) {
                    writeln!(out, "  - {} {}", f.rule, f.origin)?;
                }
            }
            for o in &over_budget {
                writeln!(out, "OVER BUDGET: {o}")?;
            }
        }
    }
    Ok(if over_budget.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
