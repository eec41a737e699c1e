"""Storing prepared chunks: rows and rollups in one transaction per chunk.

Rows go in with `INSERT ... ON CONFLICT (source, request_id) DO NOTHING RETURNING request_id`;
only the rows actually inserted are added to the rollups, in the same transaction, so a crash
leaves whole chunks and a rerun skips them. A key repeated within a chunk keeps its first
occurrence in line order; a key already stored is compared by fingerprint with the stored
row: identical -> duplicate, different -> conflict (the first stored copy stays).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from core.prepare import Prepared, sums_of
from core.rollups import RollupOverflow, RollupSums, merge_sums
from db.ingest.report import IngestReport
from db.ingest.rollups import add_sums
from db.ingest.rows import LOG, insert_new, row_params
from db.models import Upload

UPLOAD = Upload.__table__

CLASSIFY_IDS = 5_000  # request_ids looked up per query when telling duplicates from conflicts
INGEST_CACHE_KIB = 8_192  # SQLite page cache while ingesting (appends touch few pages)
BUSY_RETRIES = 5
TRANSACTION_CHUNKS = 4  # chunks stored per transaction (50,000 rows)


OVERFLOW = "one day's spend on one model and project went past what a rollup can total ($9.2M)"


class StoreError(RuntimeError):
    """A chunk that cannot be stored (a rollup total past 64 bits): the ingest stops cleanly."""


@dataclass
class Outcome:
    """What storing one chunk did, applied to the report only once its transaction commits."""

    duplicates: int = 0
    conflict_ids: list[str] = field(default_factory=list)
    stored: Prepared | None = None


def _set_cache(conn: Connection, kib: int | None) -> int | None:
    """Set SQLite's page cache of this connection (KiB); returns the previous setting."""
    if conn.dialect.name != "sqlite" or kib is None:
        return None
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{abs(int(kib))}")
    conn.commit()
    return abs(int(previous)) if previous is not None and previous < 0 else None


class Writer:
    """Stores the chunks of one ingest under its report's source and upload.

    A transaction holds TRANSACTION_CHUNKS chunks: each chunk's rows are written as it comes
    (so parsing the next chunk overlaps with writing this one), and their rollup sums, merged,
    are added once before the commit, so the rollup tables are touched a few times per 50,000
    rows instead of once per chunk. A crash leaves whole transactions; a busy database makes
    the open transaction start again with its chunks.
    """

    def __init__(self, engine: Engine, report: IngestReport) -> None:
        self.engine = engine
        self.report = report
        self.conn: Connection | None = None
        self.transaction: Any = None
        self.pending: list[Prepared] = []
        self.written: list[Outcome] = []

    @contextmanager
    def session(self) -> Iterator[None]:
        """One connection (one page cache) for the ingest, with automatic collection paused:
        parsing allocates many objects whose collector passes cost ~10 % of an ingest; each
        chunk starts with a young-generation collection instead, so memory stays flat. The
        open transaction is committed when the session ends without an error."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            with self.engine.connect() as conn:
                self.conn = conn
                previous = _set_cache(conn, INGEST_CACHE_KIB)
                try:
                    yield
                    self.flush()
                finally:
                    if self.transaction is not None and self.transaction.is_active:
                        self.transaction.rollback()
                    _set_cache(conn, previous)
                    self.conn = None
        finally:
            if collecting:
                gc.enable()

    def save(self, chunk: Prepared) -> None:
        """Write one chunk's rows in the open transaction; commit when it holds enough."""
        gc.collect(1)
        self.pending.append(chunk)
        self._guarded(lambda: self._write_pending(self.pending[-1:]), commit=False)
        if len(self.pending) >= TRANSACTION_CHUNKS:
            self.flush()

    def flush(self) -> None:
        """Add the open transaction's rollup sums and commit it."""
        if self.pending:
            self._guarded(self._commit, commit=True)

    def _write_pending(self, chunks: list[Prepared]) -> None:
        if self.transaction is None:
            self.transaction = self.conn.begin()  # type: ignore[union-attr]
        self.written += [self._write(self.conn, chunk) for chunk in chunks]  # type: ignore[arg-type]

    def _commit(self) -> None:
        stored = [w.stored for w in self.written if w.stored is not None]
        if stored:
            add_sums(self.conn, merge_sums([_sums(c) for c in stored]))  # type: ignore[arg-type]
        self.transaction.commit()
        self.transaction = None
        for result in self.written:
            self._apply(result)
        self.pending, self.written = [], []

    def _guarded(self, step: Any, *, commit: bool) -> None:
        """Run a step of the open transaction. When the database is busy, the transaction starts
        again with all its chunks (a few times, then the error stands); when the database refuses
        the data, the ingest stops with a reason."""
        for attempt in range(BUSY_RETRIES):
            try:
                if attempt == 0:
                    step()
                else:
                    self._write_pending(self.pending)
                    if commit:
                        self._commit()
                return
            except OperationalError:
                self._rollback()
                if attempt == BUSY_RETRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
            except (RollupOverflow, IntegrityError, DataError) as exc:
                self._rollback()
                raise StoreError(self._refusal()) from exc

    def _rollback(self) -> None:
        if self.transaction is not None and self.transaction.is_active:
            self.transaction.rollback()
        self.transaction, self.written = None, []

    def _refusal(self) -> str:
        """Why the database refused a transaction, in words (its rows were not stored)."""
        with self.engine.connect() as conn:
            upload = conn.execute(select(UPLOAD.c.id).where(UPLOAD.c.id == self.report.upload_id))
            deleted = self.report.upload_id is not None and upload.first() is None
        if deleted:
            return "the upload was deleted while it was being stored; the later records were not"
        return f"{OVERFLOW}; the file's later records were not stored"

    def _apply(self, outcome: Outcome) -> None:
        self.report.duplicates += outcome.duplicates
        for request_id in outcome.conflict_ids:
            self.report.conflict(request_id)
        if outcome.stored is not None:
            self.report.tally(outcome.stored.cols)

    def _write(self, conn: Connection, chunk: Prepared) -> Outcome:
        """Insert the rows and classify those not inserted against the stored copy of their
        key: the first occurrence in line order, stored now (a key repeated in the chunk goes
        in once, first copy first) or by an earlier chunk or file."""
        outcome = Outcome()
        cols = chunk.cols
        flat = row_params(cols, conn.dialect.name, self.report.source, self.report.upload_id)
        inserted = insert_new(conn, flat)
        if len(inserted) < chunk.size:
            repeated = pd.Series(cols["request_id"], dtype=object).duplicated(keep="first")
            mask = np.isin(cols["request_id"], np.asarray(inserted, dtype=object))
            mask &= ~repeated.to_numpy()
            self._classify(conn, cols["request_id"][~mask], cols["content_hash"][~mask], outcome)
            chunk = chunk.take(mask)
        if chunk.size:
            outcome.stored = chunk
        return outcome

    def _classify(
        self, conn: Connection, ids: np.ndarray, digests: np.ndarray, outcome: Outcome
    ) -> None:
        """Count rows whose key is already stored as duplicates or conflicts."""
        query = select(LOG.c.request_id, LOG.c.content_hash).where(
            LOG.c.source == self.report.source,
            LOG.c.request_id.in_(bindparam("ids", expanding=True)),
        )
        id_list = ids.tolist()
        stored: dict[str, str] = {}
        for start in range(0, len(id_list), CLASSIFY_IDS):
            part = id_list[start : start + CLASSIFY_IDS]
            stored.update(conn.execute(query, {"ids": part}).all())  # type: ignore[arg-type]
        for request_id, digest in zip(id_list, digests.tolist(), strict=True):
            if stored.get(request_id) == digest:
                outcome.duplicates += 1
            else:
                outcome.conflict_ids.append(request_id)


def _sums(chunk: Prepared) -> RollupSums:
    return chunk.sums if chunk.sums is not None else sums_of(chunk.cols)
