"""Upload history: one row per file ingested, deletion with its rows, remembered CSV mappings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import Connection, Engine, case, delete, func, or_, select, update

from core.access import Actor, require
from db.audit import record
from db.ingest.bulk import dialect_module
from db.ingest.report import IngestReport, Tally, moment
from db.ingest.rollups import rebuild
from db.models import ColumnMapping, RequestLog, Upload
from db.money import joined, split_sum

UPLOAD = Upload.__table__
LOG = RequestLog.__table__
MAPPING = ColumnMapping.__table__


def start_upload(
    engine: Engine, *, file_name: str, sha256: str, fmt: str, source: str, size_bytes: int
) -> int:
    """The upload row for this file (re-used when the same file went into the same source)."""
    with engine.begin() as conn:
        if sha256:
            found = conn.execute(
                select(UPLOAD.c.id).where(UPLOAD.c.sha256 == sha256, UPLOAD.c.source == source)
            ).first()
            if found:
                return found[0]
        values = dict(
            file_name=file_name,
            sha256=sha256,
            format=fmt,
            source=source,
            size_bytes=size_bytes,
            created_at=datetime.now(UTC),
        )
        return conn.execute(UPLOAD.insert().values(**values).returning(UPLOAD.c.id)).scalar_one()


def stored_totals(conn: Connection, upload_ids: list[int] | None = None) -> dict[int, tuple]:
    """(rows, cost in pico-dollars) stored under each upload (all, or `upload_ids`)."""
    high, low = split_sum(LOG.c.cost_pusd, "cost")
    query = select(LOG.c.upload_id, func.count(), high, low).group_by(LOG.c.upload_id)
    if upload_ids is not None:
        query = query.where(LOG.c.upload_id.in_(upload_ids))
    return {uid: (int(n), joined(h, lo)) for uid, n, h, lo in conn.execute(query) if uid}


def recount(conn: Connection, upload_ids: list[int] | None = None) -> None:
    """Set uploads' accepted rows and cost to what is stored under them (after a crash, a
    re-price or a delete, the row counts stay true)."""
    totals = stored_totals(conn, upload_ids)
    ids = (
        upload_ids if upload_ids is not None else list(conn.execute(select(UPLOAD.c.id)).scalars())
    )
    for upload_id in ids:
        rows, cost = totals.get(upload_id, (0, 0))
        conn.execute(
            update(UPLOAD).where(UPLOAD.c.id == upload_id).values(accepted=rows, cost_pusd=cost)
        )


def add_to_upload(conn: Connection, upload_id: int, tallies: list[Tally]) -> None:
    """Add stored chunks' rows, cost and span of days to their upload, in the transaction that
    stores them (so the upload's totals are what is stored under it, whatever crashes in
    between)."""
    rows = sum(t.rows for t in tallies)
    cost = sum(t.cost_pusd for t in tallies)
    values: dict[str, Any] = {
        "accepted": UPLOAD.c.accepted + rows,
        "cost_pusd": UPLOAD.c.cost_pusd + cost,
    }
    stored = [t for t in tallies if t.rows]
    if stored:
        first = moment(min(t.first_ts for t in stored)).date()
        last = moment(max(t.last_ts for t in stored)).date()
        column_first, column_last = UPLOAD.c.first_day, UPLOAD.c.last_day
        values["first_day"] = case(
            (or_(column_first.is_(None), column_first > first), first), else_=column_first
        )
        values["last_day"] = case(
            (or_(column_last.is_(None), column_last < last), last), else_=column_last
        )
    conn.execute(update(UPLOAD).where(UPLOAD.c.id == upload_id).values(**values))


def finish_upload(engine: Engine, report: IngestReport) -> None:
    """Record this run's other counts on its upload row (its rows and cost were added as they
    were stored)."""
    with engine.begin() as conn:
        conn.execute(
            update(UPLOAD)
            .where(UPLOAD.c.id == report.upload_id)
            .values(
                duplicates=report.duplicates,
                conflicts=report.conflicts,
                rejected=report.rejected,
                unpriced=sum(report.unpriced_models.values()),
                scrubbed=sum(report.scrubbed.values()),
                updated_at=datetime.now(UTC),
            )
        )


def list_uploads(engine: Engine) -> pd.DataFrame:
    """Every upload, newest first: id, file, format, source, counts, cost (pico-dollars), when,
    and the span of days its requests cover (`first_day`, `last_day`; empty without rows)."""
    query = select(UPLOAD).order_by(UPLOAD.c.id.desc())
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=list(UPLOAD.c.keys()))


def data_stamp(engine: Engine) -> tuple:
    """A cheap fingerprint of what is stored: it changes with every ingest, delete and re-price
    (from this process or another), so loaders keyed by it never serve stale figures."""
    query = select(
        func.count(),
        func.max(UPLOAD.c.id),
        func.sum(UPLOAD.c.accepted),
        func.sum(UPLOAD.c.cost_pusd),
        func.max(UPLOAD.c.updated_at),
    )
    with engine.connect() as conn:
        return tuple(str(v) for v in conn.execute(query).one())


def demo_upload(engine: Engine, source: str) -> tuple[int, str, int, int] | None:
    """(id, file name, requests, other uploads' requests) of the newest upload of `source`
    (the demo's), or None when there is none."""
    with engine.connect() as conn:
        found = conn.execute(
            select(UPLOAD.c.id, UPLOAD.c.file_name, UPLOAD.c.accepted)
            .where(UPLOAD.c.source == source)
            .order_by(UPLOAD.c.id.desc())
            .limit(1)
        ).first()
        if found is None:
            return None
        others = conn.execute(
            select(func.coalesce(func.sum(UPLOAD.c.accepted), 0)).where(UPLOAD.c.source != source)
        ).scalar_one()
    return int(found[0]), str(found[1]), int(found[2]), int(others)


def delete_upload(engine: Engine, upload_id: int, *, actor: Actor) -> int | None:
    """Delete an upload with its rows and their share of the rollups; rows removed, or None."""
    require(actor, "upload.delete")
    return remove_upload(engine, upload_id, actor=actor)


def remove_upload(engine: Engine, upload_id: int, *, actor: Actor | None = None) -> int | None:
    """`delete_upload` once allowed; also run by an ingest (`actor` None, not recorded) to drop
    the upload row of a file that stored nothing."""
    with engine.begin() as conn:
        found = conn.execute(
            select(UPLOAD.c.file_name, UPLOAD.c.accepted, UPLOAD.c.cost_pusd).where(
                UPLOAD.c.id == upload_id
            )
        ).first()
        if found is None:
            return None
        if actor is not None:
            before = {"file_name": found[0], "requests": found[1], "cost_pusd": found[2]}
            record(conn, actor, "upload.delete", f"upload #{upload_id} {found[0]}", before)
        days = (
            conn.execute(select(LOG.c.day).where(LOG.c.upload_id == upload_id).distinct())
            .scalars()
            .all()
        )
        removed = conn.execute(delete(LOG).where(LOG.c.upload_id == upload_id)).rowcount
        conn.execute(delete(UPLOAD).where(UPLOAD.c.id == upload_id))
        if days:
            rebuild(conn, days)
        return removed


def header_key(columns: Iterable[str]) -> str:
    """The key a CSV header's remembered mapping is stored under."""
    return hashlib.sha256("\x1f".join(sorted(columns)).encode()).hexdigest()[:32]


def load_mapping(engine: Engine, columns: Iterable[str]) -> dict[str, str] | None:
    """The mapping saved for this CSV header, if any."""
    with engine.connect() as conn:
        found = conn.execute(
            select(MAPPING.c.mapping_json).where(MAPPING.c.header_key == header_key(columns))
        ).scalar()
    return orjson.loads(found) if found else None


def save_mapping(
    engine: Engine, columns: Iterable[str], mapping: Mapping[str, str], *, actor: Actor
) -> None:
    """Remember `mapping` for files with this CSV header."""
    require(actor, "column_mapping.write")
    values = {
        "header_key": header_key(columns),
        "mapping_json": orjson.dumps(dict(mapping)).decode(),
        "updated_at": datetime.now(UTC),
    }
    stmt = dialect_module(engine.dialect.name).insert(MAPPING).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["header_key"],
        set_={"mapping_json": stmt.excluded.mapping_json, "updated_at": stmt.excluded.updated_at},
    )
    with engine.begin() as conn:
        conn.execute(stmt)
        record(conn, actor, "column_mapping.save", values["header_key"], None, dict(mapping))
