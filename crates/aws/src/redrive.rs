//! Reading the functions' on-failure queue, for `laneguard redrive`.
//!
//! When a function still fails after Lambda's asynchronous retries (a sink that kept failing),
//! Lambda parks the invocation on the on-failure destination: an SQS message whose body is the
//! destination record — `requestContext` (request id, function ARN, `condition`), the original
//! event as `requestPayload`, and `responseContext`/`responsePayload`. The core's envelope
//! decoder reads such a record like any other document (its `requestPayload` is the original
//! subscription event), so re-running detection is replay; this module only receives and
//! deletes messages. A message is deleted only after its findings were delivered, so a redrive
//! that fails half-way loses nothing; finding ids are deterministic, so one that is repeated
//! raises no new alert.

use aws_sdk_sqs::Client;
use serde::Deserialize;

/// One message of the queue.
#[derive(Clone, Debug)]
pub struct QueuedBatch {
    /// SQS message id (for reports).
    pub message_id: String,
    /// What deletes it.
    pub receipt_handle: String,
    /// The body: a Lambda destination record, or something else.
    pub body: String,
}

/// A queue call that failed (after the SDK's retries), naming the queue.
#[derive(Debug, thiserror::Error)]
#[error("SQS queue {queue_url}: {reason}")]
pub struct QueueError {
    /// The queue.
    pub queue_url: String,
    /// What SQS said.
    pub reason: String,
}

/// The shape of a Lambda destination record, as far as telling it apart needs.
#[derive(Deserialize)]
struct DestinationRecord<'a> {
    #[serde(rename = "requestContext", borrow)]
    request_context: Option<&'a serde_json::value::RawValue>,
    #[serde(rename = "requestPayload", borrow)]
    request_payload: Option<&'a serde_json::value::RawValue>,
}

/// Whether `body` is a Lambda on-failure destination record (with the original event).
pub fn is_destination_record(body: &str) -> bool {
    serde_json::from_str::<DestinationRecord<'_>>(body)
        .is_ok_and(|r| r.request_context.is_some() && r.request_payload.is_some())
}

/// An SQS client for `sdk`.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    Client::new(sdk)
}

/// Receive up to 10 messages (waiting at most `wait_seconds` for the first), hidden from other
/// readers for `visibility_seconds` while this redrive handles them.
pub async fn receive(
    client: &Client,
    queue_url: &str,
    wait_seconds: i32,
    visibility_seconds: i32,
) -> Result<Vec<QueuedBatch>, QueueError> {
    let out = client
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .visibility_timeout(visibility_seconds)
        .send()
        .await
        .map_err(|e| QueueError {
            queue_url: queue_url.to_owned(),
            reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
        })?;
    Ok(out
        .messages()
        .iter()
        .filter_map(|m| {
            Some(QueuedBatch {
                message_id: m.message_id()?.to_owned(),
                receipt_handle: m.receipt_handle()?.to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

/// Delete a handled message.
pub async fn delete(client: &Client, queue_url: &str, batch: &QueuedBatch) -> Result<(), QueueError> {
    client
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(&batch.receipt_handle)
        .send()
        .await
        .map_err(|e| QueueError {
            queue_url: queue_url.to_owned(),
            reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_records_are_told_apart() {
        assert!(is_destination_record(
            r#"{"version":"1.0","timestamp":"2026-11-28T00:00:00.000Z","requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:1:function:f:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"awslogs":{"data":"x"}},"responseContext":{"statusCode":200},"responsePayload":{"errorMessage":"m"}}"#
        ));
        assert!(!is_destination_record(r#"{"awslogs":{"data":"x"}}"#));
        assert!(!is_destination_record("hello"));
    }
}
