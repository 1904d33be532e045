//! Resolving an event against the policy: the zone of its actor, the principals bound to it,
//! the datastore acted on, and the owner, classification and domain of each object it touches.
//! [`Policy::enrich`] does it once per event and keeps the result in the event
//! ([`PolicyRefs`]), which the policy checks read.

use std::net::IpAddr;
use std::sync::Arc;

use super::{Datastore, DatastoreId, Policy, Zone, ZoneId, applications, with_lowercase};
use crate::event::{Classification, Enrichment, Event, Kind, PolicyRefs, Source, ZoneRole};
use crate::sql::Dialect;

/// Classification patterns already run, by qualified object name: an engine keeps one so that
/// the regexes of `[classification]` run once per object name, not once per object of every
/// event. Object names come from the statements, so the map is capped (cleared when full) and
/// keeps the standard library's keyed hasher.
#[derive(Debug, Default)]
pub struct ClassMemo {
    levels: std::collections::HashMap<Box<str>, Option<Classification>>,
}

impl ClassMemo {
    /// Object names kept before the memo starts over.
    pub const CAPACITY: usize = 8192;
}

impl Policy {
    /// Set the event's zone, principal zone, datastore, domain and classification, and the
    /// references the policy checks read, so an event is resolved once.
    pub fn enrich(&self, event: &mut Event<'_>) {
        self.enrich_with(event, &mut ClassMemo::default());
    }

    /// [`Policy::enrich`] with a memo of object classifications kept across events (the
    /// engine's).
    pub fn enrich_with(&self, event: &mut Event<'_>, memo: &mut ClassMemo) {
        let r = self.resolve_with(event, Some(memo));
        let app = r
            .zone
            .and_then(|z| applications::application_of(self, z, event.actor.user.as_deref()));
        let expected = app.and_then(|a| applications::expected(self, a, event));
        event.enrichment = Enrichment {
            application: app.flatten().map(|i| Arc::clone(&self.applications[i].name)),
            expected,
            zone: r.zone.map(|z| Arc::clone(&self.zones[z].name)),
            zone_role: r.zone.and_then(|z| self.zones[z].role),
            principal_zone: r.principal_zone.map(|z| Arc::clone(&self.zones[z].name)),
            principal_zone_role: r.principal_zone.and_then(|z| self.zones[z].role),
            datastore: r.datastore.map(|d| Arc::clone(&self.datastores[d].name)),
            domain: self.event_domain(event, r.datastore).cloned(),
            classification: r.classification,
            row_limit: r.classification.and_then(|c| self.row_limit(c)),
            refs: r,
        };
    }

    /// The resolution of an event: the one its enrichment carries when this policy enriched it
    /// (the engine always does), else computed now.
    pub(crate) fn resolution(&self, event: &Event<'_>) -> PolicyRefs {
        if event.enrichment.refs.policy == self.id {
            event.enrichment.refs
        } else {
            self.resolve(event)
        }
    }

    pub(super) fn zone_id_of_ip(&self, ip: IpAddr) -> Option<ZoneId> {
        self.zone_prefixes
            .lookup(ip)
            .map(|(z, _)| *z)
            .or(self.default_zone)
    }

    pub(super) fn zone_id_of_host(&self, host: &str) -> Option<ZoneId> {
        // Few host patterns (a handful per policy) and non-IP sources are rare: scanning them in
        // declaration order is cheaper than a RegexSet match, which allocates its result.
        self.zone_hosts
            .iter()
            .find(|(re, _)| re.is_match(host))
            .map(|(_, z)| *z)
            .or(self.default_zone)
    }

    pub(super) fn principal_zone_id(&self, principal: &str) -> Option<ZoneId> {
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

    pub(super) fn principal_allowed_in(&self, principal: &str, zone: ZoneId) -> bool {
        self.principals_by_zone
            .get(zone)
            .and_then(Option::as_ref)
            .is_some_and(|re| re.is_match(principal))
    }

    pub(super) fn datastore_id_of_name(&self, name: &str) -> Option<DatastoreId> {
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

    pub(super) fn datastore_id_of_endpoint(&self, ip: IpAddr, port: u16) -> Option<DatastoreId> {
        let (&d, _) = self.datastore_prefixes.lookup(ip)?;
        self.datastores[d].ports.binary_search(&port).is_ok().then_some(d)
    }

    pub(super) fn datastore_of_database(&self, database: &str) -> Option<DatastoreId> {
        with_lowercase(database, |db| self.databases.get(db).copied())
    }

    /// The source address of an event: for flows the original packet source (through NAT) when
    /// logged, else the actor's address.
    pub(super) fn source_ip(event: &Event<'_>) -> Option<IpAddr> {
        match &event.kind {
            Kind::Flow(f) => f.pkt_src.or(event.actor.ip),
            _ => event.actor.ip,
        }
    }

    /// The destination address of a flow (original packet destination when logged).
    pub(super) fn destination_ip(event: &Event<'_>) -> Option<IpAddr> {
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

    pub(super) fn actor_zone(&self, event: &Event<'_>) -> Option<ZoneId> {
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

    pub(super) fn event_datastore(&self, event: &Event<'_>) -> Option<DatastoreId> {
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
        let qualified = match event.dialect {
            Dialect::Postgres => dots >= 2,
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
    pub(super) fn datastore_of_object_database(
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

    /// The classification of one object of an event, whose database belongs to `owner`.
    pub(super) fn object_level(
        &self,
        event: &Event<'_>,
        owner: Option<DatastoreId>,
        object: &str,
        memo: Option<&mut ClassMemo>,
    ) -> Classification {
        let classify = |name: &str| match memo {
            None => self.classify_object(name),
            Some(memo) => {
                if let Some(level) = memo.levels.get(name) {
                    return *level;
                }
                let level = self.classify_object(name);
                if memo.levels.len() >= ClassMemo::CAPACITY {
                    memo.levels.clear();
                }
                memo.levels.insert(name.into(), level);
                level
            }
        };
        let level = match event.target.database.as_deref() {
            // An unqualified object (audit engines name some without their database).
            Some(db) if !object.contains('.') => classify(&[db, ".", object].concat()),
            _ => classify(object),
        };
        level.unwrap_or_else(|| {
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
    pub(super) fn event_domain(&self, event: &Event<'_>, ds: Option<DatastoreId>) -> Option<&Arc<str>> {
        ds.and_then(|d| self.datastores[d].domain.as_ref())
            .or_else(|| Self::data_objects(event).find_map(|o| self.object_domain(event, ds, o)))
    }

    /// Resolve an event against the policy: zone, principals, datastore, and per data object
    /// its owner, classification and domain — each object looked at once.
    pub(super) fn resolve(&self, event: &Event<'_>) -> PolicyRefs {
        self.resolve_with(event, None)
    }

    fn resolve_with(&self, event: &Event<'_>, mut memo: Option<&mut ClassMemo>) -> PolicyRefs {
        let zone = self.actor_zone(event);
        let mut r = PolicyRefs {
            policy: self.id,
            zone,
            ..PolicyRefs::default()
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
        let lane = zone.and_then(|z| self.zones[z].domain.as_ref());
        for o in Self::data_objects(event) {
            let owner = self.datastore_of_object_database(r.datastore, Self::object_database(event, o));
            let level = self.object_level(event, owner, o, memo.as_deref_mut());
            r.objects_level = r.objects_level.max(Some(level));
            if r.foreign_owner.is_none()
                && let Some(lane) = lane
                && owner
                    .and_then(|d| self.datastores[d].domain.as_ref())
                    .is_some_and(|d| d != lane)
            {
                r.foreign_owner = owner;
            }
        }
        r.classification = r
            .objects_level
            .or_else(|| r.datastore.and_then(|d| self.datastores[d].classification));
        r
    }

    // ---- accessors for the checks ----

    pub(super) fn zone(&self, id: ZoneId) -> &Zone {
        &self.zones[id]
    }

    pub(super) fn datastore(&self, id: DatastoreId) -> &Datastore {
        &self.datastores[id]
    }

    pub(super) fn has_management_zone(&self) -> bool {
        self.zones.iter().any(|z| z.role == Some(ZoneRole::Management))
    }
}
