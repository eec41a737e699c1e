"""Benchmark: routing simulation over a month of 10M requests, and the grouping query at 1M rows.

    .venv/bin/python bench/routing.py [--rows 1000000] [--requests 10000000]

1. Grouped traffic for 10M requests (7 models x 5 projects x 6 features x 3 statuses x
   batch x 10 input buckets x 7 output buckets) simulated under three rules. Target < 1 s.
2. `db.traffic.grouped_traffic` (one GROUP BY with SQL-side token buckets) on a SQLite file
   holding `--rows` request_log rows, timed cold and warm.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.fingerprint import key_hashes
from core.identity import ModelId, identify
from core.pricing import PriceBook
from core.routing import INPUT_CUTS, OUTPUT_CUTS, TRAFFIC_COLUMNS, parse_rule, simulate
from db.engine import make_engine
from db.traffic import grouped_traffic

MODELS = (
    "gpt-4o-2024-08-06",
    "gpt-4o-mini",
    "gpt-4.1",
    "o3-mini",
    "claude-sonnet-4-5-20250929",
    "gemini-2.5-flash",
    "gpt-4o",
)
PROJECTS = ("support-bot", "search", "copilot", "analytics", "marketing")
FEATURES = ("chat", "triage", "summaries", "codegen", "reports", "copy")
RULES = (
    "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05",
    "project=analytics,batch_share=0.5,cache_uplift_points=20",
    "model=claude-sonnet-4-5,status=ok,target=gemini-2.5-flash,share=0.3,escalation=0.1",
)


def grouped_month(total_requests: int, seed: int = 7) -> pd.DataFrame:
    """A month of traffic as grouped rows whose request counts add up to `total_requests`."""
    rng = np.random.default_rng(seed)
    in_edges = (0, *INPUT_CUTS)
    out_edges = (0, *OUTPUT_CUTS, 8000)
    index = pd.MultiIndex.from_product(
        [MODELS, PROJECTS, FEATURES, (200, 429, 500), (False, True), range(10), range(7)],
        names=["model", "project", "feature", "status", "batch", "in_bucket", "out_bucket"],
    )
    frame = index.to_frame(index=False)
    weights = rng.random(len(frame))
    requests = np.floor(weights / weights.sum() * total_requests).astype(np.int64)
    requests[0] += total_requests - requests.sum()
    frame["requests"] = requests
    lo = np.array(in_edges)[frame["in_bucket"]] + 1
    hi = np.array((*in_edges[1:], 200_000))[frame["in_bucket"]]
    frame["in_min"], frame["in_max"] = lo, hi
    frame["input_tokens"] = requests * ((lo + hi) // 2)
    frame["cached_input_tokens"] = frame["input_tokens"] // 4
    frame["cache_write_tokens"] = 0
    olo = np.array(out_edges)[frame["out_bucket"]] + 1
    ohi = np.array(out_edges[1:])[frame["out_bucket"]]
    frame["out_min"], frame["out_max"] = olo, ohi
    frame["output_tokens"] = requests * ((olo + ohi) // 2)
    return frame[list(TRAFFIC_COLUMNS)]


def bench_simulation(total_requests: int) -> None:
    """Time `simulate` over grouped traffic (median of 5 runs after one warm-up)."""
    book = PriceBook.from_snapshot()
    traffic = grouped_month(total_requests)
    rules = [parse_rule(r) for r in RULES]
    simulate(traffic, rules, book, when=date(2025, 6, 30))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        result = simulate(traffic, rules, book, when=date(2025, 6, 30))
        times.append(time.perf_counter() - started)
    median = sorted(times)[2]
    print(
        f"simulate  {int(traffic['requests'].sum()):,} requests in {len(traffic):,} groups, "
        f"{len(rules)} rules: median {median * 1000:.0f} ms (target < 1000 ms) "
        f"{'OK' if median < 1 else 'SLOW'}; savings ${result.savings_usd:,.2f} "
        f"of ${result.baseline_usd:,.2f}"
    )


COLUMNS = (
    "ts, day, source, request_id, provider, model, model_id, project, feature, user, "
    "input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
    "status, error_type, finish_reason, batch, service_tier, priced, cost_pusd, "
    "uncached_input_pusd, cached_input_pusd, cache_write_pusd, output_pusd, cache_savings_pusd, "
    "output_bucket, price_version, content_hash, key_hash"
)


def identities(book: PriceBook) -> list[ModelId]:
    """Each model's provider and canonical id as ingest stores them (logged provider: openai)."""
    found = [identify(book, name) for name in MODELS]
    return [ModelId(f.provider or "openai", f.model) for f in found]


def fill_sqlite(path: Path, rows: int, seed: int = 11) -> None:
    """Write `rows` request_log rows over 30 days with a bare executemany (fast setup)."""
    make_engine(f"sqlite:///{path}").dispose()
    ids = identities(PriceBook.from_snapshot())
    rng = np.random.default_rng(seed)
    start = date(2025, 6, 1)
    conn = sqlite3.connect(path)
    chunk = 100_000
    for offset in range(0, rows, chunk):
        n = min(chunk, rows - offset)
        days = rng.integers(0, 30, n)
        models = rng.integers(0, len(MODELS), n)
        projects = rng.integers(0, len(PROJECTS), n)
        features = rng.integers(0, len(FEATURES), n)
        inputs = rng.lognormal(7.2, 1.0, n).astype(np.int64)
        outputs = rng.lognormal(5.5, 0.8, n).astype(np.int64)
        status = np.where(rng.random(n) < 0.03, 429, 200)
        batch = rng.random(n) < 0.1
        keys = key_hashes("bench", np.array([f"r{offset + i}" for i in range(n)], dtype=object))
        records = [
            (
                f"{start + timedelta(days=int(days[i]))} 12:00:00.000000",
                (start + timedelta(days=int(days[i]))).isoformat(),
                "bench",
                f"r{offset + i}",
                ids[models[i]].provider,
                MODELS[models[i]],
                ids[models[i]].model,
                PROJECTS[projects[i]],
                FEATURES[features[i]],
                "",
                int(inputs[i]),
                int(inputs[i]) // 4,
                0,
                int(outputs[i]),
                0,
                int(status[i]),
                "",
                "stop",
                bool(batch[i]),
                "",
                True,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                "",
                "",
                int(keys[i]),
            )
            for i in range(n)
        ]
        placeholders = ", ".join("?" * len(COLUMNS.split(",")))
        conn.executemany(f"INSERT INTO request_log ({COLUMNS}) VALUES ({placeholders})", records)
        conn.commit()
    conn.close()


def bench_query(rows: int) -> None:
    """Time the one-GROUP-BY traffic query over a month on a SQLite file of `rows` rows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        fill_sqlite(path, rows)
        print(
            f"setup     {rows:,} request_log rows written in {time.perf_counter() - started:.1f} s"
        )
        engine = make_engine(f"sqlite:///{path}")
        for label in ("cold", "warm"):
            started = time.perf_counter()
            frame = grouped_traffic(engine, date(2025, 6, 1), date(2025, 6, 30))
            elapsed = time.perf_counter() - started
            print(
                f"group-by  {label}: {rows:,} rows -> {len(frame):,} groups in "
                f"{elapsed * 1000:.0f} ms ({rows / elapsed / 1e6:.1f}M rows/s)"
            )
        engine.dispose()


def main() -> None:
    """Run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    bench_simulation(args.requests)
    bench_query(args.rows)


if __name__ == "__main__":
    main()
