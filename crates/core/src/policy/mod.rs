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

mod checks;
mod file;
mod glob;
mod prefix;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use ipnet::IpNet;
use regex::Regex;
use toml::Spanned;

pub use checks::{CLEARANCE, CONTROL_PLANE, MANAGEMENT_FLOW, PolicyChecks, SWIM_LANE, ZONE_CLASS};

/// Ids of every finding the policy checks raise (for reports of rules that never fired).
pub const RULE_IDS: &[&str] = &[ZONE_CLASS, CLEARANCE, SWIM_LANE, MANAGEMENT_FLOW, CONTROL_PLANE];

use crate::event::{Classification, Enrichment, Event, Kind, Source};
use crate::sql::StatementClass;
use file::{ClassificationSpec, DatastoreSpec, PolicyFile, PrincipalSpec, ZoneSpec};
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
    management: bool,
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

/// What the policy says about one event, as indexes into the policy: computed once per event by
/// [`Policy::enrich`] and by the policy checks, never allocating.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resolved {
    pub zone: Option<ZoneId>,
    pub principal_zone: Option<ZoneId>,
    /// Some principal entry binds the actor (to some zone).
    pub principal_bound: bool,
    /// Some principal entry binds the actor to `zone`.
    pub principal_in_zone: bool,
    pub datastore: Option<DatastoreId>,
    pub classification: Option<Classification>,
}

/// The number of the line holding byte `offset` of `text` (1-based).
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
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

/// Builds a [`Policy`] from a parsed file, turning every problem into a `file:line` error.
struct Compiler<'t> {
    text: &'t str,
    origin: &'t str,
}

impl Compiler<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            origin: format!("{}:{}", self.origin, line_of(self.text, span.start)),
            message: message.into(),
        }
    }

    fn non_empty(&self, s: &Spanned<String>, what: &str) -> Result<(), PolicyError> {
        if s.get_ref().trim().is_empty() {
            return Err(self.err(s.span(), format!("empty {what}")));
        }
        Ok(())
    }

    fn globs(&self, globs: &[Spanned<String>], what: &str) -> Result<Option<Regex>, PolicyError> {
        for g in globs {
            self.non_empty(g, &format!("pattern in {what}"))?;
        }
        let texts: Vec<&str> = globs.iter().map(|g| g.get_ref().as_str()).collect();
        let span = globs.first().map(Spanned::span).unwrap_or(0..0);
        glob::compile_globs(&texts)
            .map_err(|e| self.err(span, format!("patterns of {what} do not compile: {e}")))
    }

    fn cidr(&self, s: &Spanned<String>, what: &str) -> Result<IpNet, PolicyError> {
        let text = s.get_ref().trim();
        let net: IpNet = text
            .parse()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| self.err(s.span(), format!("invalid CIDR {text:?} in {what}")))?;
        if net.trunc() != net {
            return Err(self.err(
                s.span(),
                format!(
                    "CIDR {text:?} in {what} has host bits set (did you mean {}?)",
                    net.trunc()
                ),
            ));
        }
        Ok(net)
    }

    fn classification(&self, s: &Spanned<String>, what: &str) -> Result<Classification, PolicyError> {
        Classification::from_name(s.get_ref().trim()).ok_or_else(|| {
            self.err(
                s.span(),
                format!(
                    "unknown classification {:?} in {what} (expected public, internal, confidential or restricted)",
                    s.get_ref()
                ),
            )
        })
    }

    fn compile(&self, file: PolicyFile) -> Result<Policy, PolicyError> {
        let mut policy = Policy::default();
        let mut zone_ids: HashMap<String, ZoneId> = HashMap::new();
        let mut zone_host_globs: Vec<(String, ZoneId, Range<usize>)> = Vec::new();
        let mut defaults: Vec<(ZoneId, Range<usize>)> = Vec::new();
        for (i, z) in file.zones.iter().enumerate() {
            self.zone(
                i,
                z,
                &mut policy,
                &mut zone_ids,
                &mut zone_host_globs,
                &mut defaults,
            )?;
        }
        for (glob, zone, span) in zone_host_globs {
            let re = glob::compile_globs(&[glob])
                .map_err(|e| self.err(span.clone(), format!("host pattern does not compile: {e}")))?;
            if let Some(re) = re {
                policy.zone_hosts.push((re, zone));
            }
        }
        if let [_, (_, span), ..] = defaults.as_slice() {
            return Err(self.err(span.clone(), "more than one zone has `default = true`"));
        }
        policy.default_zone = match defaults.first() {
            Some((z, _)) => Some(*z),
            // No explicit default: the zone that claims all of IPv4 also takes unclaimed hosts.
            None => policy
                .zone_prefixes
                .lookup(IpAddr::from([0, 0, 0, 0]))
                .filter(|(_, len)| *len == 0)
                .map(|(z, _)| *z),
        };
        self.principals(&file.principals, &zone_ids, &mut policy)?;
        let mut ds_names: HashMap<String, DatastoreId> = HashMap::new();
        for (i, d) in file.datastores.iter().enumerate() {
            self.datastore(i, d, &mut policy, &mut ds_names)?;
        }
        let all_ds_globs: Vec<String> = file
            .datastores
            .iter()
            .flat_map(|d| d.matches.iter())
            .map(|g| g.get_ref().clone())
            .filter(|g| glob::is_glob(g))
            .collect();
        policy.datastore_globs_any = glob::compile_globs(&all_ds_globs)
            .map_err(|e| self.err(0..0, format!("datastore patterns do not compile: {e}")))?;
        if let Some(c) = &file.classification {
            self.classification_table(c, &mut policy)?;
        }
        Ok(policy)
    }

    fn zone(
        &self,
        i: usize,
        z: &ZoneSpec,
        policy: &mut Policy,
        zone_ids: &mut HashMap<String, ZoneId>,
        host_globs: &mut Vec<(String, ZoneId, Range<usize>)>,
        defaults: &mut Vec<(ZoneId, Range<usize>)>,
    ) -> Result<(), PolicyError> {
        let at = |key: &str| format!("zones[{i}].{key}");
        self.non_empty(&z.name, &format!("zone name in {}", at("name")))?;
        let name = z.name.get_ref().trim().to_owned();
        if zone_ids.contains_key(&name) {
            return Err(self.err(z.name.span(), format!("zone {name:?} is defined twice")));
        }
        let id = policy.zones.len();
        let mut allow = ClassSet::default();
        for class in &z.allow {
            let c: StatementClass = class.get_ref().parse().map_err(|_| {
                self.err(
                    class.span(),
                    format!(
                        "unknown statement class {:?} in {} (expected one of {})",
                        class.get_ref(),
                        at("allow"),
                        StatementClass::ALL.map(StatementClass::as_str).join(", ")
                    ),
                )
            })?;
            allow.insert(c);
        }
        let clearance = match &z.clearance {
            Some(c) => self.classification(c, &at("clearance"))?,
            None => Classification::Internal,
        };
        let domain = match &z.domain {
            Some(d) => {
                self.non_empty(d, &format!("domain in {}", at("domain")))?;
                Some(Arc::from(d.get_ref().trim()))
            }
            None => None,
        };
        for c in &z.cidrs {
            let net = self.cidr(c, &at("cidrs"))?;
            if let Err(other) = policy.zone_prefixes.insert(net, id) {
                let other = policy
                    .zones
                    .get(*other)
                    .map(|z| z.name.to_string())
                    .unwrap_or(name.clone());
                return Err(self.err(
                    c.span(),
                    format!("CIDR {net} is claimed twice (zones {other:?} and {name:?})"),
                ));
            }
        }
        for h in &z.hosts {
            self.non_empty(h, &format!("host pattern in {}", at("hosts")))?;
            host_globs.push((h.get_ref().trim().to_owned(), id, h.span()));
        }
        if let Some(d) = &z.default
            && *d.get_ref()
        {
            defaults.push((id, d.span()));
        }
        zone_ids.insert(name.clone(), id);
        policy.zones.push(Zone {
            name: Arc::from(name),
            allow,
            clearance,
            domain,
            management: z.management,
        });
        Ok(())
    }

    fn principals(
        &self,
        principals: &[PrincipalSpec],
        zone_ids: &HashMap<String, ZoneId>,
        policy: &mut Policy,
    ) -> Result<(), PolicyError> {
        let mut by_zone: Vec<Vec<String>> = vec![Vec::new(); policy.zones.len()];
        let mut all: Vec<String> = Vec::new();
        for (i, p) in principals.iter().enumerate() {
            let zone_name = p.zone.get_ref().trim();
            let Some(&zone) = zone_ids.get(zone_name) else {
                let mut known: Vec<&str> = zone_ids.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(self.err(
                    p.zone.span(),
                    format!(
                        "unknown zone {zone_name:?} in principals[{i}].zone (zones: {})",
                        known.join(", ")
                    ),
                ));
            };
            if p.users.get_ref().is_empty() {
                return Err(self.err(p.users.span(), format!("principals[{i}].users is empty")));
            }
            let what = format!("principals[{i}].users");
            let re = self.globs(p.users.get_ref(), &what)?;
            if let Some(re) = re {
                policy.principal_entries.push((re, zone));
            }
            for u in p.users.get_ref() {
                by_zone[zone].push(u.get_ref().trim().to_owned());
                all.push(u.get_ref().trim().to_owned());
            }
        }
        let compile = |globs: &[String]| {
            glob::compile_globs(globs)
                .map_err(|e| self.err(0..0, format!("principal patterns do not compile: {e}")))
        };
        policy.principals_any = compile(&all)?;
        policy.principals_by_zone = by_zone.iter().map(|g| compile(g)).collect::<Result<_, _>>()?;
        Ok(())
    }

    fn datastore(
        &self,
        i: usize,
        d: &DatastoreSpec,
        policy: &mut Policy,
        names: &mut HashMap<String, DatastoreId>,
    ) -> Result<(), PolicyError> {
        let at = |key: &str| format!("datastores[{i}].{key}");
        self.non_empty(&d.name, &format!("datastore name in {}", at("name")))?;
        let name = d.name.get_ref().trim().to_owned();
        if names.contains_key(&name) {
            return Err(self.err(d.name.span(), format!("datastore {name:?} is defined twice")));
        }
        let id = policy.datastores.len();
        let mut globs = Vec::new();
        for m in &d.matches {
            self.non_empty(m, &format!("pattern in {}", at("match")))?;
            let text = m.get_ref().trim();
            if glob::is_glob(text) {
                globs.push(m.clone());
            } else if let Some(other) = policy.datastore_ids.insert(text.to_ascii_lowercase().into(), id)
                && other != id
            {
                return Err(self.err(
                    m.span(),
                    format!(
                        "{text:?} in {} already names datastore {:?}",
                        at("match"),
                        policy.datastores[other].name
                    ),
                ));
            }
        }
        let globs = self.globs(&globs, &at("match"))?;
        for c in &d.cidrs {
            let net = self.cidr(c, &at("cidrs"))?;
            if let Err(other) = policy.datastore_prefixes.insert(net, id) {
                let other = policy
                    .datastores
                    .get(*other)
                    .map(|d| d.name.to_string())
                    .unwrap_or(name.clone());
                return Err(self.err(
                    c.span(),
                    format!("CIDR {net} is claimed twice (datastores {other:?} and {name:?})"),
                ));
            }
        }
        let ports = match &d.ports {
            Some(p) => {
                if p.get_ref().contains(&0) {
                    return Err(self.err(p.span(), format!("port 0 in {}", at("ports"))));
                }
                let mut v = p.get_ref().clone();
                v.sort_unstable();
                v.dedup();
                v
            }
            None => {
                let mut v = DEFAULT_DB_PORTS.to_vec();
                v.sort_unstable();
                v
            }
        };
        let mut databases = HashSet::new();
        for db in &d.databases {
            self.non_empty(db, &format!("database in {}", at("databases")))?;
            let text = db.get_ref().trim();
            if glob::is_glob(text) {
                return Err(self.err(
                    db.span(),
                    format!(
                        "{text:?} in {}: database names are exact, not globs",
                        at("databases")
                    ),
                ));
            }
            let key: Box<str> = text.to_ascii_lowercase().into();
            policy.databases.entry(key.clone()).or_insert(id);
            databases.insert(key);
        }
        let domain = match &d.domain {
            Some(s) => {
                self.non_empty(s, &format!("domain in {}", at("domain")))?;
                Some(Arc::from(s.get_ref().trim()))
            }
            None => None,
        };
        let classification = match &d.classification {
            Some(c) => Some(self.classification(c, &at("classification"))?),
            None => None,
        };
        names.insert(name.clone(), id);
        policy.datastores.push(Datastore {
            name: Arc::from(name),
            globs,
            ports,
            databases,
            domain,
            classification,
        });
        Ok(())
    }

    fn classification_table(&self, c: &ClassificationSpec, policy: &mut Policy) -> Result<(), PolicyError> {
        let levels = [&c.public, &c.internal, &c.confidential, &c.restricted];
        for (slot, (level, globs)) in Classification::ALL.iter().zip(levels).enumerate() {
            let what = format!("classification.{}", level.as_str());
            let mut sources = Vec::with_capacity(globs.len());
            for g in globs {
                self.non_empty(g, &format!("pattern in {what}"))?;
                sources.push(glob::object_glob_source(g.get_ref().trim()));
            }
            let span = globs.first().map(Spanned::span).unwrap_or(0..0);
            policy.classification[slot] = glob::compile_sources(&sources)
                .map_err(|e| self.err(span, format!("patterns of {what} do not compile: {e}")))?;
        }
        Ok(())
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

    /// Names of the zones, in file order.
    pub fn zone_names(&self) -> impl Iterator<Item = &str> {
        self.zones.iter().map(|z| &*z.name)
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

    /// Set the event's zone, principal zone, datastore, domain and classification.
    pub fn enrich(&self, event: &mut Event<'_>) {
        let r = self.resolve(event);
        event.enrichment = Enrichment {
            zone: r.zone.map(|z| Arc::clone(&self.zones[z].name)),
            principal_zone: r.principal_zone.map(|z| Arc::clone(&self.zones[z].name)),
            datastore: r.datastore.map(|d| Arc::clone(&self.datastores[d].name)),
            domain: self.event_domain(event, r.datastore).cloned(),
            classification: r.classification,
        };
    }

    // ---- resolution (shared by `enrich` and the checks) ----

    fn zone_id_of_ip(&self, ip: IpAddr) -> Option<ZoneId> {
        self.zone_prefixes
            .lookup(ip)
            .map(|(z, _)| *z)
            .or(self.default_zone)
    }

    fn zone_id_of_host(&self, host: &str) -> Option<ZoneId> {
        // Few host patterns (a handful per policy) and non-IP sources are rare: scanning them in
        // declaration order is cheaper than a RegexSet match, which allocates its result.
        self.zone_hosts
            .iter()
            .find(|(re, _)| re.is_match(host))
            .map(|(_, z)| *z)
            .or(self.default_zone)
    }

    fn principal_zone_id(&self, principal: &str) -> Option<ZoneId> {
        if !self
            .principals_any
            .as_ref()
            .is_some_and(|re| re.is_match(principal))
        {
            return None;
        }
        self.principal_entries
            .iter()
            .find(|(re, _)| re.is_match(principal))
            .map(|(_, z)| *z)
    }

    fn principal_allowed_in(&self, principal: &str, zone: ZoneId) -> bool {
        self.principals_by_zone
            .get(zone)
            .and_then(Option::as_ref)
            .is_some_and(|re| re.is_match(principal))
    }

    fn datastore_id_of_name(&self, name: &str) -> Option<DatastoreId> {
        if let Some(id) = with_lowercase(name, |n| self.datastore_ids.get(n).copied()) {
            return Some(id);
        }
        if !self
            .datastore_globs_any
            .as_ref()
            .is_some_and(|re| re.is_match(name))
        {
            return None;
        }
        self.datastores
            .iter()
            .position(|d| d.globs.as_ref().is_some_and(|re| re.is_match(name)))
    }

    fn datastore_id_of_endpoint(&self, ip: IpAddr, port: u16) -> Option<DatastoreId> {
        let (&d, _) = self.datastore_prefixes.lookup(ip)?;
        self.datastores[d].ports.binary_search(&port).is_ok().then_some(d)
    }

    fn datastore_of_database(&self, database: &str) -> Option<DatastoreId> {
        with_lowercase(database, |db| self.databases.get(db).copied())
    }

    /// The source address of an event: for flows the original packet source (through NAT) when
    /// logged, else the actor's address.
    fn source_ip(event: &Event<'_>) -> Option<IpAddr> {
        match &event.kind {
            Kind::Flow(f) => f.pkt_src.or(event.actor.ip),
            _ => event.actor.ip,
        }
    }

    /// The destination address of a flow (original packet destination when logged).
    fn destination_ip(event: &Event<'_>) -> Option<IpAddr> {
        match &event.kind {
            Kind::Flow(f) => f.pkt_dst.or(event.target.ip),
            _ => event.target.ip,
        }
    }

    /// The principals of an event to match against `[[principals]]`: the db user for database
    /// events; the principal ARN and the issuing role ARN for CloudTrail.
    pub(crate) fn principals_of<'e>(event: &'e Event<'_>) -> [Option<&'e str>; 2] {
        match event.source {
            Source::CloudTrail => [
                event.actor.principal.as_deref(),
                event.actor.session_issuer.as_deref(),
            ],
            _ => [event.actor.user.as_deref(), None],
        }
    }

    fn actor_zone(&self, event: &Event<'_>) -> Option<ZoneId> {
        if let Some(ip) = Self::source_ip(event) {
            return self.zone_id_of_ip(ip);
        }
        event
            .actor
            .host
            .as_deref()
            .filter(|h| !h.is_empty())
            .and_then(|h| self.zone_id_of_host(h))
    }

    fn event_datastore(&self, event: &Event<'_>) -> Option<DatastoreId> {
        if let Some(id) = event.origin.log_group.and_then(|g| self.datastore_id_of_name(g)) {
            return Some(id);
        }
        for name in [event.target.datastore.as_deref(), event.target.server.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(id) = self.datastore_id_of_name(name) {
                return Some(id);
            }
        }
        if let Some(id) = event
            .target
            .database
            .as_deref()
            .and_then(|d| self.datastore_of_database(d))
        {
            return Some(id);
        }
        if let Kind::Flow(_) = event.kind
            && let (Some(ip), Some(port)) = (Self::destination_ip(event), event.target.port)
        {
            return self.datastore_id_of_endpoint(ip, port);
        }
        None
    }

    /// The database of a qualified object: the first part of `db.table` (MySQL) or
    /// `db.schema.table` (PostgreSQL), else the event's database.
    pub(crate) fn object_database<'e>(event: &'e Event<'_>, object: &'e str) -> Option<&'e str> {
        let dots = object.bytes().filter(|b| *b == b'.').count();
        let qualified = match event.source {
            Source::Pgaudit => dots >= 2,
            _ => dots >= 1,
        };
        if qualified {
            object.split('.').next()
        } else {
            event.target.database.as_deref()
        }
    }

    /// The datastore that owns `database`: the event's datastore if it lists it, else the first
    /// datastore that lists it, else the event's datastore.
    fn datastore_of_object_database(
        &self,
        ds: Option<DatastoreId>,
        database: Option<&str>,
    ) -> Option<DatastoreId> {
        let Some(db) = database else { return ds };
        with_lowercase(db, |db| {
            if let Some(d) = ds
                && self.datastores[d].databases.contains(db)
            {
                return Some(d);
            }
            self.databases.get(db).copied().or(ds)
        })
    }

    /// The objects an event touches, as qualified names (tables, views; not users, roles,
    /// databases or schemas).
    pub(crate) fn data_objects<'e>(event: &'e Event<'_>) -> impl Iterator<Item = &'e str> {
        let sql = event
            .sql
            .iter()
            .flat_map(|s| s.objects.iter().map(String::as_str));
        let access = match &event.kind {
            Kind::ObjectAccess(a) => Some(&*a.object),
            _ => None,
        };
        sql.chain(access).filter(|o| !o.contains(':') && !o.is_empty())
    }

    /// The classification of one object of an event touching datastore `ds`.
    fn object_level(&self, event: &Event<'_>, ds: Option<DatastoreId>, object: &str) -> Classification {
        let level = if object.contains('.') {
            self.classify_object(object)
        } else if let Some(db) = event.target.database.as_deref() {
            // An unqualified object (audit engines name some without their database).
            self.classify_object(&format!("{db}.{object}"))
        } else {
            self.classify_object(object)
        };
        level.unwrap_or_else(|| {
            let owner = self.datastore_of_object_database(ds, Self::object_database(event, object));
            owner
                .and_then(|d| self.datastores[d].classification)
                .unwrap_or(Classification::Internal)
        })
    }

    /// The domain of one object (the domain of the datastore that owns its database).
    pub(crate) fn object_domain(
        &self,
        event: &Event<'_>,
        ds: Option<DatastoreId>,
        object: &str,
    ) -> Option<&Arc<str>> {
        self.datastore_of_object_database(ds, Self::object_database(event, object))
            .and_then(|d| self.datastores[d].domain.as_ref())
    }

    /// The domain an event's enrichment shows: the datastore's, else that of the first object
    /// whose database belongs to a domain.
    fn event_domain(&self, event: &Event<'_>, ds: Option<DatastoreId>) -> Option<&Arc<str>> {
        ds.and_then(|d| self.datastores[d].domain.as_ref())
            .or_else(|| Self::data_objects(event).find_map(|o| self.object_domain(event, ds, o)))
    }

    pub(crate) fn resolve(&self, event: &Event<'_>) -> Resolved {
        let zone = self.actor_zone(event);
        let mut r = Resolved {
            zone,
            ..Resolved::default()
        };
        for p in Self::principals_of(event).into_iter().flatten() {
            if let Some(z) = self.principal_zone_id(p) {
                r.principal_bound = true;
                r.principal_zone.get_or_insert(z);
                if zone.is_some_and(|zone| self.principal_allowed_in(p, zone)) {
                    r.principal_in_zone = true;
                }
            }
        }
        r.datastore = self.event_datastore(event);
        let objects = Self::data_objects(event)
            .map(|o| self.object_level(event, r.datastore, o))
            .max();
        r.classification = objects.or_else(|| r.datastore.and_then(|d| self.datastores[d].classification));
        r
    }

    // ---- accessors for the checks ----

    fn zone(&self, id: ZoneId) -> &Zone {
        &self.zones[id]
    }

    fn datastore(&self, id: DatastoreId) -> &Datastore {
        &self.datastores[id]
    }

    fn has_management_zone(&self) -> bool {
        self.zones.iter().any(|z| z.management)
    }
}
