"""Ingest benchmark: Costdesk's ingest vs a bare json + sqlite3.executemany insert.

Generates a flat JSON-lines log (1M lines by default), then in the same run times
  1. the baseline: stdlib `json.loads` per line + `sqlite3.executemany` of the same rows into
     a table with a unique request_id index (no validation, no pricing, no rollups), and
  2. Costdesk: `db.ingest.ingest_file` (validation, scrubbing, pricing at each event's date,
     natural-key dedupe, rollups and histograms in the same transaction),
and prints rows/s of both, the ratio, peak memory (max RSS of a fresh process per run) at
100k and at the full size, and a re-ingest of the same file (0 rows added, and its time).

    .venv/bin/python bench/ingest.py [--lines 1000000] [--workdir /tmp/costdesk-bench]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o3-mini", "claude-3-5-haiku-latest")
FIELDS = (
    "timestamp", "request_id", "model", "input_tokens", "output_tokens", "cached_input_tokens",
    "reasoning_tokens", "latency_ms", "status", "error_type", "project", "feature", "user",
    "finish_reason", "max_tokens", "batch", "service_tier",
)  # fmt: skip


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """Write a deterministic flat JSON-lines log of `lines` requests over 90 days."""
    rnd = random.Random(seed)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    step_s = 90 * 86400 / lines
    with path.open("w") as out:
        for i in range(lines):
            ts = (start + timedelta(seconds=i * step_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            failed = rnd.random() < 0.03
            input_tokens = rnd.randint(200, 6000)
            record = {
                "timestamp": ts,
                "request_id": f"req_{i:09d}",
                "model": MODELS[i % len(MODELS)],
                "input_tokens": input_tokens,
                "output_tokens": 0 if failed else rnd.randint(5, 900),
                "cached_input_tokens": 1024 if input_tokens > 2048 and i % 3 == 0 else 0,
                "reasoning_tokens": 0,
                "latency_ms": rnd.randint(150, 12000),
                "status": 429 if failed else 200,
                "error_type": "rate_limit_exceeded" if failed else None,
                "project": ("search", "support", "agents")[i % 3],
                "feature": ("chat", "summarize", "classify", "extract")[i % 4],
                "user": f"user-{i % 500}",
                "finish_reason": "length" if i % 17 == 0 else "stop",
                "max_tokens": 1024,
                "batch": False,
                "service_tier": "default",
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def baseline(path: Path, db_path: Path) -> int:
    """Bare insert: stdlib json + sqlite3.executemany, unique request_id index; returns rows."""
    db_path.unlink(missing_ok=True)
    conn = sqlite3.connect(db_path)
    conn.execute(f"CREATE TABLE request ({', '.join(FIELDS)})")
    conn.execute("CREATE UNIQUE INDEX ix_request_id ON request (request_id)")
    sql = f"INSERT INTO request VALUES ({', '.join('?' * len(FIELDS))})"
    rows = 0
    with path.open("rb") as handle:
        chunk = []
        for line in handle:
            record = json.loads(line)
            chunk.append(tuple(record.get(f) for f in FIELDS))
            if len(chunk) == 50_000:
                conn.executemany(sql, chunk)
                rows += len(chunk)
                chunk = []
        conn.executemany(sql, chunk)
        rows += len(chunk)
    conn.commit()
    conn.close()
    return rows


def costdesk(path: Path, db_path: Path, again: bool) -> tuple[int, int]:
    """Costdesk's ingest of the file (and optionally a second time); returns (added, added again)."""
    sys.path.insert(0, str(ROOT))
    from core.pricing import PriceBook
    from db.engine import make_engine
    from db.ingest import ingest_file

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_path}")
    book = PriceBook.from_snapshot()
    first = ingest_file(engine, path, book=book)
    if first.file_error or first.rejected:
        raise SystemExit(f"ingest failed: {first.file_error or first.errors[:3]}")
    if not again:
        return first.accepted, -1
    return first.accepted, ingest_file(engine, path, book=book).accepted


def child(kind: str, path: Path, db_path: Path) -> None:
    """One measured run in this (fresh) process; prints JSON with rows, seconds, max RSS."""
    if kind != "baseline":
        sys.path.insert(0, str(ROOT))
        import db.ingest  # noqa: F401  (imports are not part of the measured time)
    started = time.perf_counter()
    if kind == "baseline":
        rows = baseline(path, db_path)
    else:
        rows, _ = costdesk(path, db_path, again=False)
    result = {
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "rss_mb": _rss_mb(),
        "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    if kind == "reingest":
        started = time.perf_counter()
        _, added = costdesk_again(path, db_path)
        result.update(again_seconds=time.perf_counter() - started, again_rows=added)
    print(json.dumps(result))


def costdesk_again(path: Path, db_path: Path) -> tuple[int, int]:
    """Ingest into the existing database again (nothing should be added)."""
    from core.pricing import PriceBook
    from db.engine import make_engine
    from db.ingest import ingest_file

    report = ingest_file(make_engine(f"sqlite:///{db_path}"), path, book=PriceBook.from_snapshot())
    return report.duplicates, report.accepted


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(kind: str, path: Path, db_path: Path) -> dict:
    """Run one measurement in a fresh interpreter, so peak memory is that run's own.

    Besides each process's peak RSS, the memory of the run's whole process tree is sampled
    every 100 ms as PSS (proportional set size: pages a forked parse worker still shares with
    its parent are counted once, not twice), and its peak reported.
    """
    command = [sys.executable, __file__, "--child", kind, "--file", str(path), "--db", str(db_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as proc:
        peak_pss = 0.0
        while proc.poll() is None:
            peak_pss = max(peak_pss, _tree_pss_mb(proc.pid))
            time.sleep(0.1)
        out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"{kind} run failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["pss_mb"] = peak_pss
    return result


def _tree_pss_mb(pid: int) -> float:
    """PSS of a process and all its descendants, in MB (0 for processes already gone)."""
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


def main() -> None:
    """Generate, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/costdesk-bench"))
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (noisy machines)")
    parser.add_argument("--child")
    parser.add_argument("--file", type=Path)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.db)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = sorted({min(100_000, args.lines), args.lines})
    for lines in sizes:
        log = args.workdir / f"flat-{lines}.jsonl"
        if not log.exists():
            generate(log, lines)
        base, ours = None, None
        for _ in range(args.repeat):  # alternate, so both see the same machine load
            b = run("baseline", log, args.workdir / "baseline.db")
            o = run("reingest", log, args.workdir / "costdesk.db")
            base = b if base is None or b["seconds"] < base["seconds"] else base
            ours = o if ours is None or o["seconds"] < ours["seconds"] else ours
        base_rate = base["rows"] / base["seconds"]
        our_rate = ours["rows"] / ours["seconds"]
        print(f"\n{lines:,} lines ({log.stat().st_size / 1e6:,.0f} MB)")
        print(
            f"  bare json + sqlite3.executemany: {base_rate:>10,.0f} rows/s  "
            f"{base['seconds']:6.1f} s  peak RSS {base['rss_mb']:6.0f} MB"
        )
        print(
            f"  Costdesk ingest:                 {our_rate:>10,.0f} rows/s  "
            f"{ours['seconds']:6.1f} s  peak RSS {ours['rss_mb']:6.0f} MB"
            + (f" (parse worker {ours['worker_rss_mb']:.0f} MB)" if ours["worker_rss_mb"] else "")
        )
        print(
            f"  peak memory, all processes (PSS): bare {base['pss_mb']:.0f} MB, "
            f"Costdesk {ours['pss_mb']:.0f} MB"
        )
        print(f"  ratio Costdesk / bare:           {our_rate / base_rate:10.2f}x")
        print(
            f"  re-ingest: {ours['again_rows']} rows added in {ours['again_seconds']:.1f} s "
            f"({ours['again_seconds'] / ours['seconds']:.2f}x the first ingest's time)"
        )


if __name__ == "__main__":
    main()
