//! Risk flags of a statement as a `u64` bit set.
//!
//! Every event carries its flags, so they must be `Copy` and tiny; rules and policy files name
//! them, so each bit has one stable snake_case name, and that name is what JSON shows (an array
//! of names, never the raw number, which would change meaning if bits were renumbered). The set
//! operations and serde come from [`super::bits::named_bits`].

use super::Flags;
use super::bits::named_bits;

named_bits! { Flags, "flag", {
    /// UPDATE or DELETE without a WHERE clause: touches every row.
    NO_WHERE = 0, "no_where";
    /// A condition that is always true after OR (`OR 1=1`, `OR 'a'='a'`, `OR TRUE`, `OR x=x`) or
    /// a WHERE that is nothing but such a condition: the classic injection shape.
    TAUTOLOGY = 1, "tautology";
    /// `UNION [ALL] SELECT`: the injection way to read another table through a query.
    UNION_SELECT = 2, "union_select";
    /// More than one statement in one record (stacked queries).
    STACKED = 3, "stacked";
    /// A block comment glued to code (`UNION/**/SELECT`): hides keywords from naive filters.
    COMMENT_OBFUSCATION = 4, "comment_obfuscation";
    /// MySQL versioned comment `/*!…*/`: MySQL executes its content; we analyse it as code.
    VERSIONED_COMMENT = 5, "versioned_comment";
    /// `INTO OUTFILE` / `INTO DUMPFILE` / Aurora `INTO OUTFILE S3`: the server writes a file.
    INTO_OUTFILE = 6, "into_outfile";
    /// Server-side file access: `LOAD_FILE`, `LOAD DATA/XML INFILE`, `pg_read_file` and
    /// friends, `lo_import`/`lo_export`, `COPY … FROM/TO '<server file>'`.
    FILE_READ = 7, "file_read";
    /// Runs a program or loads native code: `COPY … PROGRAM`, `SONAME`, untrusted languages,
    /// `LANGUAGE C`, PostgreSQL `LOAD`, `sys_exec`/`sys_eval`.
    PROGRAM_EXEC = 8, "program_exec";
    /// Time-based blind injection helpers: `SLEEP`, `BENCHMARK`, `pg_sleep*`, `WAITFOR DELAY`.
    TIME_DELAY = 9, "time_delay";
    /// Reads catalogs or enumerates the server: information_schema, pg_catalog, `SHOW …`,
    /// `mysql.*`, `@@version`, `version()`.
    CATALOG_READ = 10, "catalog_read";
    /// Reads password hashes: `mysql.user`, `pg_shadow`, `pg_authid`.
    CREDENTIAL_READ = 11, "credential_read";
    /// Weakens auditing or logging: audit/log settings, uninstalling the audit plugin,
    /// dropping pgaudit, `session_replication_role`, `DISABLE TRIGGER`.
    AUDIT_TAMPER = 12, "audit_tamper";
    /// `SELECT *` (or `t.*`): reads every column.
    SELECT_STAR = 13, "select_star";
    /// `GRANT ALL`, grants on `*.*`, `WITH GRANT/ADMIN OPTION`.
    GRANT_ALL = 14, "grant_all";
    /// Grants or sets superuser-like power: `SUPERUSER`, `BYPASSRLS`, `rds_superuser`,
    /// `pg_execute_server_program`, MySQL `SUPER`/`FILE`/`PROCESS`/… privileges.
    SUPERUSER = 15, "superuser";
    /// The audit engine cut the statement text; set by the source, never "clean".
    TRUNCATED = 16, "truncated";
    /// Reason for UNPARSED / fallback: sqlparser rejected the text.
    PARSE_ERROR = 17, "parse_error";
    /// The text exceeded the parser limit; analysed by the fallback on a bounded prefix.
    TOO_LONG = 18, "too_long";
    /// Nesting deeper than the parser limit; analysed by the fallback.
    TOO_DEEP = 19, "too_deep";
    /// No statement at all (empty, only comments or semicolons).
    EMPTY = 20, "empty";
    /// The original bytes were not valid UTF-8 (decoded lossily).
    INVALID_UTF8 = 21, "invalid_utf8";
    /// Error-based injection helpers: `EXTRACTVALUE`, `UPDATEXML`, `GTID_SUBSET`,
    /// `NAME_CONST`, `FLOOR(RAND(0)*2)`, `EXP(~(`.
    ERROR_BASED = 22, "error_based";
    /// A long hexadecimal literal (`0x…`, `X'…'`, ≥ 8 hex digits): hides strings from filters.
    HEX_LITERAL = 23, "hex_literal";
    /// `CHAR(…)` with three or more codes, or three or more `CHR(…)` calls: builds strings
    /// from character codes.
    CHAR_CHAIN = 24, "char_chain";
    /// sqlmap's result delimiter (`'q…q'` with three of `zxjkvbp`, or its hex form).
    SQLMAP_DELIMITER = 25, "sqlmap_delimiter";
    /// A trailing line comment that cuts the rest of a template (`-- -`, `#`, or one holding a
    /// quote).
    TRAILING_COMMENT = 26, "trailing_comment";
    /// Server-side file write: `INTO OUTFILE/DUMPFILE`, `COPY … TO '<file>'`, `lo_export`.
    FILE_WRITE = 27, "file_write";
    /// Data leaves or enters through another service: S3 export/import, Lambda, dblink,
    /// foreign data wrappers.
    EXTERNAL = 28, "external";
    /// Unterminated string, quoted identifier or comment: the text ends inside a token.
    UNTERMINATED = 29, "unterminated";
    /// Row-level security switched off or a policy dropped.
    RLS_BYPASS = 30, "rls_bypass";
    /// A condition comparing constants only (`AND 4648=7537`, `'abc'='abc'`, `7394>7393`,
    /// `5 BETWEEN 5 AND 5`, `QUARTER(NULL) IS NULL`, `@@x=@@x`): boolean-blind probing and DBMS
    /// fingerprinting. The `0`/`1` comparisons query builders write (`1=1`, `1=0`) are exempt.
    CONSTANT_CONDITION = 31, "constant_condition";
    /// A character-by-character read of a subquery (`ASCII(SUBSTRING((SELECT …),n,1))`,
    /// `ORD(MID((SELECT …),n,1))`, `SUBSTR((SELECT …),n,1)`): blind data extraction.
    BLIND_EXTRACTION = 32, "blind_extraction";
    /// The statement runs SQL text made at run time: MySQL `PREPARE … FROM`, `EXECUTE
    /// IMMEDIATE`; PostgreSQL `EXECUTE` in a `DO` block or a function/procedure body.
    DYNAMIC_SQL = 33, "dynamic_sql";
    /// SQL text assembled from pieces where it feeds execution: `SET @s = CONCAT('DR','OP …')`,
    /// `PREPARE s FROM CONCAT(…)`, `'…' || …` or `format('…')` in a `DO`/function body.
    ASSEMBLED_SQL = 34, "assembled_sql";
    /// DDL or DCL text built at run time (`format('DROP TABLE %I', …)`, `'GRANT … ' ||
    /// quote_ident(…)`, `CONCAT('DR','OP TABLE …')`): the command never appears as written.
    DYNAMIC_DDL = 35, "dynamic_ddl";
    /// A page of a larger result: `LIMIT … OFFSET …`, `LIMIT n, m`, `OFFSET … FETCH …`, or a
    /// keyset page (`WHERE k > ? ORDER BY k LIMIT ?`). Bare `LIMIT n` (first rows) is not a page.
    PAGED = 36, "paged";
    /// `UPDATE t SET c = (SELECT … WHERE o.k = t.id)`: every assignment recomputes its column
    /// from a subquery correlated with the updated row (a job refreshing a denormalized total).
    RECOMPUTE = 37, "recompute";
} }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_roundtrip() {
        let mut seen = std::collections::HashSet::new();
        for (f, n) in Flags::ALL {
            assert!(seen.insert(*n), "duplicate name {n}");
            assert_eq!(Flags::from_name(n), Some(*f));
            assert_eq!(f.0.count_ones(), 1);
        }
        let f = Flags::TRUNCATED | Flags::NO_WHERE;
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"["no_where","truncated"]"#);
        let back: Flags = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<Flags>(r#"["nope"]"#).is_err());
        assert_eq!(f.iter().count(), 2);
        assert_eq!(f.to_string(), "no_where,truncated");
    }
}
