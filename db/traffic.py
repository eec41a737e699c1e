"""Grouped traffic for the routing simulator, read from the routing rollup.

Rows are grouped by (model, project, feature, status, batch, input-token bucket, output-token
bucket). The routing rollup keeps these sums per day on fixed token-size grids
(`core.rollups`), so a period is one GROUP BY over a few rows per day and group, and the
buckets are merged in SQL into the cut points asked for (a bucket holds lo < tokens <= cut).
A cut point off the grids (an unusual rule threshold or context window) is answered from the
raw rows instead, with the same grouping, while they are kept for the whole period; over
pruned days it is refused with the nearest edges. The model is the canonical id
(`request_log.model_id`), so `gpt-4o` and `gpt-4o-2024-08-06` are one model's traffic. A rule's
model and target must name something: logged traffic or a model the price book knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Engine, and_, case, cast, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from core.identity import canonical
from core.pricing import PriceBook
from core.rollups import INPUT_GRID, OUTPUT_GRID
from core.routing import (
    INPUT_CUTS,
    OUTPUT_CUTS,
    TOKEN_COLUMNS,
    TRAFFIC_COLUMNS,
    Rule,
    RuleError,
    Simulation,
    cut_points,
    empty_traffic,
    simulate,
    target_problem,
)
from core.routing.traffic import WHERE, grid_problem, off_grid
from db.ingest.rollups import bucket_clause
from db.models import FeatureDaily, ModelDaily, RequestLog, RoutingRollup
from db.money import joined, split_sum
from db.names import book_models, did_you_mean, unknown_model
from db.retention import kept_since

LOG = RequestLog.__table__.c
ROUTING = RoutingRollup.__table__.c
MODELS = ModelDaily.__table__.c
FEATURES = FeatureDaily.__table__.c
OUTPUT = [*TRAFFIC_COLUMNS, "in_bucket", "out_bucket", "cost_pusd", "unpriced_requests"]


def _filters(
    table: Any,
    start: date | None,
    end: date | None,
    models: Sequence[str] | None,
    projects: Sequence[str] | None,
    features: Sequence[str] | None,
) -> list[ColumnElement]:
    """Conditions on days and names; on request rows on `ts` too, so its index narrows the scan."""
    conditions: list[ColumnElement] = []
    raw = table is LOG
    if start is not None:
        conditions.append(table.day >= start)
        if raw:
            conditions.append(LOG.ts >= datetime.combine(start, time.min, UTC))
    if end is not None:
        conditions.append(table.day <= end)
        if raw:
            conditions.append(LOG.ts < datetime.combine(end + timedelta(days=1), time.min, UTC))
    for name, values in (("model_id", models), ("project", projects), ("feature", features)):
        if values:
            conditions.append(table[name].in_(list(values)))
    return conditions


def _positions(cuts: Sequence[int], grid: Sequence[int]) -> tuple[int, ...]:
    """Where each cut point sits on the grid: rollup buckets up to it merge into its bucket."""
    where = {edge: i for i, edge in enumerate(grid)}
    return tuple(sorted({where[c] for c in cuts}))


def _total(column: Any, name: str) -> Any:
    """SUM of a count as a BIGINT (PostgreSQL would hand back a numeric)."""
    return cast(func.sum(column), BigInteger).label(name)


def _extremes(low_in: Any, high_in: Any, low_out: Any, high_out: Any) -> list[Any]:
    return [
        func.min(low_in).label("in_min"),
        func.max(high_in).label("in_max"),
        func.min(low_out).label("out_min"),
        func.max(high_out).label("out_max"),
    ]


def _rollup_columns(input_cuts: Sequence[int], output_cuts: Sequence[int]) -> tuple:
    """Keys and sums over the routing rollup, its grid buckets merged into the cut points."""
    keys = [
        ROUTING.model_id.label("model"),
        ROUTING.project,
        ROUTING.feature,
        ROUTING.status,
        ROUTING.batch,
        bucket_clause(ROUTING.in_bucket, _positions(input_cuts, INPUT_GRID)).label("in_bucket"),
        bucket_clause(ROUTING.out_bucket, _positions(output_cuts, OUTPUT_GRID)).label("out_bucket"),
    ]
    sums = [
        _total(ROUTING.requests, "requests"),
        *(_total(ROUTING[c], c) for c in TOKEN_COLUMNS),
        *_extremes(ROUTING.in_min, ROUTING.in_max, ROUTING.out_min, ROUTING.out_max),
        _total(ROUTING.unpriced_requests, "unpriced_requests"),
    ]
    return keys, sums, ROUTING.cost_pusd


def _raw_columns(input_cuts: Sequence[int], output_cuts: Sequence[int]) -> tuple:
    """The same keys and sums over request rows (the routing rollup's SQL definitions)."""
    keys = [
        LOG.model_id.label("model"),
        LOG.project,
        LOG.feature,
        LOG.status,
        LOG.batch,
        bucket_clause(LOG.input_tokens, tuple(sorted(set(input_cuts)))).label("in_bucket"),
        bucket_clause(LOG.output_tokens, tuple(sorted(set(output_cuts)))).label("out_bucket"),
    ]
    sums = [
        func.count().label("requests"),
        *(_total(LOG[c], c) for c in TOKEN_COLUMNS),
        *_extremes(LOG.input_tokens, LOG.input_tokens, LOG.output_tokens, LOG.output_tokens),
        _total(case((LOG.priced.is_(False), 1), else_=0), "unpriced_requests"),
    ]
    return keys, sums, LOG.cost_pusd


def grouped_traffic(
    engine: Engine,
    start: date | None = None,
    end: date | None = None,
    *,
    models: Sequence[str] | None = None,
    projects: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    input_cuts: Sequence[int] = INPUT_CUTS,
    output_cuts: Sequence[int] = OUTPUT_CUTS,
    from_rows: bool = False,
) -> pd.DataFrame:
    """Request counts and token sums per group for days `start`..`end` (inclusive), filtered.

    `models` are canonical ids; the frame's `model` column is the canonical id too. Read from
    the routing rollup, or from the request rows (`from_rows`, or a cut point off the rollup's
    grids); `RuleError` when the rows are needed and the period reaches pruned days.
    """
    off = off_grid(input_cuts, INPUT_GRID) + off_grid(output_cuts, OUTPUT_GRID)
    table = LOG if off or from_rows else ROUTING
    if off:
        _require_rows(engine, start, f"token size {off[0]:,} is not an edge {WHERE}")
    elif from_rows:
        _require_rows(engine, start, "single requests are asked for")
    columns = _rollup_columns if table is ROUTING else _raw_columns
    keys, sums, cost = columns(input_cuts, output_cuts)
    query = (
        select(*keys, *sums, *split_sum(cost, "cost"))
        .where(and_(true(), *_filters(table, start, end, models, projects, features)))
        .group_by(*keys)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return _frame(rows, list(query.selected_columns.keys()))


def _require_rows(engine: Engine, start: date | None, problem: str) -> None:
    """Raise `RuleError` unless the request rows of every day from `start` on are kept."""
    kept = kept_since(engine)
    if kept is not None and (start is None or start < kept):
        raise RuleError(
            f"{problem}; the requests before {kept} were pruned, so only the rollup's edges "
            f"can be used for a period starting before then"
        )


def _frame(rows: list, names: list[str]) -> pd.DataFrame:
    """The grouped-traffic frame of the query's rows (exact money: `cost_pusd` as ints)."""
    if not rows:
        frame = empty_traffic()
        for column in ("in_bucket", "out_bucket", "cost_pusd", "unpriced_requests"):
            frame[column] = pd.Series(dtype="int64")
        return frame
    frame = pd.DataFrame.from_records(rows, columns=names)
    frame["cost_pusd"] = [
        joined(h, lo) for h, lo in zip(frame.pop("cost_high"), frame.pop("cost_low"), strict=True)
    ]
    for column in OUTPUT[3:]:
        if column not in ("batch", "cost_pusd"):
            frame[column] = frame[column].astype("int64")
    frame["batch"] = frame["batch"].astype(bool)
    return frame[OUTPUT]


def rule_name_problem(
    engine: Engine, rule: Rule, book: PriceBook, when: date | None = None
) -> str | None:
    """Why a rule's model or target names nothing (no logged traffic, no price), else None."""
    if rule.model:
        problem = unknown_model(engine, book, rule.model, canonical(book, rule.model))
        if problem is not None:
            return problem
    problem = target_problem(rule, book, when)
    return None if problem is None else problem + did_you_mean(rule.target, book_models(book))


def check_rule_names(
    engine: Engine, rules: Sequence[Rule], book: PriceBook, when: date | None = None
) -> None:
    """Raise `RuleError` ("rule 2: no model named ...") for the first rule naming nothing known."""
    for number, rule in enumerate(rules, 1):
        problem = rule_name_problem(engine, rule, book, when)
        if problem is not None:
            raise RuleError(f"rule {number}: {problem}")


def traffic_span(engine: Engine) -> tuple[date | None, date | None]:
    """First and last logged day (None, None when nothing is logged), pruned days included:
    two probes of the routing rollup's clustered key."""
    first = select(func.min(ROUTING.day)).scalar_subquery()
    last = select(func.max(ROUTING.day)).scalar_subquery()
    with engine.connect() as conn:
        found = conn.execute(select(first, last)).one()
    return _as_date(found[0]), _as_date(found[1])


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def traffic_options(engine: Engine, start: date | None, end: date | None) -> dict[str, list[str]]:
    """Distinct models (canonical ids), projects and features logged in the date range: from
    the model rollup and the feature rollup, thousands of rows where the daily rollup holds
    hundreds of thousands."""
    models = select(MODELS.model_id).where(
        and_(true(), *_filters(MODELS, start, end, None, None, None))
    )
    pairs = (
        select(FEATURES.project, FEATURES.feature)
        .where(and_(true(), *_filters(FEATURES, start, end, None, None, None)))
        .group_by(FEATURES.project, FEATURES.feature)
    )
    with engine.connect() as conn:
        model_ids = conn.execute(models.distinct()).scalars().all()
        rows = conn.execute(pairs).all()
    return {
        "models": sorted(set(model_ids)),
        "projects": sorted({r.project for r in rows if r.project}),
        "features": sorted({r.feature for r in rows if r.feature}),
    }


def period(engine: Engine, start: date | None, end: date | None) -> tuple[date, date] | None:
    """The requested days, defaulting to the logged span; None when nothing is logged."""
    first, last = traffic_span(engine)
    if first is None or last is None:
        return None
    return start or first, end or last


def simulate_logged(
    engine: Engine,
    rules: Sequence[Rule],
    book: PriceBook,
    start: date,
    end: date,
    *,
    models: Sequence[str] | None = None,
    projects: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
) -> Simulation:
    """Simulate `rules` over the logged traffic of `start`..`end`, priced at `end`'s rates.

    `models` may name any logged name of a model; each stands for its canonical id. Exact to
    the request: every edge that decides something is a bucket edge (`cut_points`).
    """
    check_rule_names(engine, rules, book, end)
    problem = grid_problem(rules, book, end)
    if problem is not None:  # answered from the request rows, where they are kept
        _require_rows(engine, start, problem)
    input_cuts, output_cuts = cut_points(rules, book, end)
    traffic = grouped_traffic(
        engine,
        start,
        end,
        models=[canonical(book, m) for m in models] if models else None,
        projects=projects,
        features=features,
        input_cuts=input_cuts,
        output_cuts=output_cuts,
    )
    return simulate(traffic, rules, book, when=end, period_days=(end - start).days + 1)
