//! VPC flow-log records as OCSF Network Activity (class 4001): Refuse for `REJECT`, Traffic for
//! anything else; the interface that logged the record is put on the endpoint it belongs to.

use serde::Serialize;

use super::activity::{FlowUnmapped, Unmapped, metadata, src_endpoint};
use super::header::{Header, OcsfClass};
use super::{ConnectionInfo, Endpoint, Metadata, millis};
use crate::event::{Event, Flow};

/// Network Activity (class 4001, category 4 Network Activity).
#[derive(Debug, Serialize)]
pub struct NetworkActivity<'e> {
    /// Class, category, activity, type, severity.
    #[serde(flatten)]
    pub header: Header<'e>,
    /// 1 Allowed (`ACCEPT`), 2 Denied (`REJECT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<u8>,
    /// Caption of `action_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// 1 Allowed, 2 Blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition_id: Option<u8>,
    /// Caption of `disposition_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<&'static str>,
    /// Why the traffic was rejected (`BPA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<&'e str>,
    /// Start of the capture window (ms since the epoch), or the event time.
    pub time: i64,
    /// Start of the capture window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// End of the capture window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Schema, product, origin.
    pub metadata: Metadata<'e>,
    /// Packet source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint<'e>>,
    /// Packet destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint<'e>>,
    /// Flow records name the sender of the packets, not the initiator of the connection.
    pub is_src_dst_assignment_known: bool,
    /// Protocol, direction, TCP flags.
    pub connection_info: ConnectionInfo,
    /// Bytes and packets in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// Account that owns the interface, region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'e>>,
    /// laneguard attributes OCSF has no place for.
    pub unmapped: Unmapped<'e>,
}

/// OCSF `network_traffic`.
#[derive(Debug, Serialize)]
pub struct Traffic {
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
}

pub(super) fn network_activity<'e>(e: &'e Event<'_>, f: &'e Flow<'_>) -> NetworkActivity<'e> {
    let rejected = f.action.as_deref() == Some("REJECT");
    let accepted = f.action.as_deref() == Some("ACCEPT");
    let (activity_id, activity_name, type_name) = if rejected {
        (5, "Refuse", "Network Activity: Refuse")
    } else {
        (6, "Traffic", "Network Activity: Traffic")
    };
    let (action_id, action, disposition_id, disposition) = match (accepted, rejected) {
        (true, _) => (Some(1), Some("Allowed"), Some(1), Some("Allowed")),
        (_, true) => (Some(2), Some("Denied"), Some(2), Some("Blocked")),
        _ => (None, None, None, None),
    };
    let mut src = src_endpoint(e);
    src.svc_name = src.svc_name.or(f.pkt_src_service.as_deref());
    src.intermediate_ips = f.pkt_src.filter(|p| Some(*p) != e.actor.ip).map(|p| [p]);
    let mut dst = Endpoint {
        ip: e.target.ip,
        port: e.target.port,
        svc_name: f.pkt_dst_service.as_deref(),
        intermediate_ips: f.pkt_dst.filter(|p| Some(*p) != e.target.ip).map(|p| [p]),
        ..Endpoint::default()
    };
    // The interface that logged the record is the receiver of ingress traffic and the sender of
    // egress traffic; without a direction it belongs to neither endpoint for sure.
    let mut flow_unmapped = FlowUnmapped {
        log_status: f.log_status.as_deref(),
        traffic_path: f.traffic_path,
        version: f.version,
        interface: None,
        vpc: None,
        subnet: None,
        instance: None,
    };
    let owner = match f.direction.as_deref() {
        Some("ingress") => Some(&mut dst),
        Some("egress") => Some(&mut src),
        _ => None,
    };
    match owner {
        Some(ep) => {
            ep.interface_uid = f.interface.as_deref();
            ep.vpc_uid = f.vpc.as_deref();
            ep.subnet_uid = f.subnet.as_deref();
            ep.instance_uid = f.instance.as_deref();
        }
        None => {
            flow_unmapped.interface = f.interface.as_deref();
            flow_unmapped.vpc = f.vpc.as_deref();
            flow_unmapped.subnet = f.subnet.as_deref();
            flow_unmapped.instance = f.instance.as_deref();
        }
    }
    NetworkActivity {
        header: Header::activity(
            OcsfClass::NetworkActivity,
            (activity_id, activity_name),
            type_name,
        ),
        action_id,
        action,
        disposition_id,
        disposition,
        status_detail: f.reject_reason.as_deref(),
        time: millis(e.time),
        start_time: f.start.map(millis),
        end_time: f.end.map(millis),
        metadata: metadata(e, None),
        src_endpoint: (!src.is_empty()).then_some(src),
        dst_endpoint: (!dst.is_empty()).then_some(dst),
        is_src_dst_assignment_known: false,
        connection_info: ConnectionInfo::new(f.protocol, f.direction.as_deref(), e.actor.ip, f.tcp_flags),
        traffic: (f.bytes.is_some() || f.packets.is_some()).then_some(Traffic {
            bytes: f.bytes,
            packets: f.packets,
        }),
        cloud: super::Cloud::aws(e.target.region.as_deref(), e.target.account.as_deref()),
        unmapped: Unmapped {
            origin: Some(&e.origin),
            principal_zone: e.enrichment.principal_zone.as_deref(),
            flow: Some(flow_unmapped),
            ..Unmapped::default()
        },
    }
}
