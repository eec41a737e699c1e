"""`cli.py simulate` and `cli.py report` as a user runs them, at 100k, 1M (and 10M) stored requests.

On the stored databases of `bench/store.py` it times each command in a fresh process, start-up
included (median of `--runs`), over the whole logged span, and prints its wall time at every
size and the ratio to the smallest. Targets: at 1M stored requests at most 1.3x the time at
100k, at 10M at most 2x. `report --by user` reads the raw rows of the period (no rollup keeps
users), so it is printed for reference and grows with the requests by design.

    .venv/bin/python bench/growth.py [--sizes 100000 1000000] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import ROOT, add_arguments, backend_urls, sizes_for, stored_url

from db.engine import make_engine
from db.traffic import traffic_span

RULES = (
    "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05",
    "project=data-pipeline,batch_share=0.5,cache_uplift_points=20",
    "model=claude-sonnet-4,status=ok,target=gemini-2.0-flash,share=0.3,escalation=0.1",
)
MODEL_RULES = (  # naming models only: read from the routing rollup by model
    "model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67,escalation=0.05",
    "model=gpt-4.1,batch_share=0.5,cache_uplift_points=20",
    "model=claude-sonnet-4,target=gemini-2.0-flash,share=0.3,escalation=0.1",
)
TARGETS = {10: 1.3, 100: 2.0}  # growth in stored requests -> most wall-time ratio allowed


def commands(url: str) -> dict[str, list[str]]:
    """The timed command lines over the logged span of the database at `url`."""
    first, last = traffic_span(make_engine(url))
    span = ["--from", first.isoformat(), "--to", last.isoformat()]
    rules = [arg for rule in RULES for arg in ("--rule", rule)]
    by_model = [arg for rule in MODEL_RULES for arg in ("--rule", rule)]
    return {
        "simulate (3 rules, on a project and a status)": ["simulate", *rules, *span, "--json"],
        "simulate (3 rules on models only)": ["simulate", *by_model, *span, "--json"],
        "report --by project --by model": [
            "report", *span, "--by", "project", "--by", "model", "--format", "json"
        ],
        "report --by user (raw rows; reference)": [
            "report", *span, "--by", "user", "--format", "json"
        ],
    }  # fmt: skip


def wall_seconds(args: list[str], url: str, runs: int) -> float:
    """Median wall time of `python cli.py ARGS --db URL` in a fresh process."""
    command = [sys.executable, "cli.py", *args, "--db", url]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"cli.py {args[0]} failed: {done.stderr.strip()}")
    return statistics.median(samples)


def start_up_seconds(runs: int) -> float:
    """Median wall time of `python cli.py --help`: the interpreter and the imports alone."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "cli.py", "--help"], cwd=ROOT, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def print_table(backend: str, sizes: list[int], seconds: dict[int, dict[str, float]]) -> int:
    """Wall times per size and ratios to the smallest; returns how many ratios miss a target."""
    head = " | ".join(f"{s:,}" for s in sizes)
    ratios = " | ".join(f"x{s // sizes[0]}" for s in sizes[1:])
    print(f"\nCLI wall time on {backend}, s (start-up included)\n")
    print(f"| command | {head} | {ratios} |\n|---|" + "---:|" * (2 * len(sizes) - 1))
    missed = 0
    for row in seconds[sizes[0]]:
        cells = [f"{seconds[s][row]:.2f}" for s in sizes]
        for s in sizes[1:]:
            ratio = seconds[s][row] / seconds[sizes[0]][row]
            limit = TARGETS.get(s // sizes[0])
            over = limit is not None and ratio > limit and "reference" not in row
            missed += over
            cells.append(f"{ratio:.2f}x" + (f" (over {limit}x)" if over else ""))
        print(f"| {row} | {' | '.join(cells)} |")
    return missed


def main() -> None:
    """Fill (or reuse) each database, time the commands, print the growth."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    missed = 0
    with backend_urls(args.backends, args.pg_url, args.cache) as bases:
        for backend in args.backends:
            sizes = sizes_for(backend, args)
            seconds = {}
            for size in sizes:
                url = stored_url(size, bases[backend], seed=args.seed, cache=args.cache)
                timed = commands(url)
                seconds[size] = {name: wall_seconds(a, url, args.runs) for name, a in timed.items()}
            missed += print_table(backend, sizes, seconds)
    print(f"\n`python cli.py --help` alone: {start_up_seconds(args.runs):.2f} s")
    targets = ", ".join(f"x{k}: <= {v}x" for k, v in TARGETS.items())
    print(f"growth targets ({targets}): {'all met' if not missed else f'{missed} missed'}")


if __name__ == "__main__":
    main()
