//! The policy file as written (DESIGN.md §4, docs/POLICY.md), before validation.
//!
//! Every table denies unknown keys — a typo such as `cidr = …` must be an error, not a silently
//! ignored line that leaves a zone without addresses — and every value that is validated later is
//! `Spanned`, so a validation error can name the line it comes from.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::rules::Mode;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    #[serde(default)]
    pub zones: Vec<ZoneSpec>,
    #[serde(default)]
    pub principals: Vec<PrincipalSpec>,
    #[serde(default)]
    pub datastores: Vec<DatastoreSpec>,
    #[serde(default)]
    pub classification: Option<ClassificationSpec>,
    #[serde(default)]
    pub applications: Vec<ApplicationSpec>,
    #[serde(default)]
    pub sigma: Option<SigmaSpec>,
    #[serde(default)]
    pub row_limits: Option<RowLimitsSpec>,
}

/// `[row_limits]`: rows a statement may return or change, per classification of its data.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RowLimitsSpec {
    #[serde(default)]
    pub public: Option<u64>,
    #[serde(default)]
    pub internal: Option<u64>,
    #[serde(default)]
    pub confidential: Option<u64>,
    #[serde(default)]
    pub restricted: Option<u64>,
}

/// `[[applications]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplicationSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub zones: Vec<Spanned<String>>,
    #[serde(default)]
    pub users: Vec<Spanned<String>>,
    #[serde(default)]
    pub databases: Vec<Spanned<String>>,
    #[serde(default)]
    pub expected: Vec<Spanned<String>>,
    #[serde(default)]
    pub expected_fingerprints: Vec<Spanned<String>>,
}

/// `[sigma]`: how imported Sigma rules run (crate::sigma::settings).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SigmaSpec {
    #[serde(default)]
    pub stable: Option<Mode>,
    #[serde(default)]
    pub test: Option<Mode>,
    #[serde(default)]
    pub experimental: Option<Mode>,
    #[serde(default)]
    pub deprecated: Option<Mode>,
    #[serde(default)]
    pub unset: Option<Mode>,
    #[serde(default)]
    pub require_success: bool,
    #[serde(default)]
    pub rules: BTreeMap<String, SigmaRuleSpec>,
    #[serde(default)]
    pub placeholders: BTreeMap<String, PlaceholderSpec>,
}

/// `[sigma.rules."<id>"]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SigmaRuleSpec {
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub require_success: Option<bool>,
}

/// `[sigma.placeholders.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaceholderSpec {
    #[serde(default)]
    pub zones: Vec<Spanned<String>>,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    #[serde(default)]
    pub values: Vec<String>,
}

/// `[[zones]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZoneSpec {
    pub name: Spanned<String>,
    #[serde(default)]
    pub cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    pub hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub clearance: Option<Spanned<String>>,
    #[serde(default)]
    pub domain: Option<Spanned<String>>,
    #[serde(default)]
    pub default: Option<Spanned<bool>>,
    #[serde(default)]
    pub role: Option<Spanned<String>>,
    /// Shorthand of `role = "management"` (the key of earlier policies).
    #[serde(default)]
    pub management: Option<Spanned<bool>>,
}

/// `[[principals]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrincipalSpec {
    pub users: Spanned<Vec<Spanned<String>>>,
    pub zone: Spanned<String>,
}

/// `[[datastores]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatastoreSpec {
    pub name: Spanned<String>,
    #[serde(default, rename = "match")]
    pub matches: Vec<Spanned<String>>,
    #[serde(default)]
    pub cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    pub ports: Option<Spanned<Vec<u16>>>,
    #[serde(default)]
    pub databases: Vec<Spanned<String>>,
    #[serde(default)]
    pub domain: Option<Spanned<String>>,
    #[serde(default)]
    pub classification: Option<Spanned<String>>,
}

/// `[classification]`: level → object globs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClassificationSpec {
    #[serde(default)]
    pub public: Vec<Spanned<String>>,
    #[serde(default)]
    pub internal: Vec<Spanned<String>>,
    #[serde(default)]
    pub confidential: Vec<Spanned<String>>,
    #[serde(default)]
    pub restricted: Vec<Spanned<String>>,
}
