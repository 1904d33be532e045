//! CloudTrail records (FORMATS.md §2): one JSON record per CloudWatch Logs event, or one item of
//! an S3 archive's `Records` array.
//!
//! Only the fields rules use are deserialized, borrowed from the record text; request and response
//! parameters stay raw JSON to be read lazily. Unknown fields are ignored, `null` is accepted
//! wherever AWS writes it, and string-typed booleans (`mfaAuthenticated`) stay strings.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{ParseError, Parsed, Warnings, split_host, time_or_fallback, truncate_for_message};
use crate::diagnostic::DiagnosticKind;
use crate::envelope::{RawRecord, Skip};
use crate::event::{
    Actor, ApiCall, ApiResource, DatastoreKind, Event, Kind, MAX_API_RESOURCES, Source, Target,
};
use crate::time;

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "eventTime", borrow, default)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow, default)]
    event_source: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow, default)]
    region: Option<Cow<'a, str>>,
    #[serde(rename = "sourceIPAddress", borrow, default)]
    source_ip: Option<Cow<'a, str>>,
    #[serde(rename = "userAgent", borrow, default)]
    user_agent: Option<Cow<'a, str>>,
    #[serde(rename = "errorCode", borrow, default)]
    error_code: Option<Cow<'a, str>>,
    #[serde(rename = "errorMessage", borrow, default)]
    error_message: Option<Cow<'a, str>>,
    #[serde(rename = "requestParameters", borrow, default)]
    request: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow, default)]
    response: Option<&'a RawValue>,
    #[serde(rename = "additionalEventData", borrow, default)]
    additional: Option<&'a RawValue>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventType", borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(rename = "eventCategory", borrow, default)]
    event_category: Option<Cow<'a, str>>,
    #[serde(rename = "readOnly", default, deserialize_with = "lenient_bool")]
    read_only: Option<bool>,
    #[serde(rename = "recipientAccountId", borrow, default)]
    recipient_account: Option<Cow<'a, str>>,
    #[serde(rename = "vpcEndpointId", borrow, default)]
    vpc_endpoint: Option<Cow<'a, str>>,
    #[serde(rename = "userIdentity", borrow, default)]
    identity: Option<Identity<'a>>,
    #[serde(borrow, default)]
    resources: Option<Vec<ResourceItem<'a>>>,
}

/// An item of `resources`.
#[derive(Deserialize)]
struct ResourceItem<'a> {
    #[serde(rename = "ARN", borrow, default)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Identity<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", borrow, default)]
    account: Option<Cow<'a, str>>,
    #[serde(rename = "accessKeyId", borrow, default)]
    access_key: Option<Cow<'a, str>>,
    #[serde(rename = "userName", borrow, default)]
    user_name: Option<Cow<'a, str>>,
    #[serde(rename = "invokedBy", borrow, default)]
    invoked_by: Option<Cow<'a, str>>,
    #[serde(rename = "sessionContext", borrow, default)]
    session: Option<SessionContext<'a>>,
}

#[derive(Deserialize, Default)]
struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow, default)]
    issuer: Option<Issuer<'a>>,
    #[serde(borrow, default)]
    attributes: Option<Attributes<'a>>,
}

#[derive(Deserialize, Default)]
struct Issuer<'a> {
    #[serde(borrow, default)]
    arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Attributes<'a> {
    #[serde(rename = "mfaAuthenticated", borrow, default)]
    mfa: Option<Cow<'a, str>>,
}

/// The datastore a request names, when it names one.
#[derive(Deserialize, Default)]
struct RequestTarget<'a> {
    #[serde(rename = "dBInstanceIdentifier", borrow, default)]
    db_instance: Option<Cow<'a, str>>,
    #[serde(rename = "dBClusterIdentifier", borrow, default)]
    db_cluster: Option<Cow<'a, str>>,
    #[serde(rename = "clusterIdentifier", borrow, default)]
    redshift_cluster: Option<Cow<'a, str>>,
    #[serde(rename = "tableName", borrow, default)]
    table: Option<Cow<'a, str>>,
    /// A parameter group names the datastores that use it only through the policy (a
    /// datastore's `match` may list its group): the audit configuration lives there.
    #[serde(rename = "dBParameterGroupName", borrow, default)]
    parameter_group: Option<Cow<'a, str>>,
    #[serde(rename = "dBClusterParameterGroupName", borrow, default)]
    cluster_parameter_group: Option<Cow<'a, str>>,
    /// An option group (MySQL/MariaDB audit plugin options), named like a parameter group.
    #[serde(rename = "optionGroupName", borrow, default)]
    option_group: Option<Cow<'a, str>>,
    /// Activity streams name their database by ARN (`…:cluster:<id>`, `…:db:<id>`).
    #[serde(rename = "resourceArn", borrow, default)]
    resource_arn: Option<Cow<'a, str>>,
}

/// The datastore id and kind an RDS ARN names (`arn:aws:rds:<region>:<account>:cluster:<id>`,
/// `…:db:<id>`).
fn rds_arn_target(arn: &str) -> Option<(Cow<'_, str>, DatastoreKind)> {
    let mut parts = arn.splitn(7, ':');
    let (arn_, _, service) = (parts.next()?, parts.next()?, parts.next()?);
    if arn_ != "arn" || service != "rds" {
        return None;
    }
    let (_region, _account, kind, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let kind = match kind {
        "cluster" => DatastoreKind::RdsCluster,
        "db" => DatastoreKind::RdsInstance,
        _ => return None,
    };
    (!id.is_empty()).then(|| (Cow::Owned(id.to_owned()), kind))
}

/// `true`/`false` or their string forms (seen in older and hand-made records).
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B<'a> {
        Bool(bool),
        Str(&'a str),
    }
    Ok(match Option::<B<'_>>::deserialize(d)? {
        Some(B::Bool(b)) => Some(b),
        Some(B::Str("true")) => Some(true),
        Some(B::Str("false")) => Some(false),
        _ => None,
    })
}

/// Parse one CloudTrail record.
pub fn parse<'a>(record: &RawRecord<'a>, warnings: &mut Warnings) -> Result<Parsed<'a>, ParseError> {
    let r: Record<'a> = serde_json::from_str(record.text.trim()).map_err(|e| ParseError {
        kind: DiagnosticKind::Json,
        reason: format!(
            "not a CloudTrail record: {e} (record starts {:?})",
            truncate_for_message(record.text, 60)
        ),
    })?;
    // Insights records (in archives beside the management events) have no caller and record
    // no activity of one: skipped, not an event.
    if r.event_type.as_deref() == Some("AwsCloudTrailInsight") && r.identity.is_none() {
        return Ok(Parsed::Skip(Skip::CloudTrailInsight));
    }
    let (Some(service), Some(action)) = (r.event_source, r.event_name) else {
        return Err(ParseError::format(
            "CloudTrail record without eventSource or eventName",
        ));
    };
    let raw_time = r.event_time.as_deref().unwrap_or("");
    let time = time_or_fallback(time::parse_rfc3339(raw_time), raw_time, record, warnings);

    let identity = r.identity.unwrap_or_default();
    let session = identity.session.unwrap_or_default();
    let user = identity.user_name.or_else(|| {
        // Assumed roles: the session name is the last segment of the ARN.
        identity
            .arn
            .as_deref()
            .filter(|a| a.contains(":assumed-role/"))
            .and_then(|a| a.rsplit('/').next())
            .map(|s| Cow::Owned(s.to_owned()))
    });
    let mut actor = Actor {
        user,
        principal: identity.arn.filter(|a| !a.is_empty()),
        principal_type: identity.kind,
        session_issuer: session.issuer.and_then(|i| i.arn),
        account: identity.account,
        access_key: identity.access_key.filter(|k| !k.is_empty()),
        mfa: session.attributes.and_then(|a| a.mfa),
        user_agent: r.user_agent,
        ..Actor::default()
    };
    if let Some(ip) = &r.source_ip {
        let (addr, _, name) = split_host(ip);
        actor.ip = addr;
        if name.is_some() {
            actor.host = r.source_ip.clone();
        }
    } else if let Some(by) = identity.invoked_by {
        actor.host = Some(by);
    }
    let (datastore, datastore_kind) = r
        .request
        .and_then(|raw| serde_json::from_str::<RequestTarget<'a>>(raw.get()).ok())
        .and_then(|t| {
            [
                (t.db_instance, Some(DatastoreKind::RdsInstance)),
                (t.db_cluster, Some(DatastoreKind::RdsCluster)),
                (t.redshift_cluster, Some(DatastoreKind::RedshiftCluster)),
                (t.table, Some(DatastoreKind::DynamodbTable)),
                // Not a datastore of its own: no kind, so no ARN is made of it.
                (t.parameter_group, None),
                (t.cluster_parameter_group, None),
                (t.option_group, None),
            ]
            .into_iter()
            .find_map(|(id, kind)| id.map(|id| (id, kind)))
            .or_else(|| {
                let arn = t.resource_arn?;
                let (id, kind) = rds_arn_target(&arn)?;
                Some((Cow::Owned(id.into_owned()), Some(kind)))
            })
        })
        .map_or((None, None), |(id, kind)| (Some(id), kind));
    let resources = r
        .resources
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| {
            item.arn
                .filter(|a| a.starts_with("arn:"))
                .map(|arn| ApiResource { arn, kind: item.kind })
        })
        .take(MAX_API_RESOURCES)
        .collect();
    let target = Target {
        datastore,
        // The account that received the call; a record without it (older, hand-made) is
        // taken to be of the caller's account.
        account: r.recipient_account.or_else(|| actor.account.clone()),
        region: r.region,
        ..Target::default()
    };
    let kind = Kind::ApiCall(ApiCall {
        service,
        action,
        error_code: r.error_code,
        error_message: r.error_message,
        read_only: r.read_only,
        event_type: r.event_type,
        event_category: r.event_category,
        event_id: r.event_id,
        request: r.request,
        response: r.response,
        additional: r.additional,
        vpc_endpoint: r.vpc_endpoint,
        raw: record.text.trim(),
        resources,
        datastore_kind,
    });
    let mut event = Event::new(time, Source::CloudTrail, record.origin.clone(), kind);
    event.actor = actor;
    event.target = target;
    Ok(Parsed::Event(Box::new(event)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    fn parse_str(s: &str) -> Result<Parsed<'_>, ParseError> {
        let rec = RawRecord {
            text: s,
            origin: Origin::default(),
            source: None,
            envelope_time: None,
            aws: crate::envelope::AwsContext::default(),
        };
        parse(&rec, &mut Vec::new())
    }

    #[test]
    fn assumed_role_with_mfa_and_nulls() {
        let r = parse_str(r#"{"eventVersion":"1.08","eventTime":"2024-08-01T12:38:06Z","eventSource":"rds.amazonaws.com","eventName":"ModifyDBInstance","sourceIPAddress":"rds.amazonaws.com","requestParameters":{"dBInstanceIdentifier":"payments-db","publiclyAccessible":true},"responseElements":null,"readOnly":false,"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Admin/alice","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/Admin"},"attributes":{"mfaAuthenticated":"false"}}},"unknownField":{"x":1}}"#).unwrap();
        let Parsed::Event(e) = r else { panic!() };
        assert_eq!(e.actor.user.as_deref(), Some("alice"));
        assert_eq!(e.actor.mfa.as_deref(), Some("false"));
        assert_eq!(e.actor.host.as_deref(), Some("rds.amazonaws.com"));
        assert_eq!(e.target.datastore.as_deref(), Some("payments-db"));
        let Kind::ApiCall(a) = &e.kind else { panic!() };
        assert!(a.response.is_none());
        assert_eq!(a.read_only, Some(false));
    }

    /// The datastore of calls that do not name it by identifier: an activity stream's ARN; a
    /// parameter or option group (resolved by the policy, no kind, no ARN made of it).
    #[test]
    fn datastores_named_by_arn_or_group() {
        let call = |request: &str| {
            format!(
                r#"{{"eventVersion":"1.08","eventTime":"2024-08-01T12:38:06Z","eventSource":"rds.amazonaws.com","eventName":"X","sourceIPAddress":"10.0.250.1","requestParameters":{request},"userIdentity":{{"type":"IAMUser","userName":"a"}}}}"#
            )
        };
        for (request, id, kind) in [
            (
                r#"{"resourceArn":"arn:aws:rds:us-east-1:111122223333:cluster:payments-aurora"}"#,
                Some("payments-aurora"),
                Some(DatastoreKind::RdsCluster),
            ),
            (
                r#"{"resourceArn":"arn:aws:rds:us-east-1:111122223333:db:payments-db"}"#,
                Some("payments-db"),
                Some(DatastoreKind::RdsInstance),
            ),
            (r#"{"resourceArn":"arn:aws:s3:::bucket"}"#, None, None),
            (
                r#"{"optionGroupName":"payments-audit"}"#,
                Some("payments-audit"),
                None,
            ),
            (
                r#"{"dBParameterGroupName":"payments-db-params"}"#,
                Some("payments-db-params"),
                None,
            ),
        ] {
            let text = call(request);
            let Ok(Parsed::Event(e)) = parse_str(&text) else {
                panic!("{request}")
            };
            assert_eq!(e.target.datastore.as_deref(), id, "{request}");
            let Kind::ApiCall(a) = &e.kind else { panic!() };
            assert_eq!(a.datastore_kind, kind, "{request}");
        }
    }

    #[test]
    fn truncated_and_insight() {
        assert_eq!(
            parse_str(r#"{"eventVersion":"1.03","userIdentity":{"type":"Root"}"#)
                .unwrap_err()
                .kind,
            DiagnosticKind::Json
        );
        assert!(matches!(
            parse_str(r#"{"eventVersion":"1.07","eventType":"AwsCloudTrailInsight"}"#),
            Ok(Parsed::Skip(Skip::CloudTrailInsight))
        ));
        // Insights records name the API whose rate changed, but no caller.
        assert!(matches!(
            parse_str(
                r#"{"eventVersion":"1.07","eventTime":"2024-08-01T12:00:00Z","eventSource":"ssm.amazonaws.com","eventName":"UpdateInstanceInformation","eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start"}}"#
            ),
            Ok(Parsed::Skip(Skip::CloudTrailInsight))
        ));
    }
}
