//! Each source parser through the real input framing (PostgreSQL multi-line entries, VPC flow
//! header lines, CloudTrail archives, Activity Streams records): the first byte picks the source
//! (or detection), the rest is the file. Checks the pipeline's invariants (`laneguard_fuzz::run`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let source = laneguard_fuzz::SOURCES[usize::from(selector) % laneguard_fuzz::SOURCES.len()];
    // No rules: the parsers and the SQL analysis alone (the `pipeline` target adds detection).
    laneguard_fuzz::run("fuzz.log", file, source, laneguard_fuzz::bare_engine());
});
