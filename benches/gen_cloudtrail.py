#!/usr/bin/env python3
"""Generate a realistic CloudTrail corpus for the throughput run (docs/BENCHMARKS.md).

One compact JSON record per line, as the CloudTrail → CloudWatch Logs integration writes them,
~1 KB each: the management events an AWS account really produces (STS, EC2/RDS/IAM describes,
KMS, S3 bucket calls, Secrets Manager, console logins), with full userIdentity and
sessionContext, request and response parameters, TLS details. A few percent are calls the pack
cares about. Deterministic (seeded).

    python3 benches/gen_cloudtrail.py 200000 > /tmp/cloudtrail-200k.jsonl
"""
import json
import random
import sys
import uuid

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
rng = random.Random(7)
ACCOUNT = "111122223333"
ROLES = ["AWSReservedSSO_DBA_0a1b2c3d4e5f6a7b", "ci-deployer", "eks-node-role", "lambda-exec-orders", "AWSServiceRoleForRDS"]
IPS = ["10.0.250.17", "10.0.16.33", "198.51.100.23", "203.0.113.40", "rds.amazonaws.com", "AWS Internal"]
AGENTS = ["aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython",
          "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/rds#1.81.2",
          "Boto3/1.34.162 md/Botocore#1.34.162 ua/2.0 os/linux#5.10.223 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.162",
          "console.amazonaws.com"]

CALLS = [
    ("sts.amazonaws.com", "AssumeRole", True, lambda: {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{rng.choice(ROLES)}", "roleSessionName": f"s-{rng.randint(1, 99999)}", "durationSeconds": 3600},
     lambda: {"credentials": {"accessKeyId": "ASIA" + "X" * 16, "sessionToken": "IQoJb3JpZ2luX2VjEH" + "a" * 40, "expiration": "Nov 28, 2026, 1:00:00 PM"}, "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:s", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"}}),
    ("ec2.amazonaws.com", "DescribeInstances", True, lambda: {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:app", "valueSet": {"items": [{"value": "shop"}]}}]}}, lambda: None),
    ("rds.amazonaws.com", "DescribeDBInstances", True, lambda: {"dBInstanceIdentifier": rng.choice(["payments-db", "marketing-db", "orders-db"])}, lambda: None),
    ("rds.amazonaws.com", "DescribeDBClusters", True, lambda: {"includeShared": False}, lambda: None),
    ("kms.amazonaws.com", "Decrypt", True, lambda: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:lambda:FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders"}}, lambda: None),
    ("kms.amazonaws.com", "GenerateDataKey", True, lambda: {"keyId": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{uuid.UUID(int=rng.getrandbits(128))}", "keySpec": "AES_256"}, lambda: None),
    ("s3.amazonaws.com", "GetBucketAcl", True, lambda: {"bucketName": f"shop-assets-{rng.randint(1, 20)}", "Host": "shop-assets.s3.amazonaws.com", "acl": ""}, lambda: None),
    ("secretsmanager.amazonaws.com", "GetSecretValue", True, lambda: {"secretId": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/orders/db-{rng.randint(1, 5)}"}, lambda: None),
    ("iam.amazonaws.com", "GetRole", True, lambda: {"roleName": rng.choice(ROLES)}, lambda: None),
    ("logs.amazonaws.com", "CreateLogStream", False, lambda: {"logGroupName": "/aws/lambda/orders", "logStreamName": f"2026/11/28/[$LATEST]{rng.getrandbits(64):016x}"}, lambda: None),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True, lambda: {"securityGroupIdSet": {"items": [{"groupId": f"sg-{rng.getrandbits(32):08x}"}]}}, lambda: None),
    ("rds.amazonaws.com", "ModifyDBInstance", False, lambda: {"dBInstanceIdentifier": "orders-db", "allocatedStorage": 200, "applyImmediately": True}, lambda: {"dBInstanceIdentifier": "orders-db", "dBInstanceStatus": "modifying"}),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", False, lambda: {"groupId": f"sg-{rng.getrandbits(32):08x}", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}}]}}, lambda: {"_return": True}),
    ("signin.amazonaws.com", "ConsoleLogin", False, lambda: None, lambda: {"ConsoleLogin": "Success"}),
]
WEIGHTS = [20, 14, 10, 6, 12, 6, 6, 8, 5, 6, 4, 1, 1, 1]


def identity():
    role = rng.choice(ROLES)
    session = f"{rng.choice(['alice', 'bob', 'ci', 'i-0a1b2c3d'])}-{rng.randint(1, 999)}"
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEID{rng.randint(100, 999)}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEID", "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "accountId": ACCOUNT, "userName": role},
            "attributes": {"creationDate": "2026-11-28T09:12:44Z", "mfaAuthenticated": rng.choice(["false", "true"])},
        },
    }


out = sys.stdout
for i in range(N):
    svc, name, ro, req, resp = rng.choices(CALLS, WEIGHTS)[0]
    rec = {
        "eventVersion": "1.10",
        "userIdentity": identity(),
        "eventTime": "2026-11-28T%02d:%02d:%02dZ" % ((i // 3600) % 24, (i // 60) % 60, i % 60),
        "eventSource": svc,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": rng.choice(IPS),
        "userAgent": rng.choice(AGENTS),
        "requestParameters": req(),
        "responseElements": resp(),
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": ro,
        "eventType": "AwsApiCall" if name != "ConsoleLogin" else "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": f"{svc.split('.')[0]}.us-east-1.amazonaws.com"},
    }
    if rng.random() < 0.02:
        rec["errorCode"] = "AccessDenied"
        rec["errorMessage"] = f"User: {rec['userIdentity']['arn']} is not authorized to perform: {svc.split('.')[0]}:{name}"
    out.write(json.dumps(rec, separators=(",", ":")))
    out.write("\n")
