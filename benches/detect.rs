//! Detection throughput: the same replay path as `benches/parse.rs`, with the embedded policy,
//! the policy checks and the full default rule pack — the difference to `parse` is the cost of
//! enrichment and rule matching.
//!
//! `cargo bench --bench detect` — results: docs/BENCHMARKS.md.

// A benchmark states its set-up by failing loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::corpus;

use laneguard_core::config::{Config, Sources};
use laneguard_core::engine::Engine;
use laneguard_core::event::Event;
use laneguard_core::finding::Finding;
use laneguard_core::input::{self, InputOptions};
use laneguard_core::pipeline::{Output, Pipeline};
use laneguard_core::sources::ParseOptions;

struct Count(u64, u64);

impl Output for Count {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        black_box(event);
        self.0 += 1;
    }
    fn findings(&mut self, findings: &[Finding]) {
        self.1 += findings.len() as u64;
    }
}

fn engine() -> Engine {
    Config::load(&Sources::embedded())
        .and_then(Config::require_all_rules)
        .expect("the embedded configuration loads")
        .engine()
}

fn run(bytes: &[u8]) -> (u64, u64) {
    let mut out = Count(0, 0);
    {
        let mut engine = engine();
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut out);
        input::read_stream("bench", bytes, &InputOptions::default(), &mut pipeline);
    }
    (out.0, out.1)
}

fn full_pack(c: &mut Criterion) {
    let cases = [
        ("mysql-audit", "mariadb-server-audit-captured.log"),
        ("pgaudit", "pgaudit-captured.log"),
        ("cloudtrail", "cloudtrail-records.jsonl"),
        ("vpc-flow", "vpc-flow-v5-traffic-path.log"),
    ];
    for (name, file) in cases {
        let data = corpus(file, 2 << 20);
        let (events, _) = run(&data);
        let mut g = c.benchmark_group(format!("detect/{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(events));
        g.bench_function("full-pack", |b| b.iter(|| run(black_box(&data))));
        g.finish();
    }
}

criterion_group!(benches, full_pack);
criterion_main!(benches);
