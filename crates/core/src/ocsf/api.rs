//! CloudTrail calls as OCSF API Activity (class 6003): the activity from the action's verb, the
//! request parameters as compact JSON, the caller's zone on the source endpoint.

use serde::Serialize;

use super::activity::{ApiUnmapped, Status, Unmapped, actor, metadata, src_endpoint};
use super::header::{Header, OcsfClass};
use super::{Actor, Api, ApiRequest, ApiResponse, CompactJson, Endpoint, Metadata, millis};
use crate::event::{ApiCall, Event};

/// API Activity (class 6003, category 6 Application Activity).
#[derive(Debug, Serialize)]
pub struct ApiActivity<'e> {
    /// Class, category, activity, type, severity.
    #[serde(flatten)]
    pub header: Header<'e>,
    /// 1 Success, 2 Failure (the call has an error code).
    pub status_id: u8,
    /// Caption of `status_id`.
    pub status: &'static str,
    /// Error code of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<&'e str>,
    /// Error message of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<&'e str>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// Schema, product, origin; `uid` is CloudTrail's `eventID`.
    pub metadata: Metadata<'e>,
    /// IAM identity and session.
    pub actor: Actor<'e>,
    /// The call.
    pub api: Api<'e>,
    /// Caller address, zone, VPC endpoint.
    pub src_endpoint: Endpoint<'e>,
    /// Caller user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest<'e>>,
    /// Region and account that received the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'e>>,
    /// laneguard attributes OCSF has no place for.
    pub unmapped: Unmapped<'e>,
}

/// OCSF `http_request`, for the user agent of an API call.
#[derive(Debug, Serialize)]
pub struct HttpRequest<'e> {
    /// User agent as CloudTrail recorded it.
    pub user_agent: &'e str,
}

pub(super) fn api_activity<'e>(e: &'e Event<'_>, call: &'e ApiCall<'_>) -> ApiActivity<'e> {
    let (activity_id, activity_name) = api_verb(&call.action, call.read_only);
    let failed = call.error_code.is_some();
    let status = if failed { Status::Failure } else { Status::Success };
    let mut src = src_endpoint(e);
    src.uid = call.vpc_endpoint.as_deref();
    ApiActivity {
        header: Header::activity(
            OcsfClass::ApiActivity,
            (activity_id, activity_name),
            match activity_id {
                1 => "API Activity: Create",
                2 => "API Activity: Read",
                3 => "API Activity: Update",
                4 => "API Activity: Delete",
                _ => "API Activity: Other",
            },
        ),
        status_id: status.id(),
        status: status.caption(),
        status_code: call.error_code.as_deref(),
        status_detail: call.error_message.as_deref(),
        time: millis(e.time),
        metadata: metadata(e, call.event_id.as_deref()),
        actor: actor(e),
        api: Api {
            operation: &call.action,
            service: super::Service { name: &call.service },
            request: call.event_id.as_deref().map(|uid| ApiRequest {
                uid,
                data: call.request.map(CompactJson),
            }),
            response: call.error_code.as_deref().map(|error| ApiResponse {
                error,
                error_message: call.error_message.as_deref(),
            }),
        },
        src_endpoint: src,
        http_request: e
            .actor
            .user_agent
            .as_deref()
            .map(|user_agent| HttpRequest { user_agent }),
        cloud: super::Cloud::aws(e.target.region.as_deref(), e.target.account.as_deref()),
        unmapped: Unmapped {
            origin: Some(&e.origin),
            principal_zone: e.enrichment.principal_zone.as_deref(),
            api: Some(ApiUnmapped {
                event_type: call.event_type.as_deref(),
                event_category: call.event_category.as_deref(),
                read_only: call.read_only,
            }),
            ..Unmapped::default()
        },
    }
}

/// The API Activity of an AWS action, from its leading verb (`CreateDBSnapshot` → Create).
/// A verb counts only as a whole word (`Get` matches `GetObject`, not `Getaway`). Actions with
/// no CRUD verb (`AssumeRole`, `ConsoleLogin`, `Decrypt`) are Read when CloudTrail marks them
/// read-only, else 99 Other.
pub fn api_verb(action: &str, read_only: Option<bool>) -> (u8, &'static str) {
    const VERBS: &[(&str, u8)] = &[
        ("Create", 1),
        ("Add", 1),
        ("Allocate", 1),
        ("Copy", 1),
        ("Import", 1),
        ("Register", 1),
        ("Restore", 1),
        ("Run", 1),
        ("Issue", 1),
        ("Get", 2),
        ("Describe", 2),
        ("List", 2),
        ("Lookup", 2),
        ("Head", 2),
        ("Search", 2),
        ("Select", 2),
        ("Download", 2),
        ("BatchGet", 2),
        ("Modify", 3),
        ("Update", 3),
        ("Put", 3),
        ("Set", 3),
        ("Change", 3),
        ("Attach", 3),
        ("Associate", 3),
        ("Enable", 3),
        ("Disable", 3),
        ("Start", 3),
        ("Stop", 3),
        ("Reboot", 3),
        ("Reset", 3),
        ("Authorize", 3),
        ("Revoke", 3),
        ("Tag", 3),
        ("Untag", 3),
        ("Apply", 3),
        ("Failover", 3),
        ("Promote", 3),
        ("Rotate", 3),
        ("Delete", 4),
        ("Remove", 4),
        ("Terminate", 4),
        ("Detach", 4),
        ("Deregister", 4),
        ("Disassociate", 4),
        ("Purge", 4),
        ("Release", 4),
        ("BatchDelete", 4),
    ];
    let id = VERBS
        .iter()
        .find(|(verb, _)| {
            action
                .strip_prefix(verb)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .map(|&(_, id)| id)
        .unwrap_or(if read_only == Some(true) { 2 } else { 99 });
    let name = match id {
        1 => "Create",
        2 => "Read",
        3 => "Update",
        4 => "Delete",
        _ => "Other",
    };
    (id, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_verbs_match_whole_words() {
        assert_eq!(api_verb("CreateDBSnapshot", None), (1, "Create"));
        assert_eq!(api_verb("DescribeDBInstances", Some(true)), (2, "Read"));
        assert_eq!(api_verb("ModifyDBSnapshotAttribute", Some(false)), (3, "Update"));
        assert_eq!(api_verb("StopLogging", Some(false)), (3, "Update"));
        assert_eq!(api_verb("DeleteTrail", None), (4, "Delete"));
        assert_eq!(api_verb("Getaway", None), (99, "Other"));
        assert_eq!(api_verb("ConsoleLogin", None), (99, "Other"));
        assert_eq!(api_verb("AssumeRole", Some(true)), (2, "Read"));
    }
}
