//! Catalog categories: which kind of server metadata a statement reads, named the same way on
//! both engines, so one rule covers `information_schema.schemata`, `SHOW DATABASES` and
//! `pg_database` alike (docs/SQL.md, "Catalogs").
//!
//! A small bit set like [`super::Flags`], plus the [`CatalogScope`] of the read: whether it is
//! limited to the session's own schema (an ORM reflecting its tables), to named schemas, or spans
//! the whole server (an attacker mapping it). Both are computed on a cache miss from the tokens
//! and the relations of the statement; the schema names of a `Named` scope may come from string
//! literals, so such statements carry a literal digest in the cache key.

use serde::{Serialize, Serializer};

use super::bits::named_bits;

/// Catalog categories read by a statement (`Catalogs::ALL` names them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Catalogs(pub u16);

named_bits! { Catalogs, "catalog category", {
    /// Databases and schemas: `SHOW DATABASES`, `information_schema.schemata`, `pg_database`,
    /// `pg_namespace`.
    SCHEMAS = 0, "schemas";
    /// Tables, views, indexes, constraints: `SHOW TABLES`, `information_schema.tables`,
    /// `pg_class`, `pg_tables`, `mysql.innodb_table_stats`.
    TABLES = 1, "tables";
    /// Columns: `SHOW COLUMNS`, `DESCRIBE`, `information_schema.columns`, `pg_attribute`.
    COLUMNS = 2, "columns";
    /// Routines, triggers, events: `information_schema.routines`, `pg_proc`, `mysql.proc`.
    ROUTINES = 3, "routines";
    /// Engine metadata that describes no data: types, collations, access methods, extensions.
    TYPES = 4, "types";
    /// Grants and role memberships: `SHOW GRANTS`, `information_schema.*_privileges`,
    /// `mysql.db`, `pg_auth_members`, `has_table_privilege()`.
    PRIVILEGES = 5, "privileges";
    /// Accounts listed without their password hashes: `mysql.user (user, host)`, `pg_roles`,
    /// `pg_user`.
    ACCOUNTS = 6, "accounts";
    /// Password hashes: `mysql.user.authentication_string`, `pg_authid.rolpassword`,
    /// `pg_shadow.passwd` (the `credential_read` flag).
    CREDENTIALS = 7, "credentials";
    /// Sessions and activity: `SHOW PROCESSLIST`, `information_schema.processlist`,
    /// `performance_schema.*`, `pg_stat_activity`.
    SESSIONS = 8, "sessions";
    /// Server settings as a list: `SHOW VARIABLES`, `SHOW ALL`, `pg_settings`,
    /// `current_setting()`.
    SETTINGS = 9, "settings";
    /// The server itself: version, host name, data and plugin directories, addresses
    /// (`@@version`, `version()`, `@@datadir`, `inet_server_addr()`, `SHOW data_directory`).
    SERVER = 10, "server";
} }

/// Which schemas a statement's catalog reads are limited to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CatalogScope {
    /// The statement reads no catalog (or only engine metadata, where scope does not matter).
    #[default]
    None,
    /// The session's own schema: filtered on `DATABASE()`, `current_schema()`,
    /// `pg_table_is_visible()` or object ids, or `SHOW TABLES` / `DESCRIBE t` without a schema.
    Session,
    /// Schemas named by the statement (`table_schema = 'shop'`, `SHOW TABLES FROM shop`,
    /// `DESCRIBE shop.t`), folded to lower case. The names may come from literals: they are
    /// kept for the policy's own-schema test and never serialized.
    Named(Box<[Box<str>]>),
    /// Every schema of the server (no filter, or only exclusions such as `NOT IN ('mysql')`).
    Any,
}

impl CatalogScope {
    /// The scope's kind, as `laneguard classify` shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            CatalogScope::None => "none",
            CatalogScope::Session => "session",
            CatalogScope::Named(_) => "named",
            CatalogScope::Any => "any",
        }
    }
}

impl Serialize for CatalogScope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_roundtrip() {
        let mut seen = std::collections::HashSet::new();
        for (c, n) in Catalogs::ALL {
            assert!(seen.insert(*n), "duplicate name {n}");
            assert_eq!(Catalogs::from_name(n), Some(*c));
            assert_eq!(c.0.count_ones(), 1);
        }
        let c = Catalogs::TABLES | Catalogs::SERVER;
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"["tables","server"]"#);
        assert_eq!(c.to_string(), "tables,server");
        assert_eq!(
            serde_json::to_string(&CatalogScope::Named(vec!["shop".into()].into())).unwrap(),
            r#""named""#
        );
    }
}
