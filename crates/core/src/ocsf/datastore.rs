//! Database events (statements, logins, audit-engine table access) as OCSF Datastore Activity
//! (class 6005): the normalized statement and its fingerprint as `query_info` — never the raw
//! text, parameters or error text, which carry literals.

use std::borrow::Cow;

use serde::Serialize;

use super::activity::{
    ObjectAccessUnmapped, SessionUnmapped, SqlUnmapped, StatementUnmapped, Status, Unmapped, actor, metadata,
    src_endpoint,
};
use super::header::{Header, OcsfClass};
use super::{Actor, DataClassification, Database, Endpoint, Group, Metadata, engine_name, millis};
use crate::event::{Event, Kind, ObjectAccess, Statement};
use crate::sql::StatementClass;

/// Datastore Activity (class 6005, category 6 Application Activity).
#[derive(Debug, Serialize)]
pub struct DatastoreActivity<'e> {
    /// Class, category, activity, type, severity.
    #[serde(flatten)]
    pub header: Header<'e>,
    /// 1 Success, 2 Failure.
    pub status_id: u8,
    /// Caption of `status_id`.
    pub status: &'static str,
    /// Engine return code (MySQL error number) or engine class (`ERROR`) of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<Cow<'e, str>>,
    /// Reason of a failed login as logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<&'e str>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// Schema, product, origin.
    pub metadata: Metadata<'e>,
    /// Database user and connection.
    pub actor: Actor<'e>,
    /// Client address and zone.
    pub src_endpoint: Endpoint<'e>,
    /// Server host and datastore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint<'e>>,
    /// The database.
    pub database: Database<'e>,
    /// The table, when the event names exactly one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table<'e>>,
    /// The normalized statement (never the raw text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_info: Option<QueryInfo<'e>>,
    /// 1 Database, 3 Table (object access).
    pub type_id: u8,
    /// Caption of `type_id`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// AWS region and account, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'e>>,
    /// laneguard attributes OCSF has no place for.
    pub unmapped: Unmapped<'e>,
}

/// OCSF `table`.
#[derive(Debug, Serialize)]
pub struct Table<'e> {
    /// Qualified name (`shop.users`).
    pub name: &'e str,
}

/// OCSF `query_info`: the normalized statement, its fingerprint and command.
#[derive(Debug, Serialize)]
pub struct QueryInfo<'e> {
    /// Normalized statement: literals replaced by `?`.
    pub query_string: &'e str,
    /// Fingerprint of the normalized statement (16 hex digits): same shape, same uid.
    pub uid: String,
    /// Command (`SELECT`, `DROP TABLE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'e str>,
}

pub(super) fn datastore_activity<'e>(e: &'e Event<'_>) -> DatastoreActivity<'e> {
    let datastore = e
        .enrichment
        .datastore
        .as_deref()
        .or(e.target.datastore.as_deref());
    let mut unmapped = Unmapped {
        origin: Some(&e.origin),
        principal_zone: e.enrichment.principal_zone.as_deref(),
        ..Unmapped::default()
    };
    let mut status = Status::Success;
    let mut status_code: Option<Cow<'e, str>> = None;
    let mut status_detail = None;
    let mut table = None;
    let mut query_info = None;
    let (mut type_id, mut kind) = (1, "Database");

    let (activity_id, activity_name): (u8, &'e str) = match &e.kind {
        Kind::Statement(st) => {
            if !st.succeeded {
                status = Status::Failure;
            }
            status_code = match (st.return_code, st.succeeded) {
                (Some(rc), _) if rc != 0 => Some(Cow::Owned(rc.to_string())),
                (_, false) => st
                    .exit_code
                    .as_deref()
                    .or(st.engine_class.as_deref())
                    .map(Cow::Borrowed),
                _ => None,
            };
            unmapped.statement = Some(statement_unmapped(st));
            if let Some(sql) = &e.sql {
                let a = &sql.analysis;
                query_info = Some(QueryInfo {
                    query_string: &a.normalized,
                    uid: format!("{:016x}", a.fingerprint),
                    name: (!a.command.is_empty()).then_some(a.command.as_str()),
                });
                unmapped.sql = Some(SqlUnmapped {
                    class: a.class,
                    objects: &sql.objects,
                    flags: sql.flags,
                });
                if let [only] = sql.objects.as_slice() {
                    // Objects of other kinds carry a prefix (`database:`, `user:`); only dotted
                    // table and view names are tables.
                    if !only.contains(':') {
                        table = Some(Table { name: only });
                    }
                }
                statement_activity(a.class, &a.command)
            } else {
                (99, st.engine_command.as_deref().unwrap_or("Other"))
            }
        }
        Kind::Connect(s) | Kind::Disconnect(s) | Kind::FailedConnect(s) => {
            let failed = matches!(e.kind, Kind::FailedConnect(_));
            unmapped.session = Some(SessionUnmapped {
                connection_type: s.connection_type.as_deref(),
                operation: s.operation.as_deref(),
                detail: if failed { None } else { s.detail.as_deref() },
            });
            if failed {
                status = Status::Failure;
                status_code = s.return_code.map(|rc| Cow::Owned(rc.to_string()));
                status_detail = s.detail.as_deref();
            }
            if matches!(e.kind, Kind::Disconnect(_)) {
                (99, "Disconnect")
            } else {
                (3, "Connect")
            }
        }
        Kind::ObjectAccess(o) => {
            (type_id, kind) = (3, "Table");
            table = Some(Table { name: &o.object });
            unmapped.object_access = Some(ObjectAccessUnmapped {
                operation: &o.operation,
                statement_id: o.statement_id,
            });
            object_access_activity(o)
        }
        // event_record sends these elsewhere; rendered as Other rather than unreachable!().
        Kind::ApiCall(_) | Kind::Flow(_) => (99, "Other"),
    };

    let dst = Endpoint {
        ip: e.target.ip,
        port: e.target.port,
        hostname: e.target.server.as_deref(),
        name: datastore,
        ..Endpoint::default()
    };
    DatastoreActivity {
        header: Header::activity(
            OcsfClass::DatastoreActivity,
            (activity_id, activity_name),
            datastore_type_name(activity_id),
        ),
        status_id: status.id(),
        status: status.caption(),
        status_code,
        status_detail,
        time: millis(e.time),
        metadata: metadata(e, None),
        actor: actor(e),
        src_endpoint: src_endpoint(e),
        dst_endpoint: (!dst.is_empty()).then_some(dst),
        database: Database {
            name: e.target.database.as_deref(),
            uid: datastore,
            type_id: 1,
            kind: engine_name(e.dialect),
            groups: e.enrichment.domain.as_deref().map(|d| [Group::domain(d)]),
            data_classification: e.enrichment.classification.map(DataClassification::of),
        },
        table,
        query_info,
        type_id,
        kind,
        cloud: super::Cloud::aws(e.target.region.as_deref(), e.target.account.as_deref()),
        unmapped,
    }
}

fn statement_unmapped<'e>(st: &'e Statement<'_>) -> StatementUnmapped<'e> {
    // Deliberately not `text`, `parameter` or `error`: they carry literals.
    StatementUnmapped {
        engine_class: st.engine_class.as_deref(),
        engine_command: st.engine_command.as_deref(),
        audit_type: st.audit_type.as_deref(),
        object_type: st.object_type.as_deref(),
        object_name: st.object_name.as_deref(),
        statement_id: st.statement_id,
        substatement_id: st.substatement_id,
        rows: st.rows,
        truncated: st.truncated,
    }
}

/// Datastore Activity ids: 1 Read, 2 Update, 3 Connect, 4 Query, 5 Write, 6 Create, 7 Delete,
/// 8 List, 99 Other.
fn datastore_type_name(activity_id: u8) -> &'static str {
    match activity_id {
        1 => "Datastore Activity: Read",
        2 => "Datastore Activity: Update",
        3 => "Datastore Activity: Connect",
        4 => "Datastore Activity: Query",
        5 => "Datastore Activity: Write",
        6 => "Datastore Activity: Create",
        7 => "Datastore Activity: Delete",
        8 => "Datastore Activity: List",
        9 => "Datastore Activity: Encrypt",
        10 => "Datastore Activity: Decrypt",
        0 => "Datastore Activity: Unknown",
        _ => "Datastore Activity: Other",
    }
}

/// The activity of a statement, from its class and the first word of its command. What OCSF
/// has no verb for (grants, transactions, session and system control, unparsed text) is
/// 99 Other, named by the command so the SIEM still sees `GRANT` or `SET GLOBAL`.
fn statement_activity(class: StatementClass, command: &str) -> (u8, &str) {
    let verb = command.split(' ').next().unwrap_or("");
    let other = if command.is_empty() { "Other" } else { command };
    match class {
        StatementClass::Dql => match verb {
            "SHOW" | "DESCRIBE" | "DESC" => (8, "List"),
            _ => (4, "Query"),
        },
        StatementClass::Dml => match verb {
            "UPDATE" => (2, "Update"),
            "DELETE" => (7, "Delete"),
            "INSERT" | "REPLACE" | "LOAD" | "MERGE" | "UPSERT" => (5, "Write"),
            // COPY and the rest: direction or effect not in the command.
            _ => (99, other),
        },
        StatementClass::Ddl => match verb {
            "CREATE" => (6, "Create"),
            "DROP" | "TRUNCATE" => (7, "Delete"),
            "ALTER" | "RENAME" | "COMMENT" => (2, "Update"),
            _ => (99, other),
        },
        StatementClass::Dcl
        | StatementClass::Tcl
        | StatementClass::Session
        | StatementClass::Admin
        | StatementClass::Unparsed => (99, other),
    }
}

/// The activity of an audit-engine table access.
fn object_access_activity<'e>(o: &'e ObjectAccess<'_>) -> (u8, &'e str) {
    match o.operation.as_ref() {
        "READ" => (1, "Read"),
        "WRITE" => (5, "Write"),
        "CREATE" => (6, "Create"),
        "ALTER" | "RENAME" => (2, "Update"),
        "DROP" => (7, "Delete"),
        _ => (99, &o.operation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_map_to_datastore_activities() {
        assert_eq!(statement_activity(StatementClass::Dql, "SELECT"), (4, "Query"));
        assert_eq!(
            statement_activity(StatementClass::Dql, "SHOW TABLES"),
            (8, "List")
        );
        assert_eq!(statement_activity(StatementClass::Dml, "UPDATE"), (2, "Update"));
        assert_eq!(statement_activity(StatementClass::Dml, "INSERT"), (5, "Write"));
        assert_eq!(statement_activity(StatementClass::Dml, "COPY"), (99, "COPY"));
        assert_eq!(
            statement_activity(StatementClass::Ddl, "DROP TABLE"),
            (7, "Delete")
        );
        assert_eq!(
            statement_activity(StatementClass::Ddl, "CREATE TABLE"),
            (6, "Create")
        );
        assert_eq!(statement_activity(StatementClass::Dcl, "GRANT"), (99, "GRANT"));
        assert_eq!(statement_activity(StatementClass::Unparsed, ""), (99, "Other"));
    }
}
