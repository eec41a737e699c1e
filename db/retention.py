"""Retention: raw request rows are kept for N days; the rollups keep every day for good.

`prune` deletes the request rows of the days before a cutoff, a bounded batch per transaction,
and first records where the kept rows start (`retention.kept_from`). From then on:

- ingest refuses a request of a pruned day: the rollups still count the pruned requests, so
  adding one again would count it twice;
- a rebuild of the rollups (after a re-price or an upload's deletion) leaves pruned days
  alone: their rollups are all that is left of them, and they keep their stored cost;
- pages and commands read rollups, so every figure of a pruned day stays as it was; only what
  needs single requests (a routing rule whose token threshold is off the rollup's grid)
  cannot look at pruned days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, delete, func, select, update

from core.access import Actor, require
from db.audit import record
from db.models import RequestLog, Retention

LOG = RequestLog.__table__
RETENTION = Retention.__table__
PRUNE_ROWS = 50_000  # rows deleted per transaction


@dataclass
class PruneReport:
    """What a prune removed (or, dry, would remove): rows of the days before `cutoff`."""

    cutoff: date
    rows: int = 0
    first_day: date | None = None
    last_day: date | None = None
    dry_run: bool = False
    kept_from: date | None = None  # where the kept rows start afterwards

    def as_json(self) -> dict[str, object]:
        """The `prune --json` object."""
        return {
            "cutoff": self.cutoff.isoformat(),
            "dry_run": self.dry_run,
            "rows": self.rows,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "kept_from": self.kept_from.isoformat() if self.kept_from else None,
        }


def kept_from(conn: Connection) -> date | None:
    """The first day whose request rows are all kept (None when nothing was ever pruned)."""
    found = conn.execute(select(RETENTION.c.kept_from).where(RETENTION.c.id == 1)).scalar()
    if found is None or isinstance(found, date):
        return found
    return date.fromisoformat(str(found)[:10])


def kept_since(engine: Engine) -> date | None:
    """`kept_from` on a connection of its own."""
    with engine.connect() as conn:
        return kept_from(conn)


def cutoff_for(older_than_days: int, today: date | None = None) -> date:
    """The first day kept when rows older than `older_than_days` days go (UTC days)."""
    if older_than_days < 1:
        raise ValueError(f"keep at least one day of requests, not {older_than_days}")
    return (today or datetime.now(UTC).date()) - timedelta(days=older_than_days)


def _midnight(day: date) -> datetime:
    """The instant a UTC day starts (request rows are found by `ts`, which is indexed)."""
    return datetime.combine(day, time.min, UTC)


def prune(
    engine: Engine,
    before: date,
    *,
    actor: Actor,
    dry_run: bool = False,
    batch_rows: int = PRUNE_ROWS,
) -> PruneReport:
    """Delete the request rows of days before `before` in batches; the rollups stay."""
    require(actor, "prune")
    report = PruneReport(cutoff=before, dry_run=dry_run)
    old = LOG.c.ts < _midnight(before)
    with engine.connect() as conn:
        first, last, rows = conn.execute(
            select(func.min(LOG.c.day), func.max(LOG.c.day), func.count()).where(old)
        ).one()
        report.kept_from = kept_from(conn)
    report.rows, report.first_day, report.last_day = int(rows), _day(first), _day(last)
    if dry_run or not report.rows:
        return report
    with engine.begin() as conn:  # recorded first: ingest refuses pruned days from now on
        report.kept_from = max(before, kept_from(conn) or before)
        _record(conn, report.kept_from)
        record(conn, actor, "prune", f"requests before {before}", None, {"rows": report.rows})
    batch = select(LOG.c.id).where(old).limit(batch_rows).scalar_subquery()
    while True:
        with engine.begin() as conn:
            if not conn.execute(delete(LOG).where(LOG.c.id.in_(batch))).rowcount:
                break
    return report


def _record(conn: Connection, day: date) -> None:
    """Store `kept_from` (the one row, made on the first prune)."""
    if not conn.execute(
        update(RETENTION).where(RETENTION.c.id == 1).values(kept_from=day)
    ).rowcount:
        conn.execute(RETENTION.insert().values(id=1, kept_from=day))


def _day(value: object) -> date | None:
    """A DATE column's value (SQLite may hand back its text)."""
    if value is None or isinstance(value, date):
        return value  # type: ignore[return-value]
    return date.fromisoformat(str(value)[:10])
