//! Tuning: what a rule set does on a labeled corpus — the measured step between writing a rule
//! and letting it page anyone.
//!
//! A corpus is a directory of logs labeled by layout (a `benign/` or `attack/` directory anywhere
//! on a file's path) or by a `labels.tsv` file (`path<TAB>benign|attack`, paths relative to the
//! corpus). [`Tally`] is a pipeline [`Output`]: it counts, per rule, hits on benign records (false
//! positives), hits on attack records (true positives), the principals and statement shapes
//! behind the hits, the corpus time span (for alerts-per-day projections), and the attack records
//! no rule caught. [`diff`] compares the fire sets of two rule sets on the same corpus.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::event::{Event, Timestamp};
use crate::finding::Finding;
use crate::pipeline::Output;

/// The label of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Known-good traffic: any finding on it is a false positive.
    Benign,
    /// Attack traffic: findings on it are true positives.
    Attack,
    /// Not labeled: counted, not scored.
    Unlabeled,
}

/// How files of a corpus are labeled.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    explicit: HashMap<PathBuf, Label>,
}

impl Labels {
    /// Labels for a corpus directory: `labels.tsv` entries (if the file exists) override the
    /// `benign/` / `attack/` layout. Lines are `path<TAB>label`; `#` starts a comment; other
    /// columns are ignored.
    pub fn for_corpus(dir: &Path) -> std::io::Result<Labels> {
        let mut explicit = HashMap::new();
        let file = dir.join("labels.tsv");
        if file.is_file() {
            for line in std::fs::read_to_string(&file)?.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut cols = line.split('\t');
                let (Some(path), Some(label)) = (cols.next(), cols.next()) else {
                    continue;
                };
                let label = match label.trim() {
                    "benign" => Label::Benign,
                    "attack" => Label::Attack,
                    _ => continue,
                };
                explicit.insert(dir.join(path.trim()), label);
            }
        }
        Ok(Labels { explicit })
    }

    /// The label of a file.
    pub fn of(&self, file: &str) -> Label {
        let path = Path::new(file);
        if let Some(l) = self.explicit.get(path) {
            return *l;
        }
        for c in path.components().rev() {
            match c.as_os_str().to_str() {
                Some("benign") => return Label::Benign,
                Some("attack") => return Label::Attack,
                _ => {}
            }
        }
        Label::Unlabeled
    }
}

/// Per-rule counts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleTally {
    /// Findings on benign records.
    pub benign: u64,
    /// Findings on attack records.
    pub attack: u64,
    /// Findings on unlabeled records.
    pub unlabeled: u64,
    /// Shadow-mode findings (included in the counts above).
    pub shadow: u64,
    /// Distinct principals behind the findings.
    pub principals: BTreeSet<String>,
    /// Findings per statement fingerprint (or API action / flow port for other sources).
    pub shapes: BTreeMap<String, u64>,
}

/// A finding's identity in a fire set: rule and finding id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Fired {
    /// Rule id.
    pub rule: String,
    /// Finding id (deterministic).
    pub id: String,
    /// Where.
    pub origin: String,
}

/// Everything a tuning run measured.
#[derive(Debug, Serialize)]
pub struct Tally {
    #[serde(skip)]
    labels: Labels,
    /// Events per label.
    pub events: BTreeMap<Label, u64>,
    /// Per-rule counts.
    pub rules: BTreeMap<String, RuleTally>,
    /// Earliest and latest benign event time (for projections).
    pub benign_span: Option<(Timestamp, Timestamp)>,
    /// Attack events that raised no finding (count).
    pub uncaught_attack: u64,
    /// The first uncaught attack events (origins).
    pub uncaught_examples: Vec<String>,
    /// Every finding (for fire-set diffs).
    #[serde(skip)]
    pub fired: BTreeSet<Fired>,
    #[serde(skip)]
    pending: Option<String>,
}

impl Tally {
    /// A tally labeling files with `labels`.
    pub fn new(labels: Labels) -> Self {
        Tally {
            labels,
            events: BTreeMap::new(),
            rules: BTreeMap::new(),
            benign_span: None,
            uncaught_attack: 0,
            uncaught_examples: Vec::new(),
            fired: BTreeSet::new(),
            pending: None,
        }
    }

    fn settle(&mut self) {
        if let Some(origin) = self.pending.take() {
            self.uncaught_attack += 1;
            if self.uncaught_examples.len() < 20 {
                self.uncaught_examples.push(origin);
            }
        }
    }

    /// Finish the run (call once after the last event).
    pub fn finish(&mut self) {
        self.settle();
    }

    /// Projected findings per day of a benign hit count, from the benign corpus's time span
    /// (at least one hour, so a burst corpus does not project absurd rates).
    pub fn per_day(&self, hits: u64) -> Option<f64> {
        let (a, b) = self.benign_span?;
        let secs = (b.as_second() - a.as_second()).max(3600) as f64;
        Some(hits as f64 * 86_400.0 / secs)
    }

    /// Total false positives (benign hits), shadow rules excluded.
    pub fn false_positives(&self) -> u64 {
        self.rules
            .values()
            .map(|r| r.benign - r.shadow.min(r.benign))
            .sum()
    }
}

fn shape_of(f: &Finding) -> String {
    if let Some(s) = &f.statement {
        format!(
            "{} {}",
            s.fingerprint,
            s.normalized.chars().take(80).collect::<String>()
        )
    } else if let Some(a) = &f.api {
        format!("{} {}", a.service, a.action)
    } else if let Some(fl) = &f.flow {
        format!(
            "{} port {}",
            fl.action.as_deref().unwrap_or("-"),
            fl.dst_port.map_or("-".into(), |p| p.to_string())
        )
    } else {
        f.title.clone()
    }
}

impl Output for Tally {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        self.settle();
        let label = event.origin.file.map_or(Label::Unlabeled, |f| self.labels.of(f));
        *self.events.entry(label).or_default() += 1;
        match label {
            Label::Benign => {
                let t = event.time;
                self.benign_span = Some(match self.benign_span {
                    None => (t, t),
                    Some((a, b)) => (a.min(t), b.max(t)),
                });
            }
            Label::Attack => self.pending = Some(event.origin.to_string()),
            Label::Unlabeled => {}
        }
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.pending = None;
        for f in findings {
            let label = f
                .evidence
                .origin
                .file
                .as_deref()
                .map_or(Label::Unlabeled, |p| self.labels.of(p));
            let t = self.rules.entry(f.rule_id.clone()).or_default();
            match label {
                Label::Benign => t.benign += 1,
                Label::Attack => t.attack += 1,
                Label::Unlabeled => t.unlabeled += 1,
            }
            if f.shadow {
                t.shadow += 1;
            }
            if let Some(p) = f.actor.principal.as_ref().or(f.actor.user.as_ref()) {
                t.principals.insert(p.clone());
            }
            *t.shapes.entry(shape_of(f)).or_default() += 1;
            self.fired.insert(Fired {
                rule: f.rule_id.clone(),
                id: f.id.clone(),
                origin: f.evidence.origin.to_string(),
            });
        }
    }
}

/// The difference between two fire sets on the same corpus.
#[derive(Debug, Default, Serialize)]
pub struct FireDiff {
    /// Findings only the candidate raised.
    pub new: Vec<Fired>,
    /// Findings only the baseline raised.
    pub lost: Vec<Fired>,
    /// Findings both raised.
    pub unchanged: usize,
}

/// Compare a candidate's fire set with a baseline's.
pub fn diff(candidate: &BTreeSet<Fired>, baseline: &BTreeSet<Fired>) -> FireDiff {
    FireDiff {
        new: candidate.difference(baseline).cloned().collect(),
        lost: baseline.difference(candidate).cloned().collect(),
        unchanged: candidate.intersection(baseline).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_by_layout_and_file() {
        let l = Labels::default();
        assert_eq!(l.of("samples/mysql-audit/benign/app.log"), Label::Benign);
        assert_eq!(l.of("samples/mysql-audit/attack/sqli.log"), Label::Attack);
        assert_eq!(l.of("samples/reference/x.log"), Label::Unlabeled);
        let dir = std::env::temp_dir().join(format!("lg-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("labels.tsv"),
            "# path\tlabel\nx.log\tattack\nbenign/y.log\tattack\n",
        )
        .unwrap();
        let l = Labels::for_corpus(&dir).unwrap();
        assert_eq!(l.of(&dir.join("x.log").display().to_string()), Label::Attack);
        assert_eq!(
            l.of(&dir.join("benign/y.log").display().to_string()),
            Label::Attack
        );
        assert_eq!(
            l.of(&dir.join("benign/z.log").display().to_string()),
            Label::Benign
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fire_set_diff() {
        let f = |r: &str, id: &str| Fired {
            rule: r.into(),
            id: id.into(),
            origin: String::new(),
        };
        let a: BTreeSet<_> = [f("a", "1"), f("a", "2"), f("b", "3")].into();
        let b: BTreeSet<_> = [f("a", "1"), f("c", "4")].into();
        let d = diff(&a, &b);
        assert_eq!(d.new.len(), 2);
        assert_eq!(d.lost, vec![f("c", "4")]);
        assert_eq!(d.unchanged, 1);
    }
}
