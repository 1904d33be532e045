#!/usr/bin/env python3
"""Build samples/envelopes/ from the real records in samples/reference/.

Each file wraps real log records in one of the transport envelopes AWS uses, exactly as
FORMATS.md §1 describes them, so `laneguard replay samples/` exercises every envelope on real
data. Deterministic: gzip mtime 0, event ids and timestamps derived from the records.

    python3 samples/envelopes/make.py
"""
import base64, gzip, json, pathlib, re, datetime

HERE = pathlib.Path(__file__).resolve().parent
REF = HERE.parent / "reference"


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def event_id(n: int) -> str:
    # CloudWatch Logs event ids are 56-digit decimal strings.
    return str(31953106606966983378809025079804211143289615424298221568 + n)


def mysql_ms(line: str) -> int:
    ts = line.split(",", 1)[0]
    if len(ts) == 16 and ts.isdigit():
        return int(ts) // 1000
    dt = datetime.datetime.strptime(ts, "%Y%m%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1000)


def pg_entries(text: str):
    prefix = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:")
    entries = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if prefix.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return entries


def payload(group: str, stream: str, messages, times, first_id=0, message_type="DATA_MESSAGE") -> dict:
    return {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["laneguard"],
        "logEvents": [
            {"id": event_id(first_id + i), "timestamp": t, "message": m}
            for i, (m, t) in enumerate(zip(messages, times))
        ],
    }


def lambda_event(p: dict) -> dict:
    return {"awslogs": {"data": base64.b64encode(gz(json.dumps(p).encode())).decode()}}


def lines(name: str):
    return [l for l in (REF / name).read_text().splitlines() if l and not l.startswith("#")]


def main():
    # 1. Lambda subscription event: MariaDB server_audit lines from an RDS audit log group.
    m = lines("mariadb-server-audit-captured.log")
    p = payload("/aws/rds/instance/shop-db/audit", "shop-db", m, [mysql_ms(l) for l in m])
    (HERE / "cwl-lambda-event-mariadb.json").write_text(json.dumps(lambda_event(p), indent=2) + "\n")

    # 2. Lambda subscription event: PostgreSQL + pgaudit entries (multi-line messages).
    e = pg_entries((REF / "pgaudit-captured.log").read_text())
    times = [int(datetime.datetime.strptime(x[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) for x in e]
    p = payload("/aws/rds/cluster/shop-pg/postgresql", "shop-pg-instance-1", e, times, 1000)
    (HERE / "cwl-lambda-event-postgresql.json").write_text(json.dumps(lambda_event(p), indent=2) + "\n")

    # 3. Lambda Kinesis event: a CloudTrail trail's log group subscribed to a Kinesis stream; one
    #    Kinesis record per subscription payload (gzip, no awslogs wrapper).
    ct = lines("cloudtrail-records.jsonl")
    records = []
    for i, chunk in enumerate([ct[0:7], ct[7:14]]):
        times = [int(datetime.datetime.strptime(json.loads(r)["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) for r in chunk]
        p = payload("CloudTrail/logs", "123456789012_CloudTrail_us-east-1", chunk, times, 2000 + 10 * i)
        seq = "4956816737333333333333333333333333333333333333333333333%d" % i
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "123456789012_CloudTrail_us-east-1",
                        "sequenceNumber": seq, "data": base64.b64encode(gz(json.dumps(p).encode())).decode(),
                        "approximateArrivalTimestamp": 1722600000.5},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": "shardId-000000000000:" + seq, "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/laneguard", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cwl-cloudtrail"})
    (HERE / "kinesis-event-cloudtrail.json").write_text(json.dumps({"Records": records}, indent=2) + "\n")

    # 4. Firehose → S3 object: subscription payloads, each its own gzip member, back to back;
    #    a CONTROL_MESSAGE first, as Firehose delivers it.
    v = lines("vpc-flow-v2.log")
    control = payload("", "", ["CWL CONTROL MESSAGE: Checking health of destination Firehose."], [1418530000000], message_type="CONTROL_MESSAGE")
    control["owner"] = "CloudwatchLogs"
    control["subscriptionFilters"] = []
    control["logEvents"][0]["id"] = ""
    members = [control,
               payload("vpc-flow-logs", "eni-1235b8ca123456789-all", v[:4], [int(l.split()[10]) * 1000 for l in v[:4]], 3000),
               payload("vpc-flow-logs", "eni-1235b8ca123456789-all", v[4:], [int(l.split()[10]) * 1000 for l in v[4:]], 3100)]
    (HERE / "firehose-s3-object-vpc-flow.gz").write_bytes(b"".join(gz(json.dumps(m).encode()) for m in members))

    # 5. CloudTrail S3 archive object, gzipped: {"Records": [...]}.
    archive = {"Records": [json.loads(r) for r in ct[14:]]}
    (HERE / "cloudtrail-s3-archive.json.gz").write_bytes(gz(json.dumps(archive, indent=1).encode()))

    # 6. JSON-lines export of CloudWatch Logs events (aws logs filter-log-events, one event a line).
    a = lines("aurora-mysql-audit.log")
    with open(HERE / "cwl-export-aurora.jsonl", "w") as f:
        for i, l in enumerate(a):
            f.write(json.dumps({"logGroupName": "/aws/rds/cluster/world-aurora/audit", "logStreamName": "database-1-instance-1",
                                "timestamp": mysql_ms(l), "message": l, "ingestionTime": mysql_ms(l) + 2000,
                                "eventId": event_id(4000 + i)}) + "\n")

    # 7. Firehose data-transformation event: records carry gzip subscription payloads.
    r = lines("mysql-audit-rds.log")
    p = payload("/aws/rds/instance/rds-dbinstance-1/audit", "rds-dbinstance-1", r, [mysql_ms(l) for l in r], 5000)
    fh = {"invocationId": "5f0b1d3e-laneguard-sample", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/rds-audit",
          "region": "us-east-1",
          "records": [{"recordId": "49546986683135544286507457936321625675700192471156785154", "approximateArrivalTimestamp": 1682935339000,
                       "data": base64.b64encode(gz(json.dumps(p).encode())).decode()}]}
    (HERE / "firehose-transform-event-mysql.json").write_text(json.dumps(fh, indent=2) + "\n")


if __name__ == "__main__":
    main()
