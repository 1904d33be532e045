#!/usr/bin/env python3
"""Upload a CloudTrail archive of gzipped objects to an S3 endpoint, for the throughput run of
`laneguard replay s3://…` and the fan-out's cost model (docs/BENCHMARKS.md, docs/REPLAY.md).

Each object is what CloudTrail delivers to S3 — `{"Records": [...]}`, gzipped, under
`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` — made of the records of
`gen_cloudtrail.py` (one per input line), RECORDS per object.

    python3 benches/gen_cloudtrail.py 200000 > /tmp/cloudtrail-200k.jsonl
    .venv/bin/moto_server -p 5055 &
    .venv/bin/python benches/s3_archive.py http://127.0.0.1:5055 bench /tmp/cloudtrail-200k.jsonl 500
"""
import gzip
import json
import sys

import boto3

endpoint, bucket, corpus, per = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket=bucket)
with open(corpus) as f:
    records = [json.loads(line) for line in f if line.strip()]
total = 0
for i in range(0, len(records), per):
    n = i // per
    body = gzip.compress(json.dumps({"Records": records[i:i + per]}).encode())
    key = f"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/{1 + n // 288:02d}/111122223333_CloudTrail_us-east-1_{n:05d}.json.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    total += len(body)
print(f"{(len(records) + per - 1) // per} objects, {len(records)} records, {total} bytes gzipped", file=sys.stderr)
