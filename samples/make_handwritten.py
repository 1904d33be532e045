#!/usr/bin/env python3
"""Writes the hand-written CloudTrail and VPC flow corpora and their rows of samples/labels.tsv.

    python3 samples/make_handwritten.py        # from the repository root; deterministic output

Record shapes follow ../shared/reference/FORMATS.md §2 (CloudTrail, one compact JSON record per
line, as CloudWatch Logs delivers them) and §7 (VPC flow logs, v5 custom format with its header
line, as S3 delivery writes it), modelled on samples/reference/. The estate is the one of
rules/policy.toml: account 111122223333, payments-db 10.0.32.10 (MySQL and PostgreSQL ports),
marketing-db 10.0.33.10, the payments app in 10.0.16.0/20, marketing in 10.0.64.0/20 and the DBAs
in the management subnet 10.0.250.0/24 with the AWSReservedSSO_DBA role.

benign = routine reads and describes, a storage change from the management zone, application flows.
attack = DETECTIONS.md §5.1 (CloudTrail) and §5.3 (VPC flow) categories. Each record's expected
rule ids are in labels.tsv (one row per record).
"""

import json
import os
import uuid

ROOT = os.path.dirname(os.path.abspath(__file__))
ACCT = "111122223333"
FOREIGN = "444455556666"
REGION = "us-east-1"

DBA = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEDBA00001:dana",
    "arn": f"arn:aws:sts::{ACCT}:assumed-role/AWSReservedSSO_DBA_0123456789abcdef/dana",
    "accountId": ACCT,
    "accessKeyId": "ASIAEXAMPLEDBA00001",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLEDBA00001",
            "arn": f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DBA_0123456789abcdef",
            "accountId": ACCT,
            "userName": "AWSReservedSSO_DBA_0123456789abcdef",
        },
        "attributes": {"creationDate": "2026-11-28T07:55:00Z", "mfaAuthenticated": "false"},
    },
}
APP = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEAPP00001:ecs-task-7f3a",
    "arn": f"arn:aws:sts::{ACCT}:assumed-role/payments-app-task/ecs-task-7f3a",
    "accountId": ACCT,
    "accessKeyId": "ASIAEXAMPLEAPP00001",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLEAPP00001",
            "arn": f"arn:aws:iam::{ACCT}:role/payments-app-task",
            "accountId": ACCT,
            "userName": "payments-app-task",
        },
        "attributes": {"creationDate": "2026-11-28T07:00:00Z", "mfaAuthenticated": "false"},
    },
}
# A leaked long-term key used from the internet.
INTRUDER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLECI000001",
    "arn": f"arn:aws:iam::{ACCT}:user/ci-deployer",
    "accountId": ACCT,
    "accessKeyId": "AKIAEXAMPLECI000001",
    "userName": "ci-deployer",
}

N = 0


def ct(minute, second, identity, source_ip, service, action, request, response=None, read_only=False, agent=None, error=None, region=REGION):
    global N
    N += 1
    rec = {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": f"2026-11-28T{minute // 60:02d}:{minute % 60:02d}:{second:02d}Z",
        "eventSource": f"{service}.amazonaws.com",
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": agent or "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.12.6",
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    rec.update(
        {
            "requestParameters": request,
            "responseElements": response,
            "requestID": str(uuid.UUID(int=0x1000 + N)),
            "eventID": str(uuid.UUID(int=0x2000 + N)),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCT,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{service}.{region}.amazonaws.com",
            },
        }
    )
    return rec


def db_instance(ident="payments-db", **extra):
    d = {
        "dBInstanceIdentifier": ident,
        "dBInstanceClass": "db.r6g.large",
        "engine": "mariadb",
        "dBInstanceStatus": "available",
        "publiclyAccessible": False,
        "deletionProtection": True,
        "backupRetentionPeriod": 7,
        "dBInstanceArn": f"arn:aws:rds:{REGION}:{ACCT}:db:{ident}",
        "pendingModifiedValues": {},
    }
    d.update(extra)
    return d


MGMT_IP = "10.0.250.10"
APP_IP = "10.0.16.25"
NET_IP = "198.51.100.23"


def cloudtrail():
    benign = [
        (ct(480, 1, APP, APP_IP, "rds", "DescribeDBInstances", {"dBInstanceIdentifier": "payments-db"}, None, True), "describe own instance"),
        (ct(480, 5, DBA, MGMT_IP, "rds", "DescribeDBClusters", None, None, True), "DBA lists clusters"),
        (ct(480, 9, DBA, MGMT_IP, "rds", "DescribeDBSnapshots", {"dBInstanceIdentifier": "payments-db", "snapshotType": "automated"}, None, True), "DBA lists snapshots"),
        (ct(481, 2, DBA, MGMT_IP, "rds", "DescribeDBLogFiles", {"dBInstanceIdentifier": "payments-db"}, None, True), "DBA lists log files"),
        (ct(481, 30, DBA, MGMT_IP, "rds", "ListTagsForResource", {"resourceName": f"arn:aws:rds:{REGION}:{ACCT}:db:payments-db"}, None, True), "DBA reads tags"),
        (ct(482, 3, APP, APP_IP, "secretsmanager", "GetSecretValue", {"secretId": f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:payments-db/app-AbCdEf"}, None, True), "app reads its own DB secret"),
        (ct(482, 40, DBA, MGMT_IP, "ec2", "DescribeSecurityGroups", {"groupIdSet": {"items": [{"groupId": "sg-0db0000000000payd"}]}}, None, True), "DBA reviews the DB security group"),
        (ct(483, 12, DBA, MGMT_IP, "cloudtrail", "DescribeTrails", {"includeShadowTrails": True}, None, True), "DBA checks the trail"),
        (
            ct(
                485, 0, DBA, MGMT_IP, "rds", "ModifyDBInstance",
                {"dBInstanceIdentifier": "payments-db", "allocatedStorage": 200, "applyImmediately": False},
                db_instance(pendingModifiedValues={"allocatedStorage": 200}),
            ),
            "storage grown from the management zone",
        ),
        (
            ct(
                486, 0, DBA, MGMT_IP, "rds", "ModifyDBParameterGroup",
                {"dBParameterGroupName": "payments-mariadb", "parameters": [{"parameterName": "max_connections", "parameterValue": "400", "applyMethod": "pending-reboot"}]},
                {"dBParameterGroupName": "payments-mariadb"},
            ),
            "max_connections raised from the management zone",
        ),
        (
            ct(
                487, 0, DBA, MGMT_IP, "ec2", "AuthorizeSecurityGroupIngress",
                {
                    "groupId": "sg-0db0000000000payd",
                    "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "groups": {"items": [{"groupId": "sg-0app00000000000pa"}]}, "ipRanges": {}, "ipv6Ranges": {}, "prefixListIds": {}}]},
                },
                {"requestId": "6c1d1d5e-0000-4000-8000-000000000001", "_return": True},
            ),
            "app security group allowed to the DB port (SG reference)",
        ),
        (ct(488, 0, APP, APP_IP, "rds", "DescribeDBInstances", {"dBInstanceIdentifier": "payments-db"}, None, True), "describe own instance"),
    ]

    attack = [
        (
            ct(600, 0, INTRUDER, NET_IP, "rds", "ModifyDBInstance", {"dBInstanceIdentifier": "payments-db", "publiclyAccessible": True, "applyImmediately": True}, db_instance(publiclyAccessible=True)),
            "DB made publicly accessible", ["ct.rds-made-public", "policy.control-plane"],
        ),
        (
            ct(601, 0, INTRUDER, NET_IP, "rds", "ModifyDBInstance", {"dBInstanceIdentifier": "payments-db", "masterUserPassword": "****", "applyImmediately": True}, db_instance(pendingModifiedValues={"masterUserPassword": "****"})),
            "master password changed", ["ct.rds-master-password-changed", "policy.control-plane"],
        ),
        (
            ct(602, 0, INTRUDER, NET_IP, "rds", "CreateDBSnapshot", {"dBSnapshotIdentifier": "payments-db-x1", "dBInstanceIdentifier": "payments-db"}, {"dBSnapshotIdentifier": "payments-db-x1", "dBInstanceIdentifier": "payments-db", "snapshotType": "manual", "status": "creating"}),
            "manual snapshot taken from outside the management zone", ["policy.control-plane"],
        ),
        (
            ct(603, 0, INTRUDER, NET_IP, "rds", "ModifyDBSnapshotAttribute", {"dBSnapshotIdentifier": "payments-db-x1", "attributeName": "restore", "valuesToAdd": ["all"]}, {"dBSnapshotIdentifier": "payments-db-x1", "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": ["all"]}]}),
            "snapshot made public", ["ct.rds-snapshot-public"],
        ),
        (
            ct(604, 0, INTRUDER, NET_IP, "rds", "ModifyDBSnapshotAttribute", {"dBSnapshotIdentifier": "payments-db-x1", "attributeName": "restore", "valuesToAdd": [FOREIGN]}, {"dBSnapshotIdentifier": "payments-db-x1", "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": [FOREIGN]}]}),
            "snapshot shared with a foreign account", ["ct.rds-snapshot-shared-foreign"],
        ),
        (
            ct(
                605, 0, INTRUDER, NET_IP, "rds", "StartExportTask",
                {"exportTaskIdentifier": "x1", "sourceArn": f"arn:aws:rds:{REGION}:{ACCT}:snapshot:payments-db-x1", "s3BucketName": "exfil-drop-bucket", "iamRoleArn": f"arn:aws:iam::{ACCT}:role/rds-export", "kmsKeyId": f"arn:aws:kms:{REGION}:{ACCT}:key/1111aaaa-2222-bbbb-3333-cccc4444dddd"},
                {"exportTaskIdentifier": "x1", "status": "STARTING", "s3Bucket": "exfil-drop-bucket"},
            ),
            "snapshot exported to S3", ["ct.rds-snapshot-export"],
        ),
        (
            ct(606, 0, INTRUDER, NET_IP, "rds", "CopyDBSnapshot", {"sourceDBSnapshotIdentifier": f"arn:aws:rds:{REGION}:{ACCT}:snapshot:payments-db-x1", "targetDBSnapshotIdentifier": "x1-copy", "sourceRegion": REGION}, {"dBSnapshotIdentifier": "x1-copy", "status": "pending"}, region="eu-west-1"),
            "snapshot copied to another region", ["ct.rds-snapshot-copied-cross-region"],
        ),
        (
            ct(607, 0, INTRUDER, NET_IP, "rds", "ModifyDBClusterParameterGroup", {"dBClusterParameterGroupName": "payments-aurora", "parameters": [{"parameterName": "server_audit_logging", "parameterValue": "0", "applyMethod": "immediate"}]}, {"dBClusterParameterGroupName": "payments-aurora"}),
            "audit logging switched off in the parameter group", ["ct.rds-audit-parameter-weakened"],
        ),
        (
            ct(608, 0, INTRUDER, NET_IP, "rds", "ModifyDBCluster", {"dBClusterIdentifier": "payments-aurora", "cloudwatchLogsExportConfiguration": {"disableLogTypes": ["audit"]}}, {"dBClusterIdentifier": "payments-aurora", "status": "available"}),
            "audit log export disabled", ["ct.rds-audit-log-export-disabled"],
        ),
        (
            ct(609, 0, INTRUDER, NET_IP, "rds", "StopActivityStream", {"resourceArn": f"arn:aws:rds:{REGION}:{ACCT}:cluster:payments-aurora", "applyImmediately": True}, {"status": "stopping"}),
            "database activity stream stopped", ["ct.rds-activity-stream-stopped"],
        ),
        (
            ct(610, 0, INTRUDER, NET_IP, "cloudtrail", "StopLogging", {"name": f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/org-trail"}, None),
            "CloudTrail stopped", ["ct.cloudtrail-stopped"],
        ),
        (
            ct(
                611, 0, INTRUDER, NET_IP, "ec2", "AuthorizeSecurityGroupIngress",
                {"groupId": "sg-0db0000000000payd", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 3306, "toPort": 3306, "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}},
                {"requestId": "6c1d1d5e-0000-4000-8000-000000000002", "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": ACCT, "groupId": "sg-0db0000000000payd", "securityGroupRuleId": "sgr-0abc0000000000001", "isEgress": False, "ipProtocol": "tcp", "fromPort": 3306, "toPort": 3306, "cidrIpv4": "0.0.0.0/0"}]}},
            ),
            "DB port opened to the world", ["ct.sg-db-port-open-to-world"],
        ),
        (
            ct(612, 0, INTRUDER, NET_IP, "ec2", "CreateNetworkAclEntry", {"networkAclId": "acl-0data000000000001", "ruleNumber": 90, "egress": False, "ruleAction": "allow", "icmpTypeCode": {}, "portRange": {"from": 0, "to": 65535}, "aclProtocol": "-1", "cidrBlock": "0.0.0.0/0"}, {"requestId": "6c1d1d5e-0000-4000-8000-000000000003", "_return": True}),
            "NACL opened to the world", ["ct.nacl-open-to-world", "ct.nacl-db-port-open-to-world"],
        ),
        (
            ct(613, 0, INTRUDER, NET_IP, "ec2", "CreateRoute", {"routeTableId": "rtb-0data00000000001", "destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-0abc000000000001"}, {"requestId": "6c1d1d5e-0000-4000-8000-000000000004", "_return": True}),
            "route to an internet gateway", ["ct.route-to-internet-gateway"],
        ),
        (
            ct(614, 0, INTRUDER, NET_IP, "rds", "ModifyDBInstance", {"dBInstanceIdentifier": "payments-db", "backupRetentionPeriod": 0, "applyImmediately": True}, db_instance(backupRetentionPeriod=0)),
            "automated backups disabled", ["ct.backups-disabled", "policy.control-plane"],
        ),
        (
            ct(615, 0, INTRUDER, NET_IP, "rds", "DeleteDBSnapshot", {"dBSnapshotIdentifier": "payments-db-weekly"}, {"dBSnapshotIdentifier": "payments-db-weekly", "status": "deleted"}),
            "snapshot deleted", ["ct.backup-deleted"],
        ),
        (
            ct(616, 0, INTRUDER, NET_IP, "rds", "ModifyDBInstance", {"dBInstanceIdentifier": "payments-db", "deletionProtection": False, "applyImmediately": True}, db_instance(deletionProtection=False)),
            "deletion protection disabled", ["ct.deletion-protection-disabled", "policy.control-plane"],
        ),
        (
            ct(617, 0, INTRUDER, NET_IP, "rds", "DeleteDBInstance", {"dBInstanceIdentifier": "payments-db", "skipFinalSnapshot": True, "deleteAutomatedBackups": True}, db_instance(dBInstanceStatus="deleting")),
            "DB deleted without a final snapshot", ["ct.datastore-deleted-no-final-snapshot", "ct.datastore-deleted", "policy.control-plane"],
        ),
        (
            ct(618, 0, INTRUDER, NET_IP, "ec2", "ModifySnapshotAttribute", {"snapshotId": "snap-0payments000001", "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"group": "all"}]}}}, {"requestId": "6c1d1d5e-0000-4000-8000-000000000005", "_return": True}),
            "EBS snapshot of a self-managed DB made public", ["ct.ebs-snapshot-public"],
        ),
        (
            ct(619, 0, INTRUDER, NET_IP, "dynamodb", "ExportTableToPointInTime", {"tableArn": f"arn:aws:dynamodb:{REGION}:{ACCT}:table/payments-ledger", "s3Bucket": "exfil-drop-bucket", "s3BucketOwner": FOREIGN, "exportFormat": "DYNAMODB_JSON"}, {"exportDescription": {"exportStatus": "IN_PROGRESS", "s3Bucket": "exfil-drop-bucket", "s3BucketOwner": FOREIGN}}),
            "DynamoDB table exported to a foreign bucket", ["ct.dynamodb-export-foreign-bucket", "ct.dynamodb-export"],
        ),
    ]
    return benign, attack


# ---------------------------------------------------------------------------------------------
# VPC flow logs (v5 custom format)
# ---------------------------------------------------------------------------------------------

FLOW_FIELDS = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id "
    "sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path"
)
T0 = 1795766400  # 2026-11-28T00:00:00Z

SUBNETS = {"10.0.32.": "subnet-0data0000000000a", "10.0.33.": "subnet-0data0000000000b", "10.0.16.": "subnet-0app00000000000p", "10.0.64.": "subnet-0app00000000000m", "10.0.250": "subnet-0mgmt000000000001"}


def flow(minute, eni, src, dst, sport, dport, action="ACCEPT", packets=12, nbytes=4200, flags=3, direction="ingress", proto=6, dst_service="-", path="-"):
    local = dst if direction == "ingress" else src
    subnet = next((v for k, v in SUBNETS.items() if local.startswith(k)), "subnet-0data0000000000a")
    start = T0 + 8 * 3600 + minute * 60
    return " ".join(
        str(x)
        for x in [
            5, ACCT, eni, src, dst, sport, dport, proto, packets, nbytes, start, start + 58, action, "OK",
            "vpc-0shop000000000001", subnet, "-", flags, "IPv4", src, dst, REGION, "use1-az1", "-", "-", "-", dst_service, direction, path,
        ]
    )


PAY_DB_ENI = "eni-0paydb0000000001"
MKT_DB_ENI = "eni-0mktdb0000000001"
APP_ENI = "eni-0payapp000000001"


def vpc_flow():
    benign = [
        (flow(0, PAY_DB_ENI, "10.0.16.25", "10.0.32.10", 40112, 5432), "payments app to payments-db (PostgreSQL)"),
        (flow(0, PAY_DB_ENI, "10.0.32.10", "10.0.16.25", 5432, 40112, flags=19, direction="egress", path="-"), "reply"),
        (flow(1, PAY_DB_ENI, "10.0.16.26", "10.0.32.10", 40388, 3306), "payments app to payments-db (MySQL)"),
        (flow(1, MKT_DB_ENI, "10.0.64.14", "10.0.33.10", 51000, 3306), "marketing app to marketing-db"),
        (flow(2, PAY_DB_ENI, "10.0.250.10", "10.0.32.10", 55012, 5432, packets=40, nbytes=18000), "DBA from management to payments-db"),
        (flow(2, MKT_DB_ENI, "10.0.250.10", "10.0.33.10", 55013, 3306), "DBA from management to marketing-db"),
        (flow(3, PAY_DB_ENI, "10.0.32.10", "52.216.10.20", 41000, 443, flags=3, direction="egress", dst_service="S3", path="7"), "payments-db to S3 through the gateway endpoint"),
        (flow(4, APP_ENI, "10.0.16.25", "10.0.32.10", 40114, 5432, direction="egress"), "payments app to payments-db (app ENI)"),
    ]
    attack = []
    attack.append((flow(10, PAY_DB_ENI, "203.0.113.9", "10.0.32.10", 51515, 5432, packets=30, nbytes=9000, flags=2), "internet reached the payments-db PostgreSQL port", ["flow.internet-to-db-port", "policy.zone-class"]))
    burst = [
        (flow(11, PAY_DB_ENI, "198.51.100.66", "10.0.32.10", 60000 + i, 3306, action="REJECT", packets=1, nbytes=60, flags=2), "REJECT burst on the MySQL port", ["flow.db-port-reject-burst"])
        for i in range(24)
    ]
    attack.extend(burst)
    sweep = [
        (flow(12, f"eni-0sweep{i:010d}", "10.0.16.99", f"10.0.32.{20 + i}", 45000 + i, 5432, action="REJECT", packets=1, nbytes=60, flags=2), "one source sweeps DB hosts on 5432", ["flow.db-port-sweep", "flow.db-port-reject-burst"])
        for i in range(12)
    ]
    attack.extend(sweep)
    attack.append((flow(13, PAY_DB_ENI, "10.0.32.10", "192.0.2.10", 49152, 443, packets=800, nbytes=52_000_000, flags=3, direction="egress"), "data zone initiates a connection to the internet", ["flow.data-zone-to-internet"]))
    attack.append((flow(14, APP_ENI, "10.0.16.25", "198.51.100.7", 43210, 3306, flags=3, direction="egress"), "application connects to an external database port", ["flow.app-to-external-db-port"]))
    attack.append((flow(15, PAY_DB_ENI, "10.0.64.14", "10.0.32.10", 51999, 5432), "marketing app reaches payments-db (swim lane)", ["policy.swim-lane"]))
    return benign, attack


def sessions():
    """The database side of the benign flows: the SQL audit of each session the flows carry (same
    client address, port and minute), so that `replay samples/` as a whole gives the audit of the
    period it gives flows for (fusion.audit-bypass / fusion.audit-gap read both). MariaDB
    server_audit lines name the instance in `serverhost`; PostgreSQL lines (RDS prefix) name the
    database, which the policy maps to payments-db."""
    import time as _time

    def stamp(minute, second, fmt):
        return _time.strftime(fmt, _time.gmtime(T0 + 8 * 3600 + minute * 60 + second))

    def my(minute, second, host, user, ip, conn, qid, op, db, sql="", rc=0):
        quoted = f"'{sql}'" if sql else ""
        return f"{stamp(minute, second, '%Y%m%d %H:%M:%S')},{host},{user},{ip},{conn},{qid},{op},{db},{quoted},{rc}"

    def pg(minute, second, ip, port, user, db, pid, msg):
        return f"{stamp(minute, second, '%Y-%m-%d %H:%M:%S')} UTC:{ip}({port}):{user}@{db}:[{pid}]:LOG:  {msg}"

    def pg_session(minute, ip, port, user, pid, sql, obj):
        return [
            pg(minute, 1, ip, port, user, "payments", pid, f"connection authorized: user={user} database=payments"),
            pg(minute, 2, ip, port, user, "payments", pid, f'AUDIT: SESSION,1,1,READ,SELECT,TABLE,{obj},"{sql}",<none>'),
            pg(minute, 3, ip, port, user, "payments", pid, f"disconnection: session time: 0:00:02.010 user={user} database=payments host={ip} port={port}"),
        ]

    mariadb = [
        my(1, 1, "payments-db", "app_pay", "10.0.16.26", 501, 0, "CONNECT", "payments"),
        my(1, 2, "payments-db", "app_pay", "10.0.16.26", 501, 9001, "QUERY", "payments", "SELECT id, name, price_cents FROM payments.products WHERE id = 3"),
        my(1, 3, "payments-db", "app_pay", "10.0.16.26", 501, 0, "DISCONNECT", "payments"),
        my(1, 1, "marketing-db", "app_mkt", "10.0.64.14", 77, 0, "CONNECT", "marketing"),
        my(1, 2, "marketing-db", "app_mkt", "10.0.64.14", 77, 4001, "QUERY", "marketing", "SELECT id, name FROM marketing.campaigns WHERE active = 1"),
        my(1, 3, "marketing-db", "app_mkt", "10.0.64.14", 77, 0, "DISCONNECT", "marketing"),
        my(2, 1, "marketing-db", "dba_ops", "10.0.250.10", 78, 0, "CONNECT", "marketing"),
        my(2, 2, "marketing-db", "dba_ops", "10.0.250.10", 78, 4002, "QUERY", "marketing", "SELECT COUNT(*) FROM marketing.segments"),
        my(2, 3, "marketing-db", "dba_ops", "10.0.250.10", 78, 0, "DISCONNECT", "marketing"),
    ]
    postgres = (
        pg_session(0, "10.0.16.25", 40112, "app_pay", 6101, "SELECT id, name, price_cents FROM products WHERE id = 1", "public.products")
        + pg_session(2, "10.0.250.10", 55012, "dba_ops", 6102, "SELECT count(*) FROM orders", "public.orders")
        + pg_session(4, "10.0.16.25", 40114, "app_pay", 6103, "SELECT id, name, price_cents FROM products WHERE id = 2", "public.products")
    )
    return mariadb, postgres


# ---------------------------------------------------------------------------------------------


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for line in lines:
            f.write(line + "\n")


def main():
    rows = []
    ct_benign, ct_attack = cloudtrail()
    rel = "samples/cloudtrail/benign/cloudtrail-records.jsonl"
    write(os.path.join(ROOT, "cloudtrail/benign/cloudtrail-records.jsonl"), [json.dumps(r, separators=(",", ":")) for r, _ in ct_benign])
    rows += [f"{rel}\t{i}-{i}\tbenign\tct-benign-{i}\t-\t{d}" for i, (_, d) in enumerate(ct_benign, 1)]
    rel = "samples/cloudtrail/attack/cloudtrail-records.jsonl"
    write(os.path.join(ROOT, "cloudtrail/attack/cloudtrail-records.jsonl"), [json.dumps(r, separators=(",", ":")) for r, _, _ in ct_attack])
    rows += [f"{rel}\t{i}-{i}\t{'attack' if ids else 'context'}\tct-attack-{i}\t{','.join(ids) or '-'}\t{d}" for i, (_, d, ids) in enumerate(ct_attack, 1)]

    fl_benign, fl_attack = vpc_flow()
    rel = "samples/vpc-flow/benign/vpc-flow-v5.log"
    write(os.path.join(ROOT, "vpc-flow/benign/vpc-flow-v5.log"), [FLOW_FIELDS] + [l for l, _ in fl_benign])
    rows += [f"{rel}\t{i}-{i}\tbenign\tflow-benign-{i}\t-\t{d}" for i, (_, d) in enumerate(fl_benign, 2)]
    my_sessions, pg_sessions = sessions()
    for name, lines, what in [
        ("sessions-mariadb-server-audit.log", my_sessions, "the MariaDB sessions of the benign flows"),
        ("sessions-postgresql-pgaudit.log", pg_sessions, "the PostgreSQL sessions of the benign flows"),
    ]:
        rel = f"samples/vpc-flow/benign/{name}"
        write(os.path.join(ROOT, "vpc-flow/benign", name), lines)
        rows.append(f"{rel}\t1-{len(lines)}\tbenign\tflow-sessions-{name.split('-')[1]}\t-\t{what}")
    rel = "samples/vpc-flow/attack/vpc-flow-v5.log"
    write(os.path.join(ROOT, "vpc-flow/attack/vpc-flow-v5.log"), [FLOW_FIELDS] + [l for l, _, _ in fl_attack])
    # Group consecutive records of the same case into one row.
    i, line = 0, 2
    while i < len(fl_attack):
        j = i
        while j + 1 < len(fl_attack) and fl_attack[j + 1][1] == fl_attack[i][1]:
            j += 1
        _, d, ids = fl_attack[i]
        rows.append(f"{rel}\t{line}-{line + j - i}\tattack\tflow-attack-{line}\t{','.join(ids)}\t{d}")
        line += j - i + 1
        i = j + 1

    labels = os.path.join(ROOT, "labels.tsv")
    header = "file\tlines\tlabel\tcase\texpected_rules\tdescription"
    old = open(labels).read().splitlines() if os.path.exists(labels) else []
    mine = ("samples/cloudtrail/", "samples/vpc-flow/")
    kept = [l for l in old if l and l != header and not l.startswith(mine)]
    comments = [l for l in kept if l.startswith("#")]
    data = [l for l in kept if not l.startswith("#")] + rows

    def key(l):
        f = l.split("\t")
        return (f[0], int(f[1].split("-")[0]))

    data.sort(key=key)
    with open(labels, "w") as f:
        f.write("\n".join(comments + [header] + data) + "\n")


if __name__ == "__main__":
    main()
