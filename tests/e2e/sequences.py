#!/usr/bin/env python3
"""The SQL halves of laneguard's cross-source sequences (issue #12), against a real MariaDB
(server_audit) or PostgreSQL (pgaudit).

Driven by tests/it/e2e/sequences.rs, which starts and stops the servers, cuts the audit log into
one slice per step (the manifest's byte ranges), and writes beside each slice the hand-written
CloudTrail and VPC flow records of the other half, timed from the slice's own event times.
Connections, zones and the setup are those of workload.py (imported).

Steps (the same names in both phases; the benign phase is each attack's benign twin):
  brute-force      attack: 5 failed logins, then a login, from one internet-facing address
                   benign: 4 failed logins, then the login
  escalation       attack: stolen admin credentials in the application zone create an account and
                           grant it the card table; the account reads the cards
                   benign: the DBA does the same from the management zone (provisioning)
  ddl              one DDL statement from the management zone (after an audit weakening in the
                   attack's CloudTrail, after an unrelated change in the benign one)
  external-login   a login and a query from the internet-facing zone
  app-session      the payments application's ordinary session

Usage:
  sequences.py --engine mysql|pg --port N --log AUDIT_LOG --phase setup|attack|benign --manifest OUT.json
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402
from workload import MGMT, NET, PAY, Session, failed_login, settle  # noqa: E402

SYNC_PW = "e2e-Sync-pw1"


def my():
    return workload.ARGS.engine == "mysql"


def brute_force(failures):
    def run():
        for i in range(failures):
            failed_login("app_pay", NET, f"guess-{i}", "payments")
        with Session("app_pay", NET, "payments") as s:
            s.q("SELECT name FROM payments.products WHERE id = 2" if my() else "SELECT name FROM products WHERE id = 2")

    return run


def escalation(source, account):
    def run():
        with Session("admin", source, "payments") as s:
            if my():
                s.q(f"CREATE USER '{account}'@'%' IDENTIFIED BY '{SYNC_PW}'")
                s.q(f"GRANT SELECT ON payments.cards TO '{account}'@'%'")
            else:
                s.q(f"CREATE USER {account} WITH LOGIN PASSWORD '{SYNC_PW}'")
                s.q(f"GRANT SELECT ON cards TO {account}")
        with Session(account, source, "payments", password=SYNC_PW) as s:
            s.q(
                "SELECT customer_id, card_number FROM payments.cards WHERE customer_id = 1"
                if my()
                else "SELECT customer_id, card_number FROM cards WHERE customer_id = 1"
            )

    return run


def ddl(table):
    def run():
        with Session("admin", MGMT, "payments") as s:
            s.q(f"CREATE TABLE payments.{table} (id INT, note VARCHAR(32))" if my() else f"CREATE TABLE {table} (id int, note text)")

    return run


def external_login():
    with Session("app_pay", NET, "payments") as s:
        s.q("SELECT name FROM payments.products WHERE id = 3" if my() else "SELECT name FROM products WHERE id = 3")


def app_session():
    with Session("app_pay", PAY, "payments") as s:
        for i in (1, 2, 3):
            s.q(
                f"SELECT id, name, price_cents FROM payments.products WHERE id = {i}"
                if my()
                else f"SELECT id, name, price_cents FROM products WHERE id = {i}"
            )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["mysql", "pg"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--phase", choices=["setup", "attack", "benign"], required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    # workload.py's Session reads its ARGS; "attack" lets refused statements pass, which no
    # step here expects (a refusal would only make a sequence not start).
    workload.ARGS = argparse.Namespace(engine=args.engine, port=args.port, phase="attack", verbose=args.verbose)

    if args.phase == "setup":
        steps = [("setup", workload.setup_mysql if my() else workload.setup_pg)]
    elif args.phase == "attack":
        steps = [
            ("brute-force", brute_force(5)),
            ("escalation", escalation(PAY, "svc_sync")),
            ("ddl", ddl("stage_x")),
            ("external-login", external_login),
            ("app-session", app_session),
        ]
    else:
        steps = [
            ("brute-force", brute_force(4)),
            ("escalation", escalation(MGMT, "svc_report")),
            ("ddl", ddl("stage_y")),
            ("external-login", external_login),
            ("app-session", app_session),
        ]

    manifest = []
    start = settle(args.log)
    for name, fn in steps:
        t0 = time.monotonic()
        fn()
        end = settle(args.log)
        manifest.append({"step": name, "label": args.phase, "start": start, "end": end})
        if args.verbose:
            print(f"  {args.engine} {args.phase} {name}: bytes {start}..{end} in {time.monotonic() - t0:.2f}s", file=sys.stderr)
        start = end
    with open(args.manifest, "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
