"""A private PostgreSQL 15 cluster on a free loopback port, for the tests and the benchmarks.

`initdb` / `pg_ctl` from the image's PostgreSQL 15, run as the `postgres` user when we are root.
tests/conftest.py starts a throwaway one per session; bench/store.py keeps one between runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(args: list[str]) -> list[str]:
    """`args` run as the `postgres` user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def pg_tool(name: str) -> str:
    """The PostgreSQL 15 program `name`, else whichever is on the PATH."""
    found = PG_BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def installed() -> bool:
    """Whether `initdb` can be found."""
    return Path(pg_tool("initdb")).exists() or shutil.which(pg_tool("initdb")) is not None


@contextmanager
def pg_cluster(folder: Path, *, settings: str = "", stop_mode: str = "fast") -> Iterator[str]:
    """Run the cluster kept in `folder`/data (made on first use) on a free loopback port while
    in use; yields its base URL (`postgresql+psycopg://postgres@127.0.0.1:PORT`).

    `settings` are extra server options (`-c fsync=off`); the caller owns `folder`.
    """
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    if not data.exists():
        initdb = [pg_tool("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        subprocess.run(as_postgres(initdb), check=True, capture_output=True)
    port = free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 {settings}".strip()
    start = [pg_tool("pg_ctl"), "-D", str(data), "-o", options, "-w", "start"]
    subprocess.run(
        as_postgres([*start, "-l", str(folder / "log")]), check=True, capture_output=True
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        stop = [pg_tool("pg_ctl"), "-D", str(data), "-m", stop_mode, "stop"]
        subprocess.run(as_postgres(stop), capture_output=True)
