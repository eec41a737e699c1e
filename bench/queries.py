"""Time every Usage page aggregate over the rollups of 10M requests.

Generates the rollup and histogram rows that 10M requests over 90 days x 8 models x 24
project/feature pairs x 5 statuses produce (every request drawn: its latency and output tokens
land in real histogram buckets), stores them in a SQLite file, then times each query of
`db.queries` and the page's whole data work. Targets: each aggregate under 200 ms, the page
under 1 s.

    python bench/queries.py [--requests 10000000] [--days 90] [--db sqlite:////tmp/q.db]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, Table

from core.identity import ModelId, identify
from core.pricing import PriceBook
from core.stats import LATENCY_EDGES_MS, OUTPUT_EDGES_TOKENS, bucket_index
from db import queries
from db.engine import make_engine
from db.models import DailyRollup, LatencyDaily, LatencyHistogram, OutputHistogram

# (model, provider, input rate, cached rate, output rate in micro-USD per token-million,
#  median latency ms, median output tokens)
MODELS = [
    ("gpt-4o", "openai", 2_500_000, 1_250_000, 10_000_000, 900, 350),
    ("gpt-4o-mini", "openai", 150_000, 75_000, 600_000, 500, 250),
    ("gpt-4.1", "openai", 2_000_000, 500_000, 8_000_000, 1_100, 400),
    ("gpt-4.1-mini", "openai", 400_000, 100_000, 1_600_000, 600, 300),
    ("gpt-4.1-nano", "openai", 100_000, 25_000, 400_000, 350, 150),
    ("o3-mini", "openai", 1_100_000, 550_000, 4_400_000, 4_000, 1_500),
    ("claude-sonnet-4", "anthropic", 3_000_000, 300_000, 15_000_000, 1_500, 500),
    ("claude-3-5-haiku", "anthropic", 800_000, 80_000, 4_000_000, 700, 300),
]
PROJECTS = ["search", "support", "billing", "docs", "agents", "internal"]
FEATURES = ["chat", "summarize", "classify", "extract"]
STATUSES = np.array([200, 400, 429, 500, 503])
STATUS_SHARE = np.array([0.93, 0.01, 0.04, 0.015, 0.005])
MAX_TOKENS = 2048


def identities(book: PriceBook) -> list[ModelId]:
    """Each model's provider and canonical id as ingest stores them (the book's provider where
    it knows the model); distinct ids, so each histogram key stays one row."""
    found = [identify(book, name) for name, *_ in MODELS]
    ids = [ModelId(f.provider or m[1], f.model) for f, m in zip(found, MODELS, strict=True)]
    if len({i.model for i in ids}) != len(ids):
        raise ValueError("two generated models resolve to one canonical model id")
    return ids


def _keys(days: int, end: date) -> np.ndarray:
    """Every (day, model, project, feature, status) index tuple, as columns of one array."""
    grids = np.meshgrid(
        np.arange(days), np.arange(len(MODELS)), np.arange(len(PROJECTS)),
        np.arange(len(FEATURES)), np.arange(len(STATUSES)), indexing="ij",
    )  # fmt: skip
    return np.stack([g.ravel() for g in grids], axis=1)


def _requests_per_key(
    keys: np.ndarray, total: int, rng: np.random.Generator, models_per_feature: int
) -> np.ndarray:
    """Split `total` requests over the keys: status shares, model and project weights, growth.

    Each project/feature pair calls `models_per_feature` of the models (a primary one, then
    fallbacks or A/B variants); the other models get no traffic there, as in real deployments.
    """
    pairs = len(PROJECTS) * len(FEATURES)
    mix = np.zeros((pairs, len(MODELS)))
    for pair in range(pairs):
        chosen = rng.choice(len(MODELS), size=models_per_feature, replace=False)
        mix[pair, chosen] = 0.7 ** np.arange(models_per_feature)
    project_w = rng.uniform(0.3, 1.0, len(PROJECTS))
    growth = 1.0 + keys[:, 0] / max(1, keys[:, 0].max())
    pair_of_key = keys[:, 2] * len(FEATURES) + keys[:, 3]
    weights = mix[pair_of_key, keys[:, 1]] * project_w[keys[:, 2]] * STATUS_SHARE[keys[:, 4]]
    weights = weights * growth
    return rng.multinomial(total, weights / weights.sum())


def _histograms(
    keys: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Draw every request's tokens and latency; return per-key sums and bucket counts."""
    owner = np.repeat(np.arange(len(keys)), counts)
    model = keys[owner, 1]
    lat_median = np.array([m[5] for m in MODELS])[model]
    out_median = np.array([m[6] for m in MODELS])[model]
    failed = STATUSES[keys[owner, 4]] >= 400
    latency = rng.lognormal(np.log(lat_median), 0.5)
    output = np.where(failed, 0, np.minimum(rng.lognormal(np.log(out_median), 0.7), MAX_TOKENS))
    output = output.astype(np.int64)
    inputs = rng.lognormal(np.log(1500), 0.8, len(owner)).astype(np.int64) + 20
    cached = np.where(rng.random(len(owner)) < 0.35, (inputs // 1024) * 1024, 0)
    n = len(keys)
    sums = {
        "input_tokens": np.bincount(owner, inputs, n),
        "cached_input_tokens": np.bincount(owner, cached, n),
        "output_tokens": np.bincount(owner, output, n),
        "truncated": np.bincount(owner, output >= MAX_TOKENS, n),
        "latency_sum_ms": np.bincount(owner, latency, n),
    }
    sums = {k: v.astype(np.int64) for k, v in sums.items()}
    # Histograms are keyed without the feature: (day, model_id, project, status) of each key.
    narrow = _narrow(keys)[owner]
    lat_hist = _bucket_counts(narrow, bucket_index(latency, LATENCY_EDGES_MS), LATENCY_EDGES_MS)
    out_hist = _bucket_counts(
        narrow, bucket_index(output, OUTPUT_EDGES_TOKENS), OUTPUT_EDGES_TOKENS
    )
    return sums, lat_hist, out_hist


def _narrow(keys: np.ndarray) -> np.ndarray:
    """Each key's histogram key: the row of its (day, model, project, feature 0, status) key
    (one model per canonical id, so this is the (day, model_id, project, status) key)."""
    d, m, p, s = keys[:, 0], keys[:, 1], keys[:, 2], keys[:, 4]
    return (((d * len(MODELS) + m) * len(PROJECTS) + p) * len(FEATURES)) * len(STATUSES) + s


def _bucket_counts(owner: np.ndarray, bucket: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows (key index, bucket, count) of the non-empty buckets."""
    width = len(edges)
    flat = np.bincount(owner.astype(np.int64) * width + bucket)
    nonzero = np.flatnonzero(flat)
    return np.stack([nonzero // width, nonzero % width, flat[nonzero]], axis=1)


def _rollup_rows(
    keys: np.ndarray,
    counts: np.ndarray,
    sums: dict[str, np.ndarray],
    ids: list[ModelId],
    end: date,
    days: int,
) -> Iterator[dict]:
    """Rollup rows priced with each model's rates (integer pico-dollars)."""
    first = end - timedelta(days=days - 1)
    for i in np.flatnonzero(counts):
        d, m, p, f, s = (int(v) for v in keys[i])
        name, _, r_in, r_cached, r_out, *_ = MODELS[m]
        inp, cached = int(sums["input_tokens"][i]), int(sums["cached_input_tokens"][i])
        out = int(sums["output_tokens"][i])
        billed = STATUSES[s] not in (429,)
        uncached_pusd = (inp - cached) * r_in if billed else 0
        cached_pusd = cached * r_cached if billed else 0
        yield {
            "day": first + timedelta(days=d), "provider": ids[m].provider,
            "model_id": ids[m].model, "model": name, "project": PROJECTS[p],
            "feature": FEATURES[f], "batch": False,
            "status": int(STATUSES[s]), "requests": int(counts[i]), "unpriced_requests": 0,
            "input_tokens": inp, "cached_input_tokens": cached, "cache_write_tokens": 0,
            "output_tokens": out, "reasoning_tokens": 0,
            "cost_pusd": uncached_pusd + cached_pusd + out * r_out,
            "uncached_input_pusd": uncached_pusd, "cached_input_pusd": cached_pusd,
            "cache_write_pusd": 0, "output_pusd": out * r_out,
            "cache_savings_pusd": cached * (r_in - r_cached) if billed else 0,
            "truncated": int(sums["truncated"][i]), "with_max_tokens": int(counts[i]),
            "latency_count": int(counts[i]), "latency_sum_ms": int(sums["latency_sum_ms"][i]),
        }  # fmt: skip


def _hist_rows(
    keys: np.ndarray, hist: np.ndarray, ids: list[ModelId], end: date, days: int
) -> Iterator[dict]:
    """Histogram rows keyed by day, model_id, project and status."""
    first = end - timedelta(days=days - 1)
    for k, bucket, count in hist:
        d, m, p, _f, s = (int(v) for v in keys[k])
        yield {
            "day": first + timedelta(days=d), "model_id": ids[m].model, "project": PROJECTS[p],
            "status": int(STATUSES[s]), "bucket": int(bucket), "count": int(count),
        }  # fmt: skip


def _daily_rows(
    keys: np.ndarray, hist: np.ndarray, ids: list[ModelId], end: date, days: int
) -> Iterator[dict]:
    """The latency histogram summed per (day, model_id, bucket)."""
    sums: dict[tuple, int] = {}
    for k, bucket, count in hist:
        day, model = (int(v) for v in keys[k][:2])
        sums[(day, model, int(bucket))] = sums.get((day, model, int(bucket)), 0) + int(count)
    first = end - timedelta(days=days - 1)
    for (day, model, bucket), count in sorted(sums.items()):
        yield {
            "day": first + timedelta(days=day), "model_id": ids[model].model, "bucket": bucket,
            "count": count,
        }  # fmt: skip


def _insert(engine: Engine, table: Table, rows: Iterator[dict], chunk: int = 50_000) -> int:
    """Bulk insert through SQLAlchemy Core in chunks; returns the row count."""
    total, batch = 0, []
    with engine.begin() as conn:
        for row in rows:
            batch.append(row)
            if len(batch) == chunk:
                conn.execute(table.insert(), batch)
                total, batch = total + len(batch), []
        if batch:
            conn.execute(table.insert(), batch)
            total += len(batch)
    return total


def fill(
    engine: Engine,
    requests: int,
    days: int,
    end: date,
    *,
    models_per_feature: int = 3,
    seed: int = 7,
) -> dict[str, int]:
    """Store the rollups and histograms of `requests` generated requests ending on `end`."""
    rng = np.random.default_rng(seed)
    keys = _keys(days, end)
    counts = _requests_per_key(keys, requests, rng, models_per_feature)
    sums, lat_hist, out_hist = _histograms(keys, counts, rng)
    ids = identities(PriceBook.from_snapshot())
    return {
        "daily_rollup": _insert(
            engine, DailyRollup.__table__, _rollup_rows(keys, counts, sums, ids, end, days)
        ),
        "latency_histogram": _insert(
            engine, LatencyHistogram.__table__, _hist_rows(keys, lat_hist, ids, end, days)
        ),
        "latency_daily": _insert(
            engine, LatencyDaily.__table__, _daily_rows(keys, lat_hist, ids, end, days)
        ),
        "output_histogram": _insert(
            engine, OutputHistogram.__table__, _hist_rows(keys, out_hist, ids, end, days)
        ),
    }


def _time(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of `fn` in milliseconds (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def aggregates(engine: Engine, f: queries.UsageFilters) -> dict[str, Callable[[], object]]:
    """Every query the Usage page runs, each as a zero-argument call."""
    daily = queries.daily_by_model(engine, f)
    histogram = queries.latency_histogram(engine, f)
    output = queries.output_histogram(engine, f)
    return {
        "filter_values": lambda: queries.filter_values(engine),
        "kpi_totals": lambda: queries.kpi_totals(engine, f),
        "daily_by_model (+ daily_totals)": lambda: queries.daily_totals(
            queries.daily_by_model(engine, f)
        ),
        "latency_histogram": lambda: queries.latency_histogram(engine, f),
        "latency_percentiles (P50/P95 by day+model)": lambda: queries.latency_percentiles(
            histogram
        ),
        "by_project_feature": lambda: queries.by_project_feature(engine, f),
        "model_names (+ model_totals)": lambda: queries.model_totals(
            queries.model_names(engine, f)
        ),
        "cost_of_failure (2 queries)": lambda: queries.cost_of_failure(engine, f),
        "output_histogram": lambda: queries.output_histogram(engine, f),
        "assemble_audit (max_tokens)": lambda: queries.assemble_audit(output, daily),
        "PAGE: filter_values + usage_report": lambda: (
            queries.filter_values(engine),
            queries.usage_report(engine, f),
        ),
    }


def main() -> None:
    """Fill a database (unless it already holds rollups) and print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument(
        "--models-per-feature",
        type=int,
        default=3,
        help="models each project/feature pair calls (8 = every model everywhere, worst case)",
    )
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='costdesk-bench-')}/bench.db"
    engine = make_engine(url)
    end = date.today()
    values = queries.filter_values(engine)
    if values.empty:
        started = time.perf_counter()
        rows = fill(
            engine, args.requests, args.days, end, models_per_feature=args.models_per_feature
        )
        print(f"filled {url} in {time.perf_counter() - started:.1f}s: {rows}")
    else:
        end = values.last_day or end
        print(f"reusing {url} (holds rollups up to {end})")
    scenarios = {
        "last 30 days": queries.UsageFilters(start=end - timedelta(days=29), end=end),
        f"all {args.days} days": queries.UsageFilters(
            start=end - timedelta(days=args.days - 1), end=end
        ),
        "90 days, 1 project, 2 models": queries.UsageFilters(
            start=end - timedelta(days=args.days - 1),
            end=end,
            projects=("support",),
            models=("gpt-4o", "gpt-4o-mini"),
        ),
    }
    failures = 0
    for name, f in scenarios.items():
        print(f"\n{name}  (median of {args.runs} runs)")
        print(f"  {'aggregate':<44} {'ms':>8}  target")
        for label, fn in aggregates(engine, f).items():
            ms = _time(fn, args.runs)
            limit = 1000 if label.startswith("PAGE") else 200
            ok = ms < limit
            failures += not ok
            print(f"  {label:<44} {ms:8.1f}  {'ok' if ok else 'SLOW'} (< {limit} ms)")
    print(f"\n{'all targets met' if not failures else f'{failures} timings over target'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
