//! laneguard's Lambda function for the CloudTrail log group: a CloudWatch Logs subscription delivers batches,
//! laneguard detects, and alerts go to SNS, OCSF records to the SIEM log group, findings to the
//! function's own log. Only wiring: everything else is `laneguard::lambda` (docs/DEPLOY.md).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use laneguard::lambda::{FunctionConfig, FunctionKind, Handler, aws_sdk_config};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LANEGUARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
    // Configuration, SDK clients and the compiled engine: once per container, errors at init.
    let config = FunctionConfig::from_env(FunctionKind::CloudTrail)?;
    let sdk = aws_sdk_config(&config.retry).await;
    let handler = Handler::new(&config, &sdk)?;
    tracing::info!(function = "cloudtrail", ?handler, "laneguard ready");
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        handler
            .handle(event.payload.get().as_bytes())
            .await
            .map_err(Error::from)
    }))
    .await
}
