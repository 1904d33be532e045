//! Encoding CloudWatch Logs subscription events — the inverse of [`super::decode_lambda_event`].
//!
//! `laneguard envelope` and the tests build Lambda events exactly as a CloudWatch Logs
//! subscription delivers them, so a function can be run locally (`cargo lambda invoke`) on real
//! records and a test proves the same decoder production uses. Event ids are derived
//! deterministically, so a re-encoded file keeps its finding ids.

use std::io::Write;

use serde::Serialize;

/// One log event of a CloudWatch Logs subscription payload to encode.
#[derive(Clone, Copy, Debug)]
pub struct LogEventIn<'a> {
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The log record.
    pub message: &'a str,
}

/// A CloudWatch Logs event id: 56 decimal digits, derived from the timestamp and a digest of
/// group, stream and position (deterministic, so a re-encoded file keeps its finding ids).
pub fn event_id(log_group: &str, log_stream: &str, timestamp_ms: i64, index: usize) -> String {
    let digest =
        xxhash_rust::xxh3::xxh3_128(format!("{log_group}\u{1f}{log_stream}\u{1f}{index}").as_bytes());
    let digits = format!("{:017}{:039}", timestamp_ms.max(0), digest);
    digits[..56].to_owned()
}

/// Build a Lambda event exactly as a CloudWatch Logs subscription delivers it:
/// `{"awslogs":{"data": base64(gzip(payload))}}`, the payload a `DATA_MESSAGE` from `owner` with
/// one log event per item of `events`.
pub fn subscription_event(
    owner: &str,
    log_group: &str,
    log_stream: &str,
    filter_name: &str,
    events: &[LogEventIn<'_>],
) -> std::io::Result<String> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload<'a> {
        message_type: &'a str,
        owner: &'a str,
        log_group: &'a str,
        log_stream: &'a str,
        subscription_filters: [&'a str; 1],
        log_events: Vec<Ev<'a>>,
    }
    #[derive(Serialize)]
    struct Ev<'a> {
        id: String,
        timestamp: i64,
        message: &'a str,
    }
    let payload = Payload {
        message_type: "DATA_MESSAGE",
        owner,
        log_group,
        log_stream,
        subscription_filters: [filter_name],
        log_events: events
            .iter()
            .enumerate()
            .map(|(i, e)| Ev {
                id: event_id(log_group, log_stream, e.timestamp_ms, i),
                timestamp: e.timestamp_ms,
                message: e.message,
            })
            .collect(),
    };
    wrap_payload(&serde_json::to_vec(&payload)?)
}

/// The `CONTROL_MESSAGE` CloudWatch Logs sends when a subscription is created (a reachability
/// check), as a Lambda event.
pub fn control_message_event(timestamp_ms: i64) -> std::io::Result<String> {
    let payload = serde_json::json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{
            "id": "",
            "timestamp": timestamp_ms,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."
        }]
    });
    wrap_payload(&serde_json::to_vec(&payload)?)
}

fn wrap_payload(payload: &[u8]) -> std::io::Result<String> {
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(payload)?;
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish()?);
    Ok(serde_json::json!({ "awslogs": { "data": data } }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_56_digits_and_stable() {
        let a = event_id("g", "s", 1_800_000_000_000, 0);
        assert_eq!(a.len(), 56);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(a, event_id("g", "s", 1_800_000_000_000, 0));
        assert_ne!(a, event_id("g", "s", 1_800_000_000_000, 1));
    }
}
