#!/usr/bin/env python3
"""Record real application traffic and real sqlmap attacks as MariaDB / PostgreSQL audit corpora.

  .venv/bin/python tests/e2e/apptraffic/record.py

1. start a scratch MariaDB (server_audit) and PostgreSQL 15 (pgaudit) and bootstrap their accounts
   (servers.py; root/postgres over the Unix socket — not part of any corpus);
2. run the ORM application on both (orm_workload.py): migrations from 127.10.0.5 as `migrator`,
   the application from 127.16.0.5 as `shop_app`;
3. start the vulnerable app (vuln_app.py), browse it normally, then run the sqlmap plan against
   each engine (run_sqlmap.py); every HTTP request is one database session;
   then an insider pages through the card table with the application's account (insider.py);
4. stop the servers and cut their logs by session into
     samples/apptraffic/{mysql-audit,pgaudit}/benign/orm-sqlalchemy.log
     samples/apptraffic/{mysql-audit,pgaudit}/attack/insider-paging.log
     samples/apptraffic/{mysql-audit,pgaudit}/benign/vulnapp-browsing.log
     samples/apptraffic/{mysql-audit,pgaudit}/attack/sqlmap-<run>.log
     samples/apptraffic/requests.tsv   one row per HTTP request of the vulnerable app
     samples/apptraffic/runs.tsv       one row per sqlmap run

Records are the servers' own bytes (PostgreSQL multi-line entries kept whole), normalized like the
Rust harness: MariaDB serverhost -> `e2e-mariadb`, scratch paths -> `<scratch>`. The ORM file keeps
the log order; the vulnerable-app files are grouped by request (each request's session is one
contiguous block, requests in order), so requests.tsv can give each request one line range.

Options: --engines mysql pg (default both), --skip-sqlmap, --only RUN... (subset of the sqlmap
plan), --out DIR (default samples/apptraffic). LANEGUARD_E2E_KEEP=1 keeps the scratch directories
(server logs, the app's raw request log, sqlmap's output).
"""

import sys

sys.dont_write_bytecode = True

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))

import insider  # noqa: E402
import orm_workload  # noqa: E402
import run_sqlmap  # noqa: E402
import servers  # noqa: E402

DIRNAME = {"mysql": "mysql-audit", "pg": "pgaudit"}
ENGINE_TITLE = {"mysql": "MariaDB", "pg": "PostgreSQL"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Log parsing (bytes in, bytes out)
# ------------------------------------------------------------------------------------------------

MY_LINE = re.compile(rb"^([^,\n]*),([^,\n]*),([^,\n]*),([^,\n]*),(\d+),")
PG_START = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Za-z0-9+-]+:([^:\n]*):(.*?)@(.*?):\[(\d+)\]:")
PG_REMOTE = re.compile(rb"^(.+)\((\d+)\)$")


class Record:
    __slots__ = ("offset", "key", "data")

    def __init__(self, offset, key, data):
        self.offset, self.key, self.data = offset, key, data


def parse_mysql(raw):
    """One record per line; key = ('my', connection id) for network sessions, None otherwise."""
    out, off = [], 0
    for line in raw.splitlines(keepends=True):
        m = MY_LINE.match(line)
        key = None
        if m and m.group(4) not in (b"localhost", b""):
            key = ("my", int(m.group(5)))
        out.append(Record(off, key, line))
        off += len(line)
    return out


def parse_pg(raw):
    """Records start with the log_line_prefix; other lines continue the previous record.
    key = ('pg', pid, client port) for TCP sessions (PIDs are reused; pid+port is not)."""
    out, off = [], 0
    cur = None
    for line in raw.splitlines(keepends=True):
        m = PG_START.match(line)
        if m or cur is None:
            key = None
            if m:
                r = PG_REMOTE.match(m.group(1))
                if r:
                    key = ("pg", int(m.group(4)), int(r.group(2)))
            cur = Record(off, key, line)
            out.append(cur)
        else:
            cur.data += line
        off += len(line)
    return out


def normalize(engine, data, scratch):
    data = data.replace(scratch.encode(), b"<scratch>")
    if engine == "mysql":
        lines = []
        for line in data.splitlines(keepends=True):
            parts = line.split(b",", 2)
            if len(parts) == 3:
                line = parts[0] + b",e2e-mariadb," + parts[2]
            lines.append(line)
        data = b"".join(lines)
    return data


# ------------------------------------------------------------------------------------------------
# The vulnerable app and its browsing session
# ------------------------------------------------------------------------------------------------


class VulnApp:
    def __init__(self, mysql_port, pg_port, request_log, stderr_path):
        self.port = servers.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-B", str(HERE / "vuln_app.py"), "--port", str(self.port), "--request-log", str(request_log)]
        if mysql_port:
            cmd += ["--mysql-port", str(mysql_port)]
        if pg_port:
            cmd += ["--pg-port", str(pg_port)]
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

        def ready():
            if self.proc.poll() is not None:
                raise SystemExit("vuln_app.py exited: " + Path(self.stderr_path).read_text(errors="replace"))
            try:
                urllib.request.urlopen(self.base + "/", timeout=2).read()
                return True
            except OSError:
                return False

        servers.wait_for("vuln_app", 20, ready)

    def get(self, path, run):
        req = urllib.request.Request(self.base + path, headers={"X-Recording-Run": run, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) shop-browser"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def browse(app, engine):
    """A short, normal browsing session: product pages, searches, customer look-ups."""
    rng = random.Random(7)
    q = urllib.parse.quote
    views = [f"/{engine}/product?id={rng.randrange(1, 321)}" for _ in range(25)]
    views += [f"/{engine}/product?id={run_sqlmap.ORIGINAL['product']}"] * 2
    for term in ["garden", "item 1", "toys", "kitchen item 2", "books", "", "Item", "sports item 10", "music", "garden"]:
        views.append(f"/{engine}/search?q={q(term)}")
    names = [f"{rng.choice(orm_workload.FIRST)} {rng.choice(orm_workload.LAST)}" for _ in range(8)] + ["Ada Lovelace"]
    views += [f"/{engine}/user?name={q(n)}" for n in names]
    rng.shuffle(views)
    app.get("/", f"{engine}/browsing")
    for v in views:
        app.get(v, f"{engine}/browsing")
    return len(views)


# ------------------------------------------------------------------------------------------------
# Cutting the logs into corpora
# ------------------------------------------------------------------------------------------------


def breaks_out(engine, endpoint, value):
    """Can this value leave its SQL literal? (numeric: anything but digits; string: a quote, or on
    MariaDB a backslash, which escapes the closing quote.)"""
    if endpoint == "product":
        return not re.fullmatch(r"\d+", value)
    return "'" in value or (engine == "mysql" and "\\" in value)


def cut(engine, raw, scratch, boot_end, orm_end, insider_end, requests, runs, out_dir):
    """Write the engine's corpora; returns (request rows, per-file stats, diagnostics)."""
    records = parse_mysql(raw) if engine == "mysql" else parse_pg(raw)
    first = {}
    sessions = {}
    for r in records:
        if r.key is None:
            continue
        first.setdefault(r.key, r.offset)
        sessions.setdefault(r.key, []).append(r)
    notes = []
    d = out_dir / DIRNAME[engine]
    (d / "benign").mkdir(parents=True, exist_ok=True)
    (d / "attack").mkdir(parents=True, exist_ok=True)
    stats = {}

    def write(rel, chunks):
        data = b"".join(chunks)
        (out_dir / rel).write_bytes(data)
        stats[rel] = {"lines": data.count(b"\n"), "bytes": len(data)}

    # ORM: every network session that began between the bootstrap and the vulnerable app.
    orm_keys = {k for k, off in first.items() if boot_end <= off < orm_end}
    orm = [normalize(engine, r.data, scratch) for r in records if r.key in orm_keys]
    write(f"{DIRNAME[engine]}/benign/orm-sqlalchemy.log", orm)

    # The insider paging through the card table: the sessions between the ORM and the app.
    insider_keys = {k for k, off in first.items() if orm_end <= off < insider_end}
    paging = [normalize(engine, r.data, scratch) for r in records if r.key in insider_keys]
    write(f"{DIRNAME[engine]}/attack/insider-paging.log", paging)

    # Vulnerable app: one session per request.
    def key_of(req):
        return ("my", req["conn_id"]) if engine == "mysql" else ("pg", req["conn_id"], req["client_port"])

    mapped = set()
    files = {}  # rel path -> list of (request, [bytes chunks])
    rows = []
    for req in requests:
        k = key_of(req)
        recs = [r for r in sessions.get(k, []) if r.offset >= insider_end]
        if not recs:
            notes.append(f"{engine}: request {req['rid']} ({req['run']}) has no audit records (session {k})")
            continue
        mapped.add(k)
        run_name = req["run"].split("/", 1)[-1] or "unknown"
        if run_name == "browsing":
            kind = "original"
            rel = f"{DIRNAME[engine]}/benign/vulnapp-browsing.log"
        else:
            kind = "original" if req["value"] == runs[run_name].original else "payload"
            rel = f"{DIRNAME[engine]}/benign/vulnapp-browsing.log" if kind == "original" else f"{DIRNAME[engine]}/attack/{run_name}.log"
        files.setdefault(rel, []).append((req, kind, [normalize(engine, r.data, scratch) for r in recs]))
    # How often did the server interleave two requests' sessions (a DISCONNECT logged after the
    # next request's CONNECT)? Grouping by request moves those few records; report how many.
    spans = sorted((sessions[k][0].offset, sessions[k][-1].offset) for k in mapped)
    overlapping = sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
    if overlapping:
        notes.append(f"{engine}: {overlapping} of {len(spans)} request sessions overlap the next one in the raw log (regrouped)")
    stray = [k for k, off in first.items() if off >= insider_end and k not in mapped]
    if stray:
        notes.append(f"{engine}: {len(stray)} sessions after the ORM phase belong to no request: {stray[:5]}")
    for rel, items in files.items():
        items.sort(key=lambda it: it[0]["rid"])
        line = 1
        chunks = []
        for req, kind, recs in items:
            data = b"".join(recs)
            n = data.count(b"\n")
            run_name = req["run"].split("/", 1)[-1] or "unknown"
            run = runs.get(run_name)
            rows.append(
                {
                    "file": f"samples/apptraffic/{rel}",
                    "first_line": line,
                    "last_line": line + n - 1,
                    "engine": engine,
                    "run": run_name,
                    "technique": run.technique if run else "-",
                    "tamper": run.tamper if run else "-",
                    "endpoint": req["endpoint"],
                    "parameter": req["param"],
                    "value": kind,
                    "breaks_out": "yes" if breaks_out(engine, req["endpoint"], req["value"]) else "no",
                    "http_status": req["status"],
                    "db_error": "yes" if req["error"] else "no",
                    "request_id": req["rid"],
                }
            )
            line += n
            chunks.append(data)
        write(rel, chunks)
    check(engine, out_dir, rows, notes)
    return rows, stats, notes


def check(engine, out_dir, rows, notes):
    """Every request's line range must be exactly one whole session: it opens with the connection
    and closes with the disconnection, and every record in it carries the same session key."""
    cache = {}
    bad = 0
    for r in rows:
        path = REPO / r["file"] if not r["file"].startswith("samples/apptraffic/") else out_dir / r["file"][len("samples/apptraffic/") :]
        if path not in cache:
            cache[path] = path.read_bytes().splitlines()
        lines = cache[path][r["first_line"] - 1 : r["last_line"]]
        if engine == "mysql":
            keys = {ln.split(b",")[4] for ln in lines}
            ok = len(keys) == 1 and b",CONNECT," in lines[0] and b",DISCONNECT," in lines[-1]
        else:
            starts = [ln for ln in lines if PG_START.match(ln)]
            keys = {PG_START.match(ln).group(4) for ln in starts}
            ok = len(keys) == 1 and b"connection received" in lines[0] and b"disconnection:" in starts[-1]
        if not ok:
            bad += 1
    if bad:
        notes.append(f"{engine}: {bad} request line ranges are not one whole session")


# ------------------------------------------------------------------------------------------------


def server_versions():
    v = {}
    try:
        v["mariadb"] = subprocess.run([str(servers.which("mariadbd")), "--version"], capture_output=True, text=True).stdout.strip()
    except SystemExit:
        pass
    pg = servers.PG_BIN / "postgres"
    if pg.is_file():
        v["postgresql"] = subprocess.run([str(pg), "--version"], capture_output=True, text=True).stdout.strip()
    return v


def lib_versions():
    from importlib.metadata import version

    return {p: version(p) for p in ("SQLAlchemy", "PyMySQL", "pg8000", "sqlmap")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", nargs="+", choices=["mysql", "pg"], default=["mysql", "pg"])
    ap.add_argument("--skip-sqlmap", action="store_true")
    ap.add_argument("--only", nargs="*", help="subset of the sqlmap plan (run names)")
    ap.add_argument("--out", default=str(REPO / "samples" / "apptraffic"))
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on `kill` too
    out_dir = Path(a.out)
    t0 = time.monotonic()
    scratch = servers.Scratch("record")
    request_log = scratch.path / "requests.jsonl"
    sqlmap_out = scratch.path / "sqlmap"
    sqlmap_out.mkdir()
    dbs = {}
    if "mysql" in a.engines:
        dbs["mysql"] = servers.MariaDb()
    if "pg" in a.engines:
        dbs["pg"] = servers.Postgres()
    bounds = {}
    run_results = []
    runs_by_engine = {e: {r.name: r for r in run_sqlmap.plan(e)} for e in dbs}
    app = None
    try:
        for e, db in dbs.items():
            (servers.bootstrap_mysql if e == "mysql" else servers.bootstrap_pg)(db)
        log(f"servers up: {', '.join(f'{ENGINE_TITLE[e]} :{db.port}' for e, db in dbs.items())}")
        for e, db in dbs.items():
            boot_end = servers.wait_quiet(db.log)
            stats = orm_workload.run(e, db.url("migrator"), db.url("shop_app"))
            orm_end = servers.wait_quiet(db.log)
            pages = insider.run(db.url("shop_app"))
            insider_end = servers.wait_quiet(db.log)
            bounds[e] = (boot_end, orm_end, insider_end)
            log(f"{ENGINE_TITLE[e]} ORM workload done in {stats['seconds']}s: {stats}; insider read {pages} pages")
        app = VulnApp(dbs["mysql"].port if "mysql" in dbs else None, dbs["pg"].port if "pg" in dbs else None, request_log, scratch.path / "vuln_app.err")
        for e in dbs:
            n = browse(app, e)
            log(f"{ENGINE_TITLE[e]} browsing: {n} requests")
        if not a.skip_sqlmap:
            for e in dbs:
                for r in runs_by_engine[e].values():
                    if a.only and r.name not in a.only:
                        continue
                    status, secs, types = run_sqlmap.execute(r, app.base, sqlmap_out, sqlmap_out / f"{e}-{r.name}.out")
                    run_results.append((r, status, secs, types))
                    log(f"{ENGINE_TITLE[e]} {r.name}: {status} in {secs}s: {', '.join(types) or '-'}")
        time.sleep(1.0)
    finally:
        if app:
            app.stop()
        for db in dbs.values():
            servers.wait_quiet(db.log)
        for db in dbs.values():
            db.stop()
    t_record = time.monotonic() - t0

    requests = [json.loads(line) for line in request_log.read_text().splitlines() if line.strip()]
    all_rows, all_stats, notes = [], {}, []
    for p in out_dir.glob("*/*/*.log"):
        if p.parent.parent.name in DIRNAME.values():
            p.unlink()
    for e, db in dbs.items():
        raw = Path(db.log).read_bytes()
        reqs = [r for r in requests if r["engine"] == e]
        rows, stats, n = cut(e, raw, str(db.dir.path), *bounds[e], reqs, runs_by_engine[e], out_dir)
        all_rows += rows
        all_stats.update(stats)
        notes += n
    write_tsvs(out_dir, all_rows, all_stats, run_results, t_record)
    for db in dbs.values():
        db.dir.remove()
    scratch.remove()
    for n in notes:
        log("NOTE " + n)
    log(f"recorded in {t_record:.0f}s; files:")
    for rel, s in sorted(all_stats.items()):
        reqs = [r for r in all_rows if r["file"].endswith(rel)]
        pay = sum(1 for r in reqs if r["value"] == "payload")
        log(f"  {rel}: {s['lines']} lines, {s['bytes']} bytes" + (f", {len(reqs)} requests ({pay} payload)" if reqs else ""))


def write_tsvs(out_dir, rows, stats, run_results, seconds):
    libs = lib_versions()
    srv = server_versions()
    cols = ["file", "first_line", "last_line", "engine", "run", "technique", "tamper", "endpoint", "parameter", "value", "breaks_out", "http_status", "db_error", "request_id"]
    with open(out_dir / "requests.tsv", "w") as f:
        f.write(
            "# One row per HTTP request of the vulnerable app (tests/e2e/apptraffic/vuln_app.py): the file and 1-based inclusive\n"
            "# line range of that request's database session. value: `payload` = the parameter differs from the run's original\n"
            "# value (those sessions are in attack/), `original` = the normal value (sqlmap's own baseline requests and the\n"
            "# browsing session; those are in benign/vulnapp-browsing.log). breaks_out: whether the value can leave its SQL\n"
            "# literal at all (numeric: not only digits; string: a quote, or a backslash on MariaDB) — `payload` rows with `no`\n"
            "# are sqlmap's random/baseline values whose statements are benign in shape. Raw values are not stored.\n"
            "# Written by tests/e2e/apptraffic/record.py.\n"
        )
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]) for c in cols) + "\n")
    rcols = ["run", "engine", "file", "endpoint", "parameter", "technique", "tamper", "options", "status", "seconds", "requests", "payload_requests", "original_requests", "audit_lines", "identified"]
    with open(out_dir / "runs.tsv", "w") as f:
        f.write(
            "# One row per sqlmap run (tests/e2e/apptraffic/run_sqlmap.py). options: sqlmap's options besides -u, --output-dir\n"
            "# and the X-Recording-Run header. identified: the injection types sqlmap reported.\n"
            f"# Recorded {time.strftime('%Y-%m-%d')} in {seconds:.0f}s with "
            + ", ".join(f"{k} {v}" for k, v in libs.items())
            + "; "
            + "; ".join(srv.values())
            + "\n"
        )
        f.write("\t".join(rcols) + "\n")
        for r, status, secs, types in run_results:
            rel = f"{DIRNAME[r.engine]}/attack/{r.name}.log"
            reqs = [x for x in rows if x["engine"] == r.engine and x["run"] == r.name]
            pay = sum(1 for x in reqs if x["value"] == "payload")
            opts = [x for x in r.args("", "") if not x.startswith(("--output-dir", "--headers"))][2:]
            f.write(
                "\t".join(
                    str(x)
                    for x in [
                        r.name,
                        r.engine,
                        f"samples/apptraffic/{rel}",
                        r.endpoint,
                        r.param,
                        r.technique,
                        r.tamper,
                        " ".join(opts),
                        status,
                        secs,
                        len(reqs),
                        pay,
                        len(reqs) - pay,
                        stats.get(rel, {}).get("lines", 0),
                        "; ".join(types) or "-",
                    ]
                )
                + "\n"
            )


if __name__ == "__main__":
    main()
