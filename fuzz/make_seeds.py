#!/usr/bin/env python3
"""Write fuzz/seeds/<target>/ from the repository's samples and fixtures (docs/FUZZING.md).

Deterministic: the same repository gives the same seeds. Each seed is at most MAX bytes (the
fuzzers' -max_len); larger samples are cut at a line boundary. The first byte of a seed is the
target's selector where it has one (fuzz_targets/*.rs).
"""
import gzip, hashlib, os, pathlib, shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds"
MAX = 8 * 1024
SIGMA = ROOT / "tests" / "fixtures" / "sigma"


def cut(data: bytes) -> bytes:
    if len(data) <= MAX:
        return data
    end = data.rfind(b"\n", 0, MAX)
    return data[: end + 1 if end > 0 else MAX]


def put(target: str, data: bytes) -> None:
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def files(*dirs: str):
    for d in dirs:
        for p in sorted((ROOT / d).rglob("*")):
            if p.is_file() and p.suffix not in (".md", ".py", ".tsv", ".toml"):
                yield p


# Source selectors, as laneguard_fuzz::SOURCES orders them.
SOURCE = {None: 0, "cloudtrail": 1, "mysql-audit": 2, "pgaudit": 3, "vpc-flow": 4, "das": 5}


def source_of(p: pathlib.Path):
    n = str(p)
    for key, s in (("cloudtrail", "cloudtrail"), ("mysql", "mysql-audit"), ("mariadb", "mysql-audit"),
                   ("aurora", "mysql-audit"), ("pgaudit", "pgaudit"), ("postgres", "pgaudit"),
                   ("vpc", "vpc-flow"), ("das", "das")):
        if key in n:
            return s
    return None


shutil.rmtree(OUT, ignore_errors=True)
samples = list(files("samples/reference", "samples/mysql-audit", "samples/pgaudit", "samples/cloudtrail",
                     "samples/vpc-flow", "samples/apptraffic"))
for p in samples + list(files("samples/envelopes")):
    raw = p.read_bytes()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    s = source_of(p)
    put("envelope", cut(raw))
    # Forced source, or detection for every other file.
    put("sources", bytes([SOURCE[s] if len(raw) % 2 else 0]) + cut(text))
    put("pipeline", bytes([2 * SOURCE[s]]) + cut(text))

DIALECT = {"mysql": 0, "postgres": 1, "generic": 2}
for line in (ROOT / "tests/it/sql_corpus.tsv").read_text().splitlines():
    if not line.strip() or line.startswith("#"):
        continue
    parts = line.split(" | ", 5)
    if len(parts) == 6 and parts[0] in DIALECT:
        sql = parts[5].encode()
        put("sql", bytes([DIALECT[parts[0]]]) + sql)
        # Statement mode of the pipeline: MariaDB line (selector bit 1 clear) or pgaudit entry.
        put("pipeline", bytes([1 | (2 if parts[0] == "postgres" else 0)]) + sql)

put("config", b"\x00" + (ROOT / "rules/policy.toml").read_bytes())
for p in sorted((ROOT / "rules").glob("*.toml")):
    if p.name != "policy.toml":
        put("config", b"\x01" + cut(p.read_bytes()))
if SIGMA.is_dir():
    for p in sorted(SIGMA.rglob("*.yml")):
        put("config", b"\x02" + cut(p.read_bytes()))

for t in sorted(os.listdir(OUT)):
    print(t, len(os.listdir(OUT / t)))
