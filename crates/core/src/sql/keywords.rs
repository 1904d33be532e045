//! The keyword list used by normalization and the token classifier.
//!
//! Normalization upper-cases keywords and lower-cases identifiers so that `select * from T` and
//! `SELECT * FROM t` share one fingerprint. The list is deliberately curated (not sqlparser's
//! ~800 words, which include `NAME`, `STATUS`, `ID`…): a word wrongly taken for a keyword only
//! changes its case in the normalized text, never the analysis, but a short list keeps the
//! normalized text readable. Lookup hashes an upper-cased stack copy into a precomputed table: no
//! allocation on the hot path.

/// Sorted, upper-case.
static KEYWORDS: &[&str] = &[
    "ACCESS",
    "ACTION",
    "ADD",
    "ADMIN",
    "AFTER",
    "AGGREGATE",
    "ALGORITHM",
    "ALL",
    "ALTER",
    "ALWAYS",
    "ANALYSE",
    "ANALYZE",
    "AND",
    "ANY",
    "ARRAY",
    "AS",
    "ASC",
    "ASENSITIVE",
    "AT",
    "ATOMIC",
    "AUTHORIZATION",
    "AUTO_INCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BIGINT",
    "BINARY",
    "BINLOG",
    "BLOB",
    "BOOLEAN",
    "BOTH",
    "BY",
    "BYPASSRLS",
    "CACHE",
    "CALL",
    "CASCADE",
    "CASE",
    "CAST",
    "CHAIN",
    "CHANGE",
    "CHARACTER",
    "CHARSET",
    "CHECK",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COLLATE",
    "COLUMN",
    "COLUMNS",
    "COMMENT",
    "COMMIT",
    "COMMITTED",
    "COMPONENT",
    "CONCURRENTLY",
    "CONFLICT",
    "CONNECTION",
    "CONSTRAINT",
    "CONSTRAINTS",
    "CONTINUE",
    "COPY",
    "CREATE",
    "CREATEDB",
    "CREATEROLE",
    "CROSS",
    "CSV",
    "CUBE",
    "CURRENT",
    "CURSOR",
    "CYCLE",
    "DATA",
    "DATABASE",
    "DATABASES",
    "DAY",
    "DEALLOCATE",
    "DEC",
    "DECIMAL",
    "DECLARE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DEFINER",
    "DELAYED",
    "DELETE",
    "DELIMITER",
    "DESC",
    "DESCRIBE",
    "DETERMINISTIC",
    "DISABLE",
    "DISCARD",
    "DISTINCT",
    "DISTINCTROW",
    "DIV",
    "DO",
    "DOMAIN",
    "DOUBLE",
    "DROP",
    "DUMPFILE",
    "DUPLICATE",
    "EACH",
    "ELSE",
    "ELSEIF",
    "ENABLE",
    "ENCLOSED",
    "ENCRYPTED",
    "END",
    "ENGINE",
    "ESCAPE",
    "ESCAPED",
    "EVENT",
    "EVENTS",
    "EXCEPT",
    "EXCLUDE",
    "EXECUTE",
    "EXISTS",
    "EXPLAIN",
    "EXTENSION",
    "EXTERNAL",
    "FALSE",
    "FETCH",
    "FIELDS",
    "FILTER",
    "FIRST",
    "FLOAT",
    "FLUSH",
    "FOLLOWING",
    "FOR",
    "FORCE",
    "FOREIGN",
    "FORMAT",
    "FROM",
    "FULL",
    "FULLTEXT",
    "FUNCTION",
    "GLOBAL",
    "GRANT",
    "GRANTS",
    "GROUP",
    "HANDLER",
    "HAVING",
    "HIGH_PRIORITY",
    "HOST",
    "HOUR",
    "IDENTIFIED",
    "IF",
    "IGNORE",
    "ILIKE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INFILE",
    "INHERIT",
    "INNER",
    "INOUT",
    "INSERT",
    "INSTALL",
    "INT",
    "INTEGER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "INVOKER",
    "IS",
    "ISOLATION",
    "JOIN",
    "KEY",
    "KEYS",
    "KILL",
    "LANGUAGE",
    "LAST",
    "LATERAL",
    "LEADING",
    "LEFT",
    "LEVEL",
    "LIKE",
    "LIMIT",
    "LINES",
    "LISTEN",
    "LOAD",
    "LOCAL",
    "LOCK",
    "LOCKED",
    "LOGIN",
    "LOGS",
    "LOW_PRIORITY",
    "MASTER",
    "MATCH",
    "MATCHED",
    "MATERIALIZED",
    "MERGE",
    "MINUTE",
    "MODE",
    "MODIFY",
    "MONTH",
    "NAMES",
    "NATURAL",
    "NEXT",
    "NO",
    "NOCREATEDB",
    "NOCREATEROLE",
    "NOINHERIT",
    "NOLOGIN",
    "NOSUPERUSER",
    "NOT",
    "NOTHING",
    "NOTIFY",
    "NOWAIT",
    "NULL",
    "NULLS",
    "NUMERIC",
    "OF",
    "OFF",
    "OFFSET",
    "ON",
    "ONLY",
    "OPTIMIZE",
    "OPTION",
    "OR",
    "ORDER",
    "OTHERS",
    "OUT",
    "OUTER",
    "OUTFILE",
    "OVER",
    "OVERWRITE",
    "OWNED",
    "OWNER",
    "PARTITION",
    "PASSWORD",
    "PERSIST",
    "PERSIST_ONLY",
    "PLUGIN",
    "POLICY",
    "PRECEDING",
    "PRECISION",
    "PREPARE",
    "PRESERVE",
    "PRIMARY",
    "PRIVILEGES",
    "PROCEDURE",
    "PROCESSLIST",
    "PROGRAM",
    "PUBLIC",
    "PURGE",
    "QUICK",
    "RANGE",
    "READ",
    "RECURSIVE",
    "REFERENCES",
    "REFRESH",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RELOAD",
    "RENAME",
    "REPAIR",
    "REPEATABLE",
    "REPLACE",
    "REPLICA",
    "REPLICATION",
    "RESET",
    "RESTART",
    "RESTRICT",
    "RETURN",
    "RETURNING",
    "RETURNS",
    "REVOKE",
    "RIGHT",
    "RLIKE",
    "ROLE",
    "ROLLBACK",
    "ROLLUP",
    "ROUTINE",
    "ROW",
    "ROWS",
    "RULE",
    "SAVEPOINT",
    "SCHEMA",
    "SCHEMAS",
    "SECOND",
    "SECURITY",
    "SELECT",
    "SEPARATOR",
    "SEQUENCE",
    "SERIALIZABLE",
    "SERVER",
    "SESSION",
    "SET",
    "SHARE",
    "SHOW",
    "SHUTDOWN",
    "SIMILAR",
    "SKIP",
    "SLAVE",
    "SMALLINT",
    "SOME",
    "SONAME",
    "SOURCE",
    "SQL_BIG_RESULT",
    "SQL_CALC_FOUND_ROWS",
    "SQL_NO_CACHE",
    "SQL_SMALL_RESULT",
    "STABLE",
    "START",
    "STARTING",
    "STATEMENT",
    "STATUS",
    "STDIN",
    "STDOUT",
    "STORED",
    "STRAIGHT_JOIN",
    "SUPERUSER",
    "SYSTEM",
    "TABLE",
    "TABLES",
    "TABLESPACE",
    "TEMP",
    "TEMPORARY",
    "TERMINATED",
    "TEXT",
    "THEN",
    "TIES",
    "TIMESTAMP",
    "TO",
    "TRAILING",
    "TRANSACTION",
    "TRIGGER",
    "TRIGGERS",
    "TRUE",
    "TRUNCATE",
    "TRUSTED",
    "TYPE",
    "UNBOUNDED",
    "UNCOMMITTED",
    "UNINSTALL",
    "UNION",
    "UNIQUE",
    "UNKNOWN",
    "UNLOCK",
    "UNLOGGED",
    "UNSIGNED",
    "UNTIL",
    "UPDATE",
    "USAGE",
    "USE",
    "USER",
    "USING",
    "VACUUM",
    "VALID",
    "VALUE",
    "VALUES",
    "VARCHAR",
    "VARIABLES",
    "VARYING",
    "VERBOSE",
    "VIEW",
    "VOLATILE",
    "WAITFOR",
    "WARNINGS",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
    "WORK",
    "WRAPPER",
    "WRITE",
    "XA",
    "XML",
    "XOR",
    "YEAR",
    "ZEROFILL",
];

/// Longest word looked up (longer words are never keywords).
const MAX_LEN: usize = 24;
/// Slots of the open-addressing table (power of two, ~5x the keyword count: most non-keywords
/// land on an empty slot at the first probe).
const SLOTS: usize = 2048;

/// FNV-1a step over one upper-cased byte.
#[inline(always)]
fn mix(h: u32, c: u8) -> u32 {
    (h ^ u32::from(c)).wrapping_mul(0x0100_0193)
}

const SEED: u32 = 0x811c_9dc5;

/// Hash table over `KEYWORDS`: slot → keyword index + 1 (0 = empty), linear probing. Built once.
static TABLE: std::sync::LazyLock<Box<[u16]>> = std::sync::LazyLock::new(|| {
    let mut table = vec![0u16; SLOTS].into_boxed_slice();
    for (i, k) in KEYWORDS.iter().enumerate() {
        let h = k.bytes().fold(SEED, mix);
        let mut slot = h as usize & (SLOTS - 1);
        while table[slot] != 0 {
            slot = (slot + 1) & (SLOTS - 1);
        }
        table[slot] = u16::try_from(i + 1).unwrap_or(u16::MAX);
    }
    table
});

/// True when `word` is a keyword (ASCII case-insensitive). O(1): one pass upper-cases and
/// hashes the word, then a probe of a precomputed table (no allocation, no binary search).
#[inline]
pub(crate) fn is_keyword(word: &str) -> bool {
    let b = word.as_bytes();
    if b.is_empty() || b.len() > MAX_LEN {
        return false;
    }
    let mut buf = [0u8; MAX_LEN];
    let mut h = SEED;
    for (d, s) in buf.iter_mut().zip(b) {
        let u = s.to_ascii_uppercase();
        *d = u;
        h = mix(h, u);
    }
    let up = &buf[..b.len()];
    let table = &**TABLE;
    let mut slot = h as usize & (SLOTS - 1);
    loop {
        let Some(&entry) = table.get(slot) else {
            return false;
        };
        if entry == 0 {
            return false;
        }
        if KEYWORDS
            .get(usize::from(entry) - 1)
            .is_some_and(|k| k.len() == up.len() && k.as_bytes() == up)
        {
            return true;
        }
        slot = (slot + 1) & (SLOTS - 1);
    }
}

/// The binary search the table replaced (reference for tests).
#[cfg(test)]
fn is_keyword_slow(word: &str) -> bool {
    let b = word.as_bytes();
    if b.is_empty() || b.len() > MAX_LEN {
        return false;
    }
    let up = word.to_ascii_uppercase();
    KEYWORDS.binary_search_by(|k| k.cmp(&up.as_str())).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_found() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_keyword("select") && is_keyword("Union") && is_keyword("WHERE"));
        assert!(!is_keyword("users") && !is_keyword("") && !is_keyword("count"));
    }

    #[test]
    fn table_agrees_with_binary_search() {
        for k in KEYWORDS {
            assert!(is_keyword(k) && is_keyword(&k.to_ascii_lowercase()), "{k}");
            for probe in [
                format!("{k}X"),
                format!("X{k}"),
                k[1..].to_owned(),
                format!("{k}_"),
            ] {
                assert_eq!(is_keyword(&probe), is_keyword_slow(&probe), "{probe}");
            }
        }
        for w in [
            "users",
            "id",
            "amount",
            "x",
            "ab",
            "SELECTS",
            "çava",
            "a_very_long_identifier_name_here",
        ] {
            assert_eq!(is_keyword(w), is_keyword_slow(w), "{w}");
        }
    }
}
