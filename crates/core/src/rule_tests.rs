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
use crate::rules::{Rule, RuleSet, TestInput, TestSpec};
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
    /// A sequence rule's steps and how many events matched each.
    steps: Vec<(String, usize)>,
}

impl Output for Probe<'_> {
    fn event(&mut self, event: &Event<'_>, matched: &[String]) {
        if self.rule.sequence.is_some() {
            for (name, n) in &mut self.steps {
                let id = format!("{}/{name}", self.rule.id);
                if matched.contains(&id) {
                    *n += 1;
                }
            }
            return;
        }
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

/// What one run of a test's inputs gave.
struct Run {
    findings: Vec<Finding>,
    explanations: Vec<String>,
    events: u64,
    diagnostics: Vec<String>,
}

/// Feed `inputs` (in this order) through the real parsers, the enrichment and the rule alone,
/// then settle what waits for the end of the input (a sequence's absences).
fn run_inputs(rule: &Rule, inputs: &[&TestInput], policy: Option<&Arc<Policy>>) -> Run {
    let check = RuleSet::isolated(rule);
    let mut engine = rule_test_engine(policy, RuleSet::isolated(rule));
    let mut probe = Probe {
        rule,
        check: &check,
        findings: Vec::new(),
        explanations: Vec::new(),
        steps: rule
            .sequence
            .iter()
            .flat_map(|s| s.steps.iter().map(|st| (st.name.clone(), 0)))
            .collect(),
    };
    let (events, diagnostics) = {
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut probe);
        let mut index = 0u32;
        for input in inputs {
            let source = Source::from_name(&input.source);
            for record in input.records() {
                pipeline.record(RawRecord {
                    text: record,
                    origin: Origin {
                        file: Some(&rule.file),
                        log_group: input.log_group.as_deref(),
                        index: Some(index),
                        ..Origin::default()
                    },
                    source,
                    envelope_time: None,
                    aws: crate::envelope::AwsContext::default(),
                });
                index += 1;
            }
        }
        pipeline.finish(true);
        let events = pipeline.stats().total_events() + pipeline.stats().total_skipped();
        let diags: Vec<String> = pipeline
            .diagnostics()
            .kept()
            .iter()
            .map(|d| format!("{}: {}", d.kind, d.reason))
            .collect();
        (events, diags)
    };
    if rule.sequence.is_some() {
        probe.explanations.push(format!(
            "events per step: {}",
            probe
                .steps
                .iter()
                .map(|(name, n)| format!("{name} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Run {
        findings: probe.findings,
        explanations: probe.explanations,
        events,
        diagnostics,
    }
}

/// Run one test of a rule. A test of several inputs runs twice, in the order written and in
/// reverse: a sequence must not depend on which source's records arrive first.
pub fn run_test(rule: &Rule, index: usize, test: &TestSpec, policy: Option<&Arc<Policy>>) -> TestOutcome {
    let mut outcome = TestOutcome {
        rule: rule.id.clone(),
        file: rule.file.clone(),
        index: Some(index),
        name: test.name.clone(),
        passed: false,
        message: String::new(),
    };
    if let Err(e) = test.validate() {
        outcome.message = e;
        return outcome;
    }
    let forward = test.all_inputs();
    let mut orders = vec![(forward.clone(), "")];
    if forward.len() > 1 {
        let mut reversed = forward;
        reversed.reverse();
        orders.push((reversed, " (inputs in reverse order)"));
    }
    for (inputs, order) in orders {
        let run = run_inputs(rule, &inputs, policy);
        if !run.diagnostics.is_empty() {
            outcome.message = format!(
                "test input does not parse cleanly: {}",
                run.diagnostics.join("; ")
            );
            return outcome;
        }
        if run.events == 0 {
            outcome.message = "test input produced no event".into();
            return outcome;
        }
        let fired = !run.findings.is_empty();
        let count_ok = test.count.is_none_or(|c| c == run.findings.len());
        if fired == test.expect && count_ok {
            continue;
        }
        outcome.message = if test.expect && !fired {
            format!(
                "expected a finding, got none{order}: {}",
                run.explanations.join(" | ")
            )
        } else if !test.expect && fired {
            format!(
                "expected no finding, got {}{order} (severity {}, on {})",
                run.findings.len(),
                run.findings[0].severity,
                run.findings[0].evidence.origin
            )
        } else {
            format!(
                "expected {} findings, got {}{order}",
                test.count.unwrap_or(0),
                run.findings.len()
            )
        };
        return outcome;
    }
    outcome.passed = true;
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
