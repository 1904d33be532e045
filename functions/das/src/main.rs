//! laneguard's Lambda function for Aurora and RDS Database Activity Streams: a Kinesis event
//! source mapping delivers batches of encrypted activity records, laneguard decrypts them (KMS
//! for the data key, its own AWS Encryption SDK reader for the message), detects, alerts go to
//! SNS and OCSF records to the SIEM log group. Everything but the choice of source is
//! `laneguard_lambda::run` (docs/DEPLOY.md).

fn main() -> Result<(), laneguard_lambda::Error> {
    laneguard_lambda::run(laneguard_lambda::FunctionKind::Das)
}
