#!/usr/bin/env python3
"""Scratch MariaDB (server_audit) and PostgreSQL 15 (pgaudit) servers for recording audit corpora.

The same servers as the Rust end-to-end harness (tests/it/e2e/servers.rs): each on a free loopback
port in its own scratch directory, MariaDB with `server_audit` (CONNECT,QUERY,TABLE, file output,
--skip-name-resolve), PostgreSQL 15 with pgaudit ('all', log_catalog, log_parameter, log_relation)
and RDS's `log_line_prefix '%t:%r:%u@%d:[%p]:'`, connections and disconnections logged, listening on
127.0.0.1 with `host all all 127.0.0.0/8 scram-sha-256`.

`bootstrap_mysql` / `bootstrap_pg` create, as root/postgres over the Unix socket (the part of the log
that is not part of any corpus):
  admin     DBA superuser                       (management zone)
  migrator  owner of the `shop` schema, runs DDL (management zone)
  shop_app  the application: DML on `shop` only (application zone)

Run it alone to get two servers to play with:  python servers.py   (Ctrl-C stops them)
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORDS = {
    "admin": "e2e-Admin-pw1",
    "migrator": "e2e-Migrator-pw1",
    "shop_app": "e2e-ShopApp-pw1",
}

PG_BIN = Path(os.environ.get("LANEGUARD_E2E_PG_BIN", "/usr/lib/postgresql/15/bin"))


def is_root():
    return os.geteuid() == 0


def which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]:
        p = Path(d) / name
        if p.is_file():
            return p
    raise SystemExit(f"{name} not found (apt-get install mariadb-server postgresql-15-pgaudit)")


def free_port():
    """A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes is fine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, timeout, ready):
    start = time.monotonic()
    while not ready():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"{what} not ready after {timeout}s")
        time.sleep(0.05)


def run(cmd, what, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise SystemExit(f"{what} failed ({out.returncode}): {cmd}\nstdout: {out.stdout}\nstderr: {out.stderr}")
    return out.stdout


def wait_quiet(path, quiet=0.6, timeout=30.0):
    """Wait until a log file stops growing (the servers write audit records asynchronously to the
    client's view: a DISCONNECT is logged after the client has gone)."""
    last, since = -1, time.monotonic()
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        size = Path(path).stat().st_size if Path(path).exists() else 0
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return size
        time.sleep(0.1)
    return last


class Scratch:
    """A scratch directory (chmod 755 so `postgres` can reach inside), removed unless
    LANEGUARD_E2E_KEEP is set."""

    def __init__(self, tag):
        self.path = Path(tempfile.mkdtemp(prefix=f"laneguard-apptraffic-{tag}-"))
        os.chmod(self.path, 0o755)

    def remove(self):
        if os.environ.get("LANEGUARD_E2E_KEEP"):
            print(f"kept {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# MariaDB
# ------------------------------------------------------------------------------------------------


class MariaDb:
    engine = "mysql"

    def __init__(self):
        self.dir = Scratch("mariadb")
        d = self.dir.path
        self.data = d / "data"
        files = d / "files"
        files.mkdir()
        install = [
            str(which("mariadb-install-db")),
            "--no-defaults",
            f"--datadir={self.data}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ] + (["--user=root"] if is_root() else [])
        run(install, "mariadb-install-db")
        self.port = free_port()
        self.socket = d / "mysqld.sock"
        self.audit_log = d / "server_audit.log"
        self.client = which("mariadb")
        args = [
            str(which("mariadbd")),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--pid-file={d / 'mysqld.pid'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            f"--log-error={d / 'error.log'}",
            f"--secure-file-priv={files}",
            "--plugin-load-add=server_audit",
            "--server-audit-logging=ON",
            "--server-audit-events=CONNECT,QUERY,TABLE",
            f"--server-audit-file-path={self.audit_log}",
            # The default rotates the file at 1 MB (keeping 9); one unrotated file is simpler to cut.
            "--server-audit-file-rotations=0",
        ] + (["--user=root"] if is_root() else [])
        self.child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready():
            if self.child.poll() is not None:
                raise SystemExit("mariadbd exited:\n" + (d / "error.log").read_text(errors="replace"))
            if not self.socket.exists():
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return True
            except OSError:
                return False

        wait_for("mariadbd", 30, ready)

    @property
    def log(self):
        return self.audit_log

    def root_sql(self, sql):
        """SQL as root over the Unix socket (socket authentication: the OS user)."""
        run([str(self.client), "--no-defaults", f"--socket={self.socket}", "-u", "root", "-e", sql], "mariadb (root over socket)")

    def stop(self):
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(15)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()

    def url(self, user, database="shop"):
        return f"mysql+pymysql://{user}:{PASSWORDS[user]}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"


def bootstrap_mysql(db):
    a, m, s = PASSWORDS["admin"], PASSWORDS["migrator"], PASSWORDS["shop_app"]
    db.root_sql(
        f"CREATE USER 'admin'@'%' IDENTIFIED BY '{a}';"
        " GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION;"
        " CREATE DATABASE shop;"
        f" CREATE USER 'migrator'@'%' IDENTIFIED BY '{m}';"
        " GRANT ALL PRIVILEGES ON shop.* TO 'migrator'@'%';"
        f" CREATE USER 'shop_app'@'%' IDENTIFIED BY '{s}';"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'shop_app'@'%';"
    )


# ------------------------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------------------------


class Postgres:
    engine = "pg"

    def __init__(self):
        self.dir = Scratch("postgres")
        self.root = self.dir.path / "pg"
        self.root.mkdir()
        self.runas = ["runuser", "-u", "postgres", "--"] if is_root() else []
        if is_root():
            run(["chown", "postgres:postgres", str(self.root)], "chown postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgresql.log"
        self.started = False
        run(
            self.cmd("initdb")
            + ["-D", str(self.data), "--auth-local=trust", "--auth-host=scram-sha-256", "-U", "postgres", "--no-sync"],
            "initdb",
        )
        conf = (
            "\n# laneguard apptraffic (RDS-like logging)\n"
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"
            "shared_preload_libraries = 'pgaudit'\npgaudit.log = 'all'\npgaudit.log_catalog = on\n"
            "pgaudit.log_parameter = on\npgaudit.log_relation = on\n"
            "log_line_prefix = '%t:%r:%u@%d:[%p]:'\nlog_connections = on\nlog_disconnections = on\n"
            "fsync = off\n"
        )
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(conf)
        (self.data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n")
        run(self.cmd("pg_ctl") + ["-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"], "pg_ctl start")
        self.started = True

    def cmd(self, program):
        return self.runas + [str(PG_BIN / program)]

    def superuser_sql(self, database, sql):
        """SQL as the `postgres` superuser over the Unix socket (trust)."""
        run(
            self.cmd("psql")
            + ["-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qc", sql],
            "psql (postgres over socket)",
        )

    def stop(self):
        if self.started:
            subprocess.run(
                self.cmd("pg_ctl") + ["-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.started = False

    def url(self, user, database="shop"):
        return f"postgresql+pg8000://{user}:{PASSWORDS[user]}@127.0.0.1:{self.port}/{database}"


def bootstrap_pg(pg):
    a, m, s = PASSWORDS["admin"], PASSWORDS["migrator"], PASSWORDS["shop_app"]
    for db in ("template1", "postgres"):
        pg.superuser_sql(db, "CREATE EXTENSION pgaudit")
    pg.superuser_sql("postgres", f"CREATE ROLE admin LOGIN SUPERUSER PASSWORD '{a}'")
    pg.superuser_sql("postgres", f"CREATE ROLE migrator LOGIN PASSWORD '{m}'")
    pg.superuser_sql("postgres", f"CREATE ROLE shop_app LOGIN PASSWORD '{s}'")
    pg.superuser_sql("postgres", "CREATE DATABASE shop OWNER migrator")
    # PostgreSQL 15: only the database owner may create in `public`. The application gets DML on
    # whatever the migrator creates there, and nothing else.
    pg.superuser_sql("shop", "REVOKE ALL ON DATABASE shop FROM PUBLIC")
    pg.superuser_sql("shop", "GRANT CONNECT ON DATABASE shop TO shop_app")
    pg.superuser_sql("shop", "GRANT USAGE ON SCHEMA public TO shop_app")
    pg.superuser_sql(
        "shop",
        "ALTER DEFAULT PRIVILEGES FOR ROLE migrator IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO shop_app",
    )
    pg.superuser_sql(
        "shop", "ALTER DEFAULT PRIVILEGES FOR ROLE migrator IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO shop_app"
    )


def start_all():
    """Start and bootstrap both servers; returns (mariadb, postgres)."""
    my = MariaDb()
    try:
        bootstrap_mysql(my)
        pg = Postgres()
    except BaseException:
        my.stop()
        my.dir.remove()
        raise
    try:
        bootstrap_pg(pg)
    except BaseException:
        pg.stop()
        my.stop()
        pg.dir.remove()
        my.dir.remove()
        raise
    return my, pg


if __name__ == "__main__":
    my, pg = start_all()
    try:
        print(f"MariaDB    port {my.port}  audit log {my.audit_log}")
        print(f"PostgreSQL port {pg.port}  log {pg.log}")
        for u in PASSWORDS:
            print(f"  {my.url(u)}\n  {pg.url(u)}")
        print("Ctrl-C stops both servers.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        pg.stop()
        my.stop()
        pg.dir.remove()
        my.dir.remove()
