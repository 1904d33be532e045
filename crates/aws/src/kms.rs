//! The data keys of encrypted Database Activity Streams records: KMS `Decrypt` with the RDS
//! encryption context.
//!
//! RDS encrypts every activity record under a data key it got from the customer's KMS key with
//! the encryption context `{"aws:rds:dbc-id": "cluster-…"}` (an Aurora cluster's stream) or
//! `{"aws:rds:db-id": "db-…"}` (an instance's); KMS decrypts the key only with that context, and
//! the functions' IAM policy allows `kms:Decrypt` only with an `aws:rds:*` context. Throttling,
//! 5xx and transport errors are retried by the SDK's standard strategy ([`crate::sdk::load`]);
//! what still fails is classified: [`KmsFailure::retryable`] when a later delivery of the same
//! record may succeed (throttling, KMS internal errors, a key temporarily unavailable, the
//! function's own permission or the key's state — an operator fixes those, and the record must
//! not be lost meanwhile), not when it never will (a ciphertext KMS does not accept with this
//! context: wrong context, tampered or foreign ciphertext, a deleted key).

use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;

use laneguard_core::envelope::das::{
    DEFAULT_KEY_CACHE, DataKey, DataKeys, EncryptionContext, KeyCache, KeyError, KeyRequest,
};

/// A KMS client that decrypts data keys (optionally pinned to one key).
#[derive(Clone, Debug)]
pub struct DataKeyClient {
    client: aws_sdk_kms::Client,
    key_id: Option<String>,
}

/// Why KMS gave no data key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("KMS Decrypt with context {context}: {message}")]
pub struct KmsFailure {
    /// A later delivery of the record may succeed.
    pub retryable: bool,
    /// The context the call used.
    pub context: String,
    /// What KMS (or the transport) said.
    pub message: String,
}

impl KmsFailure {
    /// The failure as the engine's [`KeyError`].
    pub fn into_key_error(self) -> KeyError {
        let text = self.to_string();
        if self.retryable {
            KeyError::Retry(text)
        } else {
            KeyError::Refused(text)
        }
    }
}

/// Error codes after which the same call can never succeed for this ciphertext and context.
const PERMANENT: &[&str] = &[
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "InvalidKeyUsageException",
    "NotFoundException",
    "InvalidGrantTokenException",
    "ValidationException",
];

impl DataKeyClient {
    /// A client from the SDK configuration; `key_id` (a key ARN or alias) makes KMS refuse a
    /// ciphertext of any other key.
    pub fn new(sdk: &aws_config::SdkConfig, key_id: Option<String>) -> Self {
        DataKeyClient {
            client: aws_sdk_kms::Client::new(sdk),
            key_id,
        }
    }

    /// Decrypt one data key.
    pub async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsFailure> {
        let failure = |retryable: bool, message: String| KmsFailure {
            retryable,
            context: context.to_string(),
            message,
        };
        let out = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_context(context.key, &*context.resource_id)
            .set_key_id(self.key_id.clone())
            .send()
            .await
            .map_err(|e| failure(retryable(&e), describe(&e)))?;
        let plaintext = out
            .plaintext()
            .ok_or_else(|| failure(false, "the answer has no plaintext".into()))?;
        DataKey::from_slice(plaintext.as_ref()).ok_or_else(|| {
            failure(
                false,
                format!("a data key of {} bytes (RDS uses 32)", plaintext.as_ref().len()),
            )
        })
    }
}

/// Data keys for a synchronous caller (`laneguard replay --kms`): each record's key is asked of
/// KMS as the record comes — the call blocks on the caller's runtime, which must not be the one
/// it runs in — and remembered per (ciphertext, context), so a capture costs one call per
/// distinct key.
pub struct BlockingKeys {
    runtime: tokio::runtime::Runtime,
    client: DataKeyClient,
    cache: KeyCache,
    default_context: Option<EncryptionContext>,
    calls: u64,
}

impl std::fmt::Debug for BlockingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingKeys")
            .field("cache", &self.cache)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl BlockingKeys {
    /// Keys from `client`, with calls run on `runtime`; `resource_id` (`cluster-…`, `db-…`) is
    /// the encryption context of records that name no stream.
    pub fn new(runtime: tokio::runtime::Runtime, client: DataKeyClient, resource_id: Option<&str>) -> Self {
        BlockingKeys {
            runtime,
            client,
            cache: KeyCache::new(DEFAULT_KEY_CACHE),
            default_context: resource_id.and_then(EncryptionContext::of_resource),
            calls: 0,
        }
    }

    /// KMS calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }
}

impl DataKeys for BlockingKeys {
    fn data_key(&mut self, request: &KeyRequest<'_>) -> Result<DataKey, KeyError> {
        let context = request
            .context
            .cloned()
            .or_else(|| self.default_context.clone())
            .ok_or_else(|| {
                KeyError::Refused(
                    "no encryption context: the record names no activity stream (aws-rds-das-<resource id>); \
                     pass --das-resource-id cluster-… or db-…"
                        .into(),
                )
            })?;
        if let Some(key) = self.cache.get(request.ciphertext, &context) {
            return Ok(key);
        }
        self.calls += 1;
        let key = self
            .runtime
            .block_on(self.client.decrypt(request.ciphertext, &context))
            .map_err(KmsFailure::into_key_error)?;
        self.cache.insert(request.ciphertext, &context, key.clone());
        Ok(key)
    }
}

/// What KMS said, briefly: the error code and message of a service error (not the whole HTTP
/// exchange), else the transport error with its causes.
fn describe(e: &SdkError<DecryptError>) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let code = err.code().unwrap_or("an unnamed error");
            match err.message() {
                Some(m) => format!("{code}: {m} (HTTP {})", s.raw().status().as_u16()),
                None => format!("{code} (HTTP {})", s.raw().status().as_u16()),
            }
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

/// Whether a failed `Decrypt` may succeed on a later delivery.
fn retryable(e: &SdkError<DecryptError>) -> bool {
    match e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("");
            let status = s.raw().status().as_u16();
            !(PERMANENT.contains(&code) || (status < 500 && code.is_empty() && status != 429))
        }
        // Timeouts, connection failures, an unreadable answer: the service may answer later.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_become_key_errors() {
        let f = KmsFailure {
            retryable: true,
            context: "{\"aws:rds:dbc-id\": \"cluster-A\"}".into(),
            message: "ThrottlingException".into(),
        };
        assert!(matches!(f.clone().into_key_error(), KeyError::Retry(m) if m.contains("cluster-A")));
        let f = KmsFailure {
            retryable: false,
            ..f
        };
        assert!(matches!(f.into_key_error(), KeyError::Refused(_)));
    }
}
