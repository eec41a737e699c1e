"""Ingest benchmark: Costdesk's CLI and upload path vs a bare json + sqlite3.executemany insert.

On a realistic flat JSON-lines log from `bench/loggen.py` (random provider-shaped request ids,
optional keys on some lines only, mixed timestamp formats, ~0.1 % lines of an unpriced model),
at each size (100k and 1M lines unless `--lines` says otherwise) this times, each run in a fresh
process and the kinds alternating so all see the same machine load:

  1. bare: stdlib `json.loads` per line + `sqlite3.executemany` of the same rows (every key the
     generator can emit, missing ones NULL) into a table with a unique request_id index,
     in batches of 50,000, committed; no validation, pricing or rollups;
  2. CLI: `python cli.py ingest FILE --db sqlite:////... --json`, timed from outside
     (interpreter start-up included); every line must be accepted, none rejected;
  3. upload: the dashboard's upload call (`upload_path`) in a process that, like Streamlit's
     server, runs it on a script thread beside the main one and holds the file in memory as an
     `UploadedFile`; timed around the call, as the user waits for it;
  4. re-ingest: the CLI again on the database of run 2 (must add 0 rows).

It prints a Markdown table: seconds (best of `--repeat`), rows/s, ratio to bare (the upload call
against bare's own in-process time), and the peak PSS of each run's whole process tree (sampled
from /proc, so a forked or spawned worker counts; the highest over the repeats).

    .venv/bin/python bench/ingest.py [--lines 100000 1000000] [--repeat 1] [--seed 7] [--days 90]
                                     [--workdir /tmp/costdesk-bench]
"""

from __future__ import annotations

# Module scope imports only what the bare run needs, so that its process starts like a bare
# script's; everything else is imported where it is used.
import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

    from sqlalchemy import Engine
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from core.pricing import PriceBook
    from db.ingest import IngestReport

ROOT = Path(__file__).resolve().parent.parent
REPORT_KEYS = ("accepted", "duplicates", "rejected", "errors", "unpriced_models", "file_errors")
BATCH_ROWS = 50_000
SAMPLE_SECONDS = 0.05
KINDS = ("bare", "cli", "reingest", "upload")
LABELS = {
    "bare": "bare `json` + `sqlite3.executemany`",
    "cli": "Costdesk CLI `ingest`",
    "upload": "Costdesk upload path",
    "reingest": "CLI re-ingest (adds 0 rows)",
}


def bare_insert(path: Path, db_path: Path, fields: list[str]) -> int:
    """Stdlib json per line + sqlite3.executemany in batches, unique request_id; returns rows."""
    conn = sqlite3.connect(db_path)
    conn.execute(f"CREATE TABLE request ({', '.join(fields)})")
    conn.execute("CREATE UNIQUE INDEX ix_request_id ON request (request_id)")
    sql = f"INSERT INTO request VALUES ({', '.join('?' * len(fields))})"
    tags = fields.index("tags")
    rows, chunk = 0, []
    with path.open("rb") as handle:
        for line in handle:
            record = json.loads(line)
            row = [record.get(name) for name in fields]
            if row[tags] is not None:
                row[tags] = ",".join(row[tags])
            chunk.append(row)
            if len(chunk) == BATCH_ROWS:
                conn.executemany(sql, chunk)
                rows, chunk = rows + len(chunk), []
    conn.executemany(sql, chunk)
    conn.commit()
    conn.close()
    return rows + len(chunk)


def upload_path(
    engine: Engine,
    upload: UploadedFile,
    book: PriceBook,
    progress: Callable[[int, int | None], None],
) -> IngestReport:
    """The Upload logs page's ingest call for one dropped file (as in `views/upload.py`)."""
    from core.access import local_admin
    from db.ingest import ingest_upload

    return ingest_upload(
        engine,
        upload,
        file_name=upload.name,
        fmt=None,
        project=None,
        mapping=None,
        book=book,
        progress=progress,
        actor=local_admin(via="cli"),
    )


def uploaded_file(path: Path) -> UploadedFile:
    """The file as Streamlit hands it to a page: an in-memory `UploadedFile`."""
    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    record = UploadedFileRec(
        file_id="bench", name=path.name, type="application/octet-stream", data=path.read_bytes()
    )
    return UploadedFile(record, FileURLs())


def upload_child(path: Path, db_path: Path) -> dict[str, Any]:
    """Run `upload_path` on a script thread beside an idle main thread, as the server does."""
    import threading

    sys.path.insert(0, str(ROOT))
    from db.engine import make_engine
    from db.prices import load_price_book

    engine = make_engine(f"sqlite:///{db_path}")
    book = load_price_book(engine)
    upload = uploaded_file(path)
    shown = [0.0]
    result: dict[str, Any] = {}

    def step(done: int, total: int | None) -> None:
        shown[0] = done / total if total else 1.0

    def script() -> None:
        started = time.perf_counter()
        report = upload_path(engine, upload, book, step)
        result["seconds"] = time.perf_counter() - started
        result["report"] = report.as_json()

    thread = threading.Thread(target=script, name="ScriptRunner.scriptThread")
    thread.start()
    thread.join()
    report = result["report"]
    return {"seconds": result["seconds"], **{k: report[k] for k in REPORT_KEYS}}


def child(kind: str, path: Path, db_path: Path, fields: list[str]) -> None:
    """One measured run in this fresh process; prints one JSON line."""
    if kind == "bare":
        started = time.perf_counter()
        rows = bare_insert(path, db_path, fields)
        result = {"accepted": rows, "seconds": time.perf_counter() - started}
    else:
        result = upload_child(path, db_path)
    print(json.dumps(result, default=str))


def run(kind: str, log: Path, db_path: Path) -> dict[str, Any]:
    """One run in a fresh process; adds its wall time and its process tree's peak PSS."""
    import subprocess

    from loggen import FIELDS

    if kind in ("bare", "cli", "upload"):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    if kind in ("cli", "reingest"):
        command = ["cli.py", "ingest", str(log), "--db", f"sqlite:///{db_path}", "--json"]
    else:
        command = [__file__, "--child", kind, "--file", str(log), "--db", str(db_path)]
        command += ["--fields", ",".join(FIELDS)]
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as proc:
        peak = _watch(proc)
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    try:
        result = json.loads(out)
    except ValueError:
        raise SystemExit(
            f"{kind} run failed ({proc.returncode}):\n{err.decode()[-3000:]}"
        ) from None
    result.setdefault("seconds", wall)
    return result | {"wall": wall, "pss_mb": peak, "returncode": proc.returncode}


def _watch(proc: subprocess.Popen) -> float:
    """Sample the PSS of `proc` and its descendants until it exits; returns the peak in MB."""
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_pss_mb(proc.pid))
        time.sleep(SAMPLE_SECONDS)
    return peak


def _tree_pss_mb(pid: int) -> float:
    """PSS of a process and all its descendants, in MB (0 for processes already gone).

    PSS (proportional set size) counts pages a forked worker still shares with its parent
    once, not twice.
    """
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) / 1024
        pending += [int(c) for c in children]
    return total


def check(kind: str, result: dict[str, Any], lines: int) -> None:
    """Stop, with the first errors, unless every line went in (on re-ingest: as a duplicate)."""
    from loggen import UNPRICED_MODEL

    added, duplicates = result["accepted"], result.get("duplicates", 0)
    expected = (0, lines) if kind == "reingest" else (lines, 0)
    unpriced = sorted(result.get("unpriced_models", []))
    if (
        (added, duplicates) == expected
        and not result.get("rejected")
        and not result.get("file_errors")
        and set(unpriced) <= {UNPRICED_MODEL}
    ):
        return
    errors = json.dumps(result.get("errors", [])[:10], indent=1)
    raise SystemExit(
        f"{kind}: {added:,} added and {duplicates:,} duplicates of {lines:,} lines, "
        f"{result.get('rejected', 0):,} rejected, file errors {result.get('file_errors', [])}, "
        f"unpriced {unpriced}; first errors:\n{errors}"
    )


def elapsed(kind: str, result: dict[str, Any]) -> float:
    """The time a run is judged by: the upload call's own, else the whole process's."""
    return result["seconds"] if kind == "upload" else result["wall"]


def measure(log: Path, lines: int, workdir: Path, repeat: int) -> dict[str, dict[str, Any]]:
    """Best-of-`repeat` run of each kind (kinds alternating), with the highest peak PSS seen."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for kind in KINDS:
            db_name = "costdesk" if kind in ("cli", "reingest") else kind
            result = run(kind, log, workdir / f"{db_name}.db")
            check(kind, result, lines)
            peak = max(result["pss_mb"], best.get(kind, {}).get("pss_mb", 0.0))
            if kind not in best or elapsed(kind, result) < elapsed(kind, best[kind]):
                best[kind] = result
            best[kind]["pss_mb"] = peak
    return best


def log_file(workdir: Path, lines: int, seed: int, days: int) -> Path:
    """The generated log for this size, seed and span (made once; named after the generator's
    code)."""
    import hashlib

    from loggen import DAYS, generate

    code = hashlib.sha256(Path(__file__).with_name("loggen.py").read_bytes()).hexdigest()[:8]
    span = f"-{days}d" if days != DAYS else ""
    path = workdir / f"log-{lines}{span}-seed{seed}-{code}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        generate(partial, lines, seed=seed, days=days)
        partial.replace(path)
    return path


def table_rows(lines: int, size_mb: float, best: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows for one size (the upload call is compared with bare's in-process time)."""
    rows = []
    for kind in ("bare", "cli", "upload", "reingest"):
        seconds = elapsed(kind, best[kind])
        base = best["bare"]["seconds"] if kind == "upload" else best["bare"]["wall"]
        rate, ratio = f"{lines / seconds:,.0f}", f"{base / seconds:.2f}x"
        if kind == "reingest":
            rate, ratio = "-", f"{seconds / elapsed('cli', best['cli']):.2f}x CLI"
        rows.append(
            f"| {lines:,} ({size_mb:,.0f} MB) | {LABELS[kind]} | {seconds:.2f} | {rate} | "
            f"{ratio} | {best[kind]['pss_mb']:,.0f} MB |"
        )
    return rows


def header(seed: int, days: int, repeat: int) -> list[str]:
    """The machine, the versions and the seed, then the table's head."""
    import os
    import platform

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"cores: {os.cpu_count()} ({usable} usable), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, loggen seed {seed} over {days} days, best of {repeat}",
        "",
        "| lines | path | seconds | rows/s | vs bare | peak PSS |",
        "|---|---|---:|---:|---:|---:|",
    ]


def main() -> None:
    """Generate the logs, measure every path at every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (noisy machines)")
    parser.add_argument("--seed", type=int, default=7, help="the log generator's seed")
    parser.add_argument("--days", type=int, help="the days the log spreads over (default 90)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/costdesk-bench"))
    parser.add_argument("--child", choices=("bare", "upload"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fields", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.db, (args.fields or "").split(","))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    from loggen import DAYS

    args.days = args.days or DAYS
    print("\n".join(header(args.seed, args.days, args.repeat)), flush=True)
    unpriced = set()
    for lines in sorted(set(args.lines)):
        log = log_file(args.workdir, lines, args.seed, args.days)
        best = measure(log, lines, args.workdir, args.repeat)
        unpriced |= set(best["cli"].get("unpriced_models", []))
        print("\n".join(table_rows(lines, log.stat().st_size / 1e6, best)), flush=True)
    print(
        "\nbare, CLI: the whole process, timed from outside. upload: the ingest call on a script\n"
        "thread, vs bare's in-process time. Unpriced lines (accepted, not counted as $0): "
        f"{', '.join(sorted(unpriced)) or 'none'}."
    )


if __name__ == "__main__":
    main()
