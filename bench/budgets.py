"""The Budgets page's data work and an alerts check, at 100k, 1M (and 10M) stored requests.

On the stored databases of `bench/store.py` it sets six monthly budgets (all traffic, two
projects, two models, a tag) and the default alert rules, then times (median of `--runs`):

1. what the Budgets page reads: every budget's spend, forecast and threshold crossings
   (`db.budgets.budget_overview`, from the daily rollup) and the notes on scopes without traffic;
2. `integrations.alerting.evaluate`: every budget and enabled alert rule at the end of the log
   (the rules read the request rows of their short windows, by the `ts` index).

    .venv/bin/python bench/budgets.py [--sizes 100000 1000000] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import add_arguments, backend_urls, median_ms, sizes_for, stored_url

from core.access import local_admin
from db import budgets as bdb
from db.engine import make_engine
from db.traffic import traffic_span
from integrations.alerting import evaluate

BUDGETS = (
    ("all traffic", "all", 20_000),
    ("support bot", "project:support-bot", 5_000),
    ("search", "project:search", 5_000),
    ("gpt-4o", "model:gpt-4o", 8_000),
    ("gpt-4o-mini", "model:gpt-4o-mini", 2_000),
    ("production tag", "tag:prod", 1_000),
)


def measure(url: str, runs: int) -> dict[str, float]:
    """Set the budgets (idempotent), then time the page's reads and an alerts evaluation."""
    engine = make_engine(url)
    actor = local_admin("bench", via="cli")
    for name, scope, amount in BUDGETS:
        bdb.set_budget(engine, name=name, amount_usd=amount, scope=scope, actor=actor)
    bdb.ensure_default_rules(engine)
    _, last = traffic_span(engine)
    as_of = datetime.combine(last, day_time(23), UTC)

    def page() -> object:
        budgets = bdb.list_budgets(engine)
        statuses = {b.id: bdb.budget_overview(engine, b, as_of) for b in budgets}
        return statuses, bdb.budget_notes(engine, budgets)

    return {
        f"Budgets page: {len(BUDGETS)} budgets": median_ms(page, runs),
        "alerts evaluate (budgets + rules)": median_ms(lambda: evaluate(engine, as_of), runs),
    }


def main() -> None:
    """Fill (or reuse) each database and print the timings with their growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with backend_urls(args.backends, args.pg_url, args.cache) as bases:
        for backend in args.backends:
            sizes = sizes_for(backend, args)
            results = {
                s: measure(
                    stored_url(s, bases[backend], seed=args.seed, cache=args.cache), args.runs
                )
                for s in sizes
            }
            head = " | ".join(f"{s:,} ms" for s in sizes)
            print(f"\nBudgets on {backend} (median of {args.runs})\n")
            print(f"| data work | {head} | growth x{sizes[-1] // sizes[0]} |")
            print("|---|" + "---:|" * (len(sizes) + 1))
            for row in results[sizes[0]]:
                values = [results[s][row] for s in sizes]
                cells = " | ".join(f"{v:.1f}" for v in values)
                print(f"| {row} | {cells} | {values[-1] / values[0]:.2f} |")


if __name__ == "__main__":
    main()
