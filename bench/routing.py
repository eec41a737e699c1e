"""Routing simulation over logged traffic at 100k, 1M (and 10M) stored requests.

On the stored databases of `bench/store.py` (a `bench/loggen.py` log put in through the real
ingest, kept between runs) it times, at every size, the simulator's data work for the last 7,
30 and all 90 days under two sets of three rules: the grouped traffic read from a routing rollup
plus `core.routing.simulate` (`db.traffic.simulate_logged`, median of `--runs`). Rules that
name a project and a status read the routing rollup, whose groups keep every label; rules that
name models only read the routing rollup by model (whole weeks from its weekly table, other
days from its daily one). Once, for comparison, the first set's traffic is grouped from the
raw request rows. `bench/growth.py` times `cli.py simulate` as a user runs it.

Target: the data work of any period under 200 ms at 10M requests. `--synthetic N` also times
`core.routing.simulate` alone on N requests of synthetic grouped traffic.

    .venv/bin/python bench/routing.py [--sizes 100000 1000000] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import add_arguments, backend_urls, median_ms, sizes_for, stored_url

from core.pricing import PriceBook
from core.routing import INPUT_CUTS, OUTPUT_CUTS, TRAFFIC_COLUMNS, cut_points, parse_rule, simulate
from db.engine import make_engine
from db.prices import load_price_book
from db.traffic import grouped_traffic, simulate_logged, traffic_span

# Rules naming a project and a status read the routing rollup (every label kept); rules naming
# models only read the routing rollup by model (weekly and daily).
RULES = (
    "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05",
    "project=data-pipeline,batch_share=0.5,cache_uplift_points=20",
    "model=claude-sonnet-4,status=ok,target=gemini-2.0-flash,share=0.3,escalation=0.1",
)
MODEL_RULES = (
    "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05",
    "model=gpt-4.1,batch_share=0.5,cache_uplift_points=20",
    "model=claude-sonnet-4,target=gemini-2.0-flash,share=0.3,escalation=0.1",
)
RULE_SETS = {"rules on a project and a status": RULES, "rules on models only": MODEL_RULES}
PERIODS = (7, 30, 90)
DATA_TARGET_MS = 200.0


def data_work(url: str, runs: int) -> dict[str, float]:
    """Median ms of `simulate_logged` per period, and once over raw rows for all days."""
    engine = make_engine(url)
    book = load_price_book(engine)
    _, last = traffic_span(engine)
    out = {}
    for label, specs in RULE_SETS.items():
        chosen = [parse_rule(r) for r in specs]
        for days in PERIODS:
            start = last - timedelta(days=days - 1)
            out[f"{label}, last {days} days"] = median_ms(
                lambda s=start, r=chosen: simulate_logged(engine, r, book, s, last), runs
            )
    rules = [parse_rule(r) for r in RULES]
    start = last - timedelta(days=PERIODS[-1] - 1)
    cuts = cut_points(rules, book, last)
    started = time.perf_counter()
    raw = grouped_traffic(
        engine, start, last, input_cuts=cuts[0], output_cuts=cuts[1], from_rows=True
    )
    simulate(raw, rules, book, when=last, period_days=PERIODS[-1])
    out["raw rows, 90 days (once)"] = (time.perf_counter() - started) * 1000
    return out


def grouped_month(total_requests: int, seed: int = 7) -> pd.DataFrame:
    """Synthetic grouped traffic whose request counts add up to `total_requests`."""
    rng = np.random.default_rng(seed)
    models = (
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "o3-mini",
        "claude-sonnet-4-5",
        "gemini-2.5-flash",
    )
    index = pd.MultiIndex.from_product(
        [models, ("bot", "search", "copilot", "analytics", "ads"), ("chat", "triage", "rag"),
         (200, 429, 500), (False, True), range(len(INPUT_CUTS) + 1), range(len(OUTPUT_CUTS) + 1)],
        names=["model", "project", "feature", "status", "batch", "in_bucket", "out_bucket"],
    )  # fmt: skip
    frame = index.to_frame(index=False)
    weights = rng.random(len(frame))
    frame["requests"] = np.floor(weights / weights.sum() * total_requests).astype(np.int64)
    for side, tokens, cuts, top in (
        ("in", "input_tokens", INPUT_CUTS, 200_000),
        ("out", "output_tokens", OUTPUT_CUTS, 8_000),
    ):
        edges = np.array((0, *cuts, top))
        lo, hi = edges[frame[f"{side}_bucket"]] + 1, edges[frame[f"{side}_bucket"] + 1]
        frame[f"{side}_min"], frame[f"{side}_max"] = lo, hi
        frame[tokens] = frame["requests"] * ((lo + hi) // 2)
    frame["cached_input_tokens"] = frame["input_tokens"] // 4
    frame["cache_write_tokens"] = 0
    return frame[list(TRAFFIC_COLUMNS)]


def bench_synthetic(total_requests: int, runs: int) -> None:
    """`core.routing.simulate` alone over synthetic grouped traffic."""
    traffic = grouped_month(total_requests)
    rules = [parse_rule(r) for r in RULES]
    book = PriceBook.from_snapshot()
    ms = median_ms(lambda: simulate(traffic, rules, book, when=date(2025, 8, 29)), runs)
    print(f"\nsimulate alone: {total_requests:,} requests in {len(traffic):,} groups: {ms:.0f} ms")


def parse_args() -> argparse.Namespace:
    """Sizes, backends, runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic", type=int, default=0, help="requests of synthetic traffic")
    return parser.parse_args()


def report(backend: str, sizes: list[int], work: dict) -> None:
    """The data-work table for one backend, with growth against the smallest size."""
    head = " | ".join(f"{s:,}" for s in sizes)
    print(f"\nRouting simulation on {backend}: data work, ms (target < {DATA_TARGET_MS:.0f})")
    print(
        f"\n| period | {head} | growth x{sizes[-1] // sizes[0]} |\n|---|"
        + "---:|" * (len(sizes) + 1)
    )
    for row in work[sizes[0]]:
        values = [work[s][row] for s in sizes]
        cells = " | ".join(f"{v:.0f}" for v in values)
        print(f"| {row} | {cells} | {values[-1] / values[0]:.2f} |")


def main() -> None:
    """Fill (or reuse) each database, then time the simulator's data work."""
    args = parse_args()
    with backend_urls(args.backends, args.pg_url, args.cache) as bases:
        for backend in args.backends:
            sizes = sizes_for(backend, args)
            work = {}
            for size in sizes:
                url = stored_url(size, bases[backend], seed=args.seed, cache=args.cache)
                work[size] = data_work(url, args.runs)
            report(backend, sizes, work)
    if args.synthetic:
        bench_synthetic(args.synthetic, args.runs)


if __name__ == "__main__":
    main()
