//! laneguard's Lambda function for the RDS audit and PostgreSQL log groups: a CloudWatch Logs subscription delivers batches,
//! laneguard detects, alerts go to SNS and OCSF records to the SIEM log group. Everything but
//! the choice of source is `laneguard_lambda::run` (docs/DEPLOY.md).

fn main() -> Result<(), laneguard_lambda::Error> {
    laneguard_lambda::run(laneguard_lambda::FunctionKind::RdsAudit)
}
