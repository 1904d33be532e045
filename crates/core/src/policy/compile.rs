//! Compiling a policy file into a [`Policy`]: every problem a typo could cause becomes a
//! `file:line: reason` error (a policy that half-loads is a detective control that silently does
//! not detect).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use ipnet::IpNet;
use regex::Regex;
use toml::Spanned;

use super::applications::{self, Application};
use super::file::{
    ApplicationSpec, ClassificationSpec, DatastoreSpec, PolicyFile, PrincipalSpec, RowLimitsSpec, SigmaSpec,
    ZoneSpec,
};
use super::{
    ClassSet, DEFAULT_DB_PORTS, Datastore, DatastoreId, Policy, PolicyError, Zone, ZoneId, next_policy_id,
};
use crate::event::{Classification, ZoneRole};
use crate::sigma::settings::{Placeholder, RuleSettings, SigmaSettings, StatusModes};
use crate::sql::StatementClass;

/// The number of the line holding byte `offset` of `text` (1-based).
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
}

/// Builds a [`Policy`] from a parsed file, turning every problem into a `file:line` error.
pub(super) struct Compiler<'t> {
    pub(super) text: &'t str,
    pub(super) origin: &'t str,
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
        crate::glob::compile_globs(&texts)
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

    /// A zone's role: `role`, or `management = true` (the older key); both must agree.
    fn role(&self, z: &ZoneSpec, what: &str) -> Result<Option<ZoneRole>, PolicyError> {
        let role = match &z.role {
            Some(r) => Some(ZoneRole::from_name(r.get_ref().trim()).ok_or_else(|| {
                self.err(
                    r.span(),
                    format!(
                        "unknown zone role {:?} in {what} (expected one of {})",
                        r.get_ref(),
                        ZoneRole::ALL.map(ZoneRole::as_str).join(", ")
                    ),
                )
            })?),
            None => None,
        };
        match (&z.management, role) {
            (Some(m), Some(r)) if *m.get_ref() != (r == ZoneRole::Management) => Err(self.err(
                m.span(),
                format!(
                    "`management = {}` contradicts `role = {:?}`; keep only `role`",
                    m.get_ref(),
                    r.as_str()
                ),
            )),
            (Some(m), None) if *m.get_ref() => Ok(Some(ZoneRole::Management)),
            _ => Ok(role),
        }
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

    pub(super) fn compile(&self, file: PolicyFile) -> Result<Policy, PolicyError> {
        let mut policy = Policy {
            id: next_policy_id(),
            ..Policy::default()
        };
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
            let re = crate::glob::compile_globs(&[glob])
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
            .filter(|g| crate::glob::is_glob(g))
            .collect();
        policy.datastore_globs_any = crate::glob::compile_globs(&all_ds_globs)
            .map_err(|e| self.err(0..0, format!("datastore patterns do not compile: {e}")))?;
        if let Some(c) = &file.classification {
            self.classification_table(c, &mut policy)?;
        }
        policy.chatter = applications::builtin_chatter();
        for (i, a) in file.applications.iter().enumerate() {
            self.application(i, a, &zone_ids, &mut policy)?;
        }
        if let Some(s) = &file.sigma {
            policy.sigma = self.sigma(s, &file.zones, &policy)?;
        }
        if let Some(r) = &file.row_limits {
            policy.row_limits = row_limits(r);
        }
        Ok(policy)
    }

    fn application(
        &self,
        i: usize,
        a: &ApplicationSpec,
        zone_ids: &HashMap<String, ZoneId>,
        policy: &mut Policy,
    ) -> Result<(), PolicyError> {
        let at = |key: &str| format!("applications[{i}].{key}");
        self.non_empty(&a.name, &format!("application name in {}", at("name")))?;
        let name = a.name.get_ref().trim();
        if policy.applications.iter().any(|x| &*x.name == name) {
            return Err(self.err(a.name.span(), format!("application {name:?} is defined twice")));
        }
        let mut zones = Vec::new();
        for z in &a.zones {
            let zname = z.get_ref().trim();
            let Some(&id) = zone_ids.get(zname) else {
                let mut known: Vec<&str> = zone_ids.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(self.err(
                    z.span(),
                    format!(
                        "unknown zone {zname:?} in {} (zones: {})",
                        at("zones"),
                        known.join(", ")
                    ),
                ));
            };
            zones.push(id);
        }
        let users = if a.users.is_empty() {
            None
        } else {
            self.globs(&a.users, &at("users"))?
        };
        let mut databases = HashSet::new();
        for db in &a.databases {
            self.non_empty(db, &format!("database in {}", at("databases")))?;
            databases.insert(db.get_ref().trim().to_ascii_lowercase().into_boxed_str());
        }
        let mut expected = HashSet::new();
        for e in &a.expected {
            let fps: Vec<u64> = applications::fingerprints(e.get_ref()).collect();
            if fps.is_empty() {
                return Err(self.err(
                    e.span(),
                    format!("{} holds no SQL statement: {:?}", at("expected"), e.get_ref()),
                ));
            }
            expected.extend(fps);
        }
        for f in &a.expected_fingerprints {
            let text = f.get_ref().trim();
            let fp = (text.len() == 16)
                .then(|| u64::from_str_radix(text, 16).ok())
                .flatten()
                .ok_or_else(|| {
                    self.err(
                        f.span(),
                        format!(
                            "{:?} in {} is not a fingerprint (16 hex digits, as `laneguard replay --events` shows it)",
                            text,
                            at("expected_fingerprints")
                        ),
                    )
                })?;
            expected.insert(fp);
        }
        policy.applications.push(Application {
            name: Arc::from(name),
            zones,
            users,
            databases,
            expected,
        });
        Ok(())
    }

    /// `[sigma]`: status modes, overrides, and placeholders resolved to zones and their CIDRs.
    fn sigma(
        &self,
        s: &SigmaSpec,
        zones: &[ZoneSpec],
        policy: &Policy,
    ) -> Result<SigmaSettings, PolicyError> {
        let d = StatusModes::default();
        let modes = StatusModes {
            stable: s.stable.unwrap_or(d.stable),
            test: s.test.unwrap_or(d.test),
            experimental: s.experimental.unwrap_or(d.experimental),
            deprecated: s.deprecated.unwrap_or(d.deprecated),
            unset: s.unset.unwrap_or(d.unset),
        };
        let rules = s
            .rules
            .iter()
            .map(|(id, r)| {
                (
                    id.clone(),
                    RuleSettings {
                        mode: r.mode,
                        require_success: r.require_success,
                    },
                )
            })
            .collect();
        let mut placeholders = Vec::new();
        for (name, p) in &s.placeholders {
            let what = format!("sigma.placeholders.{name}");
            let mut out = Placeholder {
                values: p.values.clone(),
                ..Placeholder::default()
            };
            let mut members: Vec<&ZoneSpec> = Vec::new();
            for z in &p.zones {
                let zname = z.get_ref().trim();
                let Some(spec) = zones.iter().find(|x| x.name.get_ref().trim() == zname) else {
                    return Err(self.err(z.span(), format!("{what}: no zone named {zname:?}")));
                };
                out.zones.push(zname.to_owned());
                members.push(spec);
            }
            for r in &p.roles {
                let role = ZoneRole::from_name(r.get_ref().trim()).ok_or_else(|| {
                    self.err(
                        r.span(),
                        format!(
                            "{what}: unknown zone role {:?} (expected one of {})",
                            r.get_ref(),
                            ZoneRole::ALL.map(ZoneRole::as_str).join(", ")
                        ),
                    )
                })?;
                out.roles.push(role.as_str().to_owned());
                for (spec, zone) in zones.iter().zip(&policy.zones) {
                    if zone.role == Some(role) {
                        members.push(spec);
                    }
                }
            }
            for spec in members {
                for c in &spec.cidrs {
                    let net = self.cidr(c, "zones")?.to_string();
                    if !out.cidrs.contains(&net) {
                        out.cidrs.push(net);
                    }
                }
            }
            if out.zones.is_empty() && out.roles.is_empty() && out.values.is_empty() {
                let at = self.text.find(&format!("placeholders.{name}")).unwrap_or(0);
                return Err(self.err(at..at, format!("{what}: give zones, roles or values")));
            }
            placeholders.push((name.clone(), out));
        }
        Ok(SigmaSettings {
            modes,
            require_success: s.require_success,
            rules,
            placeholders,
        })
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
            role: self.role(z, &at("role"))?,
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
            crate::glob::compile_globs(globs)
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
            if crate::glob::is_glob(text) {
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
            if crate::glob::is_glob(text) {
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

    /// `[classification]`: one regex per level.
    fn classification_table(&self, c: &ClassificationSpec, policy: &mut Policy) -> Result<(), PolicyError> {
        let levels = [&c.public, &c.internal, &c.confidential, &c.restricted];
        for (slot, (level, globs)) in Classification::ALL.iter().zip(levels).enumerate() {
            let what = format!("classification.{}", level.as_str());
            let mut sources = Vec::with_capacity(globs.len());
            for g in globs {
                self.non_empty(g, &format!("pattern in {what}"))?;
                sources.push(crate::glob::object_glob_source(g.get_ref().trim()));
            }
            let span = globs.first().map(Spanned::span).unwrap_or(0..0);
            policy.classification[slot] = crate::glob::compile_sources(&sources)
                .map_err(|e| self.err(span, format!("patterns of {what} do not compile: {e}")))?;
        }
        Ok(())
    }
}

/// `[row_limits]` per level, `Classification::ALL` order: a level's own limit, else the
/// smallest limit of a lower level, so more sensitive data is never allowed more rows than less
/// sensitive data (`confidential = 10000` alone also bounds restricted data).
fn row_limits(r: &RowLimitsSpec) -> [Option<u64>; 4] {
    let given = [r.public, r.internal, r.confidential, r.restricted];
    let mut out = [None; 4];
    let mut lowest: Option<u64> = None;
    for (slot, limit) in given.into_iter().enumerate() {
        lowest = match (lowest, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out[slot] = lowest;
    }
    out
}
