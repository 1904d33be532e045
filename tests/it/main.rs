//! laneguard's integration tests: one binary (link once), one module per capability.

// Tests state expectations by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apptraffic;
mod architecture;
mod aws;
mod bad_input;
mod cli;
mod common;
mod das;
mod e2e;
mod envelopes;
mod golden;
mod lake;
mod ocsf;
mod parallel;
mod policy;
mod redaction;
mod rule_engine;
mod sequence_engine;
mod sigma;
mod sql;
mod tuning;
