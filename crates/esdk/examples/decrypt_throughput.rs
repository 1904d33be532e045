//! Decrypt throughput of `laneguard-esdk` on a message written by the AWS Encryption SDK for
//! Python (docs/BENCHMARKS.md, "Decrypting Database Activity Streams"): the numbers behind the
//! choice of this reader over the official `aws-esdk` crate.
//!
//! ```text
//! python tests/fixtures/das/make_fixtures.py --out /tmp/das-offline --bench-out /tmp/das-bench
//! cargo run --release -p laneguard-esdk --example decrypt_throughput -- \
//!     /tmp/das-bench/bench_0378_framed.bin "$(cat /tmp/das-bench/bench_key.hex)" \
//!     /tmp/das-bench/bench_plaintext.bin 20
//! ```
//!
//! Every iteration's plaintext is compared with the expected file, so no figure is for a wrong
//! result.

use std::time::Instant;

fn key(hex: &str) -> Result<[u8; 32], String> {
    let hex = hex.trim();
    let mut k = [0u8; 32];
    if hex.len() != 64 {
        return Err(format!("the data key must be 64 hex digits, not {}", hex.len()));
    }
    for (i, b) in k.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2).ok_or("not hex")?;
        *b = u8::from_str_radix(pair, 16).map_err(|e| e.to_string())?;
    }
    Ok(k)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [message, hex, expected, iterations] = args.as_slice() else {
        return Err(
            "usage: decrypt_throughput <message.bin> <data-key-hex> <plaintext.bin> <iterations>".into(),
        );
    };
    let started = Instant::now();
    let limits = laneguard_esdk::Limits::for_message_size(64 << 20);
    let ready = started.elapsed();
    let key = key(hex)?;
    let message = std::fs::read(message)?;
    let expected = std::fs::read(expected)?;
    let iterations: usize = iterations.parse()?;
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let t = Instant::now();
        let plaintext = laneguard_esdk::decrypt(&message, &key, &limits)?;
        times.push(t.elapsed().as_secs_f64());
        if plaintext != expected {
            return Err("the plaintext differs from the expected file".into());
        }
    }
    times.sort_by(f64::total_cmp);
    let mb = expected.len() as f64 / 1e6;
    let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
    let best = times.first().copied().unwrap_or(f64::NAN);
    println!(
        "ready_us={} plaintext_bytes={} iterations={} median_ms={:.1} median_MBps={:.0} best_MBps={:.0}",
        ready.as_micros(),
        expected.len(),
        times.len(),
        median * 1e3,
        mb / median,
        mb / best
    );
    Ok(())
}
