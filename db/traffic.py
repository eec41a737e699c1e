"""Grouped traffic for the routing simulator: one GROUP BY over request_log per question.

Rows are grouped by (model, project, feature, status, batch, input-token bucket, output-token
bucket); buckets are computed in SQL from cut points (a bucket holds lo < tokens <= cut), so a
month of 10M requests comes back as a few thousand rows. The model is the canonical id
(`request_log.model_id`), so `gpt-4o` and `gpt-4o-2024-08-06` are one model's traffic.
A rule's model and target must name something: logged traffic or a model the price book knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Engine, and_, case, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement

from core.identity import canonical
from core.pricing import PriceBook
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
from db.models import RequestLog
from db.names import book_models, did_you_mean, unknown_model

LOG = RequestLog.__table__.c
_INT_COLUMNS = (
    "status",
    "in_bucket",
    "out_bucket",
    "requests",
    *TOKEN_COLUMNS,
    "in_min",
    "in_max",
    "out_min",
    "out_max",
    "cost_pusd",
    "unpriced_requests",
)


def _bucket(column: ColumnElement, cuts: Sequence[int]) -> ColumnElement:
    """Index of the first cut a value does not exceed; len(cuts) above the last one."""
    ordered = sorted(set(int(c) for c in cuts))
    if not ordered:
        return literal(0)
    return case(*[(column <= cut, index) for index, cut in enumerate(ordered)], else_=len(ordered))


def _filters(
    start: date | None,
    end: date | None,
    models: Sequence[str] | None,
    projects: Sequence[str] | None,
    features: Sequence[str] | None,
) -> list[ColumnElement]:
    conditions: list[ColumnElement] = []
    if start is not None:  # on ts too, so the ts index narrows the scan
        conditions += [LOG.day >= start, LOG.ts >= datetime.combine(start, time.min, UTC)]
    if end is not None:
        after = datetime.combine(end + timedelta(days=1), time.min, UTC)
        conditions += [LOG.day <= end, LOG.ts < after]
    for column, values in (
        (LOG.model_id, models),
        (LOG.project, projects),
        (LOG.feature, features),
    ):
        if values:
            conditions.append(column.in_(list(values)))
    return conditions


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
) -> pd.DataFrame:
    """Request counts and token sums per group for days `start`..`end` (inclusive), filtered.

    `models` are canonical ids; the frame's `model` column is the canonical id too.
    """
    in_bucket = _bucket(LOG.input_tokens, input_cuts).label("in_bucket")
    out_bucket = _bucket(LOG.output_tokens, output_cuts).label("out_bucket")
    keys = [
        LOG.model_id.label("model"),
        LOG.project,
        LOG.feature,
        LOG.status,
        LOG.batch,
        in_bucket,
        out_bucket,
    ]
    query = (
        select(
            *keys,
            func.count().label("requests"),
            *[func.sum(LOG[c]).label(c) for c in TOKEN_COLUMNS],
            func.min(LOG.input_tokens).label("in_min"),
            func.max(LOG.input_tokens).label("in_max"),
            func.min(LOG.output_tokens).label("out_min"),
            func.max(LOG.output_tokens).label("out_max"),
            func.sum(LOG.cost_pusd).label("cost_pusd"),
            func.sum(case((LOG.priced.is_(False), 1), else_=0)).label("unpriced_requests"),
        )
        .where(and_(true(), *_filters(start, end, models, projects, features)))
        .group_by(*keys)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        frame = empty_traffic()
        for column in ("in_bucket", "out_bucket", "cost_pusd", "unpriced_requests"):
            frame[column] = pd.Series(dtype="int64")
        return frame
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(query.selected_columns.keys()))
    for column in _INT_COLUMNS:
        frame[column] = frame[column].map(int).astype("int64")
    frame["batch"] = frame["batch"].astype(bool)
    return frame[[*TRAFFIC_COLUMNS, "in_bucket", "out_bucket", "cost_pusd", "unpriced_requests"]]


def traffic_span(engine: Engine) -> tuple[date | None, date | None]:
    """First and last logged day (None, None when nothing is logged); two ts index probes."""
    with engine.connect() as conn:
        first, last = conn.execute(select(func.min(LOG.ts), func.max(LOG.ts))).one()
    return _as_date(first), _as_date(last)


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def traffic_options(engine: Engine, start: date | None, end: date | None) -> dict[str, list[str]]:
    """Distinct models (canonical ids), projects and features logged in the date range."""
    query = (
        select(LOG.model_id.label("model"), LOG.project, LOG.feature)
        .where(and_(true(), *_filters(start, end, None, None, None)))
        .distinct()
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {
        "models": sorted({r.model for r in rows}),
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

    `models` may name any logged name of a model; each stands for its canonical id.
    """
    check_rule_names(engine, rules, book, end)
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
