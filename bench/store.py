"""Stored request databases for the benchmarks, filled through the real ingest, kept for reuse.

    from store import backend_urls, stored_url
    with backend_urls(["sqlite", "postgresql"]) as bases:
        url = stored_url(1_000_000, bases["postgresql"])

A database holds `size` requests of the `bench/loggen.py` log of a seed, put in by
`db.ingest.ingest_file` (the path of `cli.py ingest`) a 1M-line part at a time: each part is
written, ingested and deleted, so a 10M-request fill never holds the 3 GB log on disk. Databases
are kept in the cache folder (`--cache`, default /tmp/costdesk-bench/stored), named after the
size, the seed, the generator's code and the schema's last migration step; a finished fill is
marked, so the next run reuses it and an interrupted one starts over.

PostgreSQL: a cluster kept in the cache folder, started on a free loopback port for the run
(`initdb` / `pg_ctl` as the PostgreSQL user, as tests/conftest.py does) and stopped after, or
any server given as a base URL (`postgresql+psycopg://user@host:port`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CACHE = Path("/tmp/costdesk-bench/stored")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PART_LINES = 1_000_000


def key(size: int, seed: int) -> str:
    """What a stored database is named after: size, seed, generator code, schema head."""
    from db.migrations import STEPS

    code = hashlib.sha256((ROOT / "bench" / "loggen.py").read_bytes()).hexdigest()[:8]
    return f"{size}_seed{seed}_{code}_{STEPS[-1].name}".lower()


def fill(engine: Engine, size: int, seed: int) -> float:
    """Ingest the `size`-line log of `seed` a part at a time; returns the seconds it took."""
    from loggen import generate_parts

    from db.ingest import ingest_file
    from db.prices import load_price_book

    book = load_price_book(engine)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="costdesk-fill-") as folder:
        for number, part in enumerate(generate_parts(Path(folder), size, seed, PART_LINES)):
            report = ingest_file(engine, part, book=book)
            if report.file_error or report.rejected:
                raise SystemExit(f"fill: part {number} not stored whole: {report.as_json()}")
            done = min(size, (number + 1) * PART_LINES)
            print(f"  filled {done:,} of {size:,} requests", file=sys.stderr, flush=True)
    return time.perf_counter() - started


def _finished(url: str) -> bool:
    """True when `url` holds a finished fill (its last step records itself in `bench_fill`)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM bench_fill")).scalar() == 1
    except SQLAlchemyError:  # no such database or table: not filled
        return False
    finally:
        engine.dispose()


def stored_url(size: int, base: str | None = None, *, seed: int = 7, cache: Path = CACHE) -> str:
    """The URL of a database of `size` requests (SQLite file, or a database on `base`)."""
    from db.engine import make_engine

    cache.mkdir(parents=True, exist_ok=True)
    name = f"requests_{key(size, seed)}"
    url = f"sqlite:///{cache / name}.db" if base is None else f"{base}/{name}"
    if (base is not None or (cache / f"{name}.db").exists()) and _finished(url):
        return url
    print(f"filling {url} with {size:,} requests (once; kept for later runs)", file=sys.stderr)
    _fresh(url, cache / f"{name}.db", base, name)
    engine = make_engine(url)
    seconds = fill(engine, size, seed)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_fill (seconds FLOAT NOT NULL)"))
        conn.execute(text("INSERT INTO bench_fill VALUES (:s)"), {"s": seconds})
    engine.dispose()
    make_engine.cache_clear()
    return url


def _fresh(url: str, path: Path, base: str | None, name: str) -> None:
    """Start from an empty database (an interrupted fill leaves a partial one)."""
    if base is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _pg_tool(name: str) -> str:
    found = PG_BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


@contextmanager
def pg_cluster(cache: Path = CACHE) -> Iterator[str]:
    """A PostgreSQL 15 cluster kept in `cache`/pg, running on a free port while in use."""
    folder = cache / "pg"
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    if not data.exists():
        command = [_pg_tool("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB"
    start = [_pg_tool("pg_ctl"), "-D", str(data), "-o", options, "-w", "start"]
    subprocess.run(_as_postgres([*start, "-l", str(folder / "log")]), check=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        stop = [_pg_tool("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)


@contextmanager
def backend_urls(backends: list[str], pg_url: str | None = None) -> Iterator[dict[str, str | None]]:
    """Base URL per backend: None for SQLite files, a running PostgreSQL server's otherwise."""
    if "postgresql" not in backends:
        yield {"sqlite": None}
        return
    if pg_url:
        yield {"sqlite": None, "postgresql": pg_url}
        return
    with pg_cluster() as base:
        yield {"sqlite": None, "postgresql": base}


def storage(engine: Engine) -> dict[str, int]:
    """Bytes on disk per table, its indexes included (SQLite `dbstat`, PostgreSQL's sizes)."""
    if engine.dialect.name == "sqlite":
        query = (
            "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s "
            "LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1"
        )
    else:
        query = (
            "SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables"
        )
    with engine.connect() as conn:
        return {str(name): int(size) for name, size in conn.execute(text(query))}


def requests_stored(engine: Engine) -> int:
    """How many requests the rollups count (raw rows may have been pruned)."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT sum(requests) FROM daily_rollup")).scalar() or 0)


def bytes_per_request(engine: Engine) -> dict[str, float]:
    """Bytes per stored request: raw rows (table + indexes), every rollup, and the whole."""
    sizes = storage(engine)
    requests = max(1, requests_stored(engine))
    rollups = ("daily_rollup", "routing_rollup", "latency_histogram", "latency_daily",
               "output_histogram")  # fmt: skip
    return {
        "request_log": sizes.get("request_log", 0) / requests,
        "routing_rollup": sizes.get("routing_rollup", 0) / requests,
        "rollups": sum(sizes.get(t, 0) for t in rollups) / requests,
        "total": sum(sizes.values()) / requests,
    }
