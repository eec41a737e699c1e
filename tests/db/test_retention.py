"""Pruning raw request rows: every rollup-based figure stays, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from core.pricing import PriceBook, PriceOverride
from core.routing import RuleError, parse_rule
from db.budgets.spend import daily_spend
from db.ingest import delete_upload, ingest_file, list_uploads, reprice
from db.queries import UsageFilters, usage_report
from db.reconcile import logged_frame
from db.retention import cutoff_for, kept_since, prune
from db.traffic import grouped_traffic, simulate_logged, traffic_span
from tests.actors import ADMIN
from tests.db.test_ingest import flat, scalar, write_jsonl

BOOK = PriceBook.from_snapshot()
FIRST, LAST = date(2025, 6, 1), date(2025, 6, 6)
CUT = date(2025, 6, 4)  # rows of June 1-3 go
MINI_PUSD = 270_000_000  # gpt-4o-mini, 1,000 in / 200 out: 1,000 x 0.15 + 200 x 0.60 = 270 µ$


def _day(n: int) -> str:
    return f"2025-06-{n:02d}T10:00:00Z"


def _records(prefix: str, days: range, per_day: int = 3) -> list[dict]:
    """`per_day` gpt-4o-mini requests a day (one gpt-4o, one failed) in two projects."""
    out = []
    for d in days:
        for i in range(per_day):
            extra: dict = {"project": ("search", "bot")[i % 2]}
            if i == 1:
                extra |= {"model": "gpt-4o-2024-08-06", "input_tokens": 2500}
            if i == 2:
                extra |= {"status": 429, "error_type": "rate_limit_exceeded", "output_tokens": 0}
            out.append(flat(f"{prefix}{d}-{i}", timestamp=_day(d), **extra))
    return out


def _ingest(engine: Engine, tmp_path: Path, name: str, records: list[dict]) -> int:
    report = ingest_file(
        engine, write_jsonl(tmp_path / f"{name}.jsonl", records), book=BOOK, actor=ADMIN
    )
    assert not report.errors
    return report.upload_id


def _plain(value: object) -> object:
    """Frames and dataclasses as plain, comparable values."""
    if isinstance(value, pd.DataFrame):
        return value.reset_index(drop=True).astype(str).to_dict("records")
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _figures(engine: Engine) -> dict[str, object]:
    """What the Usage, Budgets, Reconciliation and Routing pages read for June 1-6."""
    rules = [parse_rule("model=gpt-4o,max_input_tokens=4000,target=gpt-4o-mini,share=0.5")]
    return {
        "usage": _plain(usage_report(engine, UsageFilters(start=FIRST, end=LAST))),
        "budget": daily_spend(engine, "all", FIRST, LAST),
        "budget_project": daily_spend(engine, "project:search", FIRST, LAST),
        "reconcile": _plain(logged_frame(engine, FIRST, LAST)),
        "routing": _plain(simulate_logged(engine, rules, BOOK, FIRST, LAST)),
        "plan_vs_actual": _plain(grouped_traffic(engine, FIRST, LAST)),
        "span": traffic_span(engine),
    }


def test_pruning_keeps_every_figure_the_pages_show(engine: Engine, tmp_path: Path) -> None:
    _ingest(engine, tmp_path, "a", _records("a", range(1, 4)))
    _ingest(engine, tmp_path, "b", _records("b", range(2, 7)))
    before = _figures(engine)
    assert before["budget"][date(2025, 6, 2)] > 0 and before["span"] == (FIRST, LAST)

    dry = prune(engine, CUT, dry_run=True, actor=ADMIN)
    assert (dry.rows, dry.first_day, dry.last_day) == (15, FIRST, date(2025, 6, 3))  # 3 + 6 + 6
    assert scalar(engine, "SELECT count(*) FROM request_log") == 24 and kept_since(engine) is None

    done = prune(engine, CUT, batch_rows=4, actor=ADMIN)  # several batches
    assert (done.rows, done.kept_from) == (15, CUT)
    assert scalar(engine, "SELECT count(*) FROM request_log") == 9  # June 4-6, 3 a day
    assert scalar(engine, "SELECT min(day) FROM request_log") in (CUT, CUT.isoformat())
    assert _figures(engine) == before
    assert (
        prune(engine, date(2025, 6, 2), actor=ADMIN).kept_from == CUT
    )  # nothing older left: unchanged


def test_reprice_after_pruning_keeps_the_pruned_days_cost(engine: Engine, tmp_path: Path) -> None:
    upload = _ingest(engine, tmp_path, "a", _records("a", range(1, 7), per_day=1))
    prune(engine, CUT, actor=ADMIN)
    cheaper = PriceOverride(
        model="gpt-4o-mini", effective_from=date(2025, 1, 1), input_mtok=Decimal("0.10"),
        output_mtok=Decimal("0.50"),
    )  # fmt: skip
    result = reprice(engine, PriceBook.from_snapshot([cheaper]), actor=ADMIN)
    # June 4-6 re-priced: 1,000 x 0.10 + 200 x 0.50 = 200 µ$ each (was 270 µ$).
    assert (result.rows, result.kept_from) == (3, CUT)
    assert result.change_usd == Decimal("-0.00021")  # 3 x -70 µ$
    with engine.connect() as conn:
        days = dict(
            conn.execute(text("SELECT day, sum(cost_pusd) FROM daily_rollup GROUP BY day")).all()
        )
    costs = {str(day)[:10]: int(cost) for day, cost in days.items()}
    assert costs == {
        **{f"2025-06-0{d}": MINI_PUSD for d in (1, 2, 3)},  # pruned: the cost stored then
        **{f"2025-06-0{d}": 200_000_000 for d in (4, 5, 6)},
    }
    routed = scalar(engine, "SELECT sum(cost_pusd) FROM routing_rollup")
    assert routed == 3 * MINI_PUSD + 3 * 200_000_000
    uploads = list_uploads(engine)  # its total keeps the pruned days' share
    assert uploads.set_index("id").loc[upload, "cost_pusd"] == 3 * MINI_PUSD + 3 * 200_000_000


def test_deleting_an_upload_after_pruning_keeps_its_pruned_days(
    engine: Engine, tmp_path: Path
) -> None:
    first = _ingest(engine, tmp_path, "a", _records("a", range(1, 5), per_day=1))  # June 1-4
    _ingest(engine, tmp_path, "b", _records("b", range(3, 7), per_day=1))  # June 3-6
    prune(engine, date(2025, 6, 3), actor=ADMIN)
    assert delete_upload(engine, first, actor=ADMIN) == 2  # its June 3 and 4 rows
    with engine.connect() as conn:
        per_day = dict(
            conn.execute(text("SELECT day, sum(requests) FROM daily_rollup GROUP BY day")).all()
        )
    counts = {str(day)[:10]: int(n) for day, n in per_day.items()}
    # June 1-2 were pruned: their totals stay (the only record of them); June 3-4 hold b only.
    assert counts == {f"2025-06-0{d}": 1 for d in range(1, 7)}
    assert scalar(engine, "SELECT sum(requests) FROM routing_rollup") == 6


def test_a_request_of_a_pruned_day_is_refused_not_counted_twice(
    engine: Engine, tmp_path: Path
) -> None:
    records = _records("a", range(1, 7), per_day=1)
    path = write_jsonl(tmp_path / "a.jsonl", records)
    ingest_file(engine, path, book=BOOK, actor=ADMIN)
    prune(engine, CUT, actor=ADMIN)
    again = ingest_file(engine, path, book=BOOK, source="other-source", actor=ADMIN)
    assert again.accepted == 3  # June 4-6, new under another source
    assert [(e.line, e.field) for e in again.errors] == [(1, "timestamp"), (2, "timestamp"),
                                                         (3, "timestamp")]  # fmt: skip
    assert "pruned" in again.errors[0].reason and "2025-06-04" in again.errors[0].reason
    assert scalar(engine, "SELECT sum(requests) FROM daily_rollup") == 9  # 6 + June 4-6 again


def test_a_rule_off_the_token_grid_needs_the_request_rows(engine: Engine, tmp_path: Path) -> None:
    _ingest(engine, tmp_path, "a", _records("a", range(1, 7)))
    off = [parse_rule("model=gpt-4o,max_input_tokens=2600,target=gpt-4o-mini")]
    # 2,600 is not an edge: the request rows answer (gpt-4o's 2,500-token requests match).
    assert simulate_logged(engine, off, BOOK, FIRST, LAST).rules[0].matched_requests == 6
    prune(engine, CUT, actor=ADMIN)
    with pytest.raises(RuleError) as caught:
        simulate_logged(engine, off, BOOK, FIRST, LAST)
    assert str(caught.value) == (
        "rule 1: max_input_tokens=2,600 is not an edge of the routing rollup's token-size "
        "buckets (nearest: 2,048 or 3,000); the requests before 2025-06-04 were pruned, so only "
        "the rollup's edges can be used for a period starting before then"
    )
    assert simulate_logged(engine, off, BOOK, CUT, LAST).rules[0].matched_requests == 3
    on_grid = [parse_rule("model=gpt-4o,max_input_tokens=3000,target=gpt-4o-mini")]
    assert simulate_logged(engine, on_grid, BOOK, FIRST, LAST).rules[0].matched_requests == 6


def test_cutoff_for_counts_back_whole_days() -> None:
    assert cutoff_for(90, date(2025, 9, 1)) == date(2025, 6, 3)
    with pytest.raises(ValueError, match="at least one day"):
        cutoff_for(0, date(2025, 9, 1))
