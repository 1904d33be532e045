#!/usr/bin/env python3
"""Generate a PostgreSQL + pgaudit log for the throughput run (docs/BENCHMARKS.md): RDS's
`log_line_prefix` (`%t:%r:%u@%d:[%p]:`), connections and disconnections, SESSION audit lines of a
few hundred statement shapes with varying literals and their parameters, a few refused
statements (ERROR + STATEMENT). Deterministic (seeded).

    python3 benches/gen_pgaudit.py 1000000 > /tmp/pgaudit-1m.log
"""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rng = random.Random(11)
TABLES = ["users", "orders", "order_items", "payments", "products", "carts", "sessions", "invoices"]
COLS = ["id", "email", "status", "created_at", "amount", "user_id", "sku", "qty"]
shapes = []
for t in TABLES:
    for c in COLS:
        shapes.append(("READ", "SELECT", f"SELECT {c}, id FROM public.{t} WHERE id = {{n}}"))
        shapes.append(("WRITE", "UPDATE", f"UPDATE public.{t} SET {c} = '{{s}}' WHERE id = {{n}}"))
    shapes.append(("WRITE", "INSERT", f"INSERT INTO public.{t} (id, email) VALUES ({{n}}, '{{s}}')"))
    shapes.append(("READ", "SELECT", f"SELECT count(*) FROM public.{t} WHERE created_at > '2026-11-{{d}}'"))
shapes += [("MISC", "BEGIN", "BEGIN"), ("MISC", "COMMIT", "COMMIT"), ("MISC", "SET", "SET application_name = 'orders'")]

w = sys.stdout.write
sec = 0
stmt = 0
for i in range(N):
    if i % 40 == 0:
        sec += 1
    ts = "2026-11-28 %02d:%02d:%02d UTC" % ((sec // 3600) % 24, (sec // 60) % 60, sec % 60)
    pid = 20000 + (i // 25) % 500
    host = "10.0.16.%d(%d)" % (pid % 200 + 1, 40000 + pid)
    prefix = f"{ts}:{host}:app@shop:[{pid}]:"
    r = rng.random()
    if r < 0.01:
        w(f"{prefix}LOG:  connection authorized: user=app database=shop application_name=orders\n")
    elif r < 0.02:
        w(f"{prefix}LOG:  disconnection: session time: 0:00:01.{rng.randint(100, 999)} user=app database=shop host={host}\n")
    elif r < 0.022:
        w(f"{prefix}ERROR:  permission denied for table payments\n{prefix}STATEMENT:  SELECT * FROM public.payments\n")
    else:
        cls, cmd, sql = rng.choice(shapes)
        stmt += 1
        text = sql.format(n=rng.randint(1, 10_000_000), s="x%06d@example.com" % rng.randint(0, 999999), d="%02d" % rng.randint(1, 28))
        obj = ""
        if "public." in text:
            obj = text.split("public.")[1].split()[0].rstrip(",")
            obj = f"TABLE,public.{obj}"
        else:
            obj = ","
        quoted = '"' + text.replace('"', '""') + '"' if "," in text else text
        w(f"{prefix}LOG:  AUDIT: SESSION,{stmt},1,{cls},{cmd},{obj},{quoted},<none>\n")
