//! What the user decides about imported Sigma rules: the mode each Sigma `status` runs in,
//! whether rules must only match calls AWS accepted, per-rule overrides, and what Sigma
//! placeholders (`%Legitimate_IP_Ranges%` with `|expand`) mean in this estate.
//!
//! The settings live in the policy (`[sigma]`, docs/POLICY.md): every entry point — the CLI, the
//! Lambda functions, a configuration bundle — loads the policy before the rules, so one file
//! decides for all of them, and placeholders resolve against the same zones enrichment uses.

use crate::rules::Mode;

/// The mode of an imported rule by its Sigma `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusModes {
    /// `stable` (default `alert`).
    pub stable: Mode,
    /// `test` (default `shadow`: watched on live traffic first).
    pub test: Mode,
    /// `experimental` (default `shadow`).
    pub experimental: Mode,
    /// `deprecated` (default `off`: loaded and checked, never run).
    pub deprecated: Mode,
    /// A rule without `status` (default `shadow`, like `experimental`).
    pub unset: Mode,
}

impl Default for StatusModes {
    fn default() -> Self {
        StatusModes {
            stable: Mode::Alert,
            test: Mode::Shadow,
            experimental: Mode::Shadow,
            deprecated: Mode::Off,
            unset: Mode::Shadow,
        }
    }
}

impl StatusModes {
    /// The mode of a status as written (case-insensitive, as pySigma); `None` for a status the
    /// Sigma specification does not define or that cannot be run (`unsupported`).
    pub fn of(&self, status: Option<&str>) -> Option<Mode> {
        match status.map(str::to_ascii_lowercase).as_deref() {
            None => Some(self.unset),
            Some("stable") => Some(self.stable),
            Some("test") => Some(self.test),
            Some("experimental") => Some(self.experimental),
            Some("deprecated") => Some(self.deprecated),
            Some(_) => None,
        }
    }
}

/// The settings of one rule, by its laneguard id (`sigma.<stem>`) or its Sigma id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSettings {
    /// Mode, whatever the status says.
    pub mode: Option<Mode>,
    /// Require success (or not) for this rule, whatever the global setting says.
    pub require_success: Option<bool>,
}

/// What a placeholder stands for, resolved against the policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placeholder {
    /// Zones by name: on `sourceIPAddress`, "the event's zone is one of these".
    pub zones: Vec<String>,
    /// Zone roles: on `sourceIPAddress`, "the event's zone has one of these roles".
    pub roles: Vec<String>,
    /// The CIDRs of those zones (and of every zone with those roles): what the placeholder
    /// means on any other field.
    pub cidrs: Vec<String>,
    /// Plain values (Sigma strings, wildcards active).
    pub values: Vec<String>,
}

/// The settings of the Sigma import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigmaSettings {
    /// Mode by status.
    pub modes: StatusModes,
    /// Add "AWS accepted the call" (`errorCode` absent) to every rule that does not test
    /// `errorCode` itself.
    pub require_success: bool,
    /// Per-rule overrides, by laneguard or Sigma id.
    pub rules: Vec<(String, RuleSettings)>,
    /// Placeholders by name.
    pub placeholders: Vec<(String, Placeholder)>,
}

impl SigmaSettings {
    /// The overrides of a rule, by its laneguard id or its Sigma id.
    pub fn rule(&self, id: &str, sigma_id: Option<&str>) -> RuleSettings {
        self.rules
            .iter()
            .find(|(k, _)| k == id || Some(k.as_str()) == sigma_id)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }

    /// A placeholder by name (exact, else ASCII case-insensitive).
    pub fn placeholder(&self, name: &str) -> Option<&Placeholder> {
        self.placeholders
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| {
                self.placeholders
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, p)| p)
    }
}
