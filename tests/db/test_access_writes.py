"""Every write in db/ checks the actor's role itself: refused writes change nothing, allowed
ones leave one audit row naming who did what, with the record before and after.

On a real SQLite file and a real PostgreSQL, both seeded by the administrator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text

from core.access import ACTIONS, Actor, Forbidden, Role
from core.alerts import COST_SPIKE, ERROR_RATE, Alert
from core.pricing import PriceBook, PriceOverride
from db import budgets, fx, keys, prices, scenarios, shortlist
from db.audit import AuditEvent, filter_values, list_events
from db.imports import store_page
from db.ingest import (
    delete_upload,
    ingest_file,
    ingest_records,
    list_uploads,
    reprice,
    save_mapping,
)
from db.retention import prune
from tests.actors import ADMIN, EDITOR, VIEWER
from tests.db.test_ingest import flat, write_jsonl
from tests.integrations.fake_openai import bucket, page, usage_result

PUSD_PER_USD = 10**12
BOOK = PriceBook.from_snapshot(
    [PriceOverride("acme-chat", date(2025, 1, 1), Decimal(1), Decimal(2))]
)
MUTED_UNTIL = datetime(2025, 7, 1, tzinfo=UTC)
CSV_COLUMNS = ["when", "id", "llm", "in", "out"]
MAPPING = {"timestamp": "when", "request_id": "id", "model": "llm"}


def _alert(key: str) -> Alert:
    return Alert("budget", "all", "Team", key, "2025-06", Decimal(60), Decimal(50), "%",
                 f"Team passed 50 % ({key})")  # fmt: skip


@dataclass
class Seed:
    """What the administrator stored first, for the writes to act on."""

    upload_id: int
    override_id: int
    event_id: int
    log_file: Path


def seed(engine: Engine, tmp_path: Path) -> Seed:
    """Two projects' requests and one of everything else a write can change or delete."""
    records = [flat(f"s-{i}", timestamp=f"2025-06-{1 + 9 * (i % 2):02d}T10:00:00Z",
                    project=("alpha", "beta")[i % 2]) for i in range(6)]  # fmt: skip
    report = ingest_records(engine, records, source="seed", file_name="seed.jsonl", actor=ADMIN)
    scenarios.save_scenario(engine, name="Plan A", params={"input_tokens": 1000}, actor=ADMIN)
    override = prices.save_override(engine, model="acme-1", effective_from=date(2025, 1, 1),
                                    rates={"input_mtok": Decimal(1), "output_mtok": Decimal(2)},
                                    actor=ADMIN)  # fmt: skip
    budgets.set_budget(engine, name="Team", amount_usd=100, actor=ADMIN)
    budgets.save_rule(engine, kind=COST_SPIKE, params={}, actor=ADMIN)
    (event_id,) = budgets.record_events(
        engine, [_alert("seed")], datetime(2025, 6, 10, tzinfo=UTC), actor=ADMIN
    )
    fx.record_rate(engine, currency="EUR", per_usd="0.9", effective_on=date(2025, 6, 1),
                   actor=ADMIN)  # fmt: skip
    keys.create_key(engine, name="web", project="alpha", actor=ADMIN)
    shortlist.add_to_shortlist(engine, model="acme-chat", book=BOOK, note="evals", actor=ADMIN)
    save_mapping(engine, CSV_COLUMNS, MAPPING, actor=ADMIN)
    log_file = write_jsonl(tmp_path / "more.jsonl", [flat("f-1", timestamp="2025-06-10T11:00:00Z")])
    return Seed(report.upload_id, override.id, event_id, log_file)


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    found = {}
    with engine.connect() as conn:
        for table in sorted(inspect(engine).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            found[table] = sorted(tuple(map(repr, row)) for row in rows)
    return found


def audit_rows(engine: Engine) -> list[dict[str, Any]]:
    """The audit trail in the order it was written, before/after parsed."""
    table = AuditEvent.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
    return [{**row, "before": _json(row["before"]), "after": _json(row["after"])} for row in rows]


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Write:
    """One write function called one way; `audited` is the action its audit row names
    (None: the caller audits it, once per run); `check` reads that row's before/after."""

    name: str
    action: str
    call: Callable[[Engine, Actor, Seed], object]
    audited: str | None
    check: Check = lambda row: None


def _amounts(row: dict[str, Any]) -> None:
    assert row["before"]["amount_usd"] == "100"  # dollars, as people read them
    assert row["after"]["amount_usd"] == "150"


def _rates(row: dict[str, Any]) -> None:
    assert Decimal(row["before"]["input_mtok"]) == 1
    assert Decimal(row["after"]["input_mtok"]) == Decimal("1.5")


# In an order each can run in after the seed (the allowed run goes through them all).
WRITES = [
    Write("save_scenario", "scenario.save",
          lambda e, a, s: scenarios.save_scenario(e, name="Plan A", params={"input_tokens": 2000},
                                                  actor=a),
          "plan.save", lambda r: (r["before"], r["after"]) == ({"input_tokens": 1000},
                                                              {"input_tokens": 2000})),
    Write("save_scenario routing", "routing.save",
          lambda e, a, s: scenarios.save_scenario(e, name="Cheap", params={"rules": []},
                                                  kind="routing", actor=a),
          "routing.save", lambda r: r["after"] == {"rules": []}),
    Write("delete_scenario", "scenario.delete",
          lambda e, a, s: scenarios.delete_scenario(e, "Plan A", actor=a),
          "plan.delete", lambda r: r["before"] == {"input_tokens": 2000} and r["after"] is None),
    Write("save_override", "price.write",
          lambda e, a, s: prices.save_override(
              e, model="acme-1", effective_from=date(2025, 1, 1),
              rates={"input_mtok": Decimal("1.5"), "output_mtok": Decimal(2)},
              override_id=s.override_id, actor=a),
          "price.save", _rates),
    Write("delete_override", "price.write",
          lambda e, a, s: prices.delete_override(e, s.override_id, actor=a),
          "price.delete", lambda r: r["before"]["model"] == "acme-1"),
    Write("set_budget", "budget.write",
          lambda e, a, s: budgets.set_budget(e, name="Team", amount_usd=150, actor=a),
          "budget.save", _amounts),
    Write("mute_budget", "budget.write",
          lambda e, a, s: budgets.mute_budget(e, "Team", MUTED_UNTIL, actor=a),
          "budget.mute", lambda r: r["after"] == MUTED_UNTIL.isoformat()),
    Write("delete_budget", "budget.write",
          lambda e, a, s: budgets.delete_budget(e, "Team", actor=a),
          "budget.delete", lambda r: r["before"]["amount_usd"] == "150"),
    Write("save_rule", "alert_rule.write",
          lambda e, a, s: budgets.save_rule(e, kind=COST_SPIKE, params={}, enabled=False,
                                            actor=a),
          "alert_rule.save", lambda r: (r["before"]["enabled"], r["after"]["enabled"])
          == (True, False)),
    Write("mute_rule", "alert_rule.write",
          lambda e, a, s: budgets.mute_rule(e, ERROR_RATE, "all", MUTED_UNTIL, actor=a),
          "alert_rule.mute", lambda r: r["after"] == MUTED_UNTIL.isoformat()),
    Write("record_events", "alerts.check",
          lambda e, a, s: budgets.record_events(
              e, [_alert("again")], datetime(2025, 6, 11, tzinfo=UTC), actor=a),
          None),
    Write("acknowledge_event", "alerts.check",
          lambda e, a, s: budgets.acknowledge_event(e, s.event_id, actor=a),
          "alert.acknowledge"),
    Write("ingest_file", "upload",
          lambda e, a, s: ingest_file(e, s.log_file, source="more", actor=a),
          "upload", lambda r: r["after"]["accepted"] == 1),
    Write("ingest_records", "upload",
          lambda e, a, s: ingest_records(
              e, [flat("r-1", timestamp="2025-06-10T12:00:00Z")], source="api",
              file_name="api.jsonl", actor=a),
          "upload", lambda r: r["target"] == "api.jsonl" and r["after"]["accepted"] == 1),
    Write("save_mapping", "column_mapping.write",
          lambda e, a, s: save_mapping(e, CSV_COLUMNS, {**MAPPING, "input_tokens": "in"},
                                       actor=a),
          "column_mapping.save", lambda r: r["after"]["input_tokens"] == "in"),
    Write("reprice", "reprice", lambda e, a, s: reprice(e, actor=a),
          "reprice", lambda r: r["after"]["rows"] == 8
          and r["after"]["before_usd"] == r["after"]["after_usd"]),
    Write("prune", "prune", lambda e, a, s: prune(e, date(2025, 6, 5), actor=a),
          "prune", lambda r: r["after"] == {"rows": 3}),
    Write("delete_upload", "upload.delete",
          lambda e, a, s: delete_upload(e, s.upload_id, actor=a),
          "upload.delete", lambda r: r["before"]["file_name"] == "seed.jsonl"),
    Write("record_rate", "settings.write",
          lambda e, a, s: fx.record_rate(e, currency="GBP", per_usd="0.8",
                                         effective_on=date(2025, 6, 1), actor=a),
          "fx_rate.save", lambda r: (r["target"], r["after"]["per_usd"]) == ("GBP 2025-06-01",
                                                                             "0.8")),
    Write("delete_rate", "settings.write",
          lambda e, a, s: fx.delete_rate(e, currency="EUR", effective_on=date(2025, 6, 1),
                                         actor=a),
          "fx_rate.delete", lambda r: r["target"] == "EUR 2025-06-01"),
    Write("set_display_currency", "settings.write",
          lambda e, a, s: fx.set_display_currency(e, currency="GBP", actor=a),
          "display_currency.set", lambda r: r["target"] == "GBP"),
    Write("create_key", "keys.write",
          lambda e, a, s: keys.create_key(e, name="ci", project="beta", actor=a),
          "key.create", lambda r: r["after"] == {"project": "beta"}),
    Write("revoke_key", "keys.write", lambda e, a, s: keys.revoke_key(e, name="web", actor=a),
          "key.revoke", lambda r: r["target"] == "web"),
    Write("add_to_shortlist", "shortlist.write",
          lambda e, a, s: shortlist.add_to_shortlist(e, model="acme-chat", book=BOOK,
                                                     note="cheaper", actor=a),
          "shortlist.add", lambda r: r["after"] == {"note": "cheaper"}),
    Write("remove_from_shortlist", "shortlist.write",
          lambda e, a, s: shortlist.remove_from_shortlist(e, model="acme-chat", actor=a),
          "shortlist.remove", lambda r: r["target"] == "acme-chat"),
    Write("store_page", "import",
          lambda e, a, s: store_page(
              e, "usage_api", page([bucket(date(2025, 6, 10),
                                           [usage_result("gpt-4o-mini", 10, 10_000, 5_000)])]),
              actor=a),
          None),
]  # fmt: skip


def refused(action: str) -> list[Actor]:
    """The test people whose role lacks `action`."""
    return [who for who in (VIEWER, EDITOR) if who.role < ACTIONS[action]]


def allowed(action: str) -> Actor:
    """The least role that may do `action`."""
    return EDITOR if ACTIONS[action] is Role.EDITOR else ADMIN


def test_every_action_has_a_write_here() -> None:
    assert {w.action for w in WRITES} | {"audit.read"} == set(ACTIONS)


def test_refused_writes_raise_and_change_nothing(engine: Engine, tmp_path: Path) -> None:
    state = seed(engine, tmp_path)
    for write in WRITES:
        for who in refused(write.action):
            before = snapshot(engine)
            with pytest.raises(Forbidden, match=write.action):
                write.call(engine, who, state)
            assert snapshot(engine) == before, f"{write.name} by {who.name} changed data"
    for who in (VIEWER, EDITOR):  # reading the trail is an administrator's too
        with pytest.raises(Forbidden):
            list_events(engine, who)
        with pytest.raises(Forbidden):
            filter_values(engine, who)


def test_allowed_writes_leave_one_audit_row_with_before_and_after(
    engine: Engine, tmp_path: Path
) -> None:
    state = seed(engine, tmp_path)
    for write in WRITES:
        who = allowed(write.action)
        seen = len(audit_rows(engine))
        write.call(engine, who, state)
        new = audit_rows(engine)[seen:]
        if write.audited is None:
            assert new == [], f"{write.name} is audited by its caller, once per run"
            continue
        assert len(new) == 1, f"{write.name}: {new}"
        (row,) = new
        assert (row["actor"], row["role"], row["via"], row["action"]) == (
            who.name, who.role.label, who.via, write.audited,
        ), write.name  # fmt: skip
        assert write.check(row) is not False, f"{write.name}: {row}"
    assert list_uploads(engine)["file_name"].tolist() == ["api.jsonl", "more.jsonl"]
    trail = list_events(engine, ADMIN)
    assert set(trail["actor"]) == {ADMIN.name, EDITOR.name}


def test_the_trail_hides_secrets_but_not_token_counts(sqlite_url: str) -> None:
    from db.audit import record_now
    from db.engine import make_engine

    engine = make_engine(sqlite_url)
    after = {"input_tokens": 1200, "max_output_tokens": 300, "webhook_url": "https://x/y",
             "access_token": "abc", "smtpPassword": "pw", "note": "quarterly"}  # fmt: skip
    record_now(engine, ADMIN, "settings.save", "alerts", after=after)
    (row,) = audit_rows(engine)
    assert row["after"] == {"input_tokens": 1200, "max_output_tokens": 300, "webhook_url": "[set]",
                            "access_token": "[set]", "smtpPassword": "[set]", "note": "quarterly"}  # fmt: skip
    make_engine.cache_clear()
