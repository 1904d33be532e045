#!/usr/bin/env python3
"""Generate a large MySQL audit corpus for the replay throughput run (docs/BENCHMARKS.md).

Realistic shape: a few hundred statement shapes with varying literals (most audit traffic
repeats a few hundred shapes), connects/disconnects, TABLE events, some failures.
Deterministic (seeded).

    python3 benches/gen_corpus.py 1000000 | gzip -6 > /tmp/audit-1m.log.gz
    python3 benches/gen_corpus.py 1000000 0.10 | gzip -6 > /tmp/audit-1m-unique.log.gz

The optional second argument is the share of statements with a shape of their own (a column
alias no other statement uses): the cache-miss path of the SQL analysis.
"""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
UNIQUE = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
rng = random.Random(42)

TABLES = ["users", "orders", "order_items", "payments", "products", "carts", "sessions", "addresses",
          "invoices", "shipments", "reviews", "coupons", "inventory", "suppliers", "categories"]
COLS = ["id", "email", "status", "created_at", "amount", "user_id", "sku", "qty", "price", "note"]
shapes = []
for t in TABLES:
    for c in COLS:
        shapes.append(f"SELECT {c}, id FROM {t} WHERE id = {{n}}")
        shapes.append(f"SELECT * FROM {t} WHERE {c} = \\'{{s}}\\' LIMIT {{n}}")
        shapes.append(f"UPDATE {t} SET {c} = \\'{{s}}\\' WHERE id = {{n}}")
    shapes.append(f"INSERT INTO {t} (id, {COLS[1]}, {COLS[2]}) VALUES ({{n}}, \\'{{s}}\\', \\'new\\')")
    shapes.append(f"DELETE FROM {t} WHERE id IN ({{n}}, {{n}}, {{n}})")
    shapes.append(f"SELECT COUNT(*) FROM {t} WHERE created_at > \\'2026-11-{{d}}\\'")
shapes += ["COMMIT", "SET NAMES utf8mb4", "SET AUTOCOMMIT = 0", "SELECT 1", "ROLLBACK"]

out = sys.stdout
w = out.write
conn = 1000
qid = 1
sec = 0
for i in range(N):
    if i % 50 == 0:
        conn += 1
        sec += 1
    ts = "20261128 %02d:%02d:%02d" % ((sec // 3600) % 24, (sec // 60) % 60, sec % 60)
    host = "10.0.16.%d" % (conn % 200 + 1)
    r = rng.random()
    if r < 0.02:
        w(f"{ts},shop-db,app,{host},{conn},0,CONNECT,shop,,0\n")
    elif r < 0.04:
        w(f"{ts},shop-db,app,{host},{conn},0,DISCONNECT,shop,,0\n")
    elif r < 0.045:
        w(f"{ts},shop-db,app,{host},{conn},0,FAILED_CONNECT,,,1045\n")
    elif r < 0.10:
        w(f"{ts},shop-db,app,{host},{conn},{qid},READ,shop,{rng.choice(TABLES)},\n")
    else:
        sql = rng.choice(shapes).format(n=rng.randint(1, 10_000_000), s="x%06d@example.com" % rng.randint(0, 999999),
                                        d="%02d" % rng.randint(1, 28))
        if UNIQUE and rng.random() < UNIQUE:
            # A shape of its own: an alias no other statement uses.
            sql = f"SELECT id AS c{qid}, status FROM orders WHERE id = {rng.randint(1, 10_000_000)}"
        rc = 0 if rng.random() > 0.01 else 1146
        w(f"{ts},shop-db,app,{host},{conn},{qid},QUERY,shop,'{sql}',{rc}\n")
        qid += 1
