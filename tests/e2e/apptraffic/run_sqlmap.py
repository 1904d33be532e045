#!/usr/bin/env python3
"""Run the real sqlmap against the vulnerable app (vuln_app.py), one bounded run at a time.

The plan per engine (`plan(engine)`):
  sqlmap-<T>                each technique alone (--technique=B, E, U, S, T), each on one endpoint
  sqlmap-BEUST-<tamper>     one tamper script with every technique (they all work on this app), with
                            `--answers=extending=N` so a tamper that breaks every payload (percentage)
                            stops after the level-1 tests instead of running ~3,400 requests
  sqlmap-risk3-B            boolean-based blind at --risk=3 against a value that matches no row, where
                            only OR-based (tautology) payloads work
  sqlmap-enum               --banner --current-user --current-db --hostname --is-dba --users --passwords
                            --privileges --tables (fingerprint and enumeration)
  sqlmap-dump               --dump -T payment_methods (restricted card data) with UNION available
  sqlmap-dump-blind         the same dump through boolean-based blind only, rows 1-2 (~1,000 requests)

Common options: --batch --flush-session --time-sec=1 --threads=1 --timeout=5 --retries=1, a
scratch --output-dir, and a header `X-Recording-Run: <run>` that the app writes to its request log
so every HTTP request (and so every database session) is attributed to its run; each run is also
killed after its own time limit.

Standalone: run_sqlmap.py --url http://127.0.0.1:PORT --engine mysql|pg [--only RUN ...]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(__file__).resolve().parents[3] / ".venv" / "bin"

# The value a normal page view uses for each endpoint (sqlmap's "original value").
ORIGINAL = {"product": "7", "search": "garden", "user": "Ada Lovelace"}
PARAM = {"product": "id", "search": "q", "user": "name"}

TAMPERS = {
    # tamper: endpoint it is run against (spread over the three injection contexts)
    "space2comment": "search",
    "between": "product",
    "randomcase": "user",
    "charencode": "product",
    "equaltolike": "user",
    "space2plus": "search",
    "versionedmorekeywords": "product",  # MySQL only
    "percentage": "product",
}

COMMON = ["--batch", "--flush-session", "--time-sec=1", "--threads=1", "--timeout=5", "--retries=1", "--disable-coloring"]


@dataclass
class Run:
    name: str
    engine: str
    endpoint: str
    technique: str
    tamper: str = "-"
    extra: list = field(default_factory=list)
    limit: int = 240  # seconds
    value: str = ""  # the original value, if not the endpoint's usual one

    @property
    def param(self):
        return PARAM[self.endpoint]

    @property
    def original(self):
        return self.value or ORIGINAL[self.endpoint]

    def url(self, base):
        from urllib.parse import quote

        return f"{base}/{self.engine}/{self.endpoint}?{self.param}={quote(self.original)}"

    def args(self, base, outdir):
        a = ["-u", self.url(base), f"--technique={self.technique}"] + COMMON
        if self.tamper != "-":
            a.append(f"--tamper={self.tamper}")
        a += self.extra
        a += [f"--output-dir={outdir}", f"--headers=X-Recording-Run: {self.engine}/{self.name}"]
        return a


def plan(engine):
    runs = [
        Run("sqlmap-B", engine, "product", "B"),
        Run("sqlmap-E", engine, "search", "E"),
        Run("sqlmap-U", engine, "user", "U"),
        Run("sqlmap-S", engine, "product", "S"),
        Run("sqlmap-T", engine, "user", "T"),
    ]
    for tamper, endpoint in TAMPERS.items():
        if tamper == "versionedmorekeywords" and engine != "mysql":
            continue
        runs.append(Run(f"sqlmap-BEUST-{tamper}", engine, endpoint, "BEUST", tamper, ["--answers=extending=N"]))
    schema = "shop" if engine == "mysql" else "public"
    enum = ["--banner", "--current-user", "--current-db", "--hostname", "--is-dba", "--users", "--passwords", "--privileges", "--tables"]
    runs += [
        # A look-up of a value that matches nothing: AND-based tests cannot tell true from false,
        # so sqlmap needs the OR-based (tautology) payloads of risk 3.
        Run("sqlmap-risk3-B", engine, "user", "B", extra=["--risk=3"], value="nobody"),
        # Never crack retrieved hashes here (a dictionary attack would burn minutes of CPU).
        Run("sqlmap-enum", engine, "user", "BEU", extra=enum + ["--answers=crack=N,dictionary=N"]),
        Run("sqlmap-dump", engine, "product", "BEU", extra=["--dump", "-D", schema, "-T", "payment_methods"]),
        Run(
            "sqlmap-dump-blind",
            engine,
            "product",
            "B",
            extra=["--dump", "-D", schema, "-T", "payment_methods", "--start=1", "--stop=2"],
            limit=300,
        ),
    ]
    return runs


# sqlmap draws its random numbers and strings (payload constants, heuristic characters, comment
# tags) from Python's `random`, seeded from the OS. The launcher seeds it per run, so a re-recording
# sends the same payloads (decisions that depend on response times can still differ);
# PYTHONHASHSEED=0 fixes the order of the sets it draws from.
LAUNCHER = "import random, sys; random.seed(sys.argv.pop(1)); sys.argv[0] = 'sqlmap'; from sqlmap.sqlmap import main; sys.exit(main())"


def sqlmap_command(seed=None):
    python = VENV_BIN / "python"
    if seed is not None:
        return [str(python if python.is_file() else sys.executable), "-c", LAUNCHER, str(seed)]
    exe = VENV_BIN / "sqlmap"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-m", "sqlmap"]


def version():
    out = subprocess.run(sqlmap_command() + ["--version"], capture_output=True, text=True)
    return (out.stdout.strip().splitlines() or ["?"])[-1]


def execute(run, base, outdir, logfile):
    """Run sqlmap for `run`; returns (status, seconds, identified techniques)."""
    cmd = sqlmap_command(seed=f"{run.engine}/{run.name}") + run.args(base, outdir)
    # HOME: keep sqlmap's own files in the scratch dir. PYTHONHASHSEED: set iteration order feeds
    # some of its random choices (e.g. which marker starts a UNION/error string).
    env = dict(os.environ, HOME=str(outdir), XDG_DATA_HOME=str(outdir), PYTHONHASHSEED="0")
    t0 = time.monotonic()
    with open(logfile, "w") as out:
        try:
            p = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, timeout=run.limit)
            status = "ok" if p.returncode == 0 else f"rc={p.returncode}"
        except subprocess.TimeoutExpired:
            status = "timeout"
    seconds = round(time.monotonic() - t0, 1)
    text = Path(logfile).read_text(errors="replace")
    types = sorted(set(re.findall(r"^\s+Type: (.+)$", text, re.M)))
    if "all tested parameters do not appear to be injectable" in text:
        types = ["not injectable"]
    return status, seconds, types


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="base URL of vuln_app.py, e.g. http://127.0.0.1:8080")
    ap.add_argument("--engine", choices=["mysql", "pg"], required=True)
    ap.add_argument("--only", nargs="*", help="run names to run (default: the whole plan)")
    a = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="laneguard-sqlmap-"))
    for r in plan(a.engine):
        if a.only and r.name not in a.only:
            continue
        status, secs, types = execute(r, a.url.rstrip("/"), out, out / f"{r.name}.out")
        print(f"{r.engine} {r.name}: {status} in {secs}s: {', '.join(types) or '-'}", file=sys.stderr)
    print(f"sqlmap output in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
