//! The functions' configuration, read from the environment once, at start-up: a bad value stops
//! the init with the variable's name (and the value), not the first invocation. The table of
//! variables is in `docs/DEPLOY.md`.

use std::path::PathBuf;
use std::time::Duration;

use laneguard_aws::RetryPolicy;
use laneguard_aws::s3::S3Uri;
use laneguard_core::event::Source;
use laneguard_core::finding::Severity;
use laneguard_core::sources::pgaudit::RDS_PREFIX;
use laneguard_core::sources::{FlowFormat, LinePrefix, ParseOptions};

/// Which of the five functions runs: decides the forced source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// CloudTrail log group: every record is CloudTrail.
    CloudTrail,
    /// RDS audit (MySQL/MariaDB) and PostgreSQL log groups: the source comes from the log group
    /// name (`/aws/rds/…/audit` or `…/postgresql`), or `LANEGUARD_SOURCE`.
    RdsAudit,
    /// VPC flow-log group: every record is a flow record.
    VpcFlow,
    /// Database Activity Streams: a Kinesis event source mapping delivers encrypted activity
    /// records; the function gets their data keys from KMS.
    Das,
    /// The per-batch replay function of the fan-out on AWS (docs/REPLAY.md): a Step Functions
    /// Distributed Map hands it batches of archive objects; the source of each object is
    /// detected, as `laneguard replay` does, unless `LANEGUARD_SOURCE` names one.
    Replay,
}

impl FunctionKind {
    /// The function's name in logs and stream names.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::CloudTrail => "cloudtrail",
            FunctionKind::RdsAudit => "rds-audit",
            FunctionKind::VpcFlow => "vpc-flow",
            FunctionKind::Das => "das",
            FunctionKind::Replay => "replay",
        }
    }
}

/// Where a function's policy and rules come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigLocation {
    /// `LANEGUARD_CONFIG=s3://bucket/key[?versionId=…]`: a bundle archive in S3, re-checked every
    /// `LANEGUARD_CONFIG_TTL_SECONDS`.
    S3(S3Uri),
    /// `LANEGUARD_CONFIG=<path>`: a bundle directory or archive on the function's file system (a
    /// layer under `/opt`).
    Bundle(PathBuf),
    /// `LANEGUARD_POLICY` (and optionally `LANEGUARD_RULES`): files; rules default to the pack.
    Files {
        /// Policy file.
        policy: PathBuf,
        /// Rules directory (none: the embedded pack).
        rules: Option<PathBuf>,
    },
    /// The embedded example policy and pack: only with `LANEGUARD_ALLOW_EXAMPLE_POLICY=true`,
    /// and a warning at every cold start.
    Example {
        /// `LANEGUARD_RULES`, when only the rules are the user's.
        rules: Option<PathBuf>,
    },
}

/// Everything a function reads from its environment (see `docs/DEPLOY.md` for the table).
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    /// Which function.
    pub kind: FunctionKind,
    /// Where the policy and rules come from.
    pub config: ConfigLocation,
    /// `LANEGUARD_SKIP_INVALID_RULES`: run on the rules that load when some rule files are
    /// invalid (counted as `SkippedRules`); by default an invalid rule file fails the start-up
    /// (and a reload keeps the running configuration).
    pub skip_invalid_rules: bool,
    /// `LANEGUARD_CONFIG_TTL_SECONDS`: how often an S3 bundle is re-checked (0: only at cold
    /// start; default 300).
    pub config_ttl: Duration,
    /// `LANEGUARD_STATE_TABLE`: DynamoDB table of the threshold windows shared by containers;
    /// none → each container counts alone.
    pub state_table: Option<String>,
    /// `LANEGUARD_METRICS_NAMESPACE`: CloudWatch namespace of the EMF metrics (default
    /// `laneguard`).
    pub metrics_namespace: String,
    /// `LANEGUARD_SNS_TOPIC_ARN`: alert topic; none → no alerts (SIEM and logs only).
    pub sns_topic_arn: Option<String>,
    /// `LANEGUARD_SIEM_LOG_GROUP`: SIEM log group; none → no SIEM records.
    pub siem_log_group: Option<String>,
    /// `LANEGUARD_SIEM_EVENTS`: also write an OCSF activity record for every event.
    pub siem_events: bool,
    /// `LANEGUARD_MIN_SEVERITY`: least severity published to SNS (default `low`).
    pub min_severity: Severity,
    /// The forced source: the function's own, or `LANEGUARD_SOURCE` for rds-audit.
    pub source: Option<Source>,
    /// Parser options: `LANEGUARD_VPC_FORMAT` (vpc-flow), `LANEGUARD_PG_PREFIX` (rds-audit).
    pub parse: ParseOptions,
    /// `LANEGUARD_MAX_ATTEMPTS` (default 5), initial backoff `LANEGUARD_BACKOFF_MS` (100).
    pub retry: RetryPolicy,
    /// `LANEGUARD_DEDUP_CAPACITY`: ids remembered per sink (default 100,000).
    pub dedup_capacity: usize,
    /// `LANEGUARD_STDOUT_FINDINGS`: findings as JSON lines on stdout (default true).
    pub stdout_findings: bool,
    /// `AWS_LAMBDA_FUNCTION_NAME`, for the SIEM stream name.
    pub function_name: String,
    /// `LANEGUARD_KMS_KEY_ID` (das): the KMS key (ARN or alias) the activity streams use; KMS
    /// then refuses data keys of any other key. None: the key named in each ciphertext.
    pub kms_key_id: Option<String>,
    /// `LANEGUARD_KEY_CACHE` (das): decrypted data keys kept per container (default 1024).
    pub key_cache: usize,
}

/// A start-up configuration problem, naming the variable or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {var}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Why it is wrong, and what would be right.
        reason: String,
    },
    /// The policy or the rules did not load (a function does not start on part of its rules).
    #[error(transparent)]
    Detection(#[from] laneguard_core::config::ConfigError),
    /// The S3 bundle could not be read or is not a bundle.
    #[error(transparent)]
    Bundle(#[from] laneguard_aws::s3::BundleLoadError),
    /// The local bundle could not be read or is not a bundle.
    #[error(transparent)]
    LocalBundle(#[from] laneguard_core::bundle::BundleError),
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(var, value, "expected true or false")),
    }
}

fn parse_num<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(var, value, "expected a whole number"))
}

impl FunctionConfig {
    /// Read the configuration of `kind` from the process environment (once, at start-up).
    pub fn from_env(kind: FunctionKind) -> Result<Self, ConfigError> {
        Self::from_vars(kind, |name| std::env::var(name).ok())
    }

    /// Read the configuration from `var` (a lookup; empty values count as unset, as SAM passes
    /// empty parameters).
    pub fn from_vars(kind: FunctionKind, var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let min_severity = match get("LANEGUARD_MIN_SEVERITY") {
            None => Severity::Low,
            Some(v) => {
                serde_json::from_value(serde_json::Value::String(v.to_ascii_lowercase())).map_err(|_| {
                    invalid(
                        "LANEGUARD_MIN_SEVERITY",
                        &v,
                        "expected info, low, medium, high or critical",
                    )
                })?
            }
        };
        let source = match kind {
            FunctionKind::CloudTrail => Some(Source::CloudTrail),
            FunctionKind::VpcFlow => Some(Source::VpcFlow),
            FunctionKind::Das => Some(Source::Das),
            FunctionKind::Replay => match get("LANEGUARD_SOURCE").as_deref() {
                None | Some("auto") => None,
                Some(v) => Some(Source::from_name(v).ok_or_else(|| {
                    invalid(
                        "LANEGUARD_SOURCE",
                        v,
                        "expected auto or a source name (laneguard replay --source)",
                    )
                })?),
            },
            FunctionKind::RdsAudit => match get("LANEGUARD_SOURCE").as_deref() {
                None | Some("auto") => None,
                Some(v) => match Source::from_name(v) {
                    Some(s @ (Source::MysqlAudit | Source::Pgaudit)) => Some(s),
                    _ => {
                        return Err(invalid(
                            "LANEGUARD_SOURCE",
                            v,
                            "expected auto, mysql-audit or pgaudit",
                        ));
                    }
                },
            },
        };
        let vpc_format = match get("LANEGUARD_VPC_FORMAT") {
            Some(v) => Some(FlowFormat::parse(&v).map_err(|e| invalid("LANEGUARD_VPC_FORMAT", &v, e))?),
            None => None,
        };
        let pg_prefix_text = get("LANEGUARD_PG_PREFIX").unwrap_or_else(|| RDS_PREFIX.to_owned());
        let pg_prefix = LinePrefix::compile(&pg_prefix_text)
            .map_err(|e| invalid("LANEGUARD_PG_PREFIX", &pg_prefix_text, e))?;
        let mut retry = RetryPolicy::default();
        if let Some(v) = get("LANEGUARD_MAX_ATTEMPTS") {
            retry.max_attempts = parse_num("LANEGUARD_MAX_ATTEMPTS", &v)?;
            if retry.max_attempts == 0 {
                return Err(invalid("LANEGUARD_MAX_ATTEMPTS", &v, "must be at least 1"));
            }
        }
        if let Some(v) = get("LANEGUARD_BACKOFF_MS") {
            retry.initial_backoff = Duration::from_millis(parse_num("LANEGUARD_BACKOFF_MS", &v)?);
        }
        let sns_topic_arn = get("LANEGUARD_SNS_TOPIC_ARN");
        if let Some(arn) = &sns_topic_arn
            && !arn.starts_with("arn:")
        {
            return Err(invalid(
                "LANEGUARD_SNS_TOPIC_ARN",
                arn,
                "expected a topic ARN (arn:aws:sns:…)",
            ));
        }
        let allow_example = get("LANEGUARD_ALLOW_EXAMPLE_POLICY")
            .map(|v| parse_bool("LANEGUARD_ALLOW_EXAMPLE_POLICY", &v))
            .transpose()?
            .unwrap_or(false);
        let rules = get("LANEGUARD_RULES").map(PathBuf::from);
        let config = match (get("LANEGUARD_CONFIG"), get("LANEGUARD_POLICY")) {
            (Some(c), Some(_)) => {
                return Err(invalid(
                    "LANEGUARD_POLICY",
                    &c,
                    "set LANEGUARD_CONFIG (a bundle) or LANEGUARD_POLICY/LANEGUARD_RULES (files), not both",
                ));
            }
            (Some(c), None) if rules.is_some() => {
                return Err(invalid(
                    "LANEGUARD_RULES",
                    &c,
                    "a bundle (LANEGUARD_CONFIG) carries its own rules/; unset LANEGUARD_RULES",
                ));
            }
            (Some(c), None) if c.starts_with("s3://") => ConfigLocation::S3(
                c.parse()
                    .map_err(|e: String| invalid("LANEGUARD_CONFIG", &c, e))?,
            ),
            (Some(c), None) => ConfigLocation::Bundle(PathBuf::from(c)),
            (None, Some(p)) => ConfigLocation::Files {
                policy: PathBuf::from(p),
                rules,
            },
            (None, None) if allow_example => ConfigLocation::Example { rules },
            (None, None) => {
                return Err(invalid(
                    "LANEGUARD_CONFIG",
                    "",
                    "no policy configured: set LANEGUARD_CONFIG=s3://bucket/key of your bundle (docs/DEPLOY.md), \
                     or LANEGUARD_ALLOW_EXAMPLE_POLICY=true to run on the example policy (its CIDRs and \
                     datastores are not yours)",
                ));
            }
        };
        let config_ttl = Duration::from_secs(
            get("LANEGUARD_CONFIG_TTL_SECONDS")
                .map(|v| parse_num("LANEGUARD_CONFIG_TTL_SECONDS", &v))
                .transpose()?
                .unwrap_or(300),
        );
        Ok(FunctionConfig {
            kind,
            config,
            skip_invalid_rules: get("LANEGUARD_SKIP_INVALID_RULES")
                .map(|v| parse_bool("LANEGUARD_SKIP_INVALID_RULES", &v))
                .transpose()?
                .unwrap_or(false),
            config_ttl,
            state_table: get("LANEGUARD_STATE_TABLE"),
            metrics_namespace: get("LANEGUARD_METRICS_NAMESPACE").unwrap_or_else(|| "laneguard".to_owned()),
            sns_topic_arn,
            siem_log_group: get("LANEGUARD_SIEM_LOG_GROUP"),
            siem_events: get("LANEGUARD_SIEM_EVENTS")
                .map(|v| parse_bool("LANEGUARD_SIEM_EVENTS", &v))
                .transpose()?
                .unwrap_or(false),
            min_severity,
            source,
            parse: ParseOptions {
                vpc_format,
                pg_prefix: Some(pg_prefix),
                mysql_query_log_limit: None,
                keep_rdsadmin: get("LANEGUARD_KEEP_RDSADMIN")
                    .map(|v| parse_bool("LANEGUARD_KEEP_RDSADMIN", &v))
                    .transpose()?
                    .unwrap_or(false),
                // The function's region, from its SDK configuration (`Handler::new`).
                ..ParseOptions::default()
            },
            retry,
            dedup_capacity: get("LANEGUARD_DEDUP_CAPACITY")
                .map(|v| parse_num("LANEGUARD_DEDUP_CAPACITY", &v))
                .transpose()?
                .unwrap_or(laneguard_aws::sent::DEFAULT_CAPACITY),
            stdout_findings: get("LANEGUARD_STDOUT_FINDINGS")
                .map(|v| parse_bool("LANEGUARD_STDOUT_FINDINGS", &v))
                .transpose()?
                .unwrap_or(true),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| format!("laneguard-{}", kind.as_str())),
            kms_key_id: get("LANEGUARD_KMS_KEY_ID"),
            key_cache: match get("LANEGUARD_KEY_CACHE") {
                Some(v) => match parse_num::<usize>("LANEGUARD_KEY_CACHE", &v)? {
                    0 => return Err(invalid("LANEGUARD_KEY_CACHE", &v, "must be at least 1")),
                    n => n,
                },
                None => laneguard_core::envelope::das::DEFAULT_KEY_CACHE,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const EXAMPLE: (&str, &str) = ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true");

    #[test]
    fn config_defaults_and_errors() {
        let c = FunctionConfig::from_vars(FunctionKind::VpcFlow, vars(&[EXAMPLE])).unwrap();
        assert_eq!(c.source, Some(Source::VpcFlow));
        assert_eq!(c.min_severity, Severity::Low);
        assert!(c.sns_topic_arn.is_none() && !c.siem_events);
        assert_eq!(c.config, ConfigLocation::Example { rules: None });
        assert_eq!(c.config_ttl, Duration::from_secs(300));
        let c = FunctionConfig::from_vars(
            FunctionKind::RdsAudit,
            vars(&[
                ("LANEGUARD_MIN_SEVERITY", "HIGH"),
                ("LANEGUARD_SNS_TOPIC_ARN", ""),
                EXAMPLE,
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.source, c.min_severity, c.sns_topic_arn),
            (None, Severity::High, None)
        );
        let e = FunctionConfig::from_vars(
            FunctionKind::RdsAudit,
            vars(&[("LANEGUARD_MIN_SEVERITY", "loud")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LANEGUARD_MIN_SEVERITY"), "{e}");
        let e = FunctionConfig::from_vars(
            FunctionKind::VpcFlow,
            vars(&[("LANEGUARD_VPC_FORMAT", "${nope}")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LANEGUARD_VPC_FORMAT"), "{e}");
        let e = FunctionConfig::from_vars(
            FunctionKind::RdsAudit,
            vars(&[("LANEGUARD_SOURCE", "cloudtrail")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LANEGUARD_SOURCE"), "{e}");
        let c = FunctionConfig::from_vars(
            FunctionKind::Das,
            vars(&[
                EXAMPLE,
                ("LANEGUARD_KEEP_RDSADMIN", "yes"),
                ("LANEGUARD_KMS_KEY_ID", "alias/das"),
                ("LANEGUARD_SKIP_INVALID_RULES", "1"),
            ]),
        )
        .unwrap();
        assert!(c.skip_invalid_rules);
        assert_eq!(c.source, Some(Source::Das));
        assert!(c.parse.keep_rdsadmin);
        assert_eq!(c.kms_key_id.as_deref(), Some("alias/das"));
        assert_eq!(c.key_cache, laneguard_core::envelope::das::DEFAULT_KEY_CACHE);
        for bad in [
            ("LANEGUARD_KEEP_RDSADMIN", "maybe"),
            ("LANEGUARD_KEY_CACHE", "0"),
            ("LANEGUARD_SKIP_INVALID_RULES", "perhaps"),
        ] {
            let e = FunctionConfig::from_vars(FunctionKind::Das, vars(&[EXAMPLE, bad])).unwrap_err();
            assert!(e.to_string().contains(bad.0), "{e}");
        }
    }

    #[test]
    fn the_example_policy_needs_an_opt_in_and_a_bundle_excludes_files() {
        let e = FunctionConfig::from_vars(FunctionKind::VpcFlow, vars(&[])).unwrap_err();
        assert!(
            e.to_string().contains("LANEGUARD_CONFIG") && e.to_string().contains("ALLOW_EXAMPLE"),
            "{e}"
        );
        let c = FunctionConfig::from_vars(
            FunctionKind::VpcFlow,
            vars(&[("LANEGUARD_CONFIG", "s3://cfg/laneguard.tar.gz?versionId=v1")]),
        )
        .unwrap();
        let ConfigLocation::S3(uri) = c.config else {
            panic!("{:?}", c.config)
        };
        assert_eq!(
            (uri.bucket.as_str(), uri.version_id.as_deref()),
            ("cfg", Some("v1"))
        );
        let c = FunctionConfig::from_vars(
            FunctionKind::VpcFlow,
            vars(&[("LANEGUARD_CONFIG", "/opt/laneguard")]),
        )
        .unwrap();
        assert_eq!(c.config, ConfigLocation::Bundle(PathBuf::from("/opt/laneguard")));
        for bad in [
            &[("LANEGUARD_CONFIG", "s3://b/k"), ("LANEGUARD_POLICY", "/p.toml")][..],
            &[("LANEGUARD_CONFIG", "s3://b/k"), ("LANEGUARD_RULES", "/r")][..],
            &[("LANEGUARD_CONFIG", "s3://")][..],
            &[
                ("LANEGUARD_CONFIG", "s3://b/k"),
                ("LANEGUARD_CONFIG_TTL_SECONDS", "soon"),
            ][..],
        ] {
            assert!(
                FunctionConfig::from_vars(FunctionKind::VpcFlow, vars(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
