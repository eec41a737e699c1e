"""Saved scenarios: named parameter sets (a plan, later a routing setup) stored as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Engine, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from core.access import Actor, require
from db.audit import record

MAX_NAME_LENGTH = 120


class ScenarioError(ValueError):
    """A scenario that cannot be saved, with a message for the user."""


class ScenarioBase(SQLModel):
    name: str = Field(max_length=MAX_NAME_LENGTH)
    kind: str = Field(default="plan", max_length=40, index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime
    updated_at: datetime


class ScenarioRow(ScenarioBase, table=True):
    __tablename__ = "scenario"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_scenario_kind_name"),)
    id: int | None = Field(default=None, primary_key=True)


@dataclass(frozen=True)
class Scenario:
    """One saved scenario as the pages and the CLI see it."""

    id: int
    name: str
    kind: str
    params: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _to_scenario(row: ScenarioRow) -> Scenario:
    return Scenario(row.id, row.name, row.kind, dict(row.params), row.created_at, row.updated_at)


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ScenarioError("Give the scenario a name.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ScenarioError(f"Scenario names are at most {MAX_NAME_LENGTH} characters.")
    return cleaned


def _find(session: Session, kind: str, name: str) -> ScenarioRow | None:
    query = select(ScenarioRow).where(ScenarioRow.kind == kind, ScenarioRow.name == name)
    return session.exec(query).first()


def _action(kind: str, verb: str) -> str:
    """The access action for changing a scenario of `kind`."""
    return "routing.save" if kind == "routing" else f"scenario.{verb}"


def save_scenario(
    engine: Engine, *, name: str, params: dict[str, Any], kind: str = "plan", actor: Actor
) -> Scenario:
    """Create the scenario, or overwrite the one of that kind and name (keeps created_at)."""
    require(actor, _action(kind, "save"))
    name = _clean_name(name)
    now = datetime.now(UTC)
    with Session(engine) as session:
        row = _find(session, kind, name)
        before = None if row is None else dict(row.params)
        if row is None:
            row = ScenarioRow(name=name, kind=kind, params=params, created_at=now, updated_at=now)
        else:
            row.params, row.updated_at = dict(params), now
        session.add(row)
        record(session, actor, f"{kind}.save", name, before, dict(params))
        session.commit()
        session.refresh(row)
        return _to_scenario(row)


def list_scenarios(engine: Engine, kind: str | None = "plan") -> list[Scenario]:
    """Saved scenarios of a kind (every kind with None), by name."""
    with Session(engine) as session:
        query = select(ScenarioRow).order_by(ScenarioRow.kind, ScenarioRow.name)
        if kind is not None:
            query = query.where(ScenarioRow.kind == kind)
        return [_to_scenario(r) for r in session.exec(query).all()]


def load_scenario(engine: Engine, name: str, kind: str = "plan") -> Scenario | None:
    """One scenario by name, or None."""
    with Session(engine) as session:
        row = _find(session, kind, " ".join(name.split()))
        return _to_scenario(row) if row else None


def delete_scenario(engine: Engine, name: str, kind: str = "plan", *, actor: Actor) -> bool:
    """Delete one scenario; False when it did not exist."""
    require(actor, _action(kind, "delete"))
    with Session(engine) as session:
        row = _find(session, kind, " ".join(name.split()))
        if row is None:
            return False
        record(session, actor, f"{kind}.delete", row.name, dict(row.params), None)
        session.delete(row)
        session.commit()
        return True
