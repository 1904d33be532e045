//! laneguard's replay function, the worker of the fan-out on AWS: a Step Functions Distributed
//! Map lists an archive prefix in S3 and hands this function batches of objects; it replays
//! each batch through the same engine as `laneguard replay` and writes findings (JSON lines and
//! OCSF) and a summary under an output prefix; a last invocation merges the summaries
//! (docs/REPLAY.md). Everything but the choice of function is `laneguard_lambda::run`.

fn main() -> Result<(), laneguard_lambda::Error> {
    laneguard_lambda::run(laneguard_lambda::FunctionKind::Replay)
}
