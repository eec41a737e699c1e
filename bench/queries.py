"""Time every Usage page aggregate over databases of 100k, 1M (and 10M) ingested requests.

Each database holds a `bench/loggen.py` log put in through the real ingest (`bench/store.py`:
filled once, kept between runs). For three views (the last 30 days, all 90 days, 90 days of one
project and two models) it times each query of `db.queries` (median of `--runs` after a
warm-up) and the page's whole data work, at every size, and prints how each grows with the
stored requests. Target: every aggregate under 50 ms at 10M stored requests (SQLite); the
rollups grow with days x groups, not with requests. It also prints the bytes stored per request.

    .venv/bin/python bench/queries.py [--sizes 100000 1000000] [--backends sqlite postgresql]
                                      [--pg-url postgresql+psycopg://user@host:port] [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import add_arguments, backend_urls, median_ms, print_storage, sizes_for, stored_url

from db import queries
from db.engine import make_engine

TARGET_MS = 50.0


def aggregates(engine: object, f: queries.UsageFilters) -> dict[str, Callable[[], object]]:
    """Every query the Usage page runs, each as a zero-argument call."""
    daily = queries.daily_by_model(engine, f)
    output = queries.output_histogram(engine, f)
    return {
        "filter_values": lambda: queries.filter_values(engine),
        "kpi_totals": lambda: queries.kpi_totals(engine, f),
        "daily_by_model (+ daily_totals)": lambda: queries.daily_totals(
            queries.daily_by_model(engine, f)
        ),
        "latency_buckets (headline P50/P95)": lambda: queries.latency_buckets(engine, f),
        "latency_by_day (P50/P95 per day and model)": lambda: queries.latency_by_day(engine, f),
        "by_project_feature": lambda: queries.by_project_feature(engine, f),
        "model_names (+ model_totals)": lambda: queries.model_totals(
            queries.model_names(engine, f)
        ),
        "cost_of_failure": lambda: queries.cost_of_failure(engine, f),
        "output_histogram": lambda: queries.output_histogram(engine, f),
        "assemble_audit": lambda: queries.assemble_audit(output, daily),
        "PAGE: filter_values + usage_report": lambda: (
            queries.filter_values(engine),
            queries.usage_report(engine, f),
        ),
    }


def views(end: date) -> dict[str, queries.UsageFilters]:
    """The page views timed: a month, the whole log, the whole log narrowed."""
    first = end - timedelta(days=89)
    return {
        "last 30 days": queries.UsageFilters(start=end - timedelta(days=29), end=end),
        "all 90 days": queries.UsageFilters(start=first, end=end),
        "90 days, 1 project, 2 models": queries.UsageFilters(
            start=first, end=end, projects=("support-bot",), models=("gpt-4o", "gpt-4o-mini")
        ),
    }


def measure(url: str, runs: int) -> dict[tuple[str, str], float]:
    """(view, aggregate) -> median ms on one stored database."""
    engine = make_engine(url)
    end = queries.filter_values(engine).last_day
    timings = {}
    for view, f in views(end).items():
        for label, fn in aggregates(engine, f).items():
            timings[(view, label)] = median_ms(fn, runs)
    return timings


def print_table(title: str, sizes: list[int], results: dict[int, dict], target: float) -> int:
    """One Markdown table: a row per timing, a column per size, the growth; over-target count."""
    head = " | ".join(f"{s:,} ms" for s in sizes)
    print(f"\n{title}\n\n| view | aggregate | {head} | growth x{sizes[-1] // sizes[0]} |")
    print("|---|---|" + "---:|" * (len(sizes) + 1))
    slow = 0
    for row in results[sizes[0]]:
        values = [results[s][row] for s in sizes]
        limit = target * 20 if row[1].startswith("PAGE") else target
        marks = [f"{v:.1f}" + ("" if v < limit else " (over)") for v in values]
        slow += values[-1] >= limit
        print(f"| {row[0]} | {row[1]} | {' | '.join(marks)} | {values[-1] / values[0]:.2f} |")
    return slow


def parse_args() -> argparse.Namespace:
    """Sizes, backends and where the databases live."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


def main() -> None:
    """Fill (or reuse) each database, then print the timing tables and the storage table."""
    args = parse_args()
    slow = 0
    urls: dict[tuple[str, int], str] = {}
    with backend_urls(args.backends, args.pg_url, args.cache) as bases:
        for backend in args.backends:
            sizes = sizes_for(backend, args)
            results = {}
            for size in sizes:
                urls[(backend, size)] = stored_url(
                    size, bases[backend], seed=args.seed, cache=args.cache
                )
                results[size] = measure(urls[(backend, size)], args.runs)
            title = f"Usage aggregates on {backend} (median of {args.runs}; target < {TARGET_MS:.0f} ms)"
            slow += print_table(title, sizes, results, TARGET_MS)
        print_storage(urls)
    print(
        f"\n{'every aggregate under target' if not slow else f'{slow} over target'} at the largest size"
    )


if __name__ == "__main__":
    main()
