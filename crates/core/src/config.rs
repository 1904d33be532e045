//! Assembling detection: the one place where a policy and rules become an [`Engine`].
//!
//! Every entry point — the CLI subcommands, the Lambda functions, the tests and the benches —
//! names where its policy and rules come from ([`Sources`]: embedded in the binary, files, or
//! text already fetched, e.g. from S3 by an adapter) and gets back a [`Config`] whose
//! [`Config::engine`] wires enrichment, the policy checks and the rule set in the same order
//! everywhere. Loading does the file I/O of configuration (never of events); every error keeps
//! the file and line an operator has to fix.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::Engine;
use crate::policy::{Policy, PolicyChecks, PolicyError};
use crate::rules::{RuleError, RuleSet};

/// Where the policy comes from.
#[derive(Clone, Debug, Default)]
pub enum PolicySource {
    /// The example policy embedded in the binary (`rules/policy.toml`).
    #[default]
    Embedded,
    /// A policy file.
    File(PathBuf),
    /// Policy text already read (from a bundle); `origin` names it in errors.
    Text {
        /// File name or URI shown in errors (`origin:line: reason`).
        origin: String,
        /// The TOML text.
        text: String,
    },
}

/// Where the rules come from.
#[derive(Clone, Debug, Default)]
pub enum RulesSource {
    /// The default pack embedded in the binary (`rules/*.toml`).
    #[default]
    Embedded,
    /// Every `*.toml` of a directory but `policy.toml`, and every Sigma rule (`*.yml`,
    /// `*.yaml`), in sorted order.
    Dir(PathBuf),
    /// Rule files already read: `(origin, text)` pairs; an origin ending in `.yml`/`.yaml` is a
    /// Sigma rule.
    Files(Vec<(String, String)>),
}

/// The sources of a configuration.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The policy.
    pub policy: PolicySource,
    /// The rules.
    pub rules: RulesSource,
    /// Rule files added to those rules (a learned allowlist on top of the pack).
    pub extra_rules: Vec<PathBuf>,
}

impl Sources {
    /// The embedded example policy and default pack.
    pub fn embedded() -> Self {
        Sources::default()
    }

    /// A policy file and/or a rules directory, each falling back to the embedded default (the
    /// `--policy` / `--rules` options).
    pub fn from_paths(policy: Option<&Path>, rules: Option<&Path>) -> Self {
        Sources {
            policy: policy.map_or(PolicySource::Embedded, |p| PolicySource::File(p.to_owned())),
            rules: rules.map_or(RulesSource::Embedded, |d| RulesSource::Dir(d.to_owned())),
            extra_rules: Vec::new(),
        }
    }
}

/// A configuration that could not be loaded, with the coordinates to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The policy did not load (`file:line: reason`).
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    /// The rules directory could not be read.
    #[error("rules directory {}: {source}", dir.display())]
    RulesDir {
        /// The directory.
        dir: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Rule files did not load and the caller does not run on part of its rules.
    #[error("{} rule file(s) invalid: {}", errors.len(), errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Rules {
        /// Each error, with file and line.
        errors: Vec<RuleError>,
    },
}

/// What an entry point that detects does with a rule file that does not load.
///
/// A detector running on part of its rules looks healthy while it misses what the missing rules
/// would have found, so the default is to refuse; skipping is an explicit choice of the operator
/// (`--skip-invalid-rules`, `LANEGUARD_SKIP_INVALID_RULES`), and the skipped files stay in
/// [`Config::rejected`] so the caller reports how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InvalidRules {
    /// Fail the load ([`ConfigError::Rules`], every error with its file and line).
    #[default]
    Refuse,
    /// Run on the rules that load; the others are in [`Config::rejected`].
    Skip,
}

/// How [`Config::engine_with`] builds the engine.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Statement shapes kept in the SQL analysis cache.
    pub sql_cache: usize,
    /// Leave threshold decisions to a shared state store ([`crate::rules::RuleSet::defer_thresholds`]).
    pub defer_thresholds: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            sql_cache: crate::engine::DEFAULT_SQL_CACHE,
            defer_thresholds: false,
        }
    }
}

/// A loaded configuration: the policy, the rules that compiled, and the rule files that did not.
pub struct Config {
    /// The compiled policy (shared by enrichment and the policy checks).
    pub policy: Arc<Policy>,
    /// The rules that loaded.
    pub rules: RuleSet,
    /// Rule files that did not load, each with file and line.
    pub rejected: Vec<RuleError>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("policy", &self.policy)
            .field("rules", &self.rules.rules().len())
            .field("rejected", &self.rejected.len())
            .finish()
    }
}

impl Config {
    /// Load the policy (an invalid policy is an error) and the rules (rule files that do not
    /// compile are collected in [`Config::rejected`]; see [`Config::require_all_rules`]).
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let policy = match &sources.policy {
            PolicySource::Embedded => Policy::try_embedded()?,
            PolicySource::File(p) => Policy::load(p)?,
            PolicySource::Text { origin, text } => Policy::from_toml(text, origin)?,
        };
        // Sigma rules are imported with the policy's `[sigma]` settings (modes, placeholders).
        let sigma = policy.sigma_settings();
        let (rules, rejected) = if sources.extra_rules.is_empty() {
            match &sources.rules {
                RulesSource::Embedded => RuleSet::embedded(),
                RulesSource::Dir(dir) => {
                    RuleSet::load_dir_with(dir, sigma).map_err(|source| ConfigError::RulesDir {
                        dir: dir.clone(),
                        source,
                    })?
                }
                RulesSource::Files(files) => {
                    RuleSet::from_sources_with(files.iter().map(|(o, t)| (o.as_str(), t.as_str())), sigma)
                }
            }
        } else {
            // The base rules' files, then the added ones, compiled as one set.
            let (mut files, mut unreadable) = match &sources.rules {
                RulesSource::Embedded => (RuleSet::embedded_files(), Vec::new()),
                RulesSource::Dir(dir) => RuleSet::read_dir(dir).map_err(|source| ConfigError::RulesDir {
                    dir: dir.clone(),
                    source,
                })?,
                RulesSource::Files(files) => (files.clone(), Vec::new()),
            };
            for p in &sources.extra_rules {
                match RuleSet::read_file(p) {
                    Ok(text) => files.push((p.display().to_string(), text)),
                    Err(e) => unreadable.push(e),
                }
            }
            let (set, mut errors) =
                RuleSet::from_sources_with(files.iter().map(|(o, t)| (o.as_str(), t.as_str())), sigma);
            unreadable.append(&mut errors);
            (set, unreadable)
        };
        Ok(Config {
            policy: Arc::new(policy),
            rules,
            rejected,
        })
    }

    /// Load for detection: [`Config::load`], then `invalid` decides whether a rejected rule file
    /// fails the load ([`InvalidRules::Refuse`]) or is skipped and left in [`Config::rejected`]
    /// ([`InvalidRules::Skip`]). Every entry point that detects (replay, tune, redrive, the
    /// functions) loads through here, so the policy lives in one place; `validate`, `test` and
    /// `bundle` use [`Config::load`] because their job is to report every rejected file.
    pub fn load_for(sources: &Sources, invalid: InvalidRules) -> Result<Config, ConfigError> {
        let config = Config::load(sources)?;
        match invalid {
            InvalidRules::Refuse => config.require_all_rules(),
            InvalidRules::Skip => Ok(config),
        }
    }

    /// Problems that do not stop a run but make rules silently weaker: a rule comparing `zone`,
    /// `principal_zone` or `application` with a name the policy does not define (it can never
    /// match; the rule should match `zone.role` or `application.expected`), and the warnings of
    /// imported Sigma rules ("matches calls that AWS refused", …). One message per rule and
    /// problem, with the rule's file.
    pub fn warnings(&self) -> Vec<String> {
        let zones: Vec<&str> = self.policy.zone_names().collect();
        let applications: Vec<&str> = self.policy.application_names().collect();
        let mut out = Vec::new();
        for rule in self.rules.rules() {
            for w in &rule.warnings {
                match w.line {
                    Some(l) => out.push(format!("{}:{l}: rule {}: {}", rule.file, rule.id, w.text)),
                    None => out.push(format!("{}: rule {}: {}", rule.file, rule.id, w.text)),
                }
            }
            for (field, known, what, instead) in [
                (
                    "zone",
                    &zones,
                    "a zone",
                    "match `zone.role` to work with any policy",
                ),
                (
                    "principal_zone",
                    &zones,
                    "a zone",
                    "match `principal_zone.role` to work with any policy",
                ),
                (
                    "application",
                    &applications,
                    "an application",
                    "match `application.expected` to work with any policy",
                ),
            ] {
                let mut names = Vec::new();
                rule.condition.literals_of(field, &mut names);
                names.sort();
                names.dedup();
                for name in names.iter().filter(|n| !known.contains(&n.as_str())) {
                    out.push(format!(
                        "{}: rule {} matches {field} = {name:?}, {what} the policy does not define ({instead})",
                        rule.file, rule.id
                    ));
                }
            }
        }
        out
    }

    /// Fail when any rule file was rejected: a detector must not run silently on part of its
    /// rules.
    pub fn require_all_rules(self) -> Result<Config, ConfigError> {
        if self.rejected.is_empty() {
            Ok(self)
        } else {
            Err(ConfigError::Rules {
                errors: self.rejected,
            })
        }
    }

    /// A copy sharing the compiled policy and rules, with fresh detection state (what a second
    /// engine needs: `replay --threads` builds one per worker).
    pub fn fork(&self) -> Config {
        Config {
            policy: Arc::clone(&self.policy),
            rules: self.rules.fork(),
            rejected: Vec::new(),
        }
    }

    /// The engine: SQL analysis, enrichment with the policy, the policy checks, then the rules.
    pub fn engine(self) -> Engine {
        self.engine_with(&EngineOptions::default())
    }

    /// [`Config::engine`] with options (the Lambda functions defer thresholds to a shared
    /// store).
    pub fn engine_with(mut self, options: &EngineOptions) -> Engine {
        if options.defer_thresholds {
            self.rules.defer_thresholds();
        }
        let mut engine = Engine::new(options.sql_cache);
        engine.set_policy(Arc::clone(&self.policy));
        engine.add_detector(Box::new(PolicyChecks::new(self.policy)));
        engine.add_detector(Box::new(self.rules));
        engine
    }
}

/// The engine of one rule's `[[tests]]` ([`crate::rule_tests`]): enrichment with `policy` (if
/// any) and `rule` alone — no policy checks, no other rules — so a test shows what that rule
/// does.
pub(crate) fn rule_test_engine(policy: Option<&Arc<Policy>>, rule: RuleSet) -> Engine {
    let mut engine = Engine::default();
    if let Some(p) = policy {
        engine.set_policy(Arc::clone(p));
    }
    engine.add_detector(Box::new(rule));
    engine
}
