"""Alert events: each alert stored once per (key, period), its deliveries and acknowledgement."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session
from sqlmodel import select as sm_select

from core.access import Actor, require
from core.alerts import Alert
from db.audit import record
from db.budgets.clock import as_utc, utcnow
from db.budgets.tables import AlertEventRow


def _insert_ignore(engine: Engine) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    return (postgresql if engine.dialect.name == "postgresql" else sqlite).insert


def record_events(
    engine: Engine, alerts: list[Alert], fired_at: datetime, *, actor: Actor
) -> list[int]:
    """Store each alert unless its (key, period) is already stored; returns the new event ids."""
    require(actor, "alerts.check")
    table = AlertEventRow.__table__
    insert = _insert_ignore(engine)
    new_ids: list[int] = []
    now = utcnow()
    with engine.begin() as conn:
        for a in alerts:
            row = {
                "kind": a.kind, "scope": a.scope, "subject": a.subject, "key": a.key,
                "period": a.period, "value": a.value, "threshold": a.threshold, "unit": a.unit,
                "message": a.message, "fired_at": as_utc(fired_at), "created_at": now,
                "deliveries": "{}",
            }  # fmt: skip
            stmt = insert(table).values(**row).on_conflict_do_nothing().returning(table.c.id)
            new_id = conn.execute(stmt).scalar()
            if new_id is not None:
                new_ids.append(int(new_id))
    return new_ids


def event_ids_for(engine: Engine, alerts: list[Alert]) -> dict[tuple[str, str], int]:
    """The stored event id of each (key, period) among `alerts`."""
    if not alerts:
        return {}
    table = AlertEventRow.__table__
    keys = {(a.key, a.period) for a in alerts}
    stmt = select(table.c.key, table.c.period, table.c.id).where(
        table.c.key.in_({k for k, _ in keys})
    )
    with engine.connect() as conn:
        return {(k, p): i for k, p, i in conn.execute(stmt) if (k, p) in keys}


def alert_of(row: AlertEventRow) -> Alert:
    """The alert a stored event records."""
    return Alert(
        kind=row.kind,
        scope=row.scope,
        subject=row.subject,
        key=row.key,
        period=row.period,
        value=Decimal(row.value),
        threshold=Decimal(row.threshold),
        unit=row.unit,
        message=row.message,
    )


def deliveries_of(engine: Engine, event_id: int) -> dict[str, str]:
    """Per channel: 'sent' or 'failed: reason' for one event."""
    with Session(engine) as session:
        row = session.get(AlertEventRow, event_id)
        return json.loads(row.deliveries) if row else {}


def record_delivery(
    engine: Engine, event_id: int, channel: str, ok: bool, detail: str = ""
) -> None:
    """Remember how sending one event on one channel went (never a secret in `detail`)."""
    with Session(engine) as session:
        row = session.get(AlertEventRow, event_id)
        if row is None:
            return
        status = json.loads(row.deliveries)
        status[channel] = "sent" if ok else f"failed: {detail}"[:300]
        row.deliveries = json.dumps(status)
        if ok and row.notified_at is None:
            row.notified_at = utcnow()
        session.add(row)
        session.commit()


def acknowledge_event(
    engine: Engine, event_id: int, at: datetime | None = None, *, actor: Actor
) -> bool:
    """Mark an event as seen; False when it does not exist."""
    require(actor, "alerts.check")
    with Session(engine) as session:
        row = session.get(AlertEventRow, event_id)
        if row is None:
            return False
        row.acknowledged_at = as_utc(at) if at else utcnow()
        record(session, actor, "alert.acknowledge", f"{row.kind} {row.subject} {row.period}")
        session.add(row)
        session.commit()
        return True


def list_events(
    engine: Engine,
    *,
    kinds: tuple[str, ...] = (),
    subjects: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    acknowledged: bool | None = None,
    period_prefix: str = "",
    limit: int = 500,
) -> list[AlertEventRow]:
    """Stored events, newest first, filtered (`period_prefix` "2026-11": every period of that
    month: the month of a budget, a spike day, a rule's window)."""
    stmt = sm_select(AlertEventRow)
    if period_prefix:
        stmt = stmt.where(AlertEventRow.period.startswith(period_prefix, autoescape=True))
    if kinds:
        stmt = stmt.where(AlertEventRow.kind.in_(kinds))
    if subjects:
        stmt = stmt.where(AlertEventRow.subject.in_(subjects))
    if since:
        stmt = stmt.where(AlertEventRow.fired_at >= as_utc(since))
    if until:
        stmt = stmt.where(AlertEventRow.fired_at < as_utc(until))
    if acknowledged is not None:
        col = AlertEventRow.acknowledged_at
        stmt = stmt.where(col.is_not(None) if acknowledged else col.is_(None))
    stmt = stmt.order_by(AlertEventRow.fired_at.desc(), AlertEventRow.id.desc()).limit(limit)
    with Session(engine) as session:
        rows = list(session.exec(stmt))
        for r in rows:
            session.expunge(r)
        return rows
