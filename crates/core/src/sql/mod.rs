//! SQL analysis: what a statement does (class, command, flags) and what it touches (objects).
//!
//! Built for audit-log volume: most traffic repeats a few hundred statement shapes, so every
//! statement is lexed once by a hand-written lexer that normalizes it (literals → `?`, comments
//! out, case folded) and hashes the result (xxh3) into a fingerprint; the full analysis —
//! token classifier plus sqlparser — runs only on a cache miss and is shared as `Arc<Analysis>`.
//!
//! Fail-closed by construction: sqlparser refines but never gates. Text it cannot parse (attack
//! SQL, truncated statements, MySQL `CREATE USER 'u'@'%'`) is still classified from its leading
//! keywords and flagged from its tokens; only text with no recognisable statement is
//! `UNPARSED`, and even that is a result, never an error.
//!
//! Cache correctness: a few facts are invisible in the normalized text — comments (dropped),
//! literal values (`OR 'a'='a'` vs `OR 'a'='b'`), account names (MySQL writes them as string
//! literals). The lexer pass computes those on every call; the cache key is (dialect,
//! fingerprint, those flags, digest of the literals of identity-bearing statements), so a hit
//! can never return flags or objects that belong to a different literal. See `docs/SQL.md`.
//!
//! Layout: `lexer` (tokens, normalization, hashing), `classify` (token-level class, command,
//! flags, objects, statement splitting), `ast` (sqlparser refinement), `flags` (the bit set).

mod ast;
mod bits;
pub mod catalog;
mod classify;
mod family;
mod flags;
mod keywords;
mod lexer;

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::Arc;

use lru::LruCache;
use serde::{Deserialize, Serialize, Serializer};

use lexer::{Kind, Normalized};

pub use catalog::{CatalogScope, Catalogs};

/// Longest text given to sqlparser; longer statements are analysed by the token classifier only
/// and flagged `too_long` (parser time and memory grow with length, the classifier's do not).
pub const MAX_PARSE_BYTES: usize = 64 * 1024;
/// Longest prefix lexed at all; the rest of a bigger statement is ignored (flag `too_long`).
pub const MAX_LEX_BYTES: usize = 1024 * 1024;
/// Parenthesis depth above which sqlparser is skipped (flag `too_deep`).
pub const MAX_PARSE_DEPTH: u32 = 24;
/// Operators (`AND`, `OR`, `XOR`, `=`, `+`, `||`, …) above which sqlparser is skipped (flag
/// `too_deep`): a chain of binary operators parses into a tree as deep as the chain, and the
/// tree is walked and dropped recursively — 8,000 `OR 1=1` (56 kB) overflowed a 2 MiB thread
/// stack (a test thread; Lambda and replay workers have the same default). Found by
/// `bad_input::pathological_regex_inputs_against_the_pack`.
pub const MAX_PARSE_OPERATORS: usize = 500;
/// Longest normalized text kept in an `Analysis` (alerts show it; the fingerprint covers all).
pub const MAX_NORMALIZED_BYTES: usize = 4096;

/// The SQL dialect of a statement; chosen by the source that logged it (MySQL audit → `Mysql`,
/// pgaudit → `Postgres`), because the same text parses differently per engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// MySQL, MariaDB, Aurora MySQL.
    Mysql,
    /// PostgreSQL, Aurora PostgreSQL.
    Postgres,
    /// Anything else; the generic sqlparser dialect.
    #[default]
    Generic,
}

impl Dialect {
    /// The name used in rules (`engine`) and JSON: `mysql`, `postgres`, `generic`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dialect::Mysql => "mysql",
            Dialect::Postgres => "postgres",
            Dialect::Generic => "generic",
        }
    }
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            "postgres" | "postgresql" | "pg" => Ok(Dialect::Postgres),
            "generic" => Ok(Dialect::Generic),
            other => Err(format!("unknown SQL dialect `{other}`")),
        }
    }
}

/// Statement classes of DESIGN.md §3; policy allows or denies by class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum StatementClass {
    /// Reads data or metadata.
    Dql,
    /// Changes data.
    Dml,
    /// Changes schema.
    Ddl,
    /// Changes who may do what.
    Dcl,
    /// Transaction control.
    Tcl,
    /// Session control.
    Session,
    /// System control.
    Admin,
    /// Could not be classified: fail-closed, still an event.
    Unparsed,
}

impl StatementClass {
    /// Every class, for listings and validation of policy files.
    pub const ALL: [StatementClass; 8] = [
        StatementClass::Dql,
        StatementClass::Dml,
        StatementClass::Ddl,
        StatementClass::Dcl,
        StatementClass::Tcl,
        StatementClass::Session,
        StatementClass::Admin,
        StatementClass::Unparsed,
    ];

    /// The name policy files and JSON use (`"DQL"`, `"SESSION"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            StatementClass::Dql => "DQL",
            StatementClass::Dml => "DML",
            StatementClass::Ddl => "DDL",
            StatementClass::Dcl => "DCL",
            StatementClass::Tcl => "TCL",
            StatementClass::Session => "SESSION",
            StatementClass::Admin => "ADMIN",
            StatementClass::Unparsed => "UNPARSED",
        }
    }

    /// Which class represents a record holding several statements: the most powerful one, so
    /// that `SELECT 1; DROP TABLE t` cannot hide behind its first statement.
    pub const fn risk_rank(self) -> u8 {
        match self {
            StatementClass::Tcl => 0,
            StatementClass::Session => 1,
            StatementClass::Dql => 2,
            StatementClass::Unparsed => 3,
            StatementClass::Dml => 4,
            StatementClass::Ddl => 5,
            StatementClass::Dcl => 6,
            StatementClass::Admin => 7,
        }
    }
}

impl fmt::Display for StatementClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatementClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StatementClass::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown statement class `{s}`"))
    }
}

/// Risk features of a statement, as a small bit set (cheap to copy into every event).
/// Names and meanings: `Flags::ALL` and docs/SQL.md.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u64);

/// Result of analysing one statement text; shared (`Arc`) between all events with the same
/// cache key.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// Statement class (for several statements: the highest `risk_rank`).
    pub class: StatementClass,
    /// Command, e.g. `DROP TABLE`; empty when nothing was recognised.
    pub command: String,
    /// Objects as written in the statement, folded as the engine folds identifiers, not yet
    /// qualified with the session database (see [`qualify`]). Tables and views are dotted names;
    /// other kinds carry a prefix: `database:`, `schema:`, `user:name@host`, `role:`.
    pub objects: Vec<String>,
    /// Risk flags.
    pub flags: Flags,
    /// xxh3-64 of the full normalized text (before `normalized` is shortened for display).
    #[serde(serialize_with = "hex16")]
    pub fingerprint: u64,
    /// Normalized statement: literals replaced by `?`; safe to show in alerts. At most
    /// `MAX_NORMALIZED_BYTES` (then it ends with `…`).
    pub normalized: String,
    /// Number of statements in the text.
    pub statements: u32,
    /// True when sqlparser accepted the text (otherwise the token classifier alone decided).
    pub parsed: bool,
    /// Catalog categories the statement reads (docs/SQL.md, "Catalogs").
    pub catalogs: Catalogs,
    /// Which schemas those catalog reads are limited to.
    pub catalog_scope: CatalogScope,
    /// Every relation the statement reads is a catalog (no data table besides): true of an
    /// ORM's reflection queries, false of an injected catalog read inside an application query.
    pub catalog_only: bool,
    /// xxh3-64 of the statement's family: its normalized text with list arity, optional simple
    /// filters, pagination and plain column lists folded (`family.rs`). A second key next to
    /// the fingerprint, for allowlists that generalize; it changes no fingerprint.
    #[serde(serialize_with = "hex16")]
    pub family: u64,
    /// The family's text (`…` where filters or column lists were folded); at most
    /// `MAX_NORMALIZED_BYTES`.
    pub family_normalized: String,
}

fn hex16<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

/// Cache key: everything the analysis depends on that the normalized text does not show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    dialect: Dialect,
    fingerprint: u64,
    lexical: u64,
    literals: u64,
    /// [`lexical_form`]: how the tokens were written (case, adjacency, literal forms).
    form: u64,
}

/// What [`parse_text`] hands sqlparser that the normalized text does not show: which tokens
/// touch (`0x(` is a hex-literal prefix to sqlparser, `0 x(` a number and a call; `0X(` is an
/// identifier in MySQL, `0x(` is not), odd bytes between tokens, digit-led words, and the form
/// of each literal (its opening: quote or prefix, dollar tag, `0x`/`0b`, a leading `.`).
/// Statements of one normalized text but another form may parse differently, so they must not
/// share a cache entry (found by the `sql` fuzz target). Applications repeat their statements'
/// form, so the cache keeps its hit rate.
fn lexical_form(text: &str, tokens: &[lexer::Token], seed: &foldhash::fast::SeedableRandomState) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let b = text.as_bytes();
    let mut h = seed.build_hasher();
    let mut prev: Option<(Kind, u32, &str)> = None;
    for t in tokens {
        // Every touching pair counts but a word-like token against plain punctuation or a
        // comparison or arithmetic operator (`id=42`, `f(x)`, `a.b`, `a,b`), which every lexer
        // splits alike. Two word-like tokens (`0x(`, `SET@v`), a word and an odd operator
        // (`#t`, `$x`, `:x`) or two operators (`==`, `++`) are one token to some lexers (found
        // by the `sql` fuzz target, one class per run).
        let plain = |k: Kind, text: &str| match k {
            Kind::LParen | Kind::RParen | Kind::Comma | Kind::Dot | Kind::Semi => true,
            Kind::Op => matches!(
                text,
                "=" | "<" | ">" | "<=" | ">=" | "<>" | "!=" | "+" | "-" | "*" | "/" | "%"
            ),
            _ => false,
        };
        let glued = prev.is_some_and(|(kind, end, ptext)| {
            end == t.start && (plain(kind, ptext) == plain(t.kind, t.text(text)))
        });
        // So does what separates tokens when it is not plain white space: sqlparser refuses a
        // NUL or another control byte that this lexer steps over.
        let gap_start = prev.map_or(0, |(_, end, _)| end as usize);
        let odd_gap = b.get(gap_start..t.start as usize).is_some_and(|gap| {
            gap.iter()
                .any(|&c| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) || c >= 0x7f)
        });
        prev = Some((t.kind, t.end, t.text(text)));
        h.write_u8(t.kind as u8 | (u8::from(glued) << 7) | (u8::from(odd_gap) << 6));
        match t.kind {
            // A word that starts with a digit (`0X`, `0x`) is not read alike in every case.
            Kind::Word if t.text(text).starts_with(|c: char| c.is_ascii_digit()) => {
                h.write_usize(t.text(text).len());
                h.write(t.text(text).as_bytes())
            }
            // Other words and variables are in the normalized text, case-folded as sqlparser
            // reads them: the fingerprint has them already.
            Kind::Word | Kind::Var => {}
            Kind::Quoted => {
                h.write_usize(t.text(text).len());
                h.write(t.text(text).as_bytes())
            }
            // A literal's form, never its value: the prefix up to its opening quote (`'`,
            // `x'`, `N'`, `E'`, `U&'`, `$tag$`), `0x`/`0b` or a leading `.` of a number, the
            // placeholder's sign. (Variable-length parts carry their length: no two token
            // sequences hash the same bytes.)
            Kind::Str => {
                let lit = &b[t.start as usize..t.end as usize];
                let form = match literal_opening(lit) {
                    Opening::Quote(open) | Opening::Dollar(open) => open.as_bytes(),
                    // Not a form [`parse_text`] rewrites: it is parsed as written.
                    Opening::None => lit,
                };
                h.write_usize(form.len());
                h.write(form);
            }
            Kind::Num => {
                let lit = &b[t.start as usize..t.end as usize];
                let after = b.get(t.end as usize).copied().unwrap_or(0);
                match (lit, after) {
                    ([b'0', p @ (b'x' | b'X' | b'b' | b'B'), ..], _) => h.write(&[b'0', *p]),
                    // `0` touching `x`: a hex prefix to sqlparser, a number and a word here.
                    ([b'0'], p @ (b'x' | b'X' | b'b' | b'B')) => h.write(&[b'0', b'_', p]),
                    ([b'.', ..], _) => h.write_u8(b'.'),
                    _ => h.write_u8(b'9'),
                }
            }
            Kind::Param => h.write_u8(b.get(t.start as usize).copied().unwrap_or(0)),
            _ => {}
        }
    }
    h.finish()
}

/// The key is already a good hash; this hasher just mixes the words (SipHash would cost more
/// than the lookup itself).
#[derive(Clone, Copy, Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(23) ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64);
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct BuildKeyHasher;

impl BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// Flags the lexer pass computes on every call (part of the cache key).
const LEXICAL: Flags = Flags(
    Flags::TAUTOLOGY.0
        | Flags::COMMENT_OBFUSCATION.0
        | Flags::VERSIONED_COMMENT.0
        | Flags::TRAILING_COMMENT.0
        | Flags::UNTERMINATED.0
        | Flags::HEX_LITERAL.0
        | Flags::CHAR_CHAIN.0
        | Flags::SQLMAP_DELIMITER.0
        | Flags::TOO_LONG.0
        | Flags::INVALID_UTF8.0
        | Flags::CONSTANT_CONDITION.0
        | Flags::DYNAMIC_SQL.0
        | Flags::ASSEMBLED_SQL.0
        | Flags::DYNAMIC_DDL.0,
);

/// Analyses statements, caching results by (dialect, fingerprint, lexical flags, identity
/// literals) in a bounded LRU.
pub struct Analyzer {
    cache: LruCache<CacheKey, Arc<Analysis>, BuildKeyHasher>,
    /// Per-process seed of [`lexical_form`] (statements are attacker-chosen text).
    /// (Fixed under `cfg(fuzzing)`, so a fuzzing run with a fixed `-seed` repeats itself.)
    form_seed: foldhash::fast::SeedableRandomState,
    scratch: Normalized,
    hits: u64,
    misses: u64,
}

impl fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Analyzer")
            .field("cached", &self.cache.len())
            .field("capacity", &self.cache.cap())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(4096)
    }
}

/// Largest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Analyzer {
    /// An analyzer whose cache holds at most `capacity` statement shapes (at least one).
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Analyzer {
            cache: LruCache::with_hasher(cap, BuildKeyHasher),
            form_seed: if cfg!(fuzzing) {
                foldhash::fast::SeedableRandomState::fixed()
            } else {
                foldhash::fast::SeedableRandomState::random()
            },
            scratch: Normalized::default(),
            hits: 0,
            misses: 0,
        }
    }

    /// (hits, misses) since creation, for metrics and benchmarks.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Analyses raw bytes: invalid UTF-8 is decoded lossily and flagged `invalid_utf8`.
    pub fn analyze_bytes(&mut self, sql: &[u8], dialect: Dialect) -> Arc<Analysis> {
        match String::from_utf8_lossy(sql) {
            Cow::Borrowed(s) => self.analyze(s, dialect),
            Cow::Owned(s) => self.analyze_flagged(&s, dialect, Flags::INVALID_UTF8),
        }
    }

    /// Analyse one statement text (one audit record; it may hold several statements).
    pub fn analyze(&mut self, sql: &str, dialect: Dialect) -> Arc<Analysis> {
        let extra = if sql.contains('\u{FFFD}') {
            Flags::INVALID_UTF8
        } else {
            Flags::empty()
        };
        self.analyze_flagged(sql, dialect, extra)
    }

    fn analyze_flagged(&mut self, sql: &str, dialect: Dialect, extra: Flags) -> Arc<Analysis> {
        let text = prefix(sql, MAX_LEX_BYTES);
        let mut lexical = extra;
        if text.len() < sql.len() {
            lexical.insert(Flags::TOO_LONG);
        }
        lexer::normalize_into(text, dialect, &mut self.scratch);
        let fingerprint = xxhash_rust::xxh3::xxh3_64(self.scratch.text.as_bytes());
        let (lit_flags, sensitive) = classify::literal_features(text, &self.scratch.tokens, dialect);
        lexical.insert(lit_flags);
        let facts = self.scratch.facts;
        for (on, flag) in [
            (facts.comment_obfuscation, Flags::COMMENT_OBFUSCATION),
            (facts.versioned_comment, Flags::VERSIONED_COMMENT),
            (facts.trailing_comment, Flags::TRAILING_COMMENT),
            (facts.unterminated, Flags::UNTERMINATED),
        ] {
            if on {
                lexical.insert(flag);
            }
        }
        let literals = if sensitive {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            // Numbers too: `REVOKE r FROM v @ 1` names an account by a number (found by the `sql`
            // fuzz target).
            for t in self
                .scratch
                .tokens
                .iter()
                .filter(|t| matches!(t.kind, Kind::Str | Kind::Num))
            {
                h.update(t.text(text).as_bytes());
                h.update(&[0]);
            }
            h.digest()
        } else {
            0
        };
        let key = CacheKey {
            dialect,
            fingerprint,
            lexical: (lexical & LEXICAL).0,
            literals,
            form: lexical_form(text, &self.scratch.tokens, &self.form_seed),
        };
        if let Some(hit) = self.cache.get(&key) {
            self.hits += 1;
            return Arc::clone(hit);
        }
        self.misses += 1;
        let analysis = Arc::new(analyze_uncached(
            text,
            dialect,
            &self.scratch,
            fingerprint,
            lexical,
            sensitive,
        ));
        self.cache.put(key, Arc::clone(&analysis));
        // Do not let one huge statement pin megabytes of scratch space.
        if self.scratch.tokens.capacity() > 1 << 16 {
            self.scratch.tokens = Vec::new();
            self.scratch.text = String::new();
        }
        analysis
    }
}

/// Full analysis of lexed text (cache miss).
/// Binary operators of a statement (how deep its expression tree can get without parentheses).
fn operators(text: &str, tokens: &[lexer::Token]) -> usize {
    tokens
        .iter()
        .filter(|t| match t.kind {
            Kind::Op => true,
            Kind::Word => t.end - t.start <= 3 && ["AND", "OR", "XOR"].iter().any(|w| t.is(text, w)),
            _ => false,
        })
        .count()
}

fn analyze_uncached(
    text: &str,
    dialect: Dialect,
    lexed: &Normalized,
    fingerprint: u64,
    lexical: Flags,
    keep_literals: bool,
) -> Analysis {
    let tokens = &lexed.tokens;
    let ranges = classify::statement_ranges(text, tokens);
    let mut flags = lexical;
    let mut normalized = prefix(&lexed.text, MAX_NORMALIZED_BYTES).to_owned();
    if normalized.len() < lexed.text.len() {
        normalized.push('…');
    }
    if ranges.is_empty() {
        flags.insert(Flags::EMPTY);
        return Analysis {
            class: StatementClass::Unparsed,
            command: String::new(),
            objects: Vec::new(),
            flags,
            fingerprint,
            statements: 0,
            parsed: false,
            catalogs: Catalogs::empty(),
            catalog_scope: CatalogScope::None,
            catalog_only: false,
            family: fingerprint,
            family_normalized: normalized.clone(),
            normalized,
        };
    }
    let mut infos: Vec<classify::StmtInfo> = ranges
        .iter()
        .map(|r| classify::classify_statement(text, &tokens[r.clone()], dialect))
        .collect();

    // sqlparser on comment-free, bounded text.
    let mut parsed = false;
    if text.len() > MAX_PARSE_BYTES {
        flags.insert(Flags::TOO_LONG);
    } else if lexed.facts.max_depth > MAX_PARSE_DEPTH || operators(text, tokens) > MAX_PARSE_OPERATORS {
        flags.insert(Flags::TOO_DEEP);
    } else if !lexed.facts.unterminated {
        let code = parse_text(text, tokens, keep_literals);
        match ast::parse(&code, dialect) {
            Some(asts) if asts.len() == infos.len() => {
                parsed = true;
                for ((info, ast), r) in infos.iter_mut().zip(asts).zip(&ranges) {
                    // Fail-closed: the AST may raise the class (e.g. a write hidden in a CTE)
                    // but never lower what the tokens saw (`EXPLAIN (ANALYZE) DELETE`).
                    if let Some(c) = ast.class {
                        if c.risk_rank() > info.class.risk_rank() {
                            info.class = c;
                        }
                    }
                    let ctes = classify::cte_names(text, &tokens[r.clone()], dialect);
                    for rel in ast.relations {
                        if !ctes.contains(&rel) && !info.objects.contains(&rel) {
                            info.objects.push(rel);
                        }
                    }
                }
            }
            Some(_) => parsed = true,
            None => flags.insert(Flags::PARSE_ERROR),
        }
    }

    if infos.len() > 1 {
        flags.insert(Flags::STACKED);
    }
    let mut objects: Vec<String> = Vec::new();
    let mut best = 0;
    for (i, info) in infos.iter().enumerate() {
        flags.insert(info.flags);
        for o in &info.objects {
            if !objects.contains(o) {
                objects.push(o.clone());
            }
        }
        if info.class.risk_rank() > infos[best].class.risk_rank() {
            best = i;
        }
    }
    let best = infos.swap_remove(best);
    let (catalogs, catalog_scope, catalog_only) =
        classify::catalog_read(text, tokens, dialect, &ranges, &objects, flags);
    let (family, family_normalized) = family::family(&lexed.text, dialect, MAX_NORMALIZED_BYTES);
    Analysis {
        class: best.class,
        command: best.command,
        objects,
        flags,
        fingerprint,
        normalized,
        statements: ranges.len() as u32,
        parsed,
        catalogs,
        catalog_scope,
        catalog_only,
        family,
        family_normalized,
    }
}

/// What sqlparser reads: the text as the server executes it (comments removed,
/// versioned-comment content kept, tokens that touch still touching), with every literal
/// replaced by a representative of its form (`'0'`, `X'0'`, `$t$0$t$`, `1`, `.1`, `0x1`).
///
/// The parser's verdict is then a function of the cache key (normalized text, form, literal
/// flags), so a cached analysis is the analysis this text would get: where this lexer and
/// sqlparser read a literal differently, they disagree the same way for every statement of the
/// key, instead of once per literal value (the `sql` fuzz target found one class of such
/// literals per run). Statements whose literals name things (`keep_literals`: accounts, a string
/// where a table is named) keep their literals as written; those are in the key already.
fn parse_text(text: &str, tokens: &[lexer::Token], keep_literals: bool) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut prev_end = None;
    for t in tokens {
        if let Some(end) = prev_end {
            if end != t.start {
                out.push(' ');
            }
        }
        let raw = t.text(text);
        match t.kind {
            _ if keep_literals => out.push_str(raw),
            Kind::Str => match literal_opening(raw.as_bytes()) {
                Opening::Dollar(tag) => {
                    out.push_str(tag);
                    out.push('0');
                    out.push_str(tag);
                }
                Opening::Quote(prefix) => {
                    out.push_str(prefix);
                    out.push('0');
                    out.push_str(&prefix[prefix.len() - 1..]);
                }
                Opening::None => out.push_str(raw),
            },
            Kind::Num => out.push_str(match raw.as_bytes() {
                [b'0', b'x', ..] => "0x1",
                [b'0', b'X', ..] => "0X1",
                [b'0', b'b', ..] => "0b1",
                [b'0', b'B', ..] => "0B1",
                [b'.', ..] => ".1",
                [b'0'] if matches!(b.get(t.end as usize), Some(b'x' | b'X' | b'b' | b'B')) => "0",
                _ => "1",
            }),
            _ => out.push_str(raw),
        }
        prev_end = Some(t.end);
    }
    out
}

/// How a string literal opens: its prefix up to and including the quote (`'`, `x'`, `N'`,
/// `E'`, `U&'`, `_utf8mb4'`), or its dollar tag (`$$`, `$tag$`).
enum Opening<'a> {
    Quote(&'a str),
    Dollar(&'a str),
    None,
}

fn literal_opening(lit: &[u8]) -> Opening<'_> {
    // Every byte before the quote or the closing `$` is ASCII, so the slices are on boundaries.
    let ascii = |end: usize| std::str::from_utf8(&lit[..end]).ok();
    if lit.first() == Some(&b'$') {
        return match lit
            .iter()
            .skip(1)
            .position(|&c| c == b'$')
            .and_then(|p| ascii(p + 2))
        {
            Some(tag) => Opening::Dollar(tag),
            None => Opening::None,
        };
    }
    match lit
        .iter()
        .position(|&c| c == b'\'' || c == b'"')
        .and_then(|p| ascii(p + 1))
    {
        Some(prefix) => Opening::Quote(prefix),
        None => Opening::None,
    }
}

/// The fingerprint of a statement as the analysis computes it (xxh3-64 of the normalized text),
/// or `None` when the text holds no token. For configuration that names statements (the
/// policy's `expected` statements); events get theirs from [`Analyzer`].
pub fn fingerprint_of(sql: &str, dialect: Dialect) -> Option<u64> {
    let mut n = Normalized::default();
    lexer::normalize_into(prefix(sql, MAX_LEX_BYTES), dialect, &mut n);
    (!n.text.is_empty()).then(|| xxhash_rust::xxh3::xxh3_64(n.text.as_bytes()))
}

/// Splits a text into statements at `;` outside strings, comments and routine bodies; each
/// slice is trimmed and holds at least one token. Used by `laneguard classify`.
pub fn split_statements(text: &str, dialect: Dialect) -> impl Iterator<Item = &str> {
    let mut lx = lexer::Lexer::new(text, dialect);
    let mut tokens = Vec::new();
    while let Some(t) = lx.next_token() {
        tokens.push(t);
    }
    let ranges = classify::statement_ranges(text, &tokens);
    let mut out = Vec::with_capacity(ranges.len());
    let mut from = 0usize;
    for r in ranges {
        let last = tokens[r.end - 1];
        // from the end of the previous statement (keeps leading comments, e.g. `/*!…`)
        let start = from;
        let mut end = last.end as usize;
        // keep the closer of a versioned comment that wraps the statement end
        let rest = &text[end..];
        let trimmed = rest.trim_start();
        if trimmed.starts_with("*/") {
            end += rest.len() - trimmed.len() + 2;
        }
        let slice = text.get(start..end).unwrap_or("").trim();
        out.push(slice);
        from = tokens.get(r.end).map_or(end, |t| t.end as usize).max(end);
    }
    out.into_iter()
}

/// Qualifies an object with the session database the way the engine resolves it: MySQL
/// `t` → `db.t`; PostgreSQL `t` → `db.public.t`, `s.t` → `db.s.t`. Prefixed objects
/// (`user:`, `role:`, `database:`) are global and stay as they are; PostgreSQL `schema:s`
/// becomes `schema:db.s`. PostgreSQL assumes the default `search_path` (`public`).
pub fn qualify(object: &str, dialect: Dialect, database: Option<&str>) -> String {
    // `concat`, not `format!`: this runs for every object of every statement event.
    if let Some(schema) = object.strip_prefix("schema:") {
        return match (dialect, database) {
            (Dialect::Postgres, Some(db)) if !schema.contains('.') => ["schema:", db, ".", schema].concat(),
            _ => object.to_owned(),
        };
    }
    if object.contains(':') {
        return object.to_owned();
    }
    let parts = object.split('.').count();
    match dialect {
        Dialect::Postgres => match (parts, database) {
            (1, Some(db)) => [db, ".public.", object].concat(),
            (1, None) => ["public.", object].concat(),
            (2, Some(db)) => [db, ".", object].concat(),
            _ => object.to_owned(),
        },
        Dialect::Mysql | Dialect::Generic => match (parts, database) {
            (1, Some(db)) => [db, ".", object].concat(),
            _ => object.to_owned(),
        },
    }
}

/// Class of an audit-engine command tag logged without statement text: pgaudit tags
/// (`CREATE TABLE AS`, `ALTER ROLE`, `DECLARE CURSOR`, `TRUNCATE TABLE`, `SET`, `COMMIT`, …) and
/// MySQL audit TABLE events (`READ`, `WRITE`, `CREATE`, `ALTER`, `DROP`, `RENAME`).
pub fn class_of_command_tag(tag: &str) -> StatementClass {
    let tag = tag.trim();
    if tag.eq_ignore_ascii_case("READ") {
        return StatementClass::Dql;
    }
    if tag.eq_ignore_ascii_case("WRITE") {
        return StatementClass::Dml;
    }
    if ["CREATE", "ALTER", "DROP", "RENAME"]
        .iter()
        .any(|t| tag.eq_ignore_ascii_case(t))
    {
        return StatementClass::Ddl;
    }
    let mut lx = lexer::Lexer::new(tag, Dialect::Postgres);
    let mut tokens = Vec::new();
    while let Some(t) = lx.next_token() {
        if tokens.len() >= 16 {
            break;
        }
        tokens.push(t);
    }
    if tokens.is_empty() {
        return StatementClass::Unparsed;
    }
    classify::classify_statement(tag, &tokens, Dialect::Postgres).class
}

/// The analysis of a statement known only by its command tag (pgaudit `<previously logged>`,
/// MySQL TABLE events): class from [`class_of_command_tag`], the tag as command and normalized
/// text, no objects or flags (the caller adds the object the audit line names).
pub fn analysis_of_command_tag(tag: &str) -> Analysis {
    let command = tag.trim().to_ascii_uppercase();
    let fingerprint = xxhash_rust::xxh3::xxh3_64(command.as_bytes());
    Analysis {
        class: class_of_command_tag(&command),
        fingerprint,
        family: fingerprint,
        family_normalized: command.clone(),
        normalized: command.clone(),
        command,
        objects: Vec::new(),
        flags: Flags::empty(),
        statements: 0,
        parsed: false,
        catalogs: Catalogs::empty(),
        catalog_scope: CatalogScope::None,
        catalog_only: false,
    }
}

#[cfg(test)]
mod tests;
