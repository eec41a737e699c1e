"""Saved scenarios on SQLite and PostgreSQL: save, overwrite, list, load, delete."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from core.plans import Workload
from db.scenarios import (
    ScenarioError,
    delete_scenario,
    list_scenarios,
    load_scenario,
    save_scenario,
)
from tests.actors import ADMIN


def _params(model: str, rpd: int) -> dict:
    return {"model": model, **Workload(rpd, 1600, 400, cache_hit_share="0.25").to_params()}


def test_save_load_round_trip(engine: Engine) -> None:
    saved = save_scenario(engine, name="Launch  plan", params=_params("gpt-4o", 500), actor=ADMIN)
    assert saved.name == "Launch plan" and saved.kind == "plan"
    loaded = load_scenario(engine, "Launch plan")
    assert loaded is not None and loaded.params == _params("gpt-4o", 500)
    params = {k: v for k, v in loaded.params.items() if k != "model"}
    assert Workload.from_params(params).cache_hit_share == Workload(1, 1, 1, "0.25").cache_hit_share


def test_save_overwrites_same_name(engine: Engine) -> None:
    first = save_scenario(engine, name="A", params=_params("gpt-4o", 500), actor=ADMIN)
    second = save_scenario(engine, name="A", params=_params("gpt-4o-mini", 900), actor=ADMIN)
    assert second.id == first.id and second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert [s.params["model"] for s in list_scenarios(engine)] == ["gpt-4o-mini"]


def test_list_by_kind_and_delete(engine: Engine) -> None:
    save_scenario(engine, name="b", params=_params("gpt-4o", 1), actor=ADMIN)
    save_scenario(engine, name="a", params=_params("gpt-4o", 2), actor=ADMIN)
    save_scenario(engine, name="a", params={"rules": []}, kind="routing", actor=ADMIN)
    assert [s.name for s in list_scenarios(engine)] == ["a", "b"]
    assert len(list_scenarios(engine, kind=None)) == 3
    assert delete_scenario(engine, "a", actor=ADMIN) is True
    assert delete_scenario(engine, "a", actor=ADMIN) is False
    assert load_scenario(engine, "a", kind="routing") is not None
    assert load_scenario(engine, "missing") is None


def test_blank_name_is_refused(engine: Engine) -> None:
    with pytest.raises(ScenarioError):
        save_scenario(engine, name="   ", params={}, actor=ADMIN)
