//! Policy: zones, principals, datastores, swim lanes and data classification (DESIGN.md §4,
//! docs/POLICY.md).
//!
//! The policy is the environment-specific part of laneguard, so it is loaded once and compiled
//! into lookup structures that make enriching an event cheap and allocation-free:
//! - zones by CIDR in a longest-prefix table ([`prefix`]), one hash probe per distinct prefix
//!   length; non-IP sources (`localhost`, `[local]`, AWS service names) by per-zone host globs;
//! - principals, log groups, datastore ids and objects by globs compiled once into size-limited
//!   regexes ([`glob`]); exact datastore ids and database names in hash maps;
//! - classification as one regex per level, tried from `restricted` down, so the highest level
//!   that names an object wins.
//!
//! Loading validates everything a typo could break (unknown keys, CIDRs, statement classes,
//! clearances, zone references, globs) and reports `file:line: reason`, because a policy that
//! half-loads is a detective control that silently does not detect. The checks that turn an
//! enriched event into policy findings live in [`checks`].

mod applications;
mod checks;
mod compile;
mod file;
mod prefix;
mod resolve;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::Regex;

pub use applications::BUILTIN_CHATTER;
pub use checks::{CLEARANCE, CONTROL_PLANE, MANAGEMENT_FLOW, PolicyChecks, SWIM_LANE, ZONE_CLASS};
pub use resolve::ClassMemo;

/// Ids of every finding the policy checks raise (for reports of rules that never fired).
pub const RULE_IDS: &[&str] = &[ZONE_CLASS, CLEARANCE, SWIM_LANE, MANAGEMENT_FLOW, CONTROL_PLANE];

use crate::event::{Classification, ZoneRole};
use crate::sigma::settings::SigmaSettings;
use crate::sql::StatementClass;
use compile::{Compiler, line_of};
use file::PolicyFile;
use prefix::PrefixTable;

/// The example policy shipped in the binary, used when no `--policy` is given.
const EMBEDDED: &str = include_str!("../../../../rules/policy.toml");

/// Origin named in errors about the embedded policy.
const EMBEDDED_ORIGIN: &str = "rules/policy.toml";

/// The database ports watched in flow logs when a datastore lists `cidrs` but no `ports`
/// (DETECTIONS.md §3.2): MySQL/MariaDB/Aurora (+X protocol), PostgreSQL, SQL Server, Oracle
/// (+TCPS), Redshift, Redis, Memcached, MongoDB/DocumentDB, Neptune, Cassandra/Keyspaces,
/// OpenSearch, Db2.
pub const DEFAULT_DB_PORTS: [u16; 19] = [
    3306, 33060, 5432, 1433, 1434, 1521, 2484, 5439, 6379, 11211, 27017, 27018, 27019, 8182, 9042, 9142,
    9200, 9300, 50000,
];

/// Index of a zone in [`Policy`].
type ZoneId = usize;
/// Index of a datastore in [`Policy`].
type DatastoreId = usize;

/// Source of [`Policy::id`].
static NEXT_POLICY_ID: AtomicU64 = AtomicU64::new(1);

/// A new policy id.
fn next_policy_id() -> u64 {
    NEXT_POLICY_ID.fetch_add(1, Ordering::Relaxed)
}

/// A set of statement classes, as a bit mask over `StatementClass::ALL` (copied per check).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ClassSet(u16);

impl ClassSet {
    fn bit(class: StatementClass) -> u16 {
        let i = StatementClass::ALL.iter().position(|c| *c == class).unwrap_or(0);
        1 << i
    }
    fn insert(&mut self, class: StatementClass) {
        self.0 |= Self::bit(class);
    }
    fn contains(self, class: StatementClass) -> bool {
        self.0 & Self::bit(class) != 0
    }
    fn is_empty(self) -> bool {
        self.0 == 0
    }
    fn names(self) -> Vec<&'static str> {
        StatementClass::ALL
            .into_iter()
            .filter(|c| self.contains(*c))
            .map(StatementClass::as_str)
            .collect()
    }
}

/// A compiled zone.
#[derive(Debug)]
struct Zone {
    name: Arc<str>,
    allow: ClassSet,
    clearance: Classification,
    domain: Option<Arc<str>>,
    role: Option<ZoneRole>,
}

/// A compiled datastore.
#[derive(Debug)]
struct Datastore {
    name: Arc<str>,
    /// Globs among its `match` entries (exact ids are in `Policy::datastore_ids`).
    globs: Option<Regex>,
    ports: Vec<u16>,
    /// Its `databases`, lowercased.
    databases: HashSet<Box<str>>,
    domain: Option<Arc<str>>,
    classification: Option<Classification>,
}

/// A loaded, validated and compiled policy. Cheap to share (`Arc<Policy>`); enriching an event
/// only reads it.
#[derive(Default)]
pub struct Policy {
    /// Unique per compiled policy (0 for the empty default): an event's
    /// [`crate::event::PolicyRefs`] say which policy resolved them.
    id: u64,
    zones: Vec<Zone>,
    zone_prefixes: PrefixTable<ZoneId>,
    /// Host globs in declaration order, each with its zone.
    zone_hosts: Vec<(Regex, ZoneId)>,
    default_zone: Option<ZoneId>,
    /// Any principal glob (fast "is this principal bound at all?").
    principals_any: Option<Regex>,
    /// Principal globs per zone, indexed by zone (fast "may it act from this zone?").
    principals_by_zone: Vec<Option<Regex>>,
    /// Principal entries in declaration order (the zone a principal is bound to: the first).
    principal_entries: Vec<(Regex, ZoneId)>,
    datastores: Vec<Datastore>,
    /// Exact (glob-free) `match` entries, lowercased → datastore.
    datastore_ids: HashMap<Box<str>, DatastoreId>,
    /// Any datastore glob (fast reject before trying datastores one by one).
    datastore_globs_any: Option<Regex>,
    /// Database names (lowercased) → first datastore that lists them.
    databases: HashMap<Box<str>, DatastoreId>,
    datastore_prefixes: PrefixTable<DatastoreId>,
    /// Object globs per level, indexed like `Classification::ALL`.
    classification: [Option<Regex>; 4],
    /// `[[applications]]`, in file order.
    applications: Vec<applications::Application>,
    /// Fingerprints of the built-in driver and ORM chatter ([`BUILTIN_CHATTER`]).
    chatter: HashSet<u64>,
    /// `[sigma]`: how imported Sigma rules run, placeholders resolved against the zones.
    sigma: SigmaSettings,
    /// `[row_limits]` per level, indexed like `Classification::ALL` (inherited upwards).
    row_limits: [Option<u64>; 4],
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("zones", &self.zones.iter().map(|z| &*z.name).collect::<Vec<_>>())
            .field(
                "datastores",
                &self.datastores.iter().map(|d| &*d.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A policy file that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct PolicyError {
    /// File (and line) of the problem.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// Calls `f` with `s` lowercased, allocating only when `s` has an uppercase ASCII letter (AWS
/// identifiers and log group names almost never do).
fn with_lowercase<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        f(&s.to_ascii_lowercase())
    } else {
        f(s)
    }
}

impl Policy {
    /// Parse a policy from TOML text; `origin` names the file in errors (`origin:line: reason`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError {
            origin: match e.span() {
                Some(span) => format!("{origin}:{}", line_of(text, span.start)),
                None => origin.to_owned(),
            },
            message: e.message().trim().to_owned(),
        })?;
        Compiler { text, origin }.compile(file)
    }

    /// Load a policy file (the only I/O of this module; done once, when configuration loads).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            origin: path.display().to_string(),
            message: e.to_string(),
        })?;
        Policy::from_toml(&text, &path.display().to_string())
    }

    /// The example policy embedded in the binary (`rules/policy.toml`), or its load error.
    pub fn try_embedded() -> Result<Policy, PolicyError> {
        Policy::from_toml(EMBEDDED, EMBEDDED_ORIGIN)
    }

    /// The example policy embedded in the binary (`rules/policy.toml`).
    ///
    /// It cannot fail at run time in a released binary: a test loads it. Should it ever not
    /// load, this logs the error and returns the empty policy (no zones: enrichment and policy
    /// checks do nothing) rather than panicking; callers that must know use
    /// [`Policy::try_embedded`].
    pub fn embedded() -> Policy {
        Policy::try_embedded().unwrap_or_else(|e| {
            tracing::error!("embedded policy does not load: {e}");
            Policy::default()
        })
    }

    /// The text of the embedded example policy (for `--help`-style listings and docs).
    pub fn embedded_text() -> &'static str {
        EMBEDDED
    }

    /// The settings of imported Sigma rules (`[sigma]`; defaults when the policy has none).
    pub fn sigma_settings(&self) -> &SigmaSettings {
        &self.sigma
    }

    /// Names of the zones, in file order.
    pub fn zone_names(&self) -> impl Iterator<Item = &str> {
        self.zones.iter().map(|z| &*z.name)
    }

    /// Names of the `[[applications]]`, in file order.
    pub fn application_names(&self) -> impl Iterator<Item = &str> {
        self.applications.iter().map(|a| &*a.name)
    }

    /// Names of the datastores, in file order.
    pub fn datastore_names(&self) -> impl Iterator<Item = &str> {
        self.datastores.iter().map(|d| &*d.name)
    }

    /// The zone of an IP address: longest prefix, else the default zone.
    pub fn zone_of_ip(&self, ip: IpAddr) -> Option<&str> {
        self.zone_id_of_ip(ip).map(|z| &*self.zones[z].name)
    }

    /// The zone of a non-IP source host (`localhost`, `[local]`, `rds.amazonaws.com`,
    /// `AWS Internal`): the first zone whose `hosts` matches, else the default zone.
    pub fn zone_of_host(&self, host: &str) -> Option<&str> {
        self.zone_id_of_host(host).map(|z| &*self.zones[z].name)
    }

    /// The zone a principal (db user or IAM ARN) is bound to by `[[principals]]`: the zone of the
    /// first entry whose `users` matches.
    pub fn principal_zone(&self, principal: &str) -> Option<&str> {
        self.principal_zone_id(principal).map(|z| &*self.zones[z].name)
    }

    /// The datastore named by a log group, an instance/cluster id or a server name.
    pub fn datastore_of_name(&self, name: &str) -> Option<&str> {
        self.datastore_id_of_name(name).map(|d| &*self.datastores[d].name)
    }

    /// The datastore holding a destination address and port (flow logs).
    pub fn datastore_of_endpoint(&self, ip: IpAddr, port: u16) -> Option<&str> {
        self.datastore_id_of_endpoint(ip, port)
            .map(|d| &*self.datastores[d].name)
    }

    /// The rows a statement on data of `level` may return or change (`[row_limits]`).
    pub fn row_limit(&self, level: Classification) -> Option<u64> {
        self.row_limits[level as usize]
    }

    /// The classification of a qualified object name (`payments.cards`,
    /// `payments.public.cards`) by the `[classification]` patterns alone: the highest level
    /// with a matching pattern, `None` when no pattern names it.
    pub fn classify_object(&self, object: &str) -> Option<Classification> {
        Classification::ALL
            .into_iter()
            .zip(&self.classification)
            .rev()
            .find(|(_, re)| re.as_ref().is_some_and(|re| re.is_match(object)))
            .map(|(level, _)| level)
    }
}
