"""Engine, migrations and custom prices on a real SQLite file and a real PostgreSQL."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import inspect, text

from db.engine import make_engine
from db.migrations import STEPS, migrate
from db.prices import PriceError, delete_override, list_overrides, load_price_book, save_override
from tests.actors import ADMIN

D = Decimal


def test_migrations_create_every_table_once(engine):
    tables = set(inspect(engine).get_table_names())
    assert {"request_log", "upload", "daily_rollup", "price_override", "schema_migration"} <= tables
    assert migrate(engine) == []  # a second run applies nothing
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT name FROM schema_migration"))]
    assert sorted(names) == sorted(name for name, _ in STEPS)


def test_sqlite_runs_in_wal_mode(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    make_engine.cache_clear()


def test_custom_price_round_trip_and_book(engine):
    saved = save_override(
        engine,
        model="GPT-4o",
        effective_from=date(2025, 3, 1),
        rates={"input_mtok": D("2.125"), "output_mtok": D("8.5")},
        note="negotiated",
        actor=ADMIN,
    )
    assert saved.model == "gpt-4o" and saved.input_mtok == D("2.125")
    book = load_price_book(engine)
    assert book.price_at("gpt-4o-2024-08-06", date(2025, 3, 2)).output_mtok == D("8.5")
    assert book.price_at("gpt-4o", date(2025, 2, 1)).output_mtok == D("10")
    edited = save_override(
        engine,
        model="gpt-4o",
        effective_from=date(2025, 3, 1),
        rates={"input_mtok": D("2"), "output_mtok": D("8")},
        override_id=saved.id,
        actor=ADMIN,
    )
    assert [o.input_mtok for o in list_overrides(engine)] == [D("2")]
    assert delete_override(engine, edited.id, actor=ADMIN) is True
    assert delete_override(engine, edited.id, actor=ADMIN) is False
    assert list_overrides(engine) == []


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"output_mtok": D("1")}, "input price per 1M tokens is required"),
        ({"input_mtok": D("-1"), "output_mtok": D("1")}, "cannot be negative"),
        ({"input_mtok": D("0.0000001"), "output_mtok": D("1")}, "more than five decimals"),
        ({"input_mtok": D("25000"), "output_mtok": D("1")}, "the most Costdesk prices exactly"),
    ],
)
def test_invalid_custom_prices_are_refused_with_a_reason(engine, rates, message):
    with pytest.raises(PriceError, match=message):
        save_override(engine, model="x", effective_from=date(2025, 1, 1), rates=rates, actor=ADMIN)
    assert list_overrides(engine) == []


def test_duplicate_custom_price_date_is_explained(engine):
    rates = {"input_mtok": D("1"), "output_mtok": D("2")}
    save_override(engine, model="acme", effective_from=date(2025, 1, 1), rates=rates, actor=ADMIN)
    with pytest.raises(PriceError, match="already has a custom price"):
        save_override(
            engine, model="acme", effective_from=date(2025, 1, 1), rates=rates, actor=ADMIN
        )
