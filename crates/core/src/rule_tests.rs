//! Running rule tests: every rule carries `[[tests]]` (the format is [`crate::rules::TestSpec`])
//! — raw records fed through the real parsers, the SQL analysis and the policy enrichment, then
//! through the rule alone — so a passing test proves the whole path, not a hand-built event. A
//! rule without a positive and a negative test is an error, and a test input that does not
//! parse is a failure, not a pass. It sits above the pipeline (it runs one), not inside `rules`.

use std::sync::Arc;

use crate::config::rule_test_engine;
use crate::envelope::{RawRecord, RecordSink};
use crate::event::{Event, Origin, Source};
use crate::finding::Finding;
use crate::pipeline::{Output, Pipeline};
use crate::policy::Policy;
use crate::rules::eval::{EvalCtx, Hits};
use crate::rules::{Rule, RuleSet, TestSpec};
use crate::sources::ParseOptions;

/// The outcome of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    /// Rule id.
    pub rule: String,
    /// Rule file.
    pub file: String,
    /// 0-based index of the test in the file, or `None` for rule-level problems.
    pub index: Option<usize>,
    /// Test name.
    pub name: Option<String>,
    /// Passed?
    pub passed: bool,
    /// Why it failed (empty when passed).
    pub message: String,
}

struct Probe<'r> {
    rule: &'r Rule,
    check: &'r RuleSet,
    findings: Vec<Finding>,
    explanations: Vec<String>,
}

impl Output for Probe<'_> {
    fn event(&mut self, event: &Event<'_>, matched: &[String]) {
        if !matched.contains(&self.rule.id) {
            let mut hits = Hits::default();
            let mut ctx = EvalCtx::new(event, self.check.scanners(), &mut hits);
            let mut why = Vec::new();
            if let Some(rule) = self.check.rules().first() {
                if !rule.applies(event) {
                    why.push(format!(
                        "the rule does not apply to {} {} events",
                        event.source,
                        event.kind.name()
                    ));
                } else {
                    rule.condition.explain(&mut ctx, &mut why);
                }
            }
            if why.is_empty() && self.rule.allowlist.is_some() {
                why.push("the allowlist allows this statement shape for its profile".into());
            }
            if why.is_empty() {
                why.push("the rule matched no event".into());
            }
            self.explanations.push(why.join("; "));
        }
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.findings
            .extend(findings.iter().filter(|f| f.rule_id == self.rule.id).cloned());
    }
}

/// Run one test of a rule.
pub fn run_test(rule: &Rule, index: usize, test: &TestSpec, policy: Option<&Arc<Policy>>) -> TestOutcome {
    let mut outcome = TestOutcome {
        rule: rule.id.clone(),
        file: rule.file.clone(),
        index: Some(index),
        name: test.name.clone(),
        passed: false,
        message: String::new(),
    };
    let Some(source) = Source::from_name(&test.input.source) else {
        outcome.message = format!("unknown source {:?}", test.input.source);
        return outcome;
    };
    let check = RuleSet::isolated(rule);
    let mut engine = rule_test_engine(policy, RuleSet::isolated(rule));
    let mut probe = Probe {
        rule,
        check: &check,
        findings: Vec::new(),
        explanations: Vec::new(),
    };
    let problems = {
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut probe);
        for (i, record) in test.records().into_iter().enumerate() {
            pipeline.record(RawRecord {
                text: record,
                origin: Origin {
                    file: Some(&rule.file),
                    log_group: test.input.log_group.as_deref(),
                    index: u32::try_from(i).ok(),
                    ..Origin::default()
                },
                source: Some(source),
                envelope_time: None,
                aws: crate::envelope::AwsContext::default(),
            });
        }
        let events = pipeline.stats().total_events() + pipeline.stats().total_skipped();
        let diags: Vec<String> = pipeline
            .diagnostics()
            .kept()
            .iter()
            .map(|d| format!("{}: {}", d.kind, d.reason))
            .collect();
        (events, diags)
    };
    let (events, diags) = problems;
    if !diags.is_empty() {
        outcome.message = format!("test input does not parse cleanly: {}", diags.join("; "));
        return outcome;
    }
    if events == 0 {
        outcome.message = "test input produced no event".into();
        return outcome;
    }
    let fired = !probe.findings.is_empty();
    let count_ok = test.count.is_none_or(|c| c == probe.findings.len());
    outcome.passed = fired == test.expect && count_ok;
    if !outcome.passed {
        outcome.message = if test.expect && !fired {
            format!("expected a finding, got none: {}", probe.explanations.join(" | "))
        } else if !test.expect && fired {
            format!(
                "expected no finding, got {} (severity {}, on {})",
                probe.findings.len(),
                probe.findings[0].severity,
                probe.findings[0].evidence.origin
            )
        } else {
            format!(
                "expected {} findings, got {}",
                test.count.unwrap_or(0),
                probe.findings.len()
            )
        };
    }
    outcome
}

/// Run every test of every rule, and check each rule has a positive and a negative test — but
/// a Sigma rule imported as it is, which carries no tests (`laneguard sigma convert` writes
/// review tests beside it; the rule's matching records belong to its own repository).
pub fn run_all(set: &RuleSet, policy: Option<&Arc<Policy>>) -> Vec<TestOutcome> {
    let mut out = Vec::new();
    for rule in set.rules() {
        // A problem of the rule's tests as a whole (not of one test).
        let failure = |message: String| TestOutcome {
            rule: rule.id.clone(),
            file: rule.file.clone(),
            index: None,
            name: None,
            passed: false,
            message,
        };
        let tests = match rule.test_specs() {
            Ok(t) => t,
            Err(e) => {
                out.push(failure(format!("the rule's tests do not load: {e}")));
                continue;
            }
        };
        let positive = tests.iter().any(|t| t.expect);
        let negative = tests.iter().any(|t| !t.expect);
        let imported = rule.sigma.is_some() && tests.is_empty();
        if (!positive || !negative) && !imported {
            out.push(failure(format!(
                "a rule needs at least one positive and one negative test (has {} positive, {} negative)",
                tests.iter().filter(|t| t.expect).count(),
                tests.iter().filter(|t| !t.expect).count()
            )));
        }
        for (i, t) in tests.iter().enumerate() {
            out.push(run_test(rule, i, t, policy));
        }
    }
    out
}
