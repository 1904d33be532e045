//! The envelope decoder on attacker-shaped bytes: Lambda events (CloudWatch Logs
//! subscriptions, Kinesis, Firehose), documents, gzip and base64 layers. Every record or
//! failure must reach the sink; nothing may panic or grow past the limits.
#![no_main]

use laneguard_core::diagnostic::Diagnostic;
use laneguard_core::envelope::{self, DocContext, RawRecord, RecordSink, Skip};
use laneguard_core::event::Origin;
use libfuzzer_sys::fuzz_target;

/// Records handed out must respect the record limit (a longer one is a diagnostic).
const MAX_RECORD: usize = 1 << 16;

#[derive(Default)]
struct Count {
    records: usize,
}

impl RecordSink for Count {
    fn record(&mut self, record: RawRecord<'_>) {
        self.records += 1;
        assert!(
            record.text.len() <= MAX_RECORD,
            "a record of {} bytes passed the limit",
            record.text.len()
        );
    }
    fn skipped(&mut self, _reason: Skip, _origin: &Origin<'_>) {}
    fn diagnostic(&mut self, _diagnostic: Diagnostic) {}
}

fuzz_target!(|data: &[u8]| {
    let ctx = DocContext {
        limits: envelope::Limits {
            max_document: 1 << 20,
            max_stream: 1 << 20,
            max_record: MAX_RECORD,
        },
        source: None,
    };
    let origin = Origin::default();
    let mut sink = Count::default();
    envelope::decode_lambda_event(data, &origin, &ctx, &mut sink);
    if let Ok(text) = std::str::from_utf8(data) {
        envelope::decode_document(text, &origin, &ctx, &mut sink);
        envelope::decode_concatenated(text, &origin, &ctx, &mut sink);
    }
    std::hint::black_box(sink.records);
});
