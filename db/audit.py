"""The audit trail: who changed what, when, and the record before and after.

Every write function in `db/` checks the acting user's role (`core.access.require`) and then
calls `record` in the same transaction as its change, so a change and its audit row commit
together or not at all. Rows are only added; nothing in Costdesk edits or deletes them.
Secrets never reach the trail: fields whose names say they hold one are stored as "[set]",
and every text goes through the log scrubber's redaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Engine, insert, select
from sqlmodel import Field, SQLModel

from core.access import Actor, require
from core.logs.privacy import redact

SECRET_FIELDS = ("password", "secret", "token", "api_key", "webhook", "key_hash", "url")
# In a field's name, "token" but not a word ending "tokens": `input_tokens` is a count.
_SECRET_NAME = re.compile(
    "|".join(w if w != "token" else r"token(?!s(?![a-z0-9]))" for w in SECRET_FIELDS)
)
SHOWN = ("at", "actor", "role", "via", "action", "target", "before", "after")
MAX_TEXT = 20_000  # characters of `before`/`after` kept per change


class AuditEvent(SQLModel, table=True):
    """One change (or sign-in), never edited."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str
    role: str
    via: str
    action: str
    target: str
    before: str | None = None
    after: str | None = None


def _plain(value: Any) -> Any:
    """`value` as JSON can hold it, secrets hidden."""
    if isinstance(value, Mapping):
        return {
            str(k): "[set]" if _secret_field(str(k)) and v not in (None, "") else _plain(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def _secret_field(name: str) -> bool:
    """Whether a field's name says it holds a secret (`access_token`, `webhookUrl`), while a
    token count (`input_tokens`, `max_output_tokens`) stays readable."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    return _SECRET_NAME.search(snake) is not None


def _text(value: Any) -> str | None:
    """A record as bounded JSON text (None stays None)."""
    if value is None:
        return None
    text = json.dumps(_plain(value), sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def record(
    conn: Any,
    actor: Actor,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add one audit row through `conn` (a Connection or Session inside the change's
    transaction)."""
    conn.execute(
        insert(AuditEvent.__table__).values(
            at=datetime.now(UTC),
            actor=redact(actor.name)[:320],
            role=actor.role.label,
            via=actor.via,
            action=action,
            target=redact(target)[:400],
            before=_text(before),
            after=_text(after),
        )
    )


def record_now(engine: Engine, actor: Actor, action: str, target: str, **values: Any) -> None:
    """Add one audit row in its own transaction (a sign-in, or a change made elsewhere)."""
    with engine.begin() as conn:
        record(conn, actor, action, target, values.get("before"), values.get("after"))


def list_events(
    engine: Engine,
    actor: Actor,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    who: str = "",
    action: str = "",
    limit: int = 5_000,
) -> pd.DataFrame:
    """The newest audit rows (up to `limit`) matching the filters; admins only."""
    require(actor, "audit.read")
    table = AuditEvent.__table__.c
    query = select(*[table[name] for name in SHOWN]).order_by(table.at.desc(), table.id.desc())
    if start is not None:
        query = query.where(table.at >= start)
    if end is not None:
        query = query.where(table.at < end)
    if who:
        query = query.where(table.actor == who)
    if action:
        query = query.where(table.action == action)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).all()
    return pd.DataFrame(rows, columns=list(SHOWN))


def filter_values(engine: Engine, actor: Actor) -> dict[str, list[str]]:
    """The people and actions in the trail, for the audit page's filters."""
    require(actor, "audit.read")
    table = AuditEvent.__table__.c
    with engine.connect() as conn:
        people = conn.execute(select(table.actor).distinct().order_by(table.actor)).scalars()
        actions = conn.execute(select(table.action).distinct().order_by(table.action)).scalars()
        return {"actor": list(people), "action": list(actions)}
