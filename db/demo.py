"""Load the deterministic demo traffic through the normal ingestion path."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, func, select

from core.access import Actor
from core.demo import generate
from db.models import RequestLog

DEMO_SOURCE = "demo"


def has_requests(engine: Engine) -> bool:
    """True when any request is stored."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(RequestLog)).scalar_one() > 0


def load_demo(
    engine: Engine,
    *,
    days: int = 90,
    end_day: date | None = None,
    force: bool = False,
    actor: Actor,
) -> int:
    """Ingest `days` days of demo traffic unless the database has data; returns rows added."""
    from db.ingest import ingest_records

    if has_requests(engine) and not force:
        return 0
    report = ingest_records(
        engine,
        generate(days=days, end_day=end_day),
        source=DEMO_SOURCE,
        file_name=f"demo traffic ({days} days)",
        actor=actor,
    )
    return report.accepted
