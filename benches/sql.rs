//! SQL analysis throughput: full analysis (cache disabled by unique shapes), cache hits, and the
//! token fallback (statements sqlparser rejects). Reported as statements per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use laneguard_core::sql::{Analyzer, Dialect};

const SHAPES: &[(Dialect, &str)] = &[
    (Dialect::Mysql, "SELECT id, email FROM users WHERE id = 17"),
    (
        Dialect::Mysql,
        "UPDATE users SET email = 'x@example.com' WHERE id = 2",
    ),
    (
        Dialect::Mysql,
        "INSERT INTO orders (uid, total, note) VALUES (5, 19.99, 'gift'), (6, 5.00, '')",
    ),
    (
        Dialect::Mysql,
        "SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.uid WHERE o.created_at > '2024-01-01' ORDER BY o.id DESC LIMIT 50",
    ),
    (
        Dialect::Postgres,
        "SELECT count(*) FROM public.users WHERE email LIKE $1",
    ),
    (
        Dialect::Postgres,
        "DELETE FROM sessions WHERE expires_at < now() - interval '1 day'",
    ),
    (
        Dialect::Postgres,
        "WITH d AS (DELETE FROM t WHERE id = 3 RETURNING *) SELECT * FROM d",
    ),
    (Dialect::Mysql, "SET NAMES utf8mb4"),
];

const FALLBACK: &[(Dialect, &str)] = &[
    (Dialect::Mysql, "CREATE USER 'app'@'%' IDENTIFIED BY 'secret'"),
    (Dialect::Mysql, "SELECT * FROM users INTO OUTFILE '/tmp/x'"),
    (Dialect::Mysql, "set global serv"),
    (Dialect::Postgres, "CREATE ROLE app LOGIN PASSWORD <REDACTED>"),
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sql");
    g.throughput(Throughput::Elements(1));

    // Miss path: capacity 1 and alternating shapes force a full analysis on every call.
    let mut miss = Analyzer::new(1);
    let mut i = 0usize;
    g.bench_function("parse_no_cache", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let (d, s) = SHAPES[i % SHAPES.len()];
            black_box(miss.analyze(black_box(s), d));
        })
    });

    // Hit path: same shapes with varying literals; one lex-and-hash plus a lookup each.
    let mut hit = Analyzer::new(1024);
    let varied: Vec<(Dialect, String)> = (0..64)
        .map(|k| {
            let (d, s) = SHAPES[k % SHAPES.len()];
            (
                d,
                s.replace("17", &k.to_string())
                    .replace("x@example.com", &format!("u{k}@example.com")),
            )
        })
        .collect();
    for (d, s) in &varied {
        hit.analyze(s, *d);
    }
    let mut j = 0usize;
    g.bench_function("cache_hit", |b| {
        b.iter(|| {
            j = j.wrapping_add(1);
            let (d, s) = &varied[j % varied.len()];
            black_box(hit.analyze(black_box(s), *d));
        })
    });

    let mut fb = Analyzer::new(1);
    let mut k = 0usize;
    g.bench_function("fallback_no_cache", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            let (d, s) = FALLBACK[k % FALLBACK.len()];
            black_box(fb.analyze(black_box(s), d));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
