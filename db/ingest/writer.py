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

from core.fingerprint import alternate_key
from core.logs import RecordError
from core.prepare import Prepared, sums_of
from core.rollups import (
    USER_SUMS_NAME,
    RollupOverflow,
    RollupSums,
    derived_sums,
    merge_sums,
    user_days,
    users_added,
)
from db.ingest.memory import give_back
from db.ingest.report import IngestReport, Tally, tally_of
from db.ingest.rollups import add_sums, rebuild_latency, rebuild_retries, rebuild_users
from db.ingest.rows import LOG, insert_new, row_values
from db.ingest.uploads import add_to_upload
from db.models import Upload
from db.retention import kept_from

UPLOAD = Upload.__table__

CLASSIFY_IDS = 5_000  # request_ids looked up per query when telling duplicates from conflicts
# SQLite page cache while ingesting: random keys touch most of the key index's pages whatever
# the cache, so 8 MiB ingests as fast as 16 MiB (measured at 1M lines) and holds half.
INGEST_CACHE_KIB = 8_192
BUSY_RETRIES = 5
# Chunks stored per transaction (about 200,000 rows): each commit writes every index page the
# transaction touched, and random request keys touch most of the key index's pages whatever
# the transaction's size, so fewer, larger commits write far less. The rollup sums are added
# every SUM_CHUNKS chunks within it, so the rows they take stay few and the writer never
# stops for long (the parse worker waits on it once its pieces ahead are taken).
TRANSACTION_CHUNKS = 48
SUM_CHUNKS = 12
# Sums per day and user kept before they are added together; past this many days and users
# once added, they are dropped (memory stays bounded) and the top users are read back in SQL.
# A day's log stays well under it; a 1M-line log of 90 days (224,000) reads them back at no
# measurable cost, and holds about 12 MB less.
USER_ROWS = 50_000


COLLISION = (
    "its key shares both storage slots with other stored requests (a 1-in-10^19 event); "
    "send it under another request_id"
)
BUSY = "the database stayed busy; the file's later records were not stored (run it again)"
OVERFLOW = "one day's spend on one model and project went past what a rollup can total ($9.2M)"
PRUNED = (
    "before {day}: the requests of earlier days were pruned and their totals kept, so a "
    "request of those days is not stored again"
)


class StoreError(RuntimeError):
    """A chunk that cannot be stored (a rollup total past 64 bits): the ingest stops cleanly."""


@dataclass
class Outcome:
    """What storing one chunk did, applied to the report only once its transaction commits."""

    duplicates: int = 0
    conflict_ids: list[str] = field(default_factory=list)
    rejected: list[tuple[int, RecordError]] = field(default_factory=list)
    stored: Prepared | None = None
    tally: Tally | None = None


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
    (so parsing the next chunk overlaps with writing this one) and only its rollup sums and
    tally are kept; every SUM_CHUNKS chunks the sums, merged, are added, so the rollup tables
    are touched a few times per 50,000 rows instead of once per chunk. Outcomes reach the
    report only once their transaction commits; a crash leaves whole transactions.
    """

    def __init__(self, engine: Engine, report: IngestReport) -> None:
        self.engine = engine
        self.report = report
        self.conn: Connection | None = None
        self.transaction: Any = None
        self.written: list[Outcome] = []
        self.unsummed: list[RollupSums] = []  # sums of chunks written, not yet added
        # sums per day and user of the rows stored: of the open transaction, of those committed
        self.users_open: list[dict[str, np.ndarray]] = []
        # (None once there are more than USER_ROWS days and users: the SQL rebuild reads them)
        self.users: list[dict[str, np.ndarray]] | None = []
        self.kept_from: Any = None  # np.datetime64 day the kept rows start from, or None
        self.days: set[Any] = set()  # every day a chunk named (stored, duplicate or not)

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
                    self._derive()
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
        self.days.update(np.unique(chunk.cols["day"]).tolist())
        starting = self.transaction is None
        self._guarded(lambda: self._write_one(chunk), retry=starting)
        if len(self.written) >= TRANSACTION_CHUNKS:
            self.flush()
        elif len(self.unsummed) >= SUM_CHUNKS:
            self._guarded(self._add_sums, retry=False)

    def _derive(self) -> None:
        """Rebuild what is not a sum of the rows (the top users, the cost of failure and the
        latency percentiles per day) for every day the file named, in one transaction after
        the rows: a file run again (all duplicates) repairs them too. A day whose stored rows
        are all this file's takes its top users from the file's sums, without reading them."""
        if self.days:
            known = user_days(self.users or [])
            with self.conn.begin():  # type: ignore[union-attr]
                rebuild_users(self.conn, self.days, known)  # type: ignore[arg-type]
                rebuild_retries(self.conn, self.days)  # type: ignore[arg-type]
                rebuild_latency(self.conn, self.days)  # type: ignore[arg-type]

    def flush(self) -> None:
        """Add the open transaction's rollup sums and commit it."""
        if self.written:
            self._guarded(self._commit, retry=False)

    def _write_one(self, chunk: Prepared) -> None:
        """Write a chunk's rows; keep only its rollup sums and tally until the commit."""
        if self.transaction is None:
            self.transaction = self.conn.begin()  # type: ignore[union-attr]
            start = kept_from(self.conn)  # type: ignore[arg-type]
            self.kept_from = None if start is None else np.datetime64(start, "D")
        outcome = self._write(self.conn, chunk)  # type: ignore[arg-type]
        if outcome.stored is not None:
            self.unsummed.append(_sums(outcome.stored))
            outcome.tally = tally_of(outcome.stored.cols)
            outcome.stored = None
        self.written.append(outcome)

    def _add_sums(self) -> None:
        """Add the merged rollup sums of the chunks written since the last time."""
        if self.unsummed:
            merged = merge_sums(self.unsummed)
            merged += derived_sums(merged)
            if self.users is not None:  # (else the top users are read back in SQL anyway)
                self.users_open += [rows for name, _, rows in merged if name == USER_SUMS_NAME]
            tables = [part for part in merged if part[0] != USER_SUMS_NAME]
            add_sums(self.conn, tables)  # type: ignore[arg-type]
        self.unsummed = []

    def _commit(self) -> None:
        self._add_sums()
        tallies = [w.tally for w in self.written if w.tally is not None]
        if tallies and self.report.upload_id is not None:  # the upload's totals, same commit
            add_to_upload(self.conn, self.report.upload_id, tallies)  # type: ignore[arg-type]
        self.transaction.commit()
        self.transaction = None
        if self.users is not None:
            self.users += self.users_open
            if sum(len(rows["day"]) for rows in self.users) > USER_ROWS:
                self.users = [users_added(self.users)]
                if len(self.users[0]["day"]) > USER_ROWS:  # too many to hold: read them back
                    self.users = None
        self.users_open = []
        for result in self.written:
            self._apply(result)
        self.written = []
        give_back()

    def _guarded(self, step: Any, *, retry: bool) -> None:
        """Run a step of the open transaction. A database still busy when a transaction starts
        is waited for (a few times); busy later, or refusing the data, the transaction is
        rolled back and the ingest stops with a reason (running the file again completes it)."""
        for attempt in range(BUSY_RETRIES):
            try:
                step()
                return
            except OperationalError as exc:
                self._rollback()
                if not retry or attempt == BUSY_RETRIES - 1:
                    raise StoreError(BUSY) from exc
                time.sleep(0.2 * (attempt + 1))
            except (RollupOverflow, IntegrityError, DataError) as exc:
                self._rollback()
                raise StoreError(self._refusal()) from exc

    def _rollback(self) -> None:
        if self.transaction is not None and self.transaction.is_active:
            self.transaction.rollback()
        self.transaction, self.written, self.unsummed, self.users_open = None, [], [], []

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
        for line, error in outcome.rejected:
            self.report.reject(line, error)
        for request_id in outcome.conflict_ids:
            self.report.conflict(request_id)
        if outcome.tally is not None:
            self.report.add(outcome.tally)

    def _write(self, conn: Connection, chunk: Prepared) -> Outcome:
        """Insert the rows, then classify those not inserted against the stored copy of their
        key: the first occurrence in line order, stored now (a key repeated in the chunk goes
        in once, first copy first) or by an earlier chunk or file. A key whose hash slot holds
        another key goes to its alternate slot."""
        outcome = Outcome()
        chunk = self._kept(chunk, outcome)
        if not chunk.size:
            return outcome
        inserted = self._insert(conn, chunk)
        if inserted.all():  # the common case: the chunk's sums stand as computed
            outcome.stored = chunk
            return outcome
        parts = [chunk.take(inserted)]
        rest = chunk.take(~inserted)
        for attempt in range(2):
            if not rest.size:
                break
            collided = self._classify(conn, rest, outcome)
            rest = rest.take(collided)
            if attempt == 0 and rest.size:
                rest.cols["key_hash"] = alternate_key(rest.cols["key_hash"])
                moved = self._insert(conn, rest)
                parts.append(rest.take(moved))
                rest = rest.take(~moved)
        for line in rest.cols["line"].tolist() if rest.size else []:
            outcome.rejected.append((line, RecordError("request_id", COLLISION)))
        stored = _joined([p for p in parts if p.size])
        outcome.stored = stored if stored is not None and stored.size else None
        return outcome

    def _kept(self, chunk: Prepared, outcome: Outcome) -> Prepared:
        """The chunk without requests of pruned days, which are refused with a reason."""
        if self.kept_from is None:
            return chunk
        early = chunk.cols["day"] < self.kept_from
        if not early.any():
            return chunk
        reason = PRUNED.format(day=self.kept_from)
        for line in chunk.cols["line"][early].tolist():
            outcome.rejected.append((line, RecordError("timestamp", reason)))
        return chunk.take(~early)

    def _insert(self, conn: Connection, chunk: Prepared) -> np.ndarray:
        """Insert a chunk's rows whose key slot is free; which rows went in."""
        cols = chunk.cols
        rows = row_values(cols, conn.dialect.name, self.report.source, self.report.upload_id)
        inserted = insert_new(conn, rows)
        if inserted is None:
            return np.ones(chunk.size, dtype=bool)
        keys = cols["key_hash"]
        first = ~pd.Series(keys).duplicated(keep="first").to_numpy()
        return np.isin(keys, np.asarray(inserted, dtype=np.int64)) & first

    def _classify(self, conn: Connection, rows: Prepared, outcome: Outcome) -> np.ndarray:
        """Count the rows whose key is stored (under either slot) as duplicates or conflicts;
        returns which rows found their slots taken by other keys."""
        keys, alternates = rows.cols["key_hash"], alternate_key(rows.cols["key_hash"])
        slots = np.concatenate([keys, alternates]).tolist()
        query = select(LOG.c.key_hash, LOG.c.source, LOG.c.request_id, LOG.c.content_hash)
        query = query.where(LOG.c.key_hash.in_(bindparam("slots", expanding=True)))
        stored: dict[int, tuple] = {}
        for start in range(0, len(slots), CLASSIFY_IDS):
            found = conn.execute(query, {"slots": slots[start : start + CLASSIFY_IDS]})
            stored.update((row[0], row[1:]) for row in found)
        collided = np.zeros(rows.size, dtype=bool)
        items = zip(
            keys.tolist(),
            alternates.tolist(),
            rows.cols["request_id"].tolist(),
            rows.cols["content_hash"].tolist(),
            strict=True,
        )
        for i, (key, alternate, request_id, digest) in enumerate(items):
            for slot in (key, alternate):
                source, stored_id, stored_digest = stored.get(slot, (None, None, None))
                if (source, stored_id) == (self.report.source, request_id):
                    if stored_digest == digest:
                        outcome.duplicates += 1
                    else:
                        outcome.conflict_ids.append(request_id)
                    break
            else:
                collided[i] = True
        return collided


def _joined(parts: list[Prepared]) -> Prepared | None:
    """Chunks as one (sums to be recomputed)."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return Prepared({n: np.concatenate([p.cols[n] for p in parts]) for n in parts[0].cols})


def _sums(chunk: Prepared) -> RollupSums:
    return chunk.sums if chunk.sums is not None else sums_of(chunk.cols)
