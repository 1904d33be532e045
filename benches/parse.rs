//! Parse throughput per source: the real replay path (framing, parsing, SQL analysis with its
//! cache) over an in-memory corpus built by repeating the real records of `samples/reference/`.
//!
//! `cargo bench --bench parse` — results and how to read them: docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::corpus;

use laneguard_core::engine::Engine;
use laneguard_core::event::Event;
use laneguard_core::finding::Finding;
use laneguard_core::input::{self, InputOptions};
use laneguard_core::pipeline::{Output, Pipeline};
use laneguard_core::sources::ParseOptions;

struct Count(u64);

impl Output for Count {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        black_box(event);
        self.0 += 1;
    }
    fn findings(&mut self, _findings: &[Finding]) {}
}

fn run(bytes: &[u8]) -> u64 {
    let mut out = Count(0);
    {
        let mut engine = Engine::default();
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut out);
        input::read_stream("bench", bytes, &InputOptions::default(), &mut pipeline);
    }
    out.0
}

fn sources(c: &mut Criterion) {
    let cases = [
        ("mysql-audit", "mariadb-server-audit-captured.log"),
        ("pgaudit", "pgaudit-captured.log"),
        ("cloudtrail", "cloudtrail-records.jsonl"),
        ("vpc-flow", "vpc-flow-v5-traffic-path.log"),
    ];
    for (name, file) in cases {
        let data = corpus(file, 4 << 20);
        let records = run(&data);
        let mut g = c.benchmark_group(format!("replay/{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("bytes", |b| b.iter(|| run(black_box(&data))));
        g.throughput(Throughput::Elements(records));
        g.bench_function("records", |b| b.iter(|| run(black_box(&data))));
        g.finish();
    }
}

criterion_group!(benches, sources);
criterion_main!(benches);
