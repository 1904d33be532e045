//! Sigma's CloudTrail field names — as CloudTrail writes them (`eventName`,
//! `userIdentity.type`, `requestParameters.x.y`) — mapped onto laneguard's fields.
//!
//! One general rule, no per-rule cases: a name whose value the CloudTrail parser keeps verbatim
//! maps to that fixed field (cheap, and what a reader of the converted rule recognises);
//! `requestParameters`, `responseElements` and `additionalEventData` paths map to the JSON paths
//! into those documents; every other name is a path into the whole record (`record.…`), read as
//! the record wrote it. Fields the parser normalises (`sourceIPAddress` split into address and
//! host, `userIdentity.arn` with empty values dropped, `readOnly` parsed leniently) map to the
//! record path, so a Sigma value is compared with exactly what the record says.

/// Sigma (CloudTrail) names whose value a laneguard fixed field holds verbatim.
pub const FIXED: &[(&str, &str)] = &[
    ("eventSource", "api.service"),
    ("eventName", "api.action"),
    ("errorCode", "api.error_code"),
    ("errorMessage", "api.error_message"),
    ("eventType", "api.event_type"),
    ("eventCategory", "api.event_category"),
    ("vpcEndpointId", "api.vpc_endpoint"),
    ("userAgent", "actor.user_agent"),
    ("awsRegion", "target.region"),
    ("recipientAccountId", "target.account"),
    ("userIdentity.type", "actor.principal_type"),
    ("userIdentity.accountId", "actor.account"),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        "actor.session_issuer",
    ),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "actor.mfa",
    ),
];

/// CloudTrail documents with their own laneguard JSON path prefix.
pub const DOCUMENTS: &[(&str, &str)] = &[
    ("requestParameters", "api.request"),
    ("responseElements", "api.response"),
    ("additionalEventData", "api.additional"),
];

/// The Sigma name of the caller's source address: a placeholder of zones on it compiles to the
/// policy's zone of the event (see `super::settings`).
pub const SOURCE_ADDRESS: &str = "sourceIPAddress";

/// Top-level fields of a CloudTrail record (the CloudTrail record contents reference), for the
/// "not a CloudTrail field" warning.
pub const RECORD_FIELDS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "eventType",
    "apiVersion",
    "managementEvent",
    "readOnly",
    "resources",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "addendum",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "tlsDetails",
    "insightDetails",
];

/// The laneguard field path of a Sigma CloudTrail field name, or why there is none.
pub fn map(name: &str) -> Result<String, String> {
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(format!("field name `{name}` has an empty path segment"));
    }
    if let Some((_, f)) = FIXED.iter().find(|(s, _)| *s == name) {
        return Ok((*f).to_owned());
    }
    Ok(DOCUMENTS
        .iter()
        .find_map(|(doc, prefix)| rebase(name, doc, prefix))
        .unwrap_or_else(|| format!("record.{name}")))
}

/// `path` with its first segments `from` replaced by `to` (`requestParameters.x` →
/// `api.request.x`), when it starts with them.
fn rebase(path: &str, from: &str, to: &str) -> Option<String> {
    if path == from {
        return Some(to.to_owned());
    }
    path.strip_prefix(from)
        .and_then(|r| r.strip_prefix('.'))
        .map(|rest| format!("{to}.{rest}"))
}

/// The CloudTrail field a laneguard path reads (the inverse of [`map`], for building test
/// records), or `None` for a field that is not in the record.
pub fn unmap(path: &str) -> Option<String> {
    if let Some((s, _)) = FIXED.iter().find(|(_, f)| *f == path) {
        return Some((*s).to_owned());
    }
    DOCUMENTS
        .iter()
        .find_map(|(doc, prefix)| rebase(path, prefix, doc))
        .or_else(|| path.strip_prefix("record.").map(str::to_owned))
}

/// Whether a Sigma name starts with a field CloudTrail writes.
pub fn is_record_field(name: &str) -> bool {
    let top = name.split('.').next().unwrap_or(name);
    RECORD_FIELDS.contains(&top)
}

/// Whether a value reads like a CloudTrail field path (`responseElements.accessKey.userName`):
/// a rule that compares with it as text probably meant `|fieldref`.
pub fn looks_like_field_path(value: &str) -> bool {
    value.contains('.')
        && !value.contains(char::is_whitespace)
        && value
            .split('.')
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
        && is_record_field(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::field::Field;

    #[test]
    fn every_mapping_is_a_laneguard_field_and_inverts() {
        for name in [
            "eventName",
            "userIdentity.type",
            "requestParameters",
            "requestParameters.containerDefinitions.command",
            "responseElements.ConsoleLogin",
            "additionalEventData.MFAUsed",
            "sourceIPAddress",
            "userIdentity.sessionContext.sessionIssuer.type",
            "tlsDetails.clientProvidedHostHeader",
            "status",
        ] {
            let path = map(name).unwrap();
            assert!(Field::parse(&path).is_some(), "{name} → {path}");
            assert_eq!(unmap(&path).as_deref(), Some(name));
        }
        assert_eq!(map("eventName").unwrap(), "api.action");
        assert_eq!(map("requestParameters.x").unwrap(), "api.request.x");
        assert_eq!(map("requestParametersX").unwrap(), "record.requestParametersX");
        assert_eq!(map("sourceIPAddress").unwrap(), "record.sourceIPAddress");
        assert!(map("a..b").is_err());
        for (s, f) in FIXED {
            assert!(matches!(Field::parse(f), Some(Field::Fixed(_))), "{s} → {f}");
        }
    }

    #[test]
    fn record_fields_and_paths() {
        assert!(is_record_field("userIdentity.arn"));
        assert!(!is_record_field("status"));
        assert!(looks_like_field_path("responseElements.accessKey.userName"));
        assert!(!looks_like_field_path("Jersey/${project.version}"));
        assert!(!looks_like_field_path("s3.amazonaws.com"));
    }
}
