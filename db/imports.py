"""Provider usage buckets and billed amounts, stored for reconciliation.

Usage buckets come from OpenAI's Usage API, Anthropic's usage report and LiteLLM's daily spend
tables; billed amounts from OpenAI's Costs API and Anthropic's cost report. Rows carry their
`provider` (and a usage row the `source` report that counted it), which lead each table's
natural key, so storing the same page twice changes nothing, a later, more complete page for
the same bucket replaces the earlier numbers, and two providers' rows never meet. Files of pages
and the live API imports go through the same functions; the page formats
(`core.logs.formats`) give the rows and the keys (`USAGE_KEY`, `COST_KEY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Engine, Numeric, UniqueConstraint, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, select

from core.access import Actor, require
from core.logs.formats import get as get_format
from core.logs.formats.usage_pages import COST_KEY, USAGE_KEY, cost_rows, usage_rows
from db.models import counter_field

USAGE_BUCKETS, BILLED_COSTS = "usage_buckets", "billed_costs"  # the page formats' kinds


class UsageBucket(SQLModel, table=True):
    """One usage result: a time bucket's requests and tokens for one grouping."""

    __tablename__ = "usage_bucket"
    __table_args__ = (UniqueConstraint(*USAGE_KEY, name="uq_usage_bucket"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = "openai"
    source: str = "openai-usage"  # the report that counted it (a page format's family)
    start_time: datetime = Field(index=True)
    end_time: datetime
    project_id: str = ""
    user_id: str = ""
    api_key_id: str = ""
    model: str = ""
    batch: bool = False
    service_tier: str = ""
    requests: int = counter_field()
    input_tokens: int = counter_field()
    cached_input_tokens: int = counter_field()
    cache_write_tokens: int = counter_field()
    output_tokens: int = counter_field()


class BilledCost(SQLModel, table=True):
    """One cost result: what a provider billed for a line item in a day bucket."""

    __tablename__ = "billed_cost"
    __table_args__ = (UniqueConstraint(*COST_KEY, name="uq_billed_cost"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = "openai"
    start_time: datetime = Field(index=True)
    end_time: datetime
    project_id: str = ""
    api_key_id: str = ""
    line_item: str = ""
    model: str = ""
    amount_pusd: int = counter_field()  # USD in pico-dollars (the API's decimals rounded to 1e-12)
    amount_usd: Decimal = Field(default=Decimal(0), sa_type=Numeric(30, 12))
    currency: str = "usd"


def _store(engine: Engine, table: Any, key: tuple[str, ...], rows: list[dict]) -> tuple[int, int]:
    """Upsert `rows` on `key`; returns (new or changed rows, identical rows already stored)."""
    if not rows:
        return 0, 0
    columns = [getattr(table.c, k) for k in key]
    values = [n for n in rows[0] if n not in key]
    with engine.begin() as conn:
        stored = {}
        keys = [tuple(r[k] for k in key) for r in rows]
        for start in range(0, len(keys), 200):
            part = keys[start : start + 200]
            query = select(*columns, *[getattr(table.c, v) for v in values]).where(
                tuple_(*columns).in_(part)
            )
            for found in conn.execute(query):
                stored[tuple(found[: len(key)])] = tuple(found[len(key) :])
        same = sum(1 for k, r in zip(keys, rows, strict=True) if stored.get(k) == _vals(r, values))
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={v: getattr(stmt.excluded, v) for v in values}
        )
        conn.execute(stmt, rows)
    return len(rows) - same, same


def _vals(row: Mapping[str, Any], names: list[str]) -> tuple:
    return tuple(row[n] for n in names)


def store_usage_rows(engine: Engine, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Store usage bucket rows (a format's `rows`); returns (new or changed, unchanged)."""
    return _store(engine, UsageBucket.__table__, USAGE_KEY, rows)


def store_cost_rows(engine: Engine, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Store billed cost rows (amounts as USD text); returns (new or changed, unchanged)."""
    stored = []
    for row in rows:
        amount = Decimal(row["amount"]).quantize(Decimal("1e-12"), rounding=ROUND_HALF_EVEN)
        values = {k: v for k, v in row.items() if k != "amount"}
        stored.append({**values, "amount_usd": amount, "amount_pusd": int(amount * 10**12)})
    return _store(engine, BilledCost.__table__, COST_KEY, stored)


def store_usage_page(engine: Engine, page: Mapping[str, Any]) -> tuple[int, int]:
    """Store a Usage API (completions) page; returns (new or changed buckets, unchanged)."""
    return store_usage_rows(engine, usage_rows(page))


def store_costs_page(engine: Engine, page: Mapping[str, Any]) -> tuple[int, int]:
    """Store a Costs API page; returns (new or changed amounts, unchanged)."""
    return store_cost_rows(engine, cost_rows(page))


def store_rows(engine: Engine, kind: str, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Store the rows of a page format of `kind` (usage buckets or billed costs)."""
    if kind not in (USAGE_BUCKETS, BILLED_COSTS):
        raise ValueError(f"{kind} rows are not usage or cost rows")
    return (store_usage_rows if kind == USAGE_BUCKETS else store_cost_rows)(engine, rows)


def store_page(
    engine: Engine, fmt: str, page: Mapping[str, Any], *, actor: Actor
) -> tuple[int, int]:
    """Store one page of the page format named `fmt`; returns (new or changed, unchanged)."""
    require(actor, "import")
    found = get_format(fmt)
    if found.rows is None:
        raise ValueError(f"{fmt} is not a usage or cost page format")
    return store_rows(engine, found.kind, found.rows(page))
