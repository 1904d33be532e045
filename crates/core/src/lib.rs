//! laneguard: a detective control for data stores on AWS.
//!
//! It reads the logs that say who touched a database — CloudTrail, RDS/Aurora audit logs
//! (MySQL/MariaDB audit plugin, Aurora advanced auditing, PostgreSQL + pgaudit) and VPC flow logs —
//! and answers, for every event: *who ran what, from which network zone, against which data, and
//! is that allowed?*
//!
//! The data flow (DESIGN.md §1, ARCHITECTURE.md):
//! [`envelope`] → [`sources`] → [`event::Event`] → [`engine`] (SQL analysis in [`sql`], detection)
//! → [`finding::Finding`] → [`sink`]. [`pipeline`] ties the stages together for every entry point;
//! [`input`] reads replay inputs. The engine does no I/O: only `input`, `sink`, the CLI and the
//! Lambda functions do.

pub mod bundle;
pub mod config;
pub mod detector;
pub mod diagnostic;
pub mod engine;
pub mod envelope;
pub mod event;
pub mod finding;
pub mod glob;
pub mod input;
pub mod learn;
pub mod ocsf;
pub mod output;
pub mod parallel;
pub mod pipeline;
pub mod policy;
pub mod rule_tests;
pub mod rules;
pub mod sigma;
pub mod sources;
pub mod sql;
pub mod time;
pub mod tune;
