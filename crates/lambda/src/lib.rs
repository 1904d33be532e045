//! laneguard's Lambda adapter: everything the functions do but choose their source.
//!
//! Each function's `main.rs` is one call, [`run`]`(FunctionKind::…)`, which reads the
//! environment once ([`env::FunctionConfig`]), loads the AWS SDK configuration
//! ([`laneguard_aws::sdk`]), builds the [`handler::Handler`] (policy, rules and sinks, once per
//! container) and serves invocations through the Lambda runtime. Tests call the handler directly,
//! or the built function through the real runtime interface (`cargo lambda`).

pub mod env;
pub mod handler;
pub mod metrics;
pub mod replay;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use env::{ConfigError, FunctionConfig, FunctionKind};
pub use handler::{Handler, HandlerError, InvocationReport};

/// The error a function's `main` returns (the Lambda runtime's own boxed error).
pub type Error = lambda_runtime::Error;

/// Run the function of `kind`: JSON logs on stdout (what Lambda ships to CloudWatch Logs),
/// configuration and SDK clients and the compiled engine once per container — any error there
/// fails the init with its coordinates — then serve invocations until the runtime stops.
pub fn run(kind: FunctionKind) -> Result<(), Error> {
    // `LANEGUARD_LOG`: `level` or `target=level,…` (tracing's `Targets`, no regex directives:
    // `EnvFilter` would turn on regex-automata's DFA builder for every regex the rules compile,
    // tripling the init time).
    let filter = std::env::var("LANEGUARD_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .finish()
        .with(filter)
        .init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|_| format!("laneguard-{}", kind.as_str()));
        let namespace =
            std::env::var("LANEGUARD_METRICS_NAMESPACE").unwrap_or_else(|_| "laneguard".to_owned());
        let config = match FunctionConfig::from_env(kind) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "configuration invalid; the function does not start");
                handler::report_init_failure(&namespace, &function);
                return Err(e.into());
            }
        };
        let sdk = laneguard_aws::sdk::load(&config.retry).await;
        if kind == FunctionKind::Replay {
            return serve_replay(&config, &sdk, &namespace, &function).await;
        }
        let handler = match Handler::new(&config, &sdk).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "configuration invalid; the function does not start");
                handler::report_init_failure(&config.metrics_namespace, &config.function_name);
                return Err(e.into());
            }
        };
        tracing::info!(function = kind.as_str(), ?handler, "laneguard ready");
        let handler = &handler;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
            handler
                .handle(event.payload.get().as_bytes())
                .await
                .map_err(Error::from)
        }))
        .await
    })
}

/// The replay function's loop: [`replay::ReplayFunction`] per invocation; its summary is the
/// response Step Functions records.
async fn serve_replay(
    config: &FunctionConfig,
    sdk: &aws_config::SdkConfig,
    namespace: &str,
    function: &str,
) -> Result<(), Error> {
    let replay = match replay::ReplayFunction::new(config, sdk).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "configuration invalid; the function does not start");
            handler::report_init_failure(namespace, function);
            return Err(e.into());
        }
    };
    tracing::info!(function = "replay", ?replay, "laneguard ready");
    let replay = &replay;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        replay.handle(event.payload.get().as_bytes()).await.map_err(|e| {
            tracing::error!(error = %e, "replay batch failed");
            Error::from(e)
        })
    }))
    .await
}
