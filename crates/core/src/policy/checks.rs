//! Policy checks: the four policy violations of DESIGN.md §4 plus the control-plane check, as one
//! [`Detector`].
//!
//! The checks read the resolution the enrichment left in the event ([`PolicyRefs`]), so an event
//! is resolved once; an event this policy did not enrich (another engine, a test) is resolved
//! here. The finding's zone, datastore and domain are filled from that resolution when
//! `Finding::from_event` found none.
//!
//! Severities follow DETECTIONS.md §6.3 and §4.3 (the full table is in docs/POLICY.md): anything
//! from a zone that may not reach a database is critical; DCL/ADMIN outside the zone's allow is
//! critical; other class violations are high; restricted data above clearance and cross-lane
//! access to confidential+ data are critical. A statement the engine refused, a failed login and
//! a failed API call are evidence of an attempt and are reported one severity lower.

use std::sync::Arc;

use crate::detector::Detector;
use crate::event::{Classification, Event, Kind, PolicyRefs, ZoneRole};
use crate::finding::{Finding, Severity};
use crate::sql::StatementClass;

use super::Policy;

/// Rule id: a statement whose class the zone does not allow; a connection (or accepted flow to a
/// datastore) from a zone that allows nothing.
pub const ZONE_CLASS: &str = "policy.zone-class";
/// Rule id: data classified above the zone's clearance.
pub const CLEARANCE: &str = "policy.clearance";
/// Rule id: a datastore or object of another domain (swim lane) than the zone's.
pub const SWIM_LANE: &str = "policy.swim-lane";
/// Rule id: a principal bound to a zone by `[[principals]]` acting from another zone.
pub const MANAGEMENT_FLOW: &str = "policy.management-flow";
/// Rule id: a successful CloudTrail call that changes a policy datastore, from outside the
/// zones whose role is `management`.
pub const CONTROL_PLANE: &str = "policy.control-plane";

/// Prefixes of AWS API actions that change a datastore (or its snapshots, network exposure,
/// credentials or lifecycle). Read-only calls (`Describe*`, `List*`, `Get*`) are not changes.
const MUTATING_ACTIONS: [&str; 28] = [
    "Modify",
    "Delete",
    "Create",
    "Restore",
    "Reboot",
    "Stop",
    "Start",
    "Authorize",
    "Revoke",
    "Add",
    "Remove",
    "Copy",
    "Failover",
    "Promote",
    "Reset",
    "Apply",
    "Switchover",
    "Enable",
    "Disable",
    "Backtrack",
    "Import",
    "Register",
    "Deregister",
    "Update",
    "Put",
    "Rotate",
    "Purchase",
    "Cancel",
];

/// The policy violations of DESIGN.md §4, checked on every event (docs/POLICY.md).
#[derive(Debug)]
pub struct PolicyChecks {
    policy: Arc<Policy>,
}

impl PolicyChecks {
    /// Checks against `policy` (usually the same `Arc` the engine enriches with).
    pub fn new(policy: Arc<Policy>) -> Self {
        PolicyChecks { policy }
    }

    /// The policy checked against.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }
}

/// One severity lower (an attempt that failed is still evidence, but less urgent).
fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

/// Findings of one event.
struct Emit<'x, 'e, 'a> {
    policy: &'x Policy,
    r: PolicyRefs,
    event: &'e Event<'a>,
    findings: &'x mut Vec<Finding>,
    matched: &'x mut Vec<String>,
}

impl Emit<'_, '_, '_> {
    fn push(&mut self, rule: &str, title: String, severity: Severity, domain: Option<&Arc<str>>) {
        let mut f = Finding::from_event(rule, &title, severity, self.event);
        if f.zone.is_none() {
            f.zone = self.r.zone.map(|z| self.policy.zone(z).name.to_string());
        }
        if let Some(d) = self.r.datastore {
            f.datastore
                .get_or_insert_with(|| self.policy.datastore(d).name.to_string());
        }
        if let Some(d) = domain {
            f.domain = Some(d.to_string());
        } else if f.domain.is_none() {
            f.domain = self
                .policy
                .event_domain(self.event, self.r.datastore)
                .map(|d| d.to_string());
        }
        self.findings.push(f);
        if !self.matched.iter().any(|m| m == rule) {
            self.matched.push(rule.to_owned());
        }
    }

    fn zone_name(&self) -> &str {
        self.r
            .zone
            .map(|z| &*self.policy.zone(z).name)
            .unwrap_or("(none)")
    }

    fn datastore_name(&self) -> &str {
        self.r
            .datastore
            .map(|d| &*self.policy.datastore(d).name)
            .unwrap_or("(unknown datastore)")
    }

    /// `policy.zone-class` for a statement.
    fn statement_class(&mut self, class: StatementClass, failed: bool) {
        let Some(zid) = self.r.zone else { return };
        let zone = self.policy.zone(zid);
        if zone.allow.contains(class) {
            return;
        }
        let base = if zone.allow.is_empty() || matches!(class, StatementClass::Dcl | StatementClass::Admin) {
            Severity::Critical
        } else {
            Severity::High
        };
        let allowed = if zone.allow.is_empty() {
            "which may not reach a database".to_owned()
        } else {
            format!("which allows {}", zone.allow.names().join(", "))
        };
        let title = format!(
            "{}{} statement from zone {}, {allowed}",
            if failed { "Refused " } else { "" },
            class.as_str(),
            zone.name
        );
        self.push(ZONE_CLASS, title, if failed { lower(base) } else { base }, None);
    }

    /// `policy.clearance` for data the event touches.
    fn clearance(&mut self, failed: bool) {
        let Some(zid) = self.r.zone else { return };
        let zone = self.policy.zone(zid);
        let Some(level) = self.r.objects_level else {
            return;
        };
        if level <= zone.clearance {
            return;
        }
        let base = if level == Classification::Restricted {
            Severity::Critical
        } else {
            Severity::High
        };
        let title = format!(
            "{}{} data accessed from zone {} (clearance {})",
            if failed { "Attempt: " } else { "" },
            level.as_str(),
            zone.name,
            zone.clearance.as_str()
        );
        self.push(CLEARANCE, title, if failed { lower(base) } else { base }, None);
    }

    /// `policy.swim-lane`: the datastore's domain and (with `objects`) each object's domain
    /// against the zone's domain.
    fn swim_lane(&mut self, objects: bool, failed: bool) {
        let Some(zid) = self.r.zone else { return };
        let zone = self.policy.zone(zid);
        let Some(lane) = &zone.domain else { return };
        let ds_domain = self
            .r
            .datastore
            .and_then(|d| self.policy.datastore(d).domain.as_ref());
        let foreign = ds_domain.filter(|d| *d != lane).or_else(|| {
            if !objects {
                return None;
            }
            self.r
                .foreign_owner
                .and_then(|d| self.policy.datastore(d).domain.as_ref())
        });
        let Some(foreign) = foreign else { return };
        let foreign = Arc::clone(foreign);
        let level = self.r.classification.unwrap_or(Classification::Internal);
        let base = if level >= Classification::Confidential {
            Severity::Critical
        } else {
            Severity::High
        };
        let title = format!(
            "{}Zone {} (swim lane {lane}) reached {} data of domain {foreign}",
            if failed { "Attempt: " } else { "" },
            zone.name,
            level.as_str()
        );
        self.push(
            SWIM_LANE,
            title,
            if failed { lower(base) } else { base },
            Some(&foreign),
        );
    }

    /// `policy.management-flow`: a bound principal outside its zones.
    fn management_flow(&mut self, failed: bool) {
        if !self.r.principal_bound || self.r.principal_in_zone {
            return;
        }
        let Some(zid) = self.r.zone else { return };
        let who = Policy::principals_of(self.event)
            .into_iter()
            .flatten()
            .next()
            .unwrap_or("(unknown)");
        let bound = self
            .r
            .principal_zone
            .map(|z| &*self.policy.zone(z).name)
            .unwrap_or("(none)");
        let title = format!(
            "{}Principal {who}, bound to zone {bound}, acted from zone {}",
            if failed { "Attempt: " } else { "" },
            self.policy.zone(zid).name
        );
        let base = Severity::High;
        self.push(
            MANAGEMENT_FLOW,
            title,
            if failed { lower(base) } else { base },
            None,
        );
    }

    /// `policy.zone-class` for a login from a zone that allows nothing.
    fn connect_from_closed_zone(&mut self, failed: bool) {
        let Some(zid) = self.r.zone else { return };
        let zone = self.policy.zone(zid);
        if !zone.allow.is_empty() {
            return;
        }
        let title = format!(
            "{} {} from zone {}, which may not reach a database",
            if failed { "Failed login to" } else { "Login to" },
            self.datastore_name(),
            zone.name
        );
        let base = Severity::Critical;
        self.push(ZONE_CLASS, title, if failed { lower(base) } else { base }, None);
    }

    /// `policy.control-plane`: a successful change to a policy datastore from outside the
    /// management zones.
    fn control_plane(&mut self, action: &str, failed: bool, read_only: Option<bool>) {
        if failed || read_only == Some(true) || !self.policy.has_management_zone() {
            return;
        }
        if self.r.datastore.is_none() || !MUTATING_ACTIONS.iter().any(|p| action.starts_with(p)) {
            return;
        }
        if self
            .r
            .zone
            .is_some_and(|z| self.policy.zone(z).role == Some(ZoneRole::Management))
        {
            return;
        }
        let severity = if action.starts_with("Delete") {
            Severity::Critical
        } else {
            Severity::High
        };
        let title = format!(
            "{action} on datastore {} from zone {}, outside the management zones",
            self.datastore_name(),
            self.zone_name()
        );
        self.push(CONTROL_PLANE, title, severity, None);
    }

    /// `policy.zone-class` / `policy.swim-lane` for an accepted flow to a datastore's address
    /// and port.
    fn flow(&mut self, accepted: bool) {
        if !accepted {
            return;
        }
        let (Some(dst), Some(port)) = (Policy::destination_ip(self.event), self.event.target.port) else {
            return;
        };
        let Some(ds) = self.policy.datastore_id_of_endpoint(dst, port) else {
            return;
        };
        self.r.datastore = Some(ds);
        // Traffic among the datastore's own addresses (replicas, cluster members) is its own.
        if Policy::source_ip(self.event)
            .and_then(|ip| self.policy.datastore_prefixes.lookup(ip).map(|x| *x.0))
            == Some(ds)
        {
            return;
        }
        let Some(zid) = self.r.zone else { return };
        let zone = self.policy.zone(zid);
        if zone.allow.is_empty() {
            let title = format!(
                "Accepted flow to {} port {port} from zone {}, which may not reach a database",
                self.datastore_name(),
                zone.name
            );
            self.push(ZONE_CLASS, title, Severity::Critical, None);
            return;
        }
        self.swim_lane(false, false);
    }
}

impl Detector for PolicyChecks {
    fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>) {
        let policy = &*self.policy;
        let mut e = Emit {
            policy,
            r: policy.resolution(event),
            event,
            findings,
            matched,
        };
        match &event.kind {
            Kind::Statement(st) => {
                let failed = !st.succeeded;
                if let Some(sql) = &event.sql {
                    e.statement_class(sql.class(), failed);
                }
                e.clearance(failed);
                e.swim_lane(true, failed);
                e.management_flow(failed);
            }
            // The QUERY record of the same statement carries its class; TABLE records add the
            // objects the engine resolved (through views, procedures), so they count for data.
            Kind::ObjectAccess(_) => {
                e.clearance(false);
                e.swim_lane(true, false);
            }
            Kind::Connect(_) => {
                e.connect_from_closed_zone(false);
                e.swim_lane(false, false);
                e.management_flow(false);
            }
            Kind::FailedConnect(_) => {
                e.connect_from_closed_zone(true);
                e.management_flow(true);
            }
            Kind::Disconnect(_) => {}
            Kind::ApiCall(api) => {
                let failed = api.error_code.as_deref().is_some_and(|c| !c.is_empty());
                e.control_plane(&api.action, failed, api.read_only);
                e.management_flow(failed);
            }
            Kind::Flow(f) => {
                let accepted = f
                    .action
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case("ACCEPT"));
                e.flow(accepted);
            }
        }
    }
}
