"""Grouped traffic for the routing simulator, read from the routing rollup.

Rows are grouped by (model, project, feature, status, batch, input-token bucket, output-token
bucket). The routing rollup keeps these sums per day on fixed token-size grids
(`core.rollups`), so a period is one GROUP BY over a few rows per day and group, and the
buckets are merged in SQL into the cut points asked for (a bucket holds lo < tokens <= cut).
Groups that need no feature read the routing rollup summed over feature (no project or status
either: summed over those too), a period's whole weeks from its weekly table.
On SQLite, where a query runs on one core, the routing rollup of a period is read in day
ranges at once, one per core, and the ranges' groups added by `core.rollups.coarser`.
A cut point off the grids (an unusual rule threshold or context window) is answered from the
raw rows instead, with the same grouping, while they are kept for the whole period; over
pruned days it is refused with the nearest edges. The model is the canonical id
(`request_log.model_id`), so `gpt-4o` and `gpt-4o-2024-08-06` are one model's traffic. A rule's
model and target must name something: logged traffic or a model the price book knows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Engine, and_, case, cast, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from core.identity import canonical
from core.pricing import PriceBook
from core.rollups import INPUT_GRID, OUTPUT_GRID, ROUTING_KEY, coarser, week_of
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
    match_labels,
    simulate,
    target_problem,
)
from core.routing.traffic import LABELS, SUMMED_OVER, WHERE, grid_problem, off_grid
from db.ingest.rollups import bucket_clause
from db.models import (
    FeatureDaily,
    ModelDaily,
    RequestLog,
    RoutingModelDaily,
    RoutingModelWeekly,
    RoutingProjectDaily,
    RoutingProjectWeekly,
    RoutingRollup,
)
from db.money import joined, split_sum
from db.names import book_models, did_you_mean, unknown_model
from db.retention import kept_since

LOG = RequestLog.__table__.c
ROUTING = RoutingRollup.__table__.c
ROUTING_MODELS = RoutingModelDaily.__table__.c
ROUTING_WEEKS = RoutingModelWeekly.__table__.c
ROUTING_PROJECTS = RoutingProjectDaily.__table__.c
PROJECT_WEEKS = RoutingProjectWeekly.__table__.c
# Each daily routing rollup read by whole weeks, and the weekly table holding its weeks.
WEEKLY_OF = ((ROUTING_MODELS, ROUTING_WEEKS), (ROUTING_PROJECTS, PROJECT_WEEKS))
# Rollups clustered with their period last: a period's rows are first summed per group in key
# order (no sort), then merged into the cut points.
SUMMED_FIRST = (ROUTING_MODELS, ROUTING_WEEKS, PROJECT_WEEKS)
PERIODS = ("day", "week")
MODELS = ModelDaily.__table__.c
FEATURES = FeatureDaily.__table__.c
OUTPUT = [*TRAFFIC_COLUMNS, "in_bucket", "out_bucket", "cost_pusd", "unpriced_requests"]
TEXT = ("model", "project", "feature")
# A grouped-traffic row's key: the routing rollup's without the day, the model as `model`.
GROUP_KEY = tuple("model" if name == "model_id" else name for name in ROUTING_KEY if name != "day")
SCAN_PARTS = min(os.cpu_count() or 1, 8)  # parts of one period's traffic read at once (SQLite)
DAY, WEEK = timedelta(days=1), timedelta(days=7)


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


def _labels(table: Any, labels: Sequence[str]) -> tuple[list, list]:
    """Group keys of the label columns asked for; the others as their summed-over value."""
    keys = [table[name] for name in LABELS if name in labels]
    constants = [literal(SUMMED_OVER[name]).label(name) for name in LABELS if name not in labels]
    return keys, constants


def _rollup_query(
    table: Any,
    input_cuts: Sequence[int],
    output_cuts: Sequence[int],
    labels: Sequence[str],
    where: list[ColumnElement],
) -> Any:
    """Grouped traffic from a routing rollup, its grid buckets merged into the cut points; the
    constants stand for the labels summed over. The rollups clustered with their period last
    (`SUMMED_FIRST`) are first summed per group and grid bucket over the period in key order (no
    sort of their rows), so the merge sorts a few thousand sums; those clustered day first (the
    routing rollup, the daily rollup by project) are merged in one pass (summing them first
    would sort their rows twice)."""
    kept, constants = _labels(table, labels)
    source, cost = table, list(split_sum(table.cost_pusd, "cost"))
    if any(table is t for t in SUMMED_FIRST):
        grid = [c for c in table.model_id.table.primary_key.columns if c.name not in PERIODS]
        source = (
            select(
                *grid,
                *(_total(table[c], c) for c in ("requests", *TOKEN_COLUMNS, "unpriced_requests")),
                *_extremes(table.in_min, table.in_max, table.out_min, table.out_max),
                *cost,
            )
            .where(and_(true(), *where))
            .group_by(*grid)
            .subquery()
        ).c
        cost, where = (
            [_total(source.cost_high, "cost_high"), _total(source.cost_low, "cost_low")],
            [],
        )
    keys = [
        source.model_id.label("model"),
        *(source[c.name] for c in kept),
        source.batch,
        bucket_clause(source.in_bucket, _positions(input_cuts, INPUT_GRID)).label("in_bucket"),
        bucket_clause(source.out_bucket, _positions(output_cuts, OUTPUT_GRID)).label("out_bucket"),
    ]
    return (
        select(
            *keys,
            *constants,
            _total(source.requests, "requests"),
            *(_total(source[c], c) for c in TOKEN_COLUMNS),
            *_extremes(source.in_min, source.in_max, source.out_min, source.out_max),
            _total(source.unpriced_requests, "unpriced_requests"),
            *cost,
        )
        .where(and_(true(), *where))
        .group_by(*keys)
    )


def _raw_query(
    input_cuts: Sequence[int],
    output_cuts: Sequence[int],
    labels: Sequence[str],
    where: list[ColumnElement],
) -> Any:
    """The same keys and sums over request rows (the routing rollup's SQL definitions)."""
    kept, constants = _labels(LOG, labels)
    keys = [
        LOG.model_id.label("model"),
        *kept,
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
    return (
        select(*keys, *constants, *sums, *split_sum(LOG.cost_pusd, "cost"))
        .where(and_(true(), *where))
        .group_by(*keys)
    )


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
    labels: Sequence[str] = LABELS,
    from_rows: bool = False,
) -> pd.DataFrame:
    """Request counts and token sums per group for days `start`..`end` (inclusive), filtered.

    `models` are canonical ids; the frame's `model` column is the canonical id too. Groups are
    split by the `labels` asked for (`core.routing.match_labels` of the rules to run); the
    others are summed over and hold `SUMMED_OVER`'s value. Read from the routing rollup, or
    from the request rows (`from_rows`, or a cut point off the rollup's grids); `RuleError`
    when the rows are needed and the period reaches pruned days.
    """
    off = off_grid(input_cuts, INPUT_GRID) + off_grid(output_cuts, OUTPUT_GRID)
    table = LOG if off or from_rows else _rollup_for(labels, projects, features)
    if off:
        _require_rows(engine, start, f"token size {off[0]:,} is not an edge {WHERE}")
    elif from_rows:
        _require_rows(engine, start, "single requests are asked for")
    if table is LOG:
        where = _filters(table, start, end, models, projects, features)
        queries = [_raw_query(input_cuts, output_cuts, labels, where)]
    else:
        queries = [
            _rollup_query(
                part, input_cuts, output_cuts, labels,
                [*days, *_filters(part, None, None, models, projects, features)],
            )
            for part, days in _parts(engine, table, start, end)
        ]  # fmt: skip
    names = list(queries[0].selected_columns.keys())
    return _frame(_merged(_read(engine, queries), names))


def _parts(
    engine: Engine, table: Any, start: date | None, end: date | None
) -> list[tuple[Any, list[ColumnElement]]]:
    """The tables and conditions on days that together hold the period, read at once.

    The rollups by model and by project: a period's whole weeks from their weekly tables, its
    first and last days from the daily ones. The routing rollup (clustered day first) on a
    SQLite file, where a connection runs its query on one core: consecutive day ranges, one
    per core. PostgreSQL plans parallel scans itself and reads the routing rollup in one."""
    whole = [(table, _filters(table, start, end, None, None, None))]
    if start is None or end is None:
        return whole
    weekly = next((weeks for daily, weeks in WEEKLY_OF if daily is table), None)
    if weekly is not None:
        # the weeks (`week_of`, as stored) of the period's first and last whole weeks
        first, last = (w.item() for w in week_of(np.array([start + WEEK - DAY, end + DAY])))
        last -= WEEK
        if last < first:
            return whole
        edges = [
            and_(table.day >= low, table.day <= high)
            for low, high in ((start, first - DAY), (last + WEEK, end))
            if low <= high
        ]
        weeks = [weekly.week >= first, weekly.week <= last]
        return [(weekly, weeks)] + ([(table, [or_(*edges)])] if edges else [])
    if table is not ROUTING or engine.dialect.name != "sqlite" or SCAN_PARTS < 2:
        return whole
    days = (end - start).days + 1
    parts = max(1, min(SCAN_PARTS, days))
    days_at = [start + timedelta(days=days * i // parts) for i in range(parts + 1)]
    return [
        (table, _filters(table, days_at[i], days_at[i + 1] - timedelta(days=1), None, None, None))
        for i in range(parts)
    ]


def _at_once(engine: Engine) -> bool:
    """Whether queries may run at once on connections of their own (an in-memory SQLite
    database lives in one connection, which threads must not share)."""
    return engine.dialect.name != "sqlite" or os.path.isfile(engine.url.database or "")


def _read(engine: Engine, queries: list[Any]) -> list[list]:
    """Each query's rows, the queries run at once on connections of their own."""

    def rows(query: Any) -> list:
        with engine.connect() as conn:
            return conn.execute(query).all()

    if len(queries) == 1 or not _at_once(engine):
        return [rows(query) for query in queries]
    with ThreadPoolExecutor(len(queries)) as pool:
        return list(pool.map(rows, queries))


def _merged(parts: list[list], names: list[str]) -> dict[str, np.ndarray] | None:
    """The grouped rows of parts of a period as those of their whole period, one array
    per column (None: no rows): a group's counts and money added, its token extremes the
    lowest and highest, by the rule that sums rollup rows over a coarser key
    (`core.rollups.coarser`)."""
    columns = _columns([row for part in parts for row in part], names)
    if columns is None or len(parts) == 1:
        return columns
    key = tuple(name for name in names if name in GROUP_KEY)
    return coarser(columns, key, tuple(name for name in names if name not in key))


def _columns(rows: list, names: list[str]) -> dict[str, np.ndarray] | None:
    """A query's rows as one array per column (labels as objects, counts as int64), None
    when there are none. Built column by column: handing the rows themselves to pandas costs
    it a failed attribute probe on every row (about a third of the read at 100k groups)."""
    if not rows:
        return None
    return {
        name: np.array(values, dtype=object if name in TEXT else np.int64)
        for name, values in zip(names, zip(*rows, strict=True), strict=True)
    }


def _rollup_for(
    labels: Sequence[str], projects: Sequence[str] | None, features: Sequence[str] | None
) -> Any:
    """The smallest routing rollup holding what the groups and filters need: summed over
    project, feature and status when they need none of them; over feature when they need no
    feature; else the routing rollup itself."""
    if "feature" in labels or features:
        return ROUTING
    return ROUTING_PROJECTS if labels or projects else ROUTING_MODELS


def _require_rows(engine: Engine, start: date | None, problem: str) -> None:
    """Raise `RuleError` unless the request rows of every day from `start` on are kept."""
    kept = kept_since(engine)
    if kept is not None and (start is None or start < kept):
        raise RuleError(
            f"{problem}; the requests before {kept} were pruned, so only the rollup's edges "
            f"can be used for a period starting before then"
        )


def _frame(columns: dict[str, np.ndarray] | None) -> pd.DataFrame:
    """The grouped-traffic frame of the grouped columns (exact money: `cost_pusd` as ints)."""
    if columns is None:
        frame = empty_traffic()
        for column in ("in_bucket", "out_bucket", "cost_pusd", "unpriced_requests"):
            frame[column] = pd.Series(dtype="int64")
        return frame
    high, low = columns["cost_high"].tolist(), columns["cost_low"].tolist()
    frame = pd.DataFrame({n: v for n, v in columns.items() if n not in ("cost_high", "cost_low")})
    frame["cost_pusd"] = [joined(h, lo) for h, lo in zip(high, low, strict=True)]
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
        labels=match_labels(rules),
    )
    return simulate(traffic, rules, book, when=end, period_days=(end - start).days + 1)
