//! Applications: what an application's own traffic looks like, so that the statements every
//! driver and ORM sends — connection set-up chatter, introspection of the application's own
//! schema — are not taken for reconnaissance, while the same statements from another zone, or
//! introspection of other schemas, credentials or privileges, still are (docs/POLICY.md,
//! `[[applications]]`).
//!
//! Built in: the chatter of common drivers and ORMs ([`BUILTIN_CHATTER`]) and the own-schema
//! test, for every zone whose role is `application`. A policy names its applications to narrow
//! them to users, add databases they own, and add statements their drivers send
//! (`expected`, `expected_fingerprints`; `laneguard learn --applications` proposes them).
//! Statements are matched by fingerprint (one hash lookup); the own-schema test reads the SQL
//! analysis's catalog categories and scope.

use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;

use super::{Policy, ZoneId};
use crate::event::{Event, Expected, Kind, Source, ZoneRole};
use crate::sql::{self, CatalogScope, Catalogs, Dialect};

/// Statements drivers and ORMs send on their own (connection set-up, version and setting
/// probes), with who sends them. Written as the drivers write them; matched by fingerprint, so
/// case, spacing and literal values do not matter.
pub const BUILTIN_CHATTER: &[(&str, &str)] = &[
    // MySQL / MariaDB
    (
        "SELECT VERSION()",
        "SQLAlchemy (first connection), Django, many drivers",
    ),
    ("SELECT @@version", "drivers, Hibernate"),
    (
        "SELECT @@version_comment LIMIT 1",
        "the mysql command-line client",
    ),
    ("SELECT DATABASE()", "SQLAlchemy, Django"),
    ("SELECT @@tx_isolation", "SQLAlchemy (MariaDB / MySQL < 8)"),
    ("SELECT @@transaction_isolation", "SQLAlchemy (MySQL 8)"),
    ("SELECT @@session.tx_isolation", "drivers"),
    ("SELECT @@session.transaction_isolation", "drivers"),
    ("SELECT @@sql_mode", "SQLAlchemy, Django"),
    ("SELECT @@SESSION.sql_mode", "Rails"),
    ("SELECT @@lower_case_table_names", "SQLAlchemy"),
    ("SELECT @@max_allowed_packet", "drivers"),
    ("SELECT @@session.transaction_read_only", "MySQL Connector/J"),
    ("SELECT @@session.tx_read_only", "MySQL Connector/J"),
    ("SELECT @@session.auto_increment_increment", "MySQL Connector/J"),
    ("SHOW VARIABLES LIKE 'sql_mode'", "SQLAlchemy 1.x, drivers"),
    ("SHOW VARIABLES LIKE 'lower_case_table_names'", "SQLAlchemy 1.x"),
    ("SHOW COLLATION", "SQLAlchemy 1.x, Connector/J"),
    ("SHOW CHARACTER SET", "drivers"),
    ("SHOW WARNINGS", "drivers"),
    // PostgreSQL
    ("select pg_catalog.version()", "SQLAlchemy (first connection)"),
    ("SELECT version()", "psycopg, JDBC, Django"),
    ("select current_schema()", "SQLAlchemy (first connection)"),
    (
        "show transaction isolation level",
        "SQLAlchemy (first connection)",
    ),
    (
        "show standard_conforming_strings",
        "SQLAlchemy (first connection)",
    ),
    ("SHOW server_version", "drivers"),
    ("SHOW server_version_num", "drivers"),
    ("SHOW default_transaction_isolation", "drivers"),
    ("SHOW search_path", "drivers, migration tools"),
    ("SELECT current_setting('server_version_num')", "psycopg"),
];

/// Catalog categories an application's introspection of its own schema may read.
const INTROSPECTION: Catalogs = Catalogs(
    Catalogs::SCHEMAS.0
        | Catalogs::TABLES.0
        | Catalogs::COLUMNS.0
        | Catalogs::ROUTINES.0
        | Catalogs::TYPES.0
        | Catalogs::SETTINGS.0,
);

/// Of those, the ones that describe the schema (a statement must read one to be introspection).
const STRUCTURE: Catalogs = Catalogs(
    Catalogs::SCHEMAS.0 | Catalogs::TABLES.0 | Catalogs::COLUMNS.0 | Catalogs::ROUTINES.0 | Catalogs::TYPES.0,
);

/// A compiled `[[applications]]` entry.
#[derive(Debug)]
pub(super) struct Application {
    pub(super) name: Arc<str>,
    /// Zones it runs in; empty: every zone whose role is `application`.
    pub(super) zones: Vec<ZoneId>,
    /// Its database users; `None`: any user in its zones.
    pub(super) users: Option<Regex>,
    /// Databases and schemas it owns besides the session's (lower-case).
    pub(super) databases: HashSet<Box<str>>,
    /// Fingerprints of the statements its driver or ORM sends, beyond the built-in ones.
    pub(super) expected: HashSet<u64>,
}

/// The fingerprints of a statement under both SQL dialects (a statement written once in a
/// policy serves MySQL and PostgreSQL logs; the dialects normalize some tokens differently).
pub(super) fn fingerprints(sql: &str) -> impl Iterator<Item = u64> + '_ {
    [Dialect::Mysql, Dialect::Postgres]
        .into_iter()
        .filter_map(move |d| sql::fingerprint_of(sql, d))
}

/// The built-in chatter fingerprints.
pub(super) fn builtin_chatter() -> HashSet<u64> {
    BUILTIN_CHATTER
        .iter()
        .flat_map(|(s, _)| fingerprints(s))
        .collect()
}

/// Which application an event belongs to: `Some(Some(i))` an `[[applications]]` entry,
/// `Some(None)` the implicit application of a zone whose role is `application` that no entry
/// names, `None` none (other zones, or a user the zone's entries do not list).
pub(super) fn application_of(policy: &Policy, zone: ZoneId, user: Option<&str>) -> Option<Option<usize>> {
    let is_app_zone = policy.zones[zone].role == Some(ZoneRole::Application);
    let mut named = false;
    for (i, app) in policy.applications.iter().enumerate() {
        let covers = if app.zones.is_empty() {
            is_app_zone
        } else {
            app.zones.contains(&zone)
        };
        if !covers {
            continue;
        }
        named = true;
        let user_ok = match (&app.users, user) {
            (None, _) => true,
            (Some(re), Some(u)) => re.is_match(u),
            (Some(_), None) => false,
        };
        if user_ok {
            return Some(Some(i));
        }
    }
    (is_app_zone && !named).then_some(None)
}

/// What an application statement is expected to be: driver chatter, or introspection of the
/// application's own schema.
pub(super) fn expected(policy: &Policy, app: Option<usize>, event: &Event<'_>) -> Option<Expected> {
    let Kind::Statement(_) = event.kind else {
        return None;
    };
    let sql = event.sql.as_ref()?;
    let a = &sql.analysis;
    let app = app.map(|i| &policy.applications[i]);
    if policy.chatter.contains(&a.fingerprint) || app.is_some_and(|x| x.expected.contains(&a.fingerprint)) {
        return Some(Expected::Chatter);
    }
    let introspection = a.catalog_only
        && !a.catalogs.is_empty()
        && INTROSPECTION.contains(a.catalogs)
        && a.catalogs.intersects(STRUCTURE);
    if !introspection {
        return None;
    }
    let own = |name: &str| {
        event
            .target
            .database
            .as_deref()
            .is_some_and(|db| db.eq_ignore_ascii_case(name))
            || (event.source == Source::Pgaudit && name == "public")
            || app.is_some_and(|x| x.databases.contains(name))
    };
    let scoped = match &a.catalog_scope {
        CatalogScope::Session | CatalogScope::None => true,
        CatalogScope::Named(names) => names.iter().all(|n| own(n)),
        CatalogScope::Any => false,
    };
    scoped.then_some(Expected::Introspection)
}
