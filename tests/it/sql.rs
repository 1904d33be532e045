//! SQL analysis tests: the data-driven corpus (`sql_corpus.tsv`, one case per line), bad input
//! that must stay bounded, cache semantics, and a property test of the normalizer.

// Test helpers outside `#[test]` functions: failing loudly is their job.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use laneguard_core::sql::{self, Analyzer, CatalogScope, Dialect, Flags, StatementClass};
use proptest::prelude::*;

const CORPUS: &str = include_str!("sql_corpus.tsv");

struct Case<'a> {
    line: usize,
    dialect: Dialect,
    class: StatementClass,
    command: &'a str,
    objects: Option<BTreeSet<&'a str>>,
    present: Flags,
    absent: Flags,
    sql: &'a str,
}

fn parse_corpus() -> Vec<Case<'static>> {
    let mut cases = Vec::new();
    for (i, raw) in CORPUS.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = raw.splitn(6, '|').collect();
        assert_eq!(f.len(), 6, "line {line}: expected 6 fields: {raw}");
        let field = |k: usize| f[k].trim();
        let dialect: Dialect = field(0).parse().unwrap_or_else(|e| panic!("line {line}: {e}"));
        let class: StatementClass = field(1).parse().unwrap_or_else(|e| panic!("line {line}: {e}"));
        let command = if field(2) == "-" { "" } else { field(2) };
        let objects = match field(3) {
            "?" => None,
            "-" => Some(BTreeSet::new()),
            list => Some(list.split(',').map(str::trim).collect()),
        };
        let (mut present, mut absent) = (Flags::empty(), Flags::empty());
        if field(4) != "-" {
            for name in field(4).split_whitespace() {
                let (neg, name) = match name.strip_prefix('!') {
                    Some(n) => (true, n),
                    None => (false, name),
                };
                let flag =
                    Flags::from_name(name).unwrap_or_else(|| panic!("line {line}: unknown flag `{name}`"));
                if neg {
                    absent.insert(flag)
                } else {
                    present.insert(flag)
                }
            }
        }
        // The SQL is the rest of the line; only the one separating space is dropped.
        let sql = f[5].strip_prefix(' ').unwrap_or(f[5]).trim_end();
        cases.push(Case {
            line,
            dialect,
            class,
            command,
            objects,
            present,
            absent,
            sql,
        });
    }
    cases
}

#[test]
fn corpus() {
    let cases = parse_corpus();
    assert!(cases.len() >= 400, "corpus has only {} cases", cases.len());
    let mut analyzer = Analyzer::new(1024);
    let mut failures = Vec::new();
    for c in &cases {
        // Twice: the second call is a cache hit and must agree with the miss.
        for pass in ["miss", "hit"] {
            let a = analyzer.analyze(c.sql, c.dialect);
            let mut why = Vec::new();
            if a.class != c.class {
                why.push(format!("class: expected {}, got {}", c.class, a.class));
            }
            if a.command != c.command {
                why.push(format!("command: expected `{}`, got `{}`", c.command, a.command));
            }
            if let Some(exp) = &c.objects {
                let got: BTreeSet<&str> = a.objects.iter().map(String::as_str).collect();
                if &got != exp {
                    why.push(format!("objects: expected {exp:?}, got {got:?}"));
                }
            }
            let missing = Flags(c.present.0 & !a.flags.0);
            let unwanted = a.flags & c.absent;
            if !missing.is_empty() {
                why.push(format!("missing flags [{missing}] (got [{}])", a.flags));
            }
            if !unwanted.is_empty() {
                why.push(format!("unwanted flags [{unwanted}]"));
            }
            if !why.is_empty() {
                failures.push(format!(
                    "line {} ({pass}): {}\n    sql: {}\n    normalized: {}",
                    c.line,
                    why.join("; "),
                    c.sql,
                    a.normalized
                ));
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every string and number literal of the corpus is absent from its normalized text.
#[test]
fn corpus_normalized_has_no_literals() {
    let mut analyzer = Analyzer::new(16);
    for c in parse_corpus() {
        let a = analyzer.analyze(c.sql, c.dialect);
        for lit in [
            "secret",
            "x@example.com",
            "/etc/passwd",
            "attacker",
            "qzxjq",
            "0x61646d696e",
        ] {
            if c.sql.contains(lit) {
                assert!(
                    !a.normalized.contains(lit),
                    "line {}: `{lit}` in {}",
                    c.line,
                    a.normalized
                );
            }
        }
    }
}

fn run_on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("analysis panicked or overflowed");
}

#[test]
fn deep_nesting_is_bounded() {
    run_on_small_stack(|| {
        let mut a = Analyzer::new(8);
        for dialect in [Dialect::Mysql, Dialect::Postgres, Dialect::Generic] {
            let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
            let r = a.analyze(&deep, dialect);
            assert_eq!(r.class, StatementClass::Dql);
            assert!(r.flags.contains(Flags::TOO_DEEP), "{}", r.flags);
            let unbalanced = format!("SELECT * FROM t WHERE {}", "(".repeat(5000));
            let r = a.analyze(&unbalanced, dialect);
            assert_eq!(r.class, StatementClass::Dql);
            // Just under the parser's depth limit: sqlparser itself must stay within the stack.
            let nested = format!("SELECT {}1{}", "(".repeat(24), ")".repeat(24));
            let r = a.analyze(&nested, dialect);
            assert_eq!(r.class, StatementClass::Dql);
            let subq = format!(
                "SELECT * FROM t WHERE a IN {}(1){}",
                "(SELECT a FROM t WHERE a IN ".repeat(12),
                ")".repeat(12)
            );
            let r = a.analyze(&subq, dialect);
            assert_eq!(r.class, StatementClass::Dql);
        }
    });
}

#[test]
fn huge_statement_is_bounded() {
    run_on_small_stack(|| {
        let mut a = Analyzer::new(8);
        let mut big = String::from("INSERT INTO t VALUES ");
        while big.len() < 1_000_000 {
            big.push_str("(1, 'abcdefghij', 2.5),");
        }
        big.push_str("(1, 'x', 2)");
        let start = Instant::now();
        let r = a.analyze(&big, Dialect::Mysql);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(r.class, StatementClass::Dml);
        assert_eq!(r.command, "INSERT");
        assert!(r.flags.contains(Flags::TOO_LONG));
        assert_eq!(r.normalized, "INSERT INTO t VALUES (?+)");
        // Above the lexing limit: the prefix decides, still flagged.
        let mut bigger = String::from("SELECT ");
        while bigger.len() < 2 * sql::MAX_LEX_BYTES {
            bigger.push_str("a, ");
        }
        let r = a.analyze(&bigger, Dialect::Postgres);
        assert_eq!(r.class, StatementClass::Dql);
        assert!(r.flags.contains(Flags::TOO_LONG));
        assert!(r.normalized.len() <= sql::MAX_NORMALIZED_BYTES + '…'.len_utf8());
    });
}

#[test]
fn invalid_utf8_and_unterminated() {
    let mut a = Analyzer::new(8);
    let bytes = b"SELECT * FROM users WHERE name = '\xff\xfe' OR 1=1";
    let r = a.analyze_bytes(bytes, Dialect::Mysql);
    assert_eq!(r.class, StatementClass::Dql);
    assert!(
        r.flags.contains(Flags::INVALID_UTF8 | Flags::TAUTOLOGY),
        "{}",
        r.flags
    );
    let lossy = String::from_utf8_lossy(b"DROP TABLE \xc3\x28x");
    let r = a.analyze(&lossy, Dialect::Mysql);
    assert_eq!(r.command, "DROP TABLE");
    assert!(r.flags.contains(Flags::INVALID_UTF8));
    for text in [
        "SELECT 'abc",
        "SELECT \"abc",
        "SELECT `abc",
        "SELECT /* abc",
        "SELECT $$abc",
        "SELECT E'\\",
        "SELECT 'a\\",
    ] {
        for d in [Dialect::Mysql, Dialect::Postgres, Dialect::Generic] {
            let r = a.analyze(text, d);
            assert_eq!(r.class, StatementClass::Dql, "{text} {d:?}");
            // Unterminated strings and comments are literals/comments to the end: never shown.
            let hidden =
                text.contains('\'') || text.contains("/*") || (text.contains("$$") && d != Dialect::Mysql);
            if hidden {
                assert!(!r.normalized.contains("abc"), "{text} {d:?}: {}", r.normalized);
                assert!(r.flags.contains(Flags::UNTERMINATED), "{text} {d:?}: {}", r.flags);
            }
        }
    }
    let r = a.analyze("", Dialect::Postgres);
    assert_eq!(r.class, StatementClass::Unparsed);
    assert!(r.flags.contains(Flags::EMPTY));
}

#[test]
fn cache_distinguishes_literal_dependent_facts() {
    let mut a = Analyzer::new(64);
    let t = a.analyze("SELECT * FROM u WHERE n = 'x' OR 'a'='a'", Dialect::Mysql);
    let f = a.analyze("SELECT * FROM u WHERE n = 'x' OR 'a'='b'", Dialect::Mysql);
    assert_eq!(t.fingerprint, f.fingerprint, "same shape, same fingerprint");
    assert!(t.flags.contains(Flags::TAUTOLOGY));
    assert!(!f.flags.contains(Flags::TAUTOLOGY));
    let x = a.analyze("SELECT a FROM t WHERE id = 1 UNION/**/SELECT 2", Dialect::Mysql);
    let y = a.analyze("SELECT a FROM t WHERE id = 1 UNION SELECT 2", Dialect::Mysql);
    assert_eq!(x.fingerprint, y.fingerprint);
    assert!(x.flags.contains(Flags::COMMENT_OBFUSCATION));
    assert!(!y.flags.contains(Flags::COMMENT_OBFUSCATION));
    let u1 = a.analyze("CREATE USER 'alice'@'%' IDENTIFIED BY 'p1'", Dialect::Mysql);
    let u2 = a.analyze("CREATE USER 'bob'@'%' IDENTIFIED BY 'p2'", Dialect::Mysql);
    assert_eq!(u1.objects, vec!["user:alice@%".to_string()]);
    assert_eq!(u2.objects, vec!["user:bob@%".to_string()]);
    let s1 = a.analyze(
        "SELECT set_config('pgaudit.log', 'none', false)",
        Dialect::Postgres,
    );
    let s2 = a.analyze("SELECT set_config('search_path', 'x', false)", Dialect::Postgres);
    assert!(s1.flags.contains(Flags::AUDIT_TAMPER));
    assert!(!s2.flags.contains(Flags::AUDIT_TAMPER));
    // Same shape with other literals is a hit and shares the Arc.
    let h1 = a.analyze("SELECT id FROM users WHERE id = 1", Dialect::Mysql);
    let h2 = a.analyze("select  id from users where id=42", Dialect::Mysql);
    assert!(std::sync::Arc::ptr_eq(&h1, &h2));
    // Dialect is part of the key: `"x"` is a string in MySQL, an identifier in PostgreSQL.
    let m = a.analyze("SELECT \"x\" FROM t", Dialect::Mysql);
    let p = a.analyze("SELECT \"x\" FROM t", Dialect::Postgres);
    assert_eq!(m.normalized, "SELECT ? FROM t");
    assert_eq!(p.normalized, "SELECT x FROM t");
}

/// Literal-dependent facts of issue #15: constant conditions, assembled DDL and the schema a
/// catalog read names share a fingerprint with other literals, never a cache entry.
#[test]
fn cache_distinguishes_new_literal_dependent_facts() {
    let mut a = Analyzer::new(64);
    let probe = a.analyze("SELECT id FROM t WHERE id = 7 AND 4648=7537", Dialect::Mysql);
    let builder = a.analyze("SELECT id FROM t WHERE id = 7 AND 1=0", Dialect::Mysql);
    assert_eq!(probe.fingerprint, builder.fingerprint);
    assert!(probe.flags.contains(Flags::CONSTANT_CONDITION));
    assert!(!builder.flags.contains(Flags::CONSTANT_CONDITION));
    let ddl = a.analyze("SET @s = CONCAT('DR', 'OP TABLE t')", Dialect::Mysql);
    let text = a.analyze("SET @s = CONCAT('Hello', ' world')", Dialect::Mysql);
    assert_eq!(ddl.fingerprint, text.fingerprint);
    assert!(ddl.flags.contains(Flags::DYNAMIC_DDL));
    assert!(!text.flags.intersects(Flags::DYNAMIC_DDL | Flags::ASSEMBLED_SQL));
    let own = a.analyze(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'shop'",
        Dialect::Mysql,
    );
    let other = a.analyze(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mysql'",
        Dialect::Mysql,
    );
    assert_eq!(own.fingerprint, other.fingerprint);
    assert_eq!(own.catalog_scope, CatalogScope::Named(vec!["shop".into()].into()));
    assert_eq!(
        other.catalog_scope,
        CatalogScope::Named(vec!["mysql".into()].into())
    );
}

/// Catalog categories, scope and purity: the same names for both engines (docs/SQL.md).
#[test]
fn catalog_categories_and_scope() {
    use Dialect::{Mysql as M, Postgres as P};
    let cases: &[(Dialect, &str, &str, &str, bool)] = &[
        (M, "SHOW DATABASES", "schemas", "any", true),
        (P, "SELECT datname FROM pg_database", "schemas", "any", true),
        (
            M,
            "SELECT schema_name FROM information_schema.schemata",
            "schemas",
            "any",
            true,
        ),
        (M, "SHOW FULL TABLES FROM shop", "tables", "named", true),
        (M, "SHOW CREATE TABLE customers", "tables", "session", true),
        (M, "DESCRIBE shop.customers", "columns", "named", true),
        (M, "SHOW COLUMNS FROM customers", "columns", "session", true),
        (
            M,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'x'",
            "columns",
            "session",
            true,
        ),
        (
            P,
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pg_catalog.pg_table_is_visible(c.oid) AND n.nspname != 'pg_catalog'",
            "schemas,tables",
            "session",
            true,
        ),
        (
            P,
            "SELECT conname FROM pg_constraint WHERE conrelid IN ($1, $2)",
            "tables",
            "session",
            true,
        ),
        (
            M,
            "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('mysql', 'sys')",
            "tables",
            "any",
            true,
        ),
        (
            M,
            "SELECT name FROM products WHERE id = -1 UNION SELECT table_name FROM information_schema.tables WHERE table_schema = 'shop'",
            "tables",
            "named",
            false,
        ),
        (
            P,
            "SELECT amname FROM pg_am WHERE amname = $1",
            "types",
            "none",
            true,
        ),
        (M, "SHOW GRANTS", "privileges", "none", true),
        (
            M,
            "SELECT grantee FROM information_schema.user_privileges",
            "privileges",
            "none",
            true,
        ),
        (P, "SELECT rolname FROM pg_roles", "accounts", "none", true),
        (M, "SELECT user, host FROM mysql.user", "accounts", "none", true),
        (
            M,
            "SELECT user, authentication_string FROM mysql.user",
            "accounts,credentials",
            "none",
            true,
        ),
        (M, "SHOW PROCESSLIST", "sessions", "none", true),
        (
            P,
            "SELECT pid, query FROM pg_stat_activity",
            "sessions",
            "none",
            true,
        ),
        (M, "SHOW VARIABLES", "settings", "none", true),
        (P, "SHOW ALL", "settings", "none", true),
        (M, "SELECT @@version", "server", "none", true),
        (M, "SELECT @@hostname, @@datadir", "server", "none", true),
        (P, "SELECT pg_catalog.version()", "server", "none", true),
        (P, "SHOW data_directory", "server", "none", true),
        (P, "SELECT inet_server_addr()", "server", "none", true),
        (M, "SELECT @@sql_mode", "", "none", false),
        (P, "SHOW transaction isolation level", "", "none", false),
        (M, "SELECT id FROM customers", "", "none", false),
    ];
    let mut a = Analyzer::new(64);
    for (d, sql, cats, scope, only) in cases {
        let r = a.analyze(sql, *d);
        assert_eq!(r.catalogs.to_string(), *cats, "{sql}");
        assert_eq!(r.catalog_scope.kind(), *scope, "{sql}");
        if !cats.is_empty() {
            assert_eq!(r.catalog_only, *only, "{sql}");
        }
    }
}

/// The fingerprint of configuration statements is the one events get.
#[test]
fn fingerprint_of_matches_the_analysis() {
    let mut a = Analyzer::new(8);
    for (d, sql) in [
        (Dialect::Mysql, "select  VERSION()"),
        (Dialect::Postgres, "show transaction isolation level"),
        (Dialect::Mysql, "SHOW VARIABLES LIKE 'sql_mode'"),
    ] {
        assert_eq!(
            sql::fingerprint_of(sql, d),
            Some(a.analyze(sql, d).fingerprint),
            "{sql}"
        );
    }
    assert_eq!(sql::fingerprint_of(" -- nothing", Dialect::Postgres), None);
}

#[test]
fn qualify_objects() {
    use sql::qualify;
    assert_eq!(qualify("users", Dialect::Mysql, Some("shop")), "shop.users");
    assert_eq!(
        qualify("other.users", Dialect::Mysql, Some("shop")),
        "other.users"
    );
    assert_eq!(qualify("users", Dialect::Mysql, None), "users");
    assert_eq!(qualify("t", Dialect::Postgres, Some("db")), "db.public.t");
    assert_eq!(qualify("s.t", Dialect::Postgres, Some("db")), "db.s.t");
    assert_eq!(qualify("x.s.t", Dialect::Postgres, Some("db")), "x.s.t");
    assert_eq!(qualify("t", Dialect::Postgres, None), "public.t");
    assert_eq!(qualify("user:app@%", Dialect::Mysql, Some("shop")), "user:app@%");
    assert_eq!(qualify("role:app", Dialect::Postgres, Some("db")), "role:app");
    assert_eq!(
        qualify("database:shop", Dialect::Mysql, Some("x")),
        "database:shop"
    );
    assert_eq!(qualify("schema:s", Dialect::Postgres, Some("db")), "schema:db.s");
}

#[test]
fn command_tags() {
    use StatementClass::*;
    let cases = [
        ("CREATE TABLE AS", Ddl),
        ("CREATE TABLE", Ddl),
        ("ALTER ROLE", Dcl),
        ("CREATE ROLE", Dcl),
        ("DROP ROLE", Dcl),
        ("GRANT", Dcl),
        ("REVOKE", Dcl),
        ("DECLARE CURSOR", Dql),
        ("SELECT", Dql),
        ("FETCH", Dql),
        ("SHOW", Dql),
        ("INSERT", Dml),
        ("UPDATE", Dml),
        ("DELETE", Dml),
        ("DO", Dml),
        ("TRUNCATE TABLE", Ddl),
        ("SET", Session),
        ("RESET", Session),
        ("COMMIT", Tcl),
        ("BEGIN", Tcl),
        ("ALTER SYSTEM", Admin),
        ("CREATE EXTENSION", Admin),
        ("VACUUM", Admin),
        ("READ", Dql),
        ("WRITE", Dml),
        ("CREATE", Ddl),
        ("ALTER", Ddl),
        ("DROP", Ddl),
        ("RENAME", Ddl),
        ("", Unparsed),
        ("???", Unparsed),
    ];
    for (tag, class) in cases {
        assert_eq!(sql::class_of_command_tag(tag), class, "tag {tag:?}");
    }
    let a = sql::analysis_of_command_tag("create table as");
    assert_eq!(a.command, "CREATE TABLE AS");
    assert_eq!(a.class, Ddl);
}

#[test]
fn class_names_round_trip() {
    for c in StatementClass::ALL {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, format!("\"{}\"", c.as_str()));
        assert_eq!(c.as_str().parse::<StatementClass>().unwrap(), c);
        assert_eq!(serde_json::from_str::<StatementClass>(&json).unwrap(), c);
    }
    assert!("NOPE".parse::<StatementClass>().is_err());
}

#[test]
fn split_statements_respects_quotes_comments_and_bodies() {
    let text = "SELECT ';' FROM t; -- a ; comment\nINSERT INTO t VALUES ('a;b');\n\
                CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;\n/* ; */ ;; SELECT 3";
    let parts: Vec<&str> = sql::split_statements(text, Dialect::Mysql).collect();
    assert_eq!(parts.len(), 4, "{parts:?}");
    assert_eq!(parts[0], "SELECT ';' FROM t");
    assert!(
        parts[1].ends_with("INSERT INTO t VALUES ('a;b')"),
        "{:?}",
        parts[1]
    );
    assert!(parts[2].starts_with("CREATE PROCEDURE") && parts[2].ends_with("END"));
    assert!(parts[3].ends_with("SELECT 3"));
    let pg: Vec<&str> =
        sql::split_statements("DO $$ BEGIN x; y; END $$; SELECT 1", Dialect::Postgres).collect();
    assert_eq!(pg, vec!["DO $$ BEGIN x; y; END $$", "SELECT 1"]);
}

#[test]
fn analysis_json_shape() {
    let mut a = Analyzer::new(4);
    let r = a.analyze("DELETE FROM t", Dialect::Mysql);
    let v: serde_json::Value = serde_json::to_value(&*r).unwrap();
    assert_eq!(v["class"], "DML");
    assert_eq!(v["command"], "DELETE");
    assert_eq!(v["flags"], serde_json::json!(["no_where"]));
    let fp = v["fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 16);
    assert!(
        fp.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

fn literal_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{6,12}".prop_map(|s| format!("zq{s}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary text never panics, in any dialect.
    #[test]
    fn never_panics(text in "\\PC{0,200}", d in 0u8..3) {
        let dialect = [Dialect::Mysql, Dialect::Postgres, Dialect::Generic][d as usize];
        let mut a = Analyzer::new(4);
        let _ = a.analyze(&text, dialect);
        let _ = sql::split_statements(&text, dialect).count();
    }

    /// Arbitrary bytes with SQL-ish punctuation never panic.
    #[test]
    fn never_panics_on_sqlish_bytes(bytes in proptest::collection::vec(prop_oneof![
        Just(b'\''), Just(b'"'), Just(b'`'), Just(b'$'), Just(b'/'), Just(b'*'), Just(b'-'),
        Just(b'#'), Just(b'\\'), Just(b'('), Just(b')'), Just(b';'), Just(b'!'), Just(b'@'),
        Just(b'E'), Just(b'x'), Just(b'0'), Just(b' '), Just(b'\n'), any::<u8>()], 0..120), d in 0u8..3) {
        let dialect = [Dialect::Mysql, Dialect::Postgres, Dialect::Generic][d as usize];
        let mut a = Analyzer::new(4);
        let _ = a.analyze_bytes(&bytes, dialect);
    }

    /// Literals never reach the normalized text, whatever their quoting and position.
    #[test]
    fn normalized_has_no_literal(
        lits in proptest::collection::vec(literal_strategy(), 1..5),
        nums in proptest::collection::vec(100_000u64..u64::MAX, 1..4),
        d in 0u8..3,
        style in 0u8..4,
    ) {
        let dialect = [Dialect::Mysql, Dialect::Postgres, Dialect::Generic][d as usize];
        let quoted: Vec<String> = lits.iter().map(|l| match (style, dialect) {
            (1, Dialect::Postgres) => format!("$q${l}$q$"),
            (1, _) => format!("'{l}\\'s'"),
            (2, Dialect::Mysql) => format!("\"{l}\""),
            (2, _) => format!("E'{l}\\''"),
            (3, _) => format!("'{l}''s'"),
            _ => format!("'{l}'"),
        }).collect();
        let sql = format!(
            "SELECT a, {} FROM t /* c */ WHERE b IN ({}) AND c = -{} OR d = {} -- {}",
            quoted[0], quoted.join(", "), nums[0],
            nums.iter().map(u64::to_string).collect::<Vec<_>>().join(" + "), lits[0],
        );
        let mut a = Analyzer::new(4);
        let r = a.analyze(&sql, dialect);
        for l in &lits {
            prop_assert!(!r.normalized.contains(l.as_str()), "{} in {}", l, r.normalized);
        }
        for n in &nums {
            prop_assert!(!r.normalized.contains(&n.to_string()), "{} in {}", n, r.normalized);
        }
        prop_assert_eq!(r.class, StatementClass::Dql);
    }
}
