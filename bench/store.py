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
and stopped after (`tests/pgcluster.py`, the helper that starts the tests' cluster too), or
any server given as a base URL (`postgresql+psycopg://user@host:port`). After a PostgreSQL fill
the database is vacuumed and analysed, as autovacuum would soon after a bulk ingest.

Run on its own, it fills the databases ahead of the benchmarks and prints the bytes each stored
request takes on each database (tables with their indexes, from SQLite's `dbstat` and
PostgreSQL's `pg_total_relation_size`, and the whole database on disk):

    .venv/bin/python bench/store.py [--sizes 100000 1000000] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CACHE = Path("/tmp/costdesk-bench/stored")
PG_SETTINGS = "-c shared_buffers=256MB"
PART_LINES = 1_000_000


def median_ms(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of `fn` in milliseconds, after one warm-up call and with the heap
    settled as the dashboard's server settles it after its first page
    (`ui.resources.settle_heap`: what is alive is frozen out of the cyclic collector's view)."""
    fn()
    gc.collect()
    gc.freeze()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def key(size: int, seed: int) -> str:
    """What a stored database is named after: size, seed, generator code, schema head."""
    from db.migrations import STEPS

    code = hashlib.sha256((ROOT / "bench" / "loggen.py").read_bytes()).hexdigest()[:8]
    return f"{size}_seed{seed}_{code}_{STEPS[-1].name}".lower()


def fill(engine: Engine, size: int, seed: int) -> float:
    """Ingest the `size`-line log of `seed` a part at a time; returns the seconds it took."""
    from loggen import generate_parts

    from core.access import local_admin
    from db.ingest import ingest_file
    from db.prices import load_price_book

    book = load_price_book(engine)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="costdesk-fill-") as folder:
        for number, part in enumerate(generate_parts(Path(folder), size, seed, PART_LINES)):
            report = ingest_file(engine, part, book=book, actor=local_admin(via="cli"))
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
    if base is not None:  # what autovacuum does shortly after a bulk ingest: stats, no dead rows
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
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


@contextmanager
def backend_urls(
    backends: list[str], pg_url: str | None = None, cache: Path = CACHE
) -> Iterator[dict[str, str | None]]:
    """Base URL per backend: None for SQLite files, a running PostgreSQL server's otherwise
    (`pg_url`, else the cluster kept in `cache`/pg, started for the run)."""
    if "postgresql" not in backends:
        yield {"sqlite": None}
        return
    if pg_url:
        yield {"sqlite": None, "postgresql": pg_url}
        return
    from tests.pgcluster import pg_cluster

    with pg_cluster(cache / "pg", settings=PG_SETTINGS) as base:
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


def database_bytes(engine: Engine) -> int:
    """The whole database on disk: the SQLite file, or PostgreSQL's `pg_database_size`."""
    if engine.dialect.name == "sqlite":
        query = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    else:
        query = "SELECT pg_database_size(current_database())"
    with engine.connect() as conn:
        return int(conn.execute(text(query)).scalar() or 0)


def bytes_per_request(engine: Engine) -> dict[str, float]:
    """Bytes per stored request: raw rows (table + indexes), every rollup, every table, and the
    whole database (an empty PostgreSQL database's catalog alone is about 7.5 MB)."""
    from db.ingest.rollups import ROLLUP_TABLES

    sizes = storage(engine)
    requests = max(1, requests_stored(engine))
    rollups = (*ROLLUP_TABLES, "user_rollup")
    return {
        "request_log": sizes.get("request_log", 0) / requests,
        "routing_rollup": sizes.get("routing_rollup", 0) / requests,
        "rollups": sum(sizes.get(t, 0) for t in rollups) / requests,
        "tables": sum(sizes.values()) / requests,
        "database": database_bytes(engine) / requests,
    }


def print_storage(urls: dict[tuple[str, int], str]) -> None:
    """A Markdown table of bytes per stored request, a row per (backend, size) database."""
    from db.engine import make_engine

    print("\nBytes per stored request (tables with their indexes)\n")
    print(
        "| database | requests | raw rows | routing rollup | all rollups | all tables | on disk |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (backend, size), url in urls.items():
        found = bytes_per_request(make_engine(url))
        cells = " | ".join(
            f"{found[k]:.0f} B"
            for k in ("request_log", "routing_rollup", "rollups", "tables", "database")
        )
        print(f"| {backend} | {size:,} | {cells} |")


def sizes_for(backend: str, args: argparse.Namespace) -> list[int]:
    """The sizes a benchmark runs at on `backend` (`--pg-sizes` for PostgreSQL, else `--sizes`)."""
    chosen = args.pg_sizes if backend == "postgresql" and args.pg_sizes else args.sizes
    return sorted(chosen)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every stored-database benchmark takes."""
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument("--pg-url", help="a PostgreSQL server to use (default: a kept cluster)")
    parser.add_argument("--pg-sizes", type=int, nargs="+", default=None, help="default: --sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=CACHE)


def main() -> None:
    """Fill (or reuse) each database and print the bytes each stored request takes."""
    parser = argparse.ArgumentParser(description="Fill the stored databases; print their sizes.")
    add_arguments(parser)
    args = parser.parse_args()
    urls = {}
    with backend_urls(args.backends, args.pg_url, args.cache) as bases:
        for backend in args.backends:
            for size in sizes_for(backend, args):
                url = stored_url(size, bases[backend], seed=args.seed, cache=args.cache)
                urls[(backend, size)] = url
        print_storage(urls)


if __name__ == "__main__":
    main()
