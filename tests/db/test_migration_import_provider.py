"""0013_import_provider: a database at the step before it, with imported rows, upgrades in place
(SQLite rebuilds both tables; PostgreSQL alters them) and keeps every row as OpenAI's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import DateTime, Engine, Numeric, bindparam, create_engine, select, text
from sqlalchemy.exc import IntegrityError

from db import migrations
from db.imports import BilledCost, UsageBucket
from db.migrations import STEPS, migrate
from tests.db.test_migrations import _database_shape, _differences, _model_shape

NAMES = [step.name for step in STEPS]
STEP = "0013_import_provider"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
NEXT = datetime(2026, 11, 21, tzinfo=UTC)
USAGE = (
    "INSERT INTO usage_bucket (id, start_time, end_time, project_id, user_id, api_key_id, model,"
    " batch, service_tier, requests, input_tokens, cached_input_tokens, cache_write_tokens,"
    " output_tokens) VALUES (:id, :start, :end, 'proj_a', '', '', :model, :batch, '', :requests,"
    " 1000, 400, 0, 50)"
)
COSTS = (
    "INSERT INTO billed_cost (id, start_time, end_time, project_id, api_key_id, line_item, model,"
    " amount_pusd, amount_usd, currency) VALUES (:id, :start, :end, 'proj_a', '', :item, '',"
    " :picos, :usd, 'usd')"
)


TYPED = (
    bindparam("start", type_=DateTime(timezone=True)),
    bindparam("end", type_=DateTime(timezone=True)),
)


def _insert(sql: str, *, usd: bool = False) -> object:
    """An insert whose times (and amount) are bound as the table models would bind them."""
    extra = (bindparam("usd", type_=Numeric(30, 12)),) if usd else ()
    return text(sql).bindparams(*TYPED, *extra)


def _previous_head(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrate through the step just before 0013, as a database released then would be."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "STEPS", STEPS[: NAMES.index(STEP)])
        migrate(engine)


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_old_rows_become_openai_rows_and_the_key_gains_the_provider(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(db_url)
    _previous_head(engine, monkeypatch)
    with engine.begin() as conn:
        conn.execute(_insert(USAGE), [
            {"id": 7, "start": DAY, "end": NEXT, "model": "gpt-4o-mini", "batch": False, "requests": 3},
            {"id": 9, "start": DAY, "end": NEXT, "model": "gpt-4o-mini", "batch": True, "requests": 5},
        ])  # fmt: skip
        conn.execute(_insert(COSTS, usd=True), [
            {"id": 4, "start": DAY, "end": NEXT, "item": "gpt-4o-mini, input",
             "picos": 1_500_000_000, "usd": Decimal("0.0015")},
        ])  # fmt: skip

    assert STEP in migrate(engine)

    usage = _rows(
        engine, "SELECT id, provider, source, batch, requests FROM usage_bucket ORDER BY id"
    )
    assert usage == [
        (7, "openai", "openai-usage", False, 3),
        (9, "openai", "openai-usage", True, 5),
    ]
    costs = _rows(engine, "SELECT id, provider, line_item, amount_pusd FROM billed_cost")
    assert costs == [(4, "openai", "gpt-4o-mini, input", 1_500_000_000)]
    with engine.connect() as conn:  # read as the table model reads it
        usd = conn.execute(select(BilledCost.amount_usd)).scalar_one()
    assert usd == Decimal("0.0015")
    for table in (UsageBucket.__table__, BilledCost.__table__):  # as the table models say
        shape = _model_shape(table, engine.dialect)  # type: ignore[arg-type]
        database = _database_shape(engine, table.name)  # type: ignore[attr-defined]
        assert _differences(table.name, database, shape) == []  # type: ignore[attr-defined]
    with engine.begin() as conn:  # the same bucket of another provider is a row of its own
        conn.execute(
            _insert(
                "INSERT INTO billed_cost (provider, start_time, end_time, project_id, api_key_id,"
                " line_item, model, amount_pusd, amount_usd, currency) VALUES ('anthropic',"
                " :start, :end, 'proj_a', '', 'gpt-4o-mini, input', '', 1, 0, 'usd')"
            ),
            {"start": DAY, "end": NEXT},
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # and of the same one is not
        conn.execute(
            _insert(
                COSTS.replace("(id, ", "(provider, id, ").replace("(:id", "('openai', :id"),
                usd=True,
            ),
            {"id": 5, "start": DAY, "end": NEXT, "item": "gpt-4o-mini, input", "picos": 1,
             "usd": Decimal(0)},
        )  # fmt: skip
    assert migrate(engine) == []
    engine.dispose()
