//! Unit tests of the lexer and normalizer (literal forms, quoting, comments per dialect).

use super::lexer::{Normalized, normalize_into};
use super::{Analyzer, Dialect, Flags};

fn norm(sql: &str, d: Dialect) -> (String, Normalized) {
    let mut n = Normalized::default();
    normalize_into(sql, d, &mut n);
    (n.text.clone(), n)
}

#[test]
fn literal_forms_become_placeholders() {
    use Dialect::*;
    let cases: &[(Dialect, &str, &str)] = &[
        (
            Mysql,
            "SELECT 1, -2, 3.5, .5e-3, 0x1F, 0b101, X'AF', b'01', N'x', _utf8mb4'y'",
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?",
        ),
        (Mysql, "SELECT 'it\\'s', 'it''s', \"dq \\\" x\"", "SELECT ?, ?, ?"),
        (
            Postgres,
            "SELECT E'it\\'s', 'a''b', $$x ' y$$, $f$ $$ $f$, U&'d\\0061t'",
            "SELECT ?, ?, ?, ?, ?",
        ),
        (
            Postgres,
            "SELECT a FROM t WHERE b = $1 AND c = $2",
            "SELECT a FROM t WHERE b = ? AND c = ?",
        ),
        (
            Mysql,
            "SELECT a FROM t WHERE b IN (1, 2, 3)",
            "SELECT a FROM t WHERE b IN (?+)",
        ),
        (
            Mysql,
            "SELECT a FROM t WHERE b IN (1)",
            "SELECT a FROM t WHERE b IN (?+)",
        ),
        (
            Mysql,
            "INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c')",
            "INSERT INTO t VALUES (?+)",
        ),
        (Mysql, "SELECT f(1, 2) FROM t", "SELECT f(?, ?) FROM t"),
        (
            Mysql,
            "SELECT a - 1 FROM t WHERE b = -1",
            "SELECT a - ? FROM t WHERE b = ?",
        ),
        (
            Mysql,
            "select A from T where B = TRUE",
            "SELECT a FROM t WHERE b = TRUE",
        ),
        (Mysql, "SELECT `Id` FROM `My Table`", "SELECT id FROM `my table`"),
        (
            Postgres,
            "SELECT \"Id\", \"id\" FROM \"T\"",
            "SELECT \"Id\", id FROM \"T\"",
        ),
        (Mysql, "SELECT  a\n\tFROM   t ;", "SELECT a FROM t"),
    ];
    for (d, sql, want) in cases {
        assert_eq!(norm(sql, *d).0, *want, "{sql} ({d:?})");
    }
}

#[test]
fn comments_per_dialect() {
    // MySQL: `#` comment, `--` needs a space; `/*!…*/` content is code.
    let (t, n) = norm("SELECT 1 # x\n, 2 --3\n", Dialect::Mysql);
    assert_eq!(t, "SELECT ?, ? - ?"); // `--3` is minus, minus 3 in MySQL
    assert!(!n.facts.versioned_comment);
    let (t, n) = norm("SELECT /*!40001 SQL_NO_CACHE */ a FROM t", Dialect::Mysql);
    assert_eq!(t, "SELECT SQL_NO_CACHE a FROM t");
    assert!(n.facts.versioned_comment);
    let (t, n) = norm("SELECT 1 /*!50000UNION*/ SELECT 2", Dialect::Mysql);
    assert_eq!(t, "SELECT ? UNION SELECT ?");
    assert!(n.facts.versioned_comment && !n.facts.comment_obfuscation);
    // PostgreSQL: `/*!` is an ordinary comment, block comments nest, `#` is an operator.
    let (t, _) = norm(
        "SELECT /*!50000 x */ 1 /* a /* b */ c */ FROM t",
        Dialect::Postgres,
    );
    assert_eq!(t, "SELECT ? FROM t");
    let (t, _) = norm("SELECT 1 --x\n", Dialect::Postgres);
    assert_eq!(t, "SELECT ?");
    // Glued block comments are obfuscation; spaced ones are not.
    assert!(
        norm("SELECT a FROM t UNION/**/SELECT 1", Dialect::Mysql)
            .1
            .facts
            .comment_obfuscation
    );
    assert!(
        !norm("SELECT a /* hint */ FROM t", Dialect::Mysql)
            .1
            .facts
            .comment_obfuscation
    );
    // Trailing comment that cuts a template.
    assert!(
        norm("SELECT a FROM t WHERE x = '' OR 1=1 -- -", Dialect::Mysql)
            .1
            .facts
            .trailing_comment
    );
    assert!(
        !norm("SELECT a FROM t -- report for finance", Dialect::Mysql)
            .1
            .facts
            .trailing_comment
    );
}

#[test]
fn statements_are_counted_and_unterminated_is_seen() {
    let (_, n) = norm("SELECT 1; SELECT ';'; ;", Dialect::Mysql);
    assert_eq!(n.statements, 2);
    let (t, n) = norm("SELECT 'abc", Dialect::Mysql);
    assert_eq!(t, "SELECT ?");
    assert!(n.facts.unterminated);
    let (_, n) = norm("SELECT $x$ abc", Dialect::Postgres);
    assert!(n.facts.unterminated);
    let (_, n) = norm("SELECT ((((1))))", Dialect::Mysql);
    assert_eq!(n.facts.max_depth, 4);
}

#[test]
fn multibyte_text_is_safe() {
    let (t, _) = norm(
        "SELECT 'ünïcødé', naïve FROM tàble WHERE x ≥ 1",
        Dialect::Postgres,
    );
    assert_eq!(t, "SELECT ?, naïve FROM tàble WHERE x ≥ ?");
}

#[test]
fn analyzer_counts_hits() {
    let mut a = Analyzer::new(2);
    let x = a.analyze("SELECT 1", Dialect::Mysql);
    let y = a.analyze("SELECT 2", Dialect::Mysql);
    assert!(std::sync::Arc::ptr_eq(&x, &y));
    assert_eq!(a.stats(), (1, 1));
    assert!(!x.flags.contains(Flags::PARSE_ERROR));
}

/// Fuzzing regression (`sql`): `, + 'b'@'h'` normalized like `, 'b'@'h'` (the sign folded into
/// the string), so the cache handed one statement the other's objects. A sign folds into
/// numbers only; whatever the cache holds, an analysis equals the uncached one.
#[test]
fn a_sign_never_folds_into_a_string() {
    let plain = "CREATE USER 'a'@'%', 'b'@'localhost'";
    let signed = "CREATE USER 'a'@'%',+ 'b'@'localhost'";
    assert_ne!(norm(plain, Dialect::Mysql).0, norm(signed, Dialect::Mysql).0);
    assert_eq!(norm("SELECT -1, - 'x', +?", Dialect::Mysql).0, "SELECT ?, - ?, ?");
    let mut warm = Analyzer::new(64);
    for d in [Dialect::Mysql, Dialect::Postgres, Dialect::Generic] {
        for sql in [plain, signed] {
            assert_cache_agrees(&mut warm, sql, d);
        }
    }
}

/// Fuzzing regression (`sql`): `UNINSTALL COMPONENT 'file://component_audit_log'` is audit
/// tampering because of its string; a cached analysis of another component must not answer.
#[test]
fn component_names_are_part_of_the_cache_key() {
    let mut warm = Analyzer::new(64);
    let other = warm.analyze(
        "UNINSTALL COMPONENT 'file://component_validate_password'",
        Dialect::Mysql,
    );
    let audit = warm.analyze("UNINSTALL COMPONENT 'file://component_audit_log'", Dialect::Mysql);
    assert!(!other.flags.contains(Flags::AUDIT_TAMPER));
    assert!(audit.flags.contains(Flags::AUDIT_TAMPER));
}

/// Fuzzing regression (`sql`): `VALUES (?, )` collapsed to the shape of `VALUES (?+)`, so a
/// statement that does not parse (flag `parse_error`) was answered by the cached analysis of
/// one that does. Only lists of one literal per element collapse.
#[test]
fn malformed_literal_lists_do_not_collapse() {
    for (sql, shape) in [
        ("INSERT INTO t VALUES (1, 2)", "INSERT INTO t VALUES (?+)"),
        ("INSERT INTO t VALUES (-1, +2, ?)", "INSERT INTO t VALUES (?+)"),
        ("INSERT INTO t VALUES (1, )", "INSERT INTO t VALUES (?,)"),
        ("INSERT INTO t VALUES (1,, 2)", "INSERT INTO t VALUES (?,, ?)"),
        ("INSERT INTO t VALUES (1 2)", "INSERT INTO t VALUES (? ?)"),
        (
            "SELECT * FROM t WHERE a IN (, 1)",
            "SELECT * FROM t WHERE a IN (, ?)",
        ),
    ] {
        assert_eq!(norm(sql, Dialect::Mysql).0, shape, "{sql}");
    }
    let mut warm = Analyzer::new(64);
    warm.analyze("INSERT INTO t VALUES (?, ?)", Dialect::Mysql);
    let broken = warm.analyze("INSERT INTO t VALUES (?, )", Dialect::Mysql);
    assert!(broken.flags.contains(Flags::PARSE_ERROR));
}

/// Fuzzing regression (`sql`): statements of one normalized text that sqlparser reads
/// differently — a word's case, tokens that touch or not — must not share a cache entry.
#[test]
fn the_written_form_is_part_of_the_cache_key() {
    for d in [Dialect::Mysql, Dialect::Postgres, Dialect::Generic] {
        let mut warm = Analyzer::new(64);
        for sql in [
            "SELECT 0X(1)",
            "SELECT 0x(1)",
            "SELECT 0 x(1)",
            "SELECT 7x(1)",
            "SELECT 0x",
            "SELECT 0 x",
            "SELECT 5x(1)",
            "SELECT a FROM t WHERE b = 5",
            "SELECT a FROM t\0\0 WHERE b = 5",
            "SELECT a FROM t WHERE b = 5\u{b}",
            "SELECT a FROM t WHERE b = 'x\\7' AND c = 'y'",
            "SELECT a FROM t WHERE b = 'x\\'' AND c = 'y'",
            "SELECT a FROM t WHERE b = 'x\\\\' AND c = 'y'",
            "SET @v = CONCAT('a', 'b')",
            "SET@v = CONCAT('a', 'b')",
            "SELECT a FROM #t WHERE b = 1",
            "SELECT a FROM # t WHERE b = 1",
            "SELECT a FROM t WHERE b == 1",
            "SELECT a FROM t WHERE b = = 1",
            "SELECT * FROM 'a||cx'",
            "SELECT * FROM 'aro>l|t||cx'",
            // sqlparser read objects out of a literal this lexer replaced (`DESC 'x'`) and a
            // digit run after `.` as a name (`mysql.2…2user`); it now reads the literal's form.
            "DESC '#::'",
            "DESC 'x'",
            "SELECT * FROM mysql.222222222222222222223222user",
            "SELECT * FROM mysql.222222222222222222222222user",
            "SELECT a FROM t WHERE b = .5",
            "SELECT a FROM t WHERE b =.5",
            "SELECT a FROM t WHERE b = $q$x$q$",
            "SELECT a FROM t WHERE b = $q$y$q$",
            // An account's host written as a number.
            "REVOKE r FROM v @ 1",
            "REVOKE r FROM v @ 2",
        ] {
            assert_cache_agrees(&mut warm, sql, d);
        }
    }
    // Repeated statements with other values still hit.
    let mut a = Analyzer::new(64);
    a.analyze("SELECT * FROM t WHERE id = 1 AND name = 'a'", Dialect::Mysql);
    a.analyze("SELECT * FROM t WHERE id = 22 AND name = 'bcd'", Dialect::Mysql);
    assert_eq!(a.stats(), (1, 1));
}

/// Fuzzing regression (`sql`): a GRANT naming an account by a string after another statement
/// (`CREATE …; GRANT r TO 'a@h'`) keyed the cache without its literals, so two accounts shared
/// one analysis. Every statement's first word is checked.
#[test]
fn accounts_in_a_later_statement_are_part_of_the_cache_key() {
    let mut warm = Analyzer::new(64);
    let a = warm.analyze("CREATE TABLE t (id INT); GRANT r TO 'alice'@'%'", Dialect::Mysql);
    let b = warm.analyze("CREATE TABLE t (id INT); GRANT r TO 'bob'@'%'", Dialect::Mysql);
    assert!(a.objects.iter().any(|o| o.contains("alice")), "{:?}", a.objects);
    assert!(b.objects.iter().any(|o| o.contains("bob")), "{:?}", b.objects);
}

/// The analysis `warm` returns (cached or not) equals a fresh analyzer's: the property the
/// `sql` fuzz target checks.
fn assert_cache_agrees(warm: &mut Analyzer, sql: &str, d: Dialect) {
    let cached = warm.analyze(sql, d);
    let cold = Analyzer::new(1).analyze(sql, d);
    assert_eq!(
        serde_json::to_value(&*cached).unwrap(),
        serde_json::to_value(&*cold).unwrap(),
        "{sql} ({d:?})"
    );
}

/// A `.` touching a name qualifies it; it does not start a number, even before a digit:
/// `db.2fa_codes` is a table of `db` (MySQL names may start with digits). The lexer read
/// `.2` as a number and lost the table (found by the `sql` fuzz target).
#[test]
fn a_dot_after_a_name_qualifies_it() {
    let mut a = Analyzer::new(8);
    let r = a.analyze("SELECT * FROM db.2fa_codes WHERE id = 1", Dialect::Mysql);
    assert_eq!(r.normalized, "SELECT * FROM db.2fa_codes WHERE id = ?");
    assert!(r.objects.iter().any(|o| o == "db.2fa_codes"), "{:?}", r.objects);
    // A number that starts with `.` is still a number.
    let r = a.analyze("SELECT a FROM t WHERE b = .5", Dialect::Mysql);
    assert_eq!(r.normalized, "SELECT a FROM t WHERE b = ?");
}
