"""Time the calculator's full sensitivity set plus the all-model comparison (target < 50 ms).

One `core.plans.analyse` call prices the workload, its 10 tornado variants, 5 what-if variants
and the 7 x 7 requests/day x output-tokens grid on the selected model, and the workload on every
priced model of the snapshot plus one custom model with two long-context tiers (the snapshot has
none), all through the exact integer kernel of `core.costs`. The rate matrix is built once per
price book and pricing date (cached by the page), so it is timed separately. The run also checks
that every model's vectorised monthly cost equals the Decimal path of `core.costs`.

    .venv/bin/python bench/plans.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.plans import RateMatrix, Workload, analyse, plan_cost
from core.pricing import LongContextTier, PriceBook, Rates

TARGET_MS = 50.0
TWO_TIERS = Rates(
    "custom",
    "two-tier-bench",
    Decimal("1.25"),
    Decimal(10),
    cached_input_mtok=Decimal("0.125"),
    tiers=(
        LongContextTier(1_000, Decimal("2.5"), Decimal("0.25"), None, Decimal(15)),
        LongContextTier(200_000, Decimal(5), None, None, Decimal(20)),
    ),
)


def _ms(seconds: float) -> float:
    return seconds * 1000


def main() -> int:
    """Run the benchmark; exit 1 when the median misses the target or a figure disagrees."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    book = PriceBook.from_snapshot()
    when = date(2025, 6, 1)
    start = time.perf_counter()
    rates_table = [*book.table(when), TWO_TIERS]
    matrix = RateMatrix.from_rates(rates_table)
    build_ms = _ms(time.perf_counter() - start)
    workload = Workload(
        Decimal(500),
        1600,
        400,
        cache_hit_share=Decimal("0.3"),
        batch_share=Decimal("0.2"),
        growth_monthly_share=Decimal("0.05"),
        pricing_date=when,
    )
    rates = book.price_at("gpt-4o", when)
    analyse(workload, rates, matrix)  # warm-up
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = analyse(workload, rates, matrix, engineering_cost_usd=Decimal(2000))
        runs.append(_ms(time.perf_counter() - start))
    by_model = {(p.provider, p.model): p.monthly_usd for p in result.comparison}
    mismatches = [
        r.model
        for r in rates_table
        if by_model[(r.provider, r.model)] != plan_cost(workload, r).monthly_usd
    ]
    median = statistics.median(runs)
    print(f"models priced            {len(matrix)}")
    print(f"rate matrix (once)       {build_ms:8.2f} ms")
    print(
        f"sensitivity + all models {median:8.2f} ms median, {min(runs):.2f} min, "
        f"{max(runs):.2f} max over {args.repeat} runs  (target < {TARGET_MS:.0f} ms)"
    )
    print(
        f"exactness                {len(rates_table) - len(mismatches)}/{len(rates_table)} "
        "models equal the Decimal path"
    )
    ok = median < TARGET_MS and not mismatches
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
