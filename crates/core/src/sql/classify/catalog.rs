//! Which catalogs a statement reads and how far: the categories of `sql::catalog::Catalogs` for
//! the relations, `SHOW` forms and functions of both engines, and the schema scope of the read —
//! what lets a rule tell an ORM reflecting its own tables from an attacker listing the server.

use std::ops::Range;

use super::Toks;
use super::names::read_name;
use crate::sql::catalog::{CatalogScope, Catalogs};
use crate::sql::lexer::{Kind, Token};
use crate::sql::{Dialect, Flags};

/// Columns that name the schema (database) a catalog row belongs to.
const SCHEMA_COLUMNS: &[&str] = &[
    "table_schema",
    "schema_name",
    "routine_schema",
    "trigger_schema",
    "event_schema",
    "event_object_schema",
    "constraint_schema",
    "unique_constraint_schema",
    "referenced_table_schema",
    "index_schema",
    "specific_schema",
    "sequence_schema",
    "object_schema",
    "nspname",
    "schemaname",
    "database_name",
    "db",
];

/// Columns holding object ids: a filter on them reads objects already known by id (the second
/// step of a reflection that was itself scoped), not the whole catalog.
const OID_COLUMNS: &[&str] = &[
    "oid",
    "attrelid",
    "conrelid",
    "indrelid",
    "adrelid",
    "objoid",
    "typrelid",
    "tgrelid",
    "inhrelid",
    "indexrelid",
    "classoid",
    "refobjid",
    "relnamespace",
    "pronamespace",
    "typnamespace",
];

/// Functions and markers that limit a catalog read to the session's schema.
const SESSION_MARKERS: &[&str] = &[
    "database",
    "schema",
    "current_schema",
    "current_database",
    "pg_table_is_visible",
    "pg_type_is_visible",
    "pg_function_is_visible",
    "current_schemas",
];

/// True for a column naming a catalog row's schema (`table_schema`, `nspname`, …).
pub(super) fn is_schema_column(word: &str) -> bool {
    word.len() <= 24 && SCHEMA_COLUMNS.iter().any(|c| word.eq_ignore_ascii_case(c))
}

/// PostgreSQL settings that describe the server itself (paths, version, addresses).
const PG_SERVER_SETTINGS: &[&str] = &[
    "data_directory",
    "config_file",
    "hba_file",
    "ident_file",
    "server_version",
    "server_version_num",
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "log_directory",
    "ssl_cert_file",
    "ssl_key_file",
    "shared_preload_libraries",
    "dynamic_library_path",
    "archive_command",
];

/// MySQL/MariaDB system variables that describe the server itself.
const MYSQL_SERVER_VARIABLES: &[&str] = &[
    "version",
    "version_comment",
    "version_compile_os",
    "version_compile_machine",
    "innodb_version",
    "aurora_version",
    "hostname",
    "datadir",
    "basedir",
    "plugin_dir",
    "secure_file_priv",
    "tmpdir",
    "port",
    "socket",
    "log_error",
    "general_log_file",
];

/// Functions that reveal the server.
const SERVER_FUNCTIONS: &[&str] = &[
    "version",
    "aurora_version",
    "inet_server_addr",
    "inet_server_port",
    "pg_postmaster_start_time",
    "pg_conf_load_time",
    "pg_current_logfile",
    "pg_control_system",
];

/// Functions that test privileges.
const PRIVILEGE_FUNCTIONS: &[&str] = &[
    "has_table_privilege",
    "has_database_privilege",
    "has_schema_privilege",
    "has_column_privilege",
    "has_any_column_privilege",
    "has_function_privilege",
    "has_sequence_privilege",
    "has_server_privilege",
    "has_tablespace_privilege",
    "has_type_privilege",
    "has_language_privilege",
    "has_foreign_data_wrapper_privilege",
    "pg_has_role",
];

fn one_of(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// The category of a PostgreSQL catalog relation (`pg_class`, `pg_roles`, …).
fn pg_relation(table: &str) -> Catalogs {
    match table {
        "pg_database" | "pg_namespace" => Catalogs::SCHEMAS,
        "pg_attribute" | "pg_attrdef" => Catalogs::COLUMNS,
        "pg_proc" | "pg_trigger" | "pg_event_trigger" | "pg_language" | "pg_aggregate" => Catalogs::ROUTINES,
        "pg_type"
        | "pg_am"
        | "pg_amop"
        | "pg_amproc"
        | "pg_opclass"
        | "pg_opfamily"
        | "pg_operator"
        | "pg_collation"
        | "pg_enum"
        | "pg_range"
        | "pg_cast"
        | "pg_conversion"
        | "pg_extension"
        | "pg_available_extensions"
        | "pg_available_extension_versions"
        | "pg_ts_config"
        | "pg_ts_dict"
        | "pg_ts_parser"
        | "pg_ts_template"
        | "pg_tablespace"
        | "pg_timezone_names"
        | "pg_timezone_abbrevs" => Catalogs::TYPES,
        "pg_roles" | "pg_user" | "pg_group" | "pg_authid" | "pg_shadow" | "pg_user_mappings" => {
            Catalogs::ACCOUNTS
        }
        "pg_auth_members" | "pg_default_acl" | "pg_init_privs" | "pg_policy" | "pg_policies"
        | "pg_seclabel" | "pg_seclabels" | "pg_shdepend" => Catalogs::PRIVILEGES,
        "pg_stat_activity"
        | "pg_locks"
        | "pg_stat_ssl"
        | "pg_stat_gssapi"
        | "pg_stat_replication"
        | "pg_prepared_xacts"
        | "pg_prepared_statements"
        | "pg_cursors"
        | "pg_stat_database"
        | "pg_stat_statements"
        | "pg_backend_memory_contexts"
        | "pg_stat_wal_receiver"
        | "pg_replication_slots"
        | "pg_stat_subscription"
        | "pg_stat_progress_vacuum" => Catalogs::SESSIONS,
        "pg_settings" | "pg_file_settings" | "pg_db_role_setting" => Catalogs::SETTINGS,
        "pg_hba_file_rules" | "pg_ident_file_mappings" | "pg_config" | "pg_stat_archiver" => Catalogs::SERVER,
        // pg_class, pg_tables, pg_views, pg_index, pg_constraint, pg_description, pg_stat_*_tables…
        _ => Catalogs::TABLES,
    }
}

/// The category of an `information_schema` view.
fn information_schema(table: &str) -> Catalogs {
    match table {
        "schemata" => Catalogs::SCHEMAS,
        "columns"
        | "columns_extensions"
        | "column_statistics"
        | "column_udt_usage"
        | "column_domain_usage"
        | "column_options" => Catalogs::COLUMNS,
        "routines"
        | "parameters"
        | "triggers"
        | "events"
        | "routine_column_usage"
        | "routine_table_usage" => Catalogs::ROUTINES,
        "user_privileges"
        | "schema_privileges"
        | "table_privileges"
        | "column_privileges"
        | "role_table_grants"
        | "role_column_grants"
        | "role_routine_grants"
        | "role_usage_grants"
        | "role_udt_grants"
        | "applicable_roles"
        | "enabled_roles"
        | "administrable_role_authorizations"
        | "usage_privileges"
        | "routine_privileges"
        | "udt_privileges" => Catalogs::PRIVILEGES,
        "user_attributes" => Catalogs::ACCOUNTS,
        "processlist" | "client_statistics" | "user_statistics" | "innodb_trx" | "innodb_locks"
        | "innodb_lock_waits" => Catalogs::SESSIONS,
        "global_variables" | "session_variables" | "global_status" | "session_status"
        | "system_variables" | "plugins" => Catalogs::SETTINGS,
        "character_sets"
        | "collations"
        | "collation_character_set_applicability"
        | "engines"
        | "keywords"
        | "sql_functions"
        | "sql_features"
        | "sql_implementation_info"
        | "sql_parts"
        | "sql_sizing" => Catalogs::TYPES,
        _ => Catalogs::TABLES,
    }
}

/// The category of a `mysql` schema table.
fn mysql_table(table: &str) -> Catalogs {
    match table {
        "user" | "global_priv" => Catalogs::ACCOUNTS,
        "db" | "tables_priv" | "columns_priv" | "procs_priv" | "proxies_priv" | "roles_mapping"
        | "default_roles" | "role_edges" => Catalogs::PRIVILEGES,
        "proc" | "func" | "event" => Catalogs::ROUTINES,
        "general_log" | "slow_log" => Catalogs::SESSIONS,
        "servers" | "gtid_slave_pos" => Catalogs::SERVER,
        "plugin" | "component" => Catalogs::SETTINGS,
        t if t.starts_with("time_zone") || t.starts_with("help_") => Catalogs::TYPES,
        // innodb_table_stats, innodb_index_stats, table_stats, column_stats, index_stats…
        _ => Catalogs::TABLES,
    }
}

/// The category of a relation as the analysis names it (`information_schema.tables`,
/// `pg_catalog.pg_class`, `pg_roles`, `mysql.user`), or `None` for a data relation.
fn relation_category(name: &str) -> Option<Catalogs> {
    let mut parts = name.rsplit('.');
    let table = parts.next()?;
    let schema = parts.next();
    match schema {
        Some("information_schema") => Some(information_schema(table)),
        Some("pg_catalog") => Some(pg_relation(table)),
        Some("mysql") => Some(mysql_table(table)),
        Some("performance_schema") => Some(if table.contains("variables") || table.contains("status") {
            Catalogs::SETTINGS
        } else {
            Catalogs::SESSIONS
        }),
        Some("sys") => Some(if table == "version" {
            Catalogs::SERVER
        } else {
            Catalogs::SESSIONS
        }),
        None if table.starts_with("pg_") => Some(pg_relation(table)),
        _ => None,
    }
}

/// What one statement reads of the catalogs.
struct Read {
    catalogs: Catalogs,
    /// Schema names its filters or `SHOW`/`DESCRIBE` name.
    names: Vec<Box<str>>,
    /// Limited to the session's schema or to known object ids.
    session: bool,
    /// Reads catalogs of every schema.
    any: bool,
    /// Reads data relations besides catalogs.
    data: bool,
    /// Statements that describe objects (`SHOW`, `DESCRIBE`): their relations are not read.
    describes: usize,
}

/// The categories, scope and purity (`true`: every relation read is a catalog) of a record's
/// catalog reads. `objects` are the record's relations as the analysis names them.
pub(crate) fn catalog_read(
    src: &str,
    tokens: &[Token],
    dialect: Dialect,
    ranges: &[Range<usize>],
    objects: &[String],
    flags: Flags,
) -> (Catalogs, CatalogScope, bool) {
    let mut read = Read {
        catalogs: Catalogs::empty(),
        names: Vec::new(),
        session: false,
        any: false,
        data: false,
        describes: 0,
    };
    for r in ranges {
        let tk = Toks {
            src,
            t: &tokens[r.clone()],
            dialect,
        };
        statement(&tk, &mut read);
    }
    // Relations: categories, and whether any is data.
    let mut relations = Catalogs::empty();
    let only_describes = read.describes == ranges.len();
    for o in objects.iter().filter(|o| !o.contains(':')) {
        match relation_category(o) {
            Some(c) => relations.insert(c),
            None => read.data |= !only_describes,
        }
    }
    if flags.contains(Flags::CREDENTIAL_READ) {
        relations.insert(Catalogs::CREDENTIALS);
    }
    let selects_catalogs = !relations.is_empty();
    read.catalogs.insert(relations);
    if read.catalogs.is_empty() {
        return (read.catalogs, CatalogScope::None, false);
    }
    // Engine metadata alone needs no scope; a SELECT of catalog relations needs a filter.
    let scoped_kinds = Catalogs::SCHEMAS
        .union(Catalogs::TABLES)
        .union(Catalogs::COLUMNS)
        .union(Catalogs::ROUTINES);
    let scope = if !read.catalogs.intersects(scoped_kinds) {
        CatalogScope::None
    } else if !read.names.is_empty() {
        read.names.sort();
        read.names.dedup();
        CatalogScope::Named(read.names.into_boxed_slice())
    } else if read.session && !read.any {
        CatalogScope::Session
    } else if read.any || selects_catalogs {
        CatalogScope::Any
    } else {
        CatalogScope::Session
    };
    (read.catalogs, scope, !read.data)
}

/// One statement's `SHOW`/`DESCRIBE` form, catalog functions and schema filters.
fn statement(tk: &Toks<'_>, read: &mut Read) {
    let mut s = 0;
    while tk.kind(s) == Some(Kind::LParen) {
        s += 1;
    }
    if tk.is(s, "SHOW") {
        read.describes += 1;
        show(tk, s + 1, read);
        return;
    }
    // `DESCRIBE t`, `DESC t`, `EXPLAIN t` (MySQL: columns of a table; `EXPLAIN SELECT` is a plan).
    let names_a_table =
        tk.t.get(s + 1)
            .is_some_and(|t| matches!(t.kind, Kind::Word | Kind::Quoted) && !t.kw);
    if tk.is_any(s, &["DESCRIBE", "DESC"]) || (tk.is(s, "EXPLAIN") && names_a_table) {
        read.describes += 1;
        read.catalogs.insert(Catalogs::COLUMNS);
        described(tk, s + 1, read);
        return;
    }
    let n = tk.len();
    for i in s..n {
        match tk.kind(i) {
            Some(Kind::Word) => {
                let w = tk.text(i);
                let call = tk.kind(i + 1) == Some(Kind::LParen);
                if call && one_of(w, SERVER_FUNCTIONS) {
                    read.catalogs.insert(Catalogs::SERVER);
                } else if call && w.eq_ignore_ascii_case("current_setting") {
                    read.catalogs.insert(Catalogs::SETTINGS);
                } else if call && one_of(w, PRIVILEGE_FUNCTIONS) {
                    read.catalogs.insert(Catalogs::PRIVILEGES);
                } else if (call || w.eq_ignore_ascii_case("current_schema")) && one_of(w, SESSION_MARKERS) {
                    // `table_schema = DATABASE()`, `pg_table_is_visible(c.oid)`
                    read.session = true;
                } else if is_schema_column(w) {
                    schema_filter(tk, i + 1, read);
                } else if one_of(w, OID_COLUMNS) && id_filter(tk, i + 1) {
                    read.session = true;
                }
            }
            Some(Kind::Var) => {
                let v = tk.text(i).trim_start_matches('@');
                let name = v
                    .strip_prefix("global.")
                    .or_else(|| v.strip_prefix("session."))
                    .unwrap_or(v);
                let name = if name.eq_ignore_ascii_case("global") || name.eq_ignore_ascii_case("session") {
                    tk.text(i + 2)
                } else {
                    name
                };
                if tk.text(i).starts_with("@@") && one_of(name, MYSQL_SERVER_VARIABLES) {
                    read.catalogs.insert(Catalogs::SERVER);
                }
            }
            _ => {}
        }
    }
}

/// `= 'x'`, `IN ('x', 'y')`, `LIKE 'x'` after a schema column at `i`; exclusions (`!=`,
/// `NOT IN`) and bound parameters name no schema.
fn schema_filter(tk: &Toks<'_>, i: usize, read: &mut Read) {
    let mut push = |j: usize| {
        if tk.kind(j) == Some(Kind::Str) {
            let raw = tk.text(j);
            let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
            read.names.push(inner.to_ascii_lowercase().into_boxed_str());
            true
        } else {
            false
        }
    };
    if tk.is_op(i, "=") || tk.is(i, "LIKE") {
        push(i + 1);
    } else if tk.is(i, "IN") && tk.kind(i + 1) == Some(Kind::LParen) {
        let mut j = i + 2;
        while push(j) && tk.kind(j + 1) == Some(Kind::Comma) {
            j += 2;
        }
    }
}

/// `= 123`, `= $1`, `IN (…)` after an id column at `i` (not a join with another column).
fn id_filter(tk: &Toks<'_>, i: usize) -> bool {
    if tk.is_op(i, "=") {
        return matches!(tk.kind(i + 1), Some(Kind::Num | Kind::Param | Kind::Str));
    }
    tk.is_any(i, &["IN"])
        && tk.kind(i + 1) == Some(Kind::LParen)
        && matches!(tk.kind(i + 2), Some(Kind::Num | Kind::Param | Kind::Str))
}

/// The schema of a described object at `i` (`DESCRIBE shop.t`, `SHOW CREATE TABLE t`).
fn described(tk: &Toks<'_>, i: usize, read: &mut Read) {
    match read_name(tk, i) {
        Some((name, next)) => {
            let explicit_db = (tk.is_any(next, &["FROM", "IN"]))
                .then(|| read_name(tk, next + 1))
                .flatten()
                .map(|(db, _)| db);
            match (explicit_db, name.rsplit_once('.')) {
                (Some(db), _) => read.names.push(db.into_boxed_str()),
                (None, Some((db, _))) => {
                    let db = db.rsplit('.').next().unwrap_or(db);
                    read.names.push(db.to_owned().into_boxed_str());
                }
                (None, None) => read.session = true,
            }
        }
        None => read.session = true,
    }
}

/// `SHOW …` at `i` (after the keyword).
fn show(tk: &Toks<'_>, mut i: usize, read: &mut Read) {
    while tk.is_any(i, &["FULL", "GLOBAL", "SESSION", "EXTENDED", "ALL"]) && tk.kind(i + 1).is_some() {
        i += 1;
    }
    let word = tk.text(i).to_ascii_uppercase();
    let (category, scope) = match word.as_str() {
        "DATABASES" | "SCHEMAS" => (Catalogs::SCHEMAS, Show::Any),
        "TABLES" | "TRIGGERS" | "EVENTS" if tk.is_any(i + 1, &["FROM", "IN"]) => {
            let c = if word == "TABLES" {
                Catalogs::TABLES
            } else {
                Catalogs::ROUTINES
            };
            (c, Show::Named(i + 2))
        }
        "TABLES" => (Catalogs::TABLES, Show::Session),
        "TRIGGERS" | "EVENTS" => (Catalogs::ROUTINES, Show::Session),
        "TABLE" | "OPEN" if tk.is_any(i + 1, &["STATUS", "TABLES"]) => {
            let from = (i + 2..i + 4).find(|&j| tk.is_any(j, &["FROM", "IN"]));
            (
                Catalogs::TABLES,
                from.map_or(Show::Session, |j| Show::Named(j + 1)),
            )
        }
        "COLUMNS" | "FIELDS" | "INDEX" | "INDEXES" | "KEYS" => {
            let c = if matches!(word.as_str(), "COLUMNS" | "FIELDS") {
                Catalogs::COLUMNS
            } else {
                Catalogs::TABLES
            };
            if tk.is_any(i + 1, &["FROM", "IN"]) {
                read.catalogs.insert(c);
                described(tk, i + 2, read);
                return;
            }
            (c, Show::Session)
        }
        "CREATE" => {
            let what = tk.text(i + 1).to_ascii_uppercase();
            let c = match what.as_str() {
                "TABLE" | "VIEW" | "SEQUENCE" => Catalogs::TABLES,
                "DATABASE" | "SCHEMA" => Catalogs::SCHEMAS,
                "USER" | "ROLE" => Catalogs::ACCOUNTS,
                _ => Catalogs::ROUTINES,
            };
            read.catalogs.insert(c);
            if c.intersects(Catalogs::TABLES.union(Catalogs::ROUTINES)) {
                described(tk, i + 2, read);
            } else {
                read.any = true;
            }
            return;
        }
        "PROCEDURE" | "FUNCTION" | "PACKAGE" => (Catalogs::ROUTINES, Show::Any),
        "GRANTS" | "PRIVILEGES" => (Catalogs::PRIVILEGES, Show::None),
        "PROCESSLIST" | "STATUS" | "PROFILE" | "PROFILES" | "ENGINE" | "SLAVE" | "REPLICA" | "MASTER"
        | "BINARY" | "BINLOG" | "RELAYLOG" => {
            let c = if matches!(
                word.as_str(),
                "PROCESSLIST" | "STATUS" | "PROFILE" | "PROFILES" | "ENGINE"
            ) {
                Catalogs::SESSIONS
            } else {
                Catalogs::SERVER
            };
            (c, Show::None)
        }
        "VARIABLES" | "PLUGINS" => (Catalogs::SETTINGS, Show::None),
        "COLLATION" | "CHARACTER" | "CHARSET" | "ENGINES" => (Catalogs::TYPES, Show::None),
        _ if tk.dialect != Dialect::Mysql && one_of(&word, PG_SERVER_SETTINGS) => {
            (Catalogs::SERVER, Show::None)
        }
        // PostgreSQL `SHOW ALL`
        "ALL" => (Catalogs::SETTINGS, Show::None),
        // WARNINGS, ERRORS, TRANSACTION ISOLATION LEVEL, one PostgreSQL setting…
        _ => (Catalogs::empty(), Show::None),
    };
    read.catalogs.insert(category);
    match scope {
        Show::None => {}
        Show::Session => read.session = true,
        Show::Any => read.any = true,
        Show::Named(at) => match read_name(tk, at) {
            Some((db, _)) => read.names.push(db.into_boxed_str()),
            None => read.session = true,
        },
    }
}

/// The scope of a `SHOW` form.
enum Show {
    None,
    Session,
    Any,
    /// The schema is named at this token.
    Named(usize),
}
