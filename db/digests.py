"""Digests sent once per period and channel (table of migration 0018).

Before sending, a run *claims* its (period, channel): the row is inserted, or taken over when
an earlier claim never completed and is older than `STALE_CLAIM`. Only the run holding the
claim sends; it marks the row sent on success and gives the claim back on failure, so a second
run of the same period sends nothing and a failed channel is tried again by the next run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from db.budgets.clock import as_utc

STALE_CLAIM = timedelta(minutes=10)  # far beyond a channel's delivery deadline


class DigestDelivery(SQLModel, table=True):
    """One digest period on one channel: claimed, and sent once `sent_at` is set."""

    __tablename__ = "digest_delivery"
    period: str = Field(primary_key=True)  # "2026-W02" or "2026-01"
    channel: str = Field(primary_key=True)
    claimed_at: datetime
    sent_at: datetime | None = None


TABLE = DigestDelivery.__table__


def _now() -> datetime:
    return datetime.now(UTC)


def claim(engine: Engine, period: str, channel: str) -> bool:
    """Take the right to send `period` on `channel`; False when it was sent or is being sent."""
    now = _now()
    insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert
    fresh = insert(TABLE).values(period=period, channel=channel, claimed_at=now)
    stale = (
        update(TABLE)
        .where(TABLE.c.period == period, TABLE.c.channel == channel)
        .where(TABLE.c.sent_at.is_(None), TABLE.c.claimed_at < now - STALE_CLAIM)
        .values(claimed_at=now)
    )
    with engine.begin() as conn:
        inserted = conn.execute(fresh.on_conflict_do_nothing().returning(TABLE.c.period))
        if inserted.first() is not None:
            return True
        return conn.execute(stale.returning(TABLE.c.period)).first() is not None


def mark_sent(engine: Engine, period: str, channel: str) -> None:
    """Record that `period` went out on `channel`."""
    stmt = (
        update(TABLE)
        .where(TABLE.c.period == period, TABLE.c.channel == channel)
        .values(sent_at=_now())
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def release(engine: Engine, period: str, channel: str) -> None:
    """Give back an unsent claim, so the next run tries the channel again."""
    stmt = delete(TABLE).where(
        TABLE.c.period == period, TABLE.c.channel == channel, TABLE.c.sent_at.is_(None)
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def sent_channels(engine: Engine, period: str) -> dict[str, datetime]:
    """The channels `period` was sent on, and when."""
    stmt = select(TABLE.c.channel, TABLE.c.sent_at).where(
        TABLE.c.period == period, TABLE.c.sent_at.is_not(None)
    )
    with engine.connect() as conn:
        return {channel: as_utc(at) for channel, at in conn.execute(stmt)}
