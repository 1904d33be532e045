#!/usr/bin/env python3
"""A deliberately vulnerable shop front-end (SQL injection on purpose) — for recording attacks only.

Never expose it: it listens on 127.0.0.1, concatenates request parameters into SQL, shows database
errors and result rows in its pages, and allows stacked queries.

Endpoints, per engine (path prefix /mysql or /pg; only the engines given a port are served):
  /<eng>/product?id=N       numeric:          ... FROM products WHERE id = <id>
  /<eng>/search?q=TEXT      string in LIKE:   ... WHERE active = ... AND name LIKE '%<q>%' ORDER BY id LIMIT 20
  /<eng>/user?name=TEXT     string equality:  ... FROM customers WHERE name = '<name>'
  /                         an index page with links

Every request opens its own database connection from the application-zone address (default
127.16.0.5) as `shop_app`, runs one query string, and closes it, so one HTTP request is one audit-log
session. MariaDB: pymysql with CLIENT.MULTI_STATEMENTS (stacked queries run; every result set is
read). PostgreSQL: pg8000's simple-query protocol (`execute_simple`, several statements allowed).

Request log (JSON lines, --request-log): rid, run (the X-Recording-Run request header, set by the
recorder), time, engine, endpoint, param, value, status, error, ms, and the session key of its database connection WITHOUT sending any statement for it:
  MariaDB    conn_id = pymysql `thread_id()` (the connection id of the server handshake, the 5th
             field of every server_audit record)
  PostgreSQL conn_id = backend pid from the BackendKeyData message (pg8000 `_backend_key_data`,
             the `[%p]` of the log prefix); client_port = our socket's port (the `%r` port), since
             PIDs are reused.
The connection's own set-up chatter (pymysql: `SET NAMES utf8mb4`; no `SET AUTOCOMMIT` because
autocommit=True is already the server's default) is logged by the server as part of the request's
session; pg8000 sends no statement at connect.

Usage: vuln_app.py --port P [--mysql-port N] [--pg-port N] --request-log FILE [--source 127.16.0.5]
"""

import argparse
import html
import json
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP_SOURCE = "127.16.0.5"
DEFAULT_PASSWORD = "e2e-ShopApp-pw1"

QUERIES = {
    # endpoint: (parameter, numeric?, SQL template per engine)
    "product": ("id", True, {
        "mysql": "SELECT id, name, category, price_cents FROM products WHERE id = {v}",
        "pg": "SELECT id, name, category, price_cents FROM products WHERE id = {v}",
    }),
    "search": ("q", False, {
        "mysql": "SELECT id, name, price_cents FROM products WHERE active = 1 AND name LIKE '%{v}%' ORDER BY id LIMIT 20",
        "pg": "SELECT id, name, price_cents FROM products WHERE active = true AND name LIKE '%{v}%' ORDER BY id LIMIT 20",
    }),
    "user": ("name", False, {
        "mysql": "SELECT id, name, email, country FROM customers WHERE name = '{v}'",
        "pg": "SELECT id, name, email, country FROM customers WHERE name = '{v}'",
    }),
}


class Config:
    mysql_port = None
    pg_port = None
    source = APP_SOURCE
    user = "shop_app"
    password = DEFAULT_PASSWORD
    database = "shop"
    log = None
    lock = threading.Lock()
    rid = 0


def run_mysql(sql):
    import pymysql
    from pymysql.constants import CLIENT

    conn = pymysql.connect(
        host="127.0.0.1",
        port=Config.mysql_port,
        user=Config.user,
        password=Config.password,
        database=Config.database,
        bind_address=Config.source,
        client_flag=CLIENT.MULTI_STATEMENTS,
        autocommit=True,
        connect_timeout=10,
        read_timeout=30,
    )
    key = {"conn_id": conn.thread_id(), "client_port": conn._sock.getsockname()[1]}
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            cols = [d[0] for d in cur.description] if cur.description else []
            rows = list(cur.fetchall())
            while cur.nextset():  # stacked statements: read (and surface errors of) every result
                cur.fetchall()
        return key, cols, rows, None
    except pymysql.MySQLError as e:
        return key, [], [], f"MariaDB {type(e).__name__}: {e}"
    finally:
        conn.close()


def run_pg(sql):
    import pg8000

    conn = pg8000.Connection(
        Config.user,
        host="127.0.0.1",
        port=Config.pg_port,
        database=Config.database,
        password=Config.password,
        source_address=(Config.source, 0),
        timeout=30,
    )
    pid = struct.unpack("!i", conn._backend_key_data[:4])[0]
    key = {"conn_id": pid, "client_port": conn._usock.getsockname()[1]}
    try:
        ctx = conn.execute_simple(sql)  # simple-query protocol: stacked statements allowed
        cols = [c["name"] for c in (ctx.columns or [])]
        return key, cols, list(ctx.rows or []), None
    except pg8000.DatabaseError as e:
        info = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
        msg = info.get("M", str(e))
        return key, [], [], f"PostgreSQL {info.get('S', 'ERROR')}: {msg} (SQLSTATE {info.get('C', '?')})"
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def page(title, body):
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


class Handler(BaseHTTPRequestHandler):
    server_version = "ShopFront/0.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, text):
        data = text.encode("utf-8", "replace")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if url.path in ("", "/"):
            links = "".join(
                f'<li><a href="/{e}/product?id=1">{e} product</a> <a href="/{e}/search?q=item">{e} search</a></li>'
                for e, p in (("mysql", Config.mysql_port), ("pg", Config.pg_port))
                if p
            )
            return self.send(200, page("Shop", f"<ul>{links}</ul>"))
        if len(parts) != 2 or parts[0] not in ("mysql", "pg") or parts[1] not in QUERIES:
            return self.send(404, page("Not found", ""))
        engine, endpoint = parts
        if (engine == "mysql" and not Config.mysql_port) or (engine == "pg" and not Config.pg_port):
            return self.send(404, page("Not found", ""))
        param, _numeric, sqls = QUERIES[endpoint]
        qs = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        value = qs.get(param, [""])[0]
        sql = sqls[engine].format(v=value)  # the vulnerability
        t0 = time.monotonic()
        key, cols, rows, error = (run_mysql if engine == "mysql" else run_pg)(sql)
        ms = round((time.monotonic() - t0) * 1000, 1)
        status = 500 if error else 200
        with Config.lock:
            Config.rid += 1
            rid = Config.rid
            if Config.log:
                rec = {
                    "rid": rid,
                    "run": self.headers.get("X-Recording-Run", ""),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                    "engine": engine,
                    "endpoint": endpoint,
                    "path": url.path,
                    "param": param,
                    "value": value,
                    "status": status,
                    "error": bool(error),
                    "ms": ms,
                    **key,
                }
                Config.log.write(json.dumps(rec) + "\n")
                Config.log.flush()
        if error:
            # A debug page that shows the database error (what error-based injection reads).
            return self.send(status, page("Error", f"<pre>{error}</pre>"))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in rows)
        return self.send(200, page(endpoint.title(), f"<table><tr>{head}</tr>{body}</table><p>{len(rows)} rows</p>"))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mysql-port", type=int)
    ap.add_argument("--pg-port", type=int)
    ap.add_argument("--source", default=APP_SOURCE)
    ap.add_argument("--user", default="shop_app")
    ap.add_argument("--password", default=DEFAULT_PASSWORD)
    ap.add_argument("--database", default="shop")
    ap.add_argument("--request-log", required=True)
    a = ap.parse_args()
    Config.mysql_port, Config.pg_port = a.mysql_port, a.pg_port
    Config.source, Config.user, Config.password, Config.database = a.source, a.user, a.password, a.database
    Config.log = open(a.request_log, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", a.port), Handler)
    print(f"listening on http://127.0.0.1:{a.port}/", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
        Config.log.close()


if __name__ == "__main__":
    main()
