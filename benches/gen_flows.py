#!/usr/bin/env python3
"""Generate VPC flow-log records (version 2 default format) for the throughput run
(docs/BENCHMARKS.md): application, management and data-subnet traffic, a little internet noise
and rejects, database ports among them. Deterministic (seeded).

    python3 benches/gen_flows.py 1000000 > /tmp/flows-1m.log
"""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rng = random.Random(3)
w = sys.stdout.write
w("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
t = 1764320400
for i in range(N):
    if i % 1000 == 0:
        t += 60
    r = rng.random()
    if r < 0.6:
        src = "10.0.%d.%d" % (rng.randint(16, 31), rng.randint(1, 254))
        dst, dport = "10.0.32.%d" % rng.randint(10, 20), rng.choice([3306, 5432])
    elif r < 0.8:
        src = "10.0.%d.%d" % (rng.randint(16, 31), rng.randint(1, 254))
        dst, dport = "52.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)), 443
    elif r < 0.95:
        src = "10.0.32.%d" % rng.randint(10, 20)
        dst, dport = "10.0.%d.%d" % (rng.randint(16, 31), rng.randint(1, 254)), rng.randint(32768, 60999)
    else:
        src = "%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
        dst, dport = "10.0.16.%d" % rng.randint(1, 254), rng.choice([22, 23, 3389, 443, 80])
    action = "ACCEPT" if rng.random() > 0.03 else "REJECT"
    w(f"2 111122223333 eni-{rng.getrandbits(48):012x} {src} {dst} {rng.randint(1024, 65535)} {dport} 6 {rng.randint(1, 200)} {rng.randint(60, 500000)} {t} {t + 60} {action} OK\n")
