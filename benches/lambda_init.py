#!/usr/bin/env python3
"""Lambda init time, one 1 MB batch end to end, and the memory high-water mark of a function.

Starts the function binary the way the Lambda service does (AWS_LAMBDA_RUNTIME_API pointing at
a Runtime API, here a minimal one on loopback that speaks the documented protocol: `GET
/2018-06-01/runtime/invocation/next`, `POST …/{id}/response` and `…/error`), and measures:

- init: process start → the first `GET …/invocation/next` (the function has loaded its
  configuration, compiled the full pack and built its clients: it is ready for an event);
- the batch: a CloudWatch Logs subscription event whose decoded log events hold ~1 MB of
  MariaDB audit lines, from handing it over to the `…/response` POST;
- the peak RSS (VmHWM of /proc/PID/status) after the batch.

No sink is configured (no SNS topic, no SIEM log group): what is measured is the function's
own work, decode → parse → detect → metrics. Usage (docs/BENCHMARKS.md):

    cargo build --release -p laneguard-rds-audit
    python3 benches/lambda_init.py target/release/laneguard-rds-audit [--runs 10]
"""

import argparse
import base64
import gzip
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def audit_batch(target_bytes):
    """A subscription event of MariaDB audit lines (the captured sample, repeated)."""
    path = os.path.join(REPO, "samples", "reference", "mariadb-server-audit-captured.log")
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
    events, size, i = [], 0, 0
    while size < target_bytes:
        msg = lines[i % len(lines)]
        events.append({"id": str(10**55 + i), "timestamp": 1764460800000 + i, "message": msg})
        size += len(msg)
        i += 1
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/rds/instance/orders-db/audit",
        "logStream": "orders-db.audit.log.0.2026-11-30-00-00.0.2",
        "subscriptionFilters": ["laneguard"],
        "logEvents": events,
    }
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return json.dumps({"awslogs": {"data": data}}).encode(), size, len(events)


class Runtime:
    """The Runtime API side of one function process."""

    def __init__(self, event):
        self.event = event
        self.ready = threading.Event()
        self.done = threading.Event()
        self.t_ready = None
        self.t_sent = None
        self.t_done = None
        self.error = None
        self.served = 0


def serve(rt):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            if rt.served == 0:
                rt.t_ready = time.perf_counter()
                rt.ready.set()
            else:
                # Hold the second poll: the measurement is over.
                rt.done.wait(30)
                time.sleep(30)
                return
            rt.served += 1
            body = rt.event
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 900_000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:laneguard-bench",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.end_headers()
            rt.t_sent = time.perf_counter()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if "/error" in self.path:
                rt.error = body.decode(errors="replace")
            rt.t_done = time.perf_counter()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            rt.done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_once(binary, event):
    rt = Runtime(event)
    server = serve(rt)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "laneguard-bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/laneguard-bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LANEGUARD_ALLOW_EXAMPLE_POLICY": "true",
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not rt.ready.wait(30):
            raise SystemExit(f"the function never asked for an event: {proc.stderr.read().decode()}")
        if not rt.done.wait(120):
            raise SystemExit("the function never answered")
        if rt.error:
            raise SystemExit(f"the invocation failed: {rt.error}")
        rss = peak_rss_kib(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()
    return (rt.t_ready - t0) * 1000, (rt.t_done - rt.t_sent) * 1000, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--batch-bytes", type=int, default=1 << 20)
    args = ap.parse_args()
    event, size, n = audit_batch(args.batch_bytes)
    inits, batches, rss = [], [], []
    for _ in range(args.runs):
        i, b, r = run_once(args.binary, event)
        inits.append(i)
        batches.append(b)
        rss.append(r)
    print(f"binary: {args.binary} ({os.path.getsize(args.binary)} bytes)")
    print(f"batch: {n} log events, {size} bytes of messages, {len(event)} bytes of Lambda event")
    print(f"init ms: min {min(inits):.1f} median {statistics.median(inits):.1f} max {max(inits):.1f}")
    print(f"batch ms: min {min(batches):.1f} median {statistics.median(batches):.1f} max {max(batches):.1f}")
    print(f"peak RSS MiB: max {max(rss) / 1024:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
