//! Policy: zones, principals, datastores, swim lanes and data classification (DESIGN.md §4).
//!
//! (Skeleton: the public API below is the contract used by the rest of the crate; the
//! implementation is being written in this module.)

use std::path::Path;

use crate::event::Event;

/// A loaded policy.
#[derive(Debug, Default)]
pub struct Policy {}

/// A policy file that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    /// File (and line) of the problem.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl Policy {
    /// Parse a policy from TOML text; `origin` names the file in errors.
    pub fn from_toml(_text: &str, _origin: &str) -> Result<Policy, PolicyError> {
        Ok(Policy {})
    }

    /// Load a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            origin: path.display().to_string(),
            message: e.to_string(),
        })?;
        Policy::from_toml(&text, &path.display().to_string())
    }

    /// The example policy embedded in the binary (`rules/policy.toml`).
    pub fn embedded() -> Policy {
        Policy {}
    }

    /// Set the event's zone, datastore, domain and classification.
    pub fn enrich(&self, _event: &mut Event<'_>) {}
}
