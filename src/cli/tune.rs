//! `laneguard tune`: run a rule set (and optionally a baseline) over a labeled corpus and report,
//! per rule, false and true positives, who and what is behind them, projected alerts per day,
//! rules that never fired and attack records nothing caught; exit non-zero when the noise is
//! over budget, so a rule change that raises noise fails CI.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context;
use clap::{Args, ValueEnum};

use laneguard_core::config::{Config, RulesSource, Sources};
use laneguard_core::envelope::Limits;
use laneguard_core::input::{self, InputOptions};
use laneguard_core::pipeline::Pipeline;
use laneguard_core::policy;
use laneguard_core::rules::Mode;
use laneguard_core::sources::ParseOptions;
use laneguard_core::tune::{self, Baseline, Labels, OcsfRun, Split, Tally};

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
    #[arg(long, value_name = "DIR", required_unless_present = "compare")]
    pub corpus: Option<PathBuf>,
    /// Compare the findings of two replays of the same archive, each written as OCSF (`replay
    /// --ocsf-dir`, or files of `replay --format ocsf`): per rule, findings kept, added and gone,
    /// keyed by the deterministic finding id; the added and gone findings with their origins.
    /// Exits 1 when the runs differ and `--fail-on-change` is given.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with_all = ["corpus", "baseline", "write_baseline", "split", "max_fp"])]
    pub compare: Option<Vec<PathBuf>>,
    /// With `--compare`: exit 1 when the two runs did not raise the same findings.
    #[arg(long, requires = "compare")]
    pub fail_on_change: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run even when rule files are invalid, without them (each is reported as a warning and the
    /// summary counts them). By default an invalid rule file refuses the run (exit 2): a detector
    /// must not run silently on part of its rules.
    #[arg(long)]
    pub skip_invalid_rules: bool,
    /// A baseline to compare with. A rule directory: prints the fire-set diff (new, lost,
    /// unchanged). A baseline file (`--write-baseline`): fails (exit 1) when a benign record is
    /// newly flagged or a flagged attack record is lost.
    #[arg(long, value_name = "DIR|FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the records this run flags, per labeled file, to FILE (a baseline to commit).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Score only the last part of each benign file: the first FRACTION (0 to 1) of its lines
    /// is what `laneguard learn --split FRACTION` learned from.
    #[arg(long, value_name = "FRACTION")]
    pub split: Option<f64>,
    /// Fail (exit 1) when non-shadow findings on benign records exceed N.
    #[arg(long, value_name = "N")]
    pub max_fp: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: TuneFormat,
}

/// A [`Split`] of `fraction` over `inputs` (one counting pass over them), or `None`.
pub(crate) fn split_of<'i>(
    fraction: Option<f64>,
    inputs: impl Iterator<Item = &'i input::Input>,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<Option<Split>> {
    let Some(fraction) = fraction else {
        return Ok(None);
    };
    let mut split = Split::new(fraction);
    for i in inputs {
        input::read_input(i, &InputOptions::default(), &mut split.counter(), counter)?;
    }
    Ok(Some(split))
}

struct RuleInfo {
    id: String,
    mode: Mode,
    fp_budget: Option<u64>,
}

fn run_corpus(args: &TuneArgs, corpus: &Path, config: Config) -> anyhow::Result<Tally> {
    let mut engine = config.engine();
    let corpus = corpus.to_path_buf();
    let (inputs, errors) = input::expand(std::slice::from_ref(&corpus));
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    let counter = Arc::new(AtomicU64::new(0));
    let split = split_of(args.split, inputs.iter(), &counter)?;
    let mut tally = Tally::with_split(Labels::for_corpus(&corpus)?, split);
    {
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut tally);
        for i in &inputs {
            input::read_input(i, &InputOptions::default(), &mut pipeline, &counter)?;
        }
        // Absences of sequence rules, decided once the corpus is read (as replay does).
        pipeline.finish(true);
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

/// Every OCSF finding under `root` (a file, or a directory walked in sorted order: `.json`,
/// `.jsonl` and `.ocsf` files, plain or gzip), with `file:line` in its errors.
fn read_ocsf(root: &Path) -> anyhow::Result<(OcsfRun, usize)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| p.display().to_string())?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .with_context(|| p.display().to_string())?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .with_context(|| p.display().to_string())?;
            entries.sort();
            stack.extend(entries.into_iter().rev());
        } else if p == root
            || p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                [".json", ".jsonl", ".ocsf", ".json.gz", ".jsonl.gz"]
                    .iter()
                    .any(|x| n.ends_with(x))
            })
        {
            files.push(p);
        }
    }
    let mut run = OcsfRun::default();
    for file in &files {
        let bytes = std::fs::read(file).with_context(|| file.display().to_string())?;
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            laneguard_core::envelope::decode::gunzip(&bytes, Limits::default().max_stream, &mut out)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            out
        } else {
            bytes
        };
        let text = String::from_utf8(text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (i, line) in text.lines().enumerate() {
            run.add_line(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", file.display(), i + 1))?;
        }
    }
    Ok((run, files.len()))
}

/// `laneguard tune --compare OLD NEW`.
fn compare(args: &TuneArgs, old_dir: &Path, new_dir: &Path) -> anyhow::Result<ExitCode> {
    let (old, old_files) = read_ocsf(old_dir)?;
    let (new, new_files) = read_ocsf(new_dir)?;
    if old_files == 0 || new_files == 0 {
        let empty = if old_files == 0 { old_dir } else { new_dir };
        anyhow::bail!("{}: no OCSF files (.json, .jsonl, .ocsf) found", empty.display());
    }
    let c = tune::compare_runs(&old, &new);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        TuneFormat::Json => {
            let doc = serde_json::json!({
                "old": old_dir.display().to_string(),
                "new": new_dir.display().to_string(),
                "old_findings": old.findings.len(),
                "new_findings": new.findings.len(),
                "kept": c.kept,
                "rules": c.rules,
                "added": c.added,
                "gone": c.gone,
                "duplicates": {"old": old.duplicates, "new": new.duplicates},
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        TuneFormat::Table => {
            writeln!(
                out,
                "{:<44} {:>7} {:>7} {:>7} {:>7} {:>7}",
                "RULE", "OLD", "NEW", "KEPT", "ADDED", "GONE"
            )?;
            for (rule, r) in &c.rules {
                writeln!(
                    out,
                    "{rule:<44} {:>7} {:>7} {:>7} {:>7} {:>7}",
                    r.old, r.new, r.kept, r.added, r.gone
                )?;
            }
            writeln!(
                out,
                "\n{} findings in {} ({old_files} files), {} in {} ({new_files} files): {} kept, {} added, {} gone",
                old.findings.len(),
                old_dir.display(),
                new.findings.len(),
                new_dir.display(),
                c.kept,
                c.added.len(),
                c.gone.len()
            )?;
            for f in c.added.iter().take(20) {
                writeln!(out, "  + {} {} {}", f.rule, f.origin, f.id)?;
            }
            for f in c.gone.iter().take(20) {
                writeln!(out, "  - {} {} {}", f.rule, f.origin, f.id)?;
            }
            if c.added.len() > 20 || c.gone.len() > 20 {
                writeln!(out, "  … (--format json lists every finding)")?;
            }
            if old.duplicates + new.duplicates > 0 {
                writeln!(
                    out,
                    "{} findings were read twice (one run written into a directory twice?): counted once",
                    old.duplicates + new.duplicates
                )?;
            }
        }
    }
    Ok(if args.fail_on_change && !c.is_same() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Run `laneguard tune`.
pub fn run(args: &TuneArgs) -> anyhow::Result<ExitCode> {
    if let Some([old, new]) = args.compare.as_deref() {
        return compare(args, old, new);
    }
    let Some(corpus_dir) = args.corpus.as_deref() else {
        anyhow::bail!("--corpus DIR or --compare OLD NEW is needed");
    };
    let config = match super::rules::load_for_run(args.config.sources(), args.skip_invalid_rules, "") {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let skipped_rules = config.rejected.len();
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
    let tally = run_corpus(args, corpus_dir, config)?;
    let corpus = corpus_dir.display().to_string();
    if let Some(path) = &args.write_baseline {
        std::fs::write(path, tally.baseline().render(&corpus))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    // A baseline file: regressions against the records it lists.
    let regressions = match &args.baseline {
        Some(path) if path.is_file() => {
            let text =
                std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let base = Baseline::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some(base.compare(&tally.baseline()))
        }
        _ => None,
    };
    let fire_diff = match &args.baseline {
        Some(dir) if !dir.is_file() => {
            // The same policy, the baseline's rules.
            let sources = args.config.sources().map(|s| Sources {
                rules: RulesSource::Dir(dir.clone()),
                ..s
            });
            let base = match super::rules::load_for_run(sources, args.skip_invalid_rules, "baseline ") {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let base_tally = run_corpus(args, corpus_dir, base)?;
            Some(tune::diff(&tally.fired, &base_tally.fired))
        }
        _ => None,
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
    if let Some(r) = &regressions
        && !r.is_clean()
    {
        over_budget.push(format!(
            "against the baseline: {} benign records newly flagged, {} attack records lost",
            r.new_benign.len(),
            r.lost_attack.len()
        ));
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
                "corpus": corpus,
                "events": tally.events,
                "statements": tally.statements,
                "regressions": regressions,
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
                "skipped_rules": skipped_rules,
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
            for (source, c) in &tally.statements {
                writeln!(
                    out,
                    "{source}: {} benign statements, {} flagged ({:.3} %; {} = {:.3} % with shadow rules); {} attack statements, {} flagged",
                    c.benign,
                    c.benign_flagged,
                    100.0 * c.fp_rate(false),
                    c.benign_flagged_with_shadow,
                    100.0 * c.fp_rate(true),
                    c.attack,
                    c.attack_flagged
                )?;
            }
            if skipped_rules > 0 {
                writeln!(
                    out,
                    "{skipped_rules} invalid rule files skipped (--skip-invalid-rules): their rules are not in these figures"
                )?;
            }
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
            if let Some(r) = &regressions {
                writeln!(
                    out,
                    "\nagainst the baseline file: {} benign records newly flagged, {} attack records lost; {} attack records newly caught, {} benign records no longer flagged{}",
                    r.new_benign.len(),
                    r.lost_attack.len(),
                    r.new_attack,
                    r.fixed_benign,
                    if r.new_attack + r.fixed_benign > 0 {
                        " (update it with --write-baseline)"
                    } else {
                        ""
                    }
                )?;
                for o in r.new_benign.iter().take(20) {
                    writeln!(out, "  + benign {o}")?;
                }
                for o in r.lost_attack.iter().take(20) {
                    writeln!(out, "  - attack {o}")?;
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
