"""Ingestion: stream records in chunks, validate, price, bulk-insert, keep rollups in step.

Each chunk is one transaction: rows go in through SQLAlchemy Core
`INSERT ... ON CONFLICT (source, request_id) DO NOTHING RETURNING request_id`, and only the
rows actually inserted are aggregated into `daily_rollup` and the histogram tables with
`ON CONFLICT DO UPDATE` upserts. A crash leaves whole chunks; a rerun skips them as duplicates.
Rows that did not go in are compared by `content_hash` with the stored row: identical ->
duplicate, different -> conflict (the first one stays).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from core.costs import (
    COST_PARTS,
    PRICE_KEY,
    PRICED_TOKENS,
    picos_to_usd,
    price_arrays,
    price_frame,
)
from core.fingerprint import content_hashes, hex_hashes
from core.logs import (
    BOM,
    CONTENT_KEYS,
    FORMATS,
    LABEL_FIELDS,
    MAX_LINE_BYTES,
    NORMALIZERS,
    SECRET_PATTERN,
    FileFormatError,
    Line,
    RecordColumns,
    RecordError,
    Scrub,
    UsageEvent,
    default_source,
    flat_columns,
    guess_mapping,
    iter_array,
    iter_line_blocks,
    iter_lines,
    may_hold_secret,
    missing_fields,
    normalize_batch_line,
    normalize_csv_row,
    normalize_flat,
    redact,
    redact_event,
    secret_paths,
    sniff,
    whole_file_problem,
)
from core.pricing import PriceBook
from core.stats import LATENCY_EDGES_MS, OUTPUT_EDGES_TOKENS, bucket_index
from db.models import (
    HISTOGRAM_KEY,
    ROLLUP_KEY,
    DailyRollup,
    LatencyDaily,
    LatencyHistogram,
    OutputHistogram,
    RequestLog,
    Upload,
)

CHUNK_ROWS = 12_500
CLASSIFY_IDS = 5_000  # request_ids looked up per query when telling duplicates from conflicts
MAX_ERRORS = 10_000  # errors kept in a report (all are counted)
LOG = RequestLog.__table__
ROLLUP = DailyRollup.__table__
LATENCY = LatencyHistogram.__table__
LATENCY_DAILY = LatencyDaily.__table__
DAILY_KEY = ("day", "model")
OUTPUT = OutputHistogram.__table__
UPLOAD = Upload.__table__

EVENT_COLUMNS = list(UsageEvent._fields)
COST_COLUMNS = ("cost_pusd", *COST_PARTS, "cache_savings_pusd")

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class IngestError:
    """One rejected record: where it was and what was wrong with it."""

    file: str
    line: int
    field: str
    reason: str


@dataclass
class IngestReport:
    """What one ingest did: counts, rejected records, scrubbed fields, cost, unpriced models."""

    file_name: str = ""
    format: str = ""
    source: str = ""
    upload_id: int | None = None
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    errors: list[IngestError] = field(default_factory=list)
    conflict_ids: list[str] = field(default_factory=list)
    scrub: Scrub = field(default_factory=Scrub)
    cost_pusd: int = 0
    unpriced_models: dict[str, int] = field(default_factory=dict)
    file_error: str | None = None
    seconds: float = 0.0

    @property
    def cost_usd(self) -> Decimal:
        """Cost of the rows added, exact."""
        return picos_to_usd(self.cost_pusd)

    @property
    def scrubbed(self) -> dict[str, int]:
        """Content fields dropped and secrets redacted, field -> count."""
        return self.scrub.as_dict()

    @property
    def needs_attention(self) -> bool:
        """True when something was rejected, conflicting, unpriced or unreadable."""
        return bool(self.rejected or self.conflicts or self.unpriced_models or self.file_error)

    def reject(self, line: int, err: RecordError) -> None:
        """Count one rejected record (its details kept up to MAX_ERRORS)."""
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(IngestError(self.file_name, line, err.field, err.reason))

    def merge(self, other: IngestReport) -> None:
        """Add another file's report to this one (multi-file totals)."""
        for name in ("accepted", "duplicates", "conflicts", "rejected", "cost_pusd"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors[: max(0, MAX_ERRORS - len(self.errors))]
        self.conflict_ids += other.conflict_ids[:100]
        self.scrub.merge(other.scrub)
        for model, n in other.unpriced_models.items():
            self.unpriced_models[model] = self.unpriced_models.get(model, 0) + n
        if other.file_error:
            note = f"{other.file_name}: {other.file_error}"
            self.file_error = f"{self.file_error}; {note}" if self.file_error else note
        self.seconds += other.seconds

    def as_json(self) -> dict[str, Any]:
        """The CLI contract's JSON object (money as Decimal; the emitter makes it a string)."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected": self.rejected,
            "errors": [e.__dict__ for e in self.errors],
            "scrubbed": self.scrubbed,
            "cost_usd": self.cost_usd,
            "unpriced_models": sorted(self.unpriced_models),
            "file_errors": [self.file_error] if self.file_error else [],
            "conflict_ids": self.conflict_ids[:100],
        }


# ---------------------------------------------------------------------------------------------
# Records -> events


def _micros(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as integer microseconds since the epoch."""
    return ts.dt.tz_convert("UTC").dt.as_unit("us").astype(np.int64).to_numpy()


STRING_COLUMNS = (
    "request_id",
    "model",
    "error_type",
    "project",
    "feature",
    "user",
    "finish_reason",
    "service_tier",
    "provider",
)


def events_frame(events: list[UsageEvent]) -> pd.DataFrame:
    """Normalised events as a frame with the UsageEvent columns."""
    return pd.DataFrame.from_records(events, columns=EVENT_COLUMNS)


Parsed = tuple[int, UsageEvent | RecordError | dict]  # dict: a block of events as arrays


def events_from_records(
    records: Iterable[Mapping[str, Any]],
    normalize: Callable[[Mapping[str, Any]], UsageEvent],
    scrub: Scrub,
) -> Iterator[Parsed]:
    """Normalise already-parsed records (numbered from 1), scrubbing content and secrets."""
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            yield number, RecordError("record", "must be a JSON object")
            continue
        yield number, event_of(record, normalize, scrub, None)


def event_of(
    record: Mapping[str, Any],
    normalize: Callable[[Mapping[str, Any]], UsageEvent],
    scrub: Scrub,
    raw: bytes | None,
    *,
    count_content: bool = True,
) -> UsageEvent | RecordError:
    """One record -> event (or the error), tallying dropped content and redacted secrets."""
    found = CONTENT_KEYS.intersection(record) if count_content else None
    if found:
        scrub.add_content(found)
    try:
        event = normalize(record)
    except RecordError as err:
        return err
    if raw is None or may_hold_secret(raw):
        event = redact_event(event, scrub)
        if raw is not None:
            for path in secret_paths(record):
                top = path.split(".")[0].split("[")[0]
                if top not in CONTENT_KEYS and top not in _LABEL_FIELDS:
                    scrub.add_secret(path)  # dropped with the unstored field; reported all the same
    return event


_LABEL_FIELDS = frozenset(LABEL_FIELDS)


# ---------------------------------------------------------------------------------------------
# Chunks -> database


INGEST_CACHE_KIB = 8_192  # SQLite page cache while ingesting; with the parse worker, the whole
# ingest stays under 300 MB (PSS of both processes) on a 1M-line file


def _set_cache(conn: Connection, kib: int | None) -> int | None:
    """Set SQLite's page cache of this connection (KiB); returns the previous setting."""
    if conn.dialect.name != "sqlite" or kib is None:
        return None
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{abs(int(kib))}")
    conn.commit()
    return abs(int(previous)) if previous is not None and previous < 0 else None


class _Ingester:
    """State of one ingest: engine, price book, report, upload id, provider cache."""

    def __init__(self, engine: Engine, book: PriceBook, report: IngestReport) -> None:
        self.engine = engine
        self.book = _MemoBook(book)
        self.conn: Connection | None = None
        self.report = report
        self.providers: dict[str, str] = {}

    def provider_of(self, model: str) -> str:
        """The provider a model belongs to, per the price book ("" when unknown)."""
        if model not in self.providers:
            entry = self.book.resolve(model)
            self.providers[model] = entry.provider if entry else ""
        return self.providers[model]

    def run(self, parsed: Iterable[Parsed], progress: Progress | None = None) -> None:
        """Consume parsed records on one connection (one page cache), a transaction per chunk.

        Automatic garbage collection pauses meanwhile: parsing a chunk allocates hundreds of
        thousands of objects, which trigger collector passes costing ~10 % of the ingest. Each
        chunk starts with a young-generation collection instead, so memory stays flat.
        """
        with self.session():
            chunk: list[UsageEvent] = []
            seen = 0
            for line, item in parsed:
                seen += 1
                if isinstance(item, RecordError):
                    self.report.reject(line, item)
                elif isinstance(item, dict):  # a block the columnar path normalised
                    if len(item["request_id"]):
                        self.save(self.prepare(item))
                else:
                    chunk.append(item)
                    if len(chunk) >= CHUNK_ROWS:
                        self.save(self.prepare(events_frame(chunk)))
                        chunk = []
                        if progress:
                            progress(seen, None)
            if chunk:
                self.save(self.prepare(events_frame(chunk)))
            if progress:
                progress(seen, None)

    def run_forked(
        self,
        parsed: Iterable[Parsed],
        stream: BinaryIO,
        size: int,
        progress: Progress | None = None,
        before: Callable[[], None] | None = None,
    ) -> None:
        """`run`, with parsing and preparing in a forked process while this one writes.

        Both halves cost about the same, so on two cores a large file goes in about twice as
        fast. The worker sends rejected records and prepared chunks through a pipe, which holds
        at most one chunk in flight: memory stays flat. Any failure on either side stops both.
        `before` runs here once the worker has started (it may not read `stream`).
        """
        import multiprocessing

        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        worker = context.Process(
            target=_parse_worker, args=(send, parsed, self, stream), daemon=True
        )
        gc.freeze()  # the collector then leaves inherited objects alone: fewer pages copied
        try:
            worker.start()
        finally:
            gc.unfreeze()
        send.close()
        try:
            if before is not None:
                before()
            with self.session():
                while True:
                    try:
                        kind, errors, payload, position = receive.recv()
                    except EOFError:
                        raise RuntimeError("the parsing process stopped unexpectedly") from None
                    for line, field_name, reason in errors:
                        self.report.reject(line, RecordError(field_name, reason))
                    if kind == "chunk":
                        self.save(payload)
                    elif kind == "error":
                        raise payload
                    if progress:
                        progress(position, size)
                    if kind == "done":
                        self.report.scrub.merge(payload)
                        break
        finally:
            receive.close()
            if worker.is_alive():
                worker.kill()
            worker.join()

    @contextmanager
    def session(self) -> Iterator[None]:
        """One connection with a larger page cache, and collection paused, for the ingest."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            with self.engine.connect() as conn:
                self.conn = conn
                previous = _set_cache(conn, INGEST_CACHE_KIB)
                try:
                    yield
                finally:
                    _set_cache(conn, previous)
                    self.conn = None
        finally:
            if collecting:
                gc.enable()

    def prepare(self, events: pd.DataFrame | Events) -> Prepared:
        """A chunk of events as arrays, fingerprinted and priced, with its rollup sums.

        Pure computation, no database: it may run in a parsing process of its own.
        """
        gc.collect(1)  # the previous chunk's cycles (automatic collection is paused)
        cols = events if isinstance(events, dict) else event_arrays(events)
        cols["content_hash"] = np.array(hex_hashes(content_hashes(cols, intern=True)), object)
        cols["day"] = (cols["ts"] // _DAY_US).astype("datetime64[D]")
        missing = cols["provider"] == ""
        if missing.any():
            codes, models = pd.factorize(cols["model"][missing])
            found = np.array([self.provider_of(m) for m in models], dtype=object)
            cols["provider"][missing] = found[codes]
        cols.update(price_arrays(cols, self.book))
        latency = cols["latency_ms"]
        buckets = bucket_index(np.maximum(latency, 0).astype(float), LATENCY_EDGES_MS)
        cols["latency_bucket"] = np.where(latency >= 0, buckets, -1)
        output = cols["output_tokens"].astype(float)
        cols["output_bucket"] = bucket_index(output, OUTPUT_EDGES_TOKENS)
        if self.engine.dialect.name == "postgresql":  # one lock order for concurrent ingests
            cols = _take(cols, np.argsort(cols["request_id"].astype(str), kind="stable"))
        else:  # the text SQLite stores, made here (maybe in the parsing process), not when writing
            stamps, days = _time_values("sqlite", cols["ts"])
            cols["ts_text"] = np.array(stamps, dtype=object)
            cols["day_text"] = np.array(days, dtype=object)
        return Prepared(cols, rollup_sums(cols))

    def save(self, chunk: Prepared) -> None:
        """Write a prepared chunk's new events in one transaction (retrying a busy database)."""
        new = self._new_events(chunk)
        if new is None:
            return
        for attempt in range(5):
            try:
                with self.conn.begin():
                    self._write(self.conn, new)
                return
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _conflict(self, request_id: str) -> None:
        self.report.conflicts += 1
        if len(self.report.conflict_ids) < 1000:
            self.report.conflict_ids.append(request_id)

    def _new_events(self, chunk: Prepared) -> Prepared | None:
        """The chunk without ids repeated within it or stored before (each counted)."""
        cols = chunk.cols
        keep = self._dedupe(cols["request_id"], cols["content_hash"])
        if keep is not None:
            chunk = chunk.take(keep)
        with self.conn.begin():  # rows stored before: classified, never written again
            known = self._classify(
                self.conn,
                chunk.cols["request_id"].tolist(),
                chunk.cols["content_hash"].tolist(),
                probe=True,
            )
        if known.any():
            chunk = chunk.take(~known)
        return chunk if len(chunk.cols["request_id"]) else None

    def _dedupe(self, ids: np.ndarray, hashes: np.ndarray) -> np.ndarray | None:
        """Rows to keep (None: all) after counting repeats of an id within the chunk."""
        repeated = pd.Series(ids, dtype=object).duplicated(keep="first").to_numpy()
        if not repeated.any():
            return None
        first = dict(zip(ids[~repeated].tolist(), hashes[~repeated].tolist(), strict=True))
        for request_id, digest in zip(ids[repeated], hashes[repeated].tolist(), strict=True):
            if first[request_id] == digest:
                self.report.duplicates += 1
            else:
                self._conflict(request_id)
        return ~repeated

    def _write(self, conn: Connection, chunk: Prepared) -> None:
        cols = chunk.cols
        inserted = insert_new(conn, row_params(cols, conn.dialect.name, self.report))
        if len(inserted) < len(cols["request_id"]):
            mask = np.isin(cols["request_id"], np.asarray(inserted, dtype=object))
            skipped = ~mask
            self._classify(
                conn, cols["request_id"][skipped].tolist(), cols["content_hash"][skipped].tolist()
            )
            chunk = chunk.take(mask)
        if len(chunk.cols["request_id"]):
            add_rollups(conn, chunk)
            self._tally(chunk.cols)

    def _any_stored(self, conn: Connection, ids: list[str]) -> bool:
        """Whether any stored row of this source has a request_id within the range of `ids`."""
        query = (
            select(LOG.c.id)
            .where(
                LOG.c.source == self.report.source,
                LOG.c.request_id.between(min(ids), max(ids)),
            )
            .limit(1)
        )
        return conn.execute(query).first() is not None

    def _classify(
        self, conn: Connection, ids: list[str], digests: list[str], probe: bool = False
    ) -> np.ndarray:
        """Count rows already stored as duplicates or conflicts; returns which ones were.

        With `probe`, one index probe first: a chunk of new ids (the common case) costs one query.
        The probe compares in the database's collation, so it only guards the pre-check; rows it
        misses are still classified after their INSERT skips them.
        """
        if not ids or (probe and not self._any_stored(conn, ids)):
            return np.zeros(len(ids), dtype=bool)
        stored: dict[str, str] = {}
        query = select(LOG.c.request_id, LOG.c.content_hash).where(
            LOG.c.source == self.report.source,
            LOG.c.request_id.in_(bindparam("ids", expanding=True)),
        )
        for start in range(0, len(ids), CLASSIFY_IDS):
            stored.update(conn.execute(query, {"ids": ids[start : start + CLASSIFY_IDS]}).all())
        if not stored:
            return np.zeros(len(ids), dtype=bool)
        for request_id, digest in zip(ids, digests, strict=True):
            if request_id not in stored:
                continue
            if stored[request_id] == digest:
                self.report.duplicates += 1
            else:
                self._conflict(request_id)
        return np.fromiter((i in stored for i in ids), dtype=bool, count=len(ids))

    def _tally(self, new: Events) -> None:
        self.report.accepted += len(new["request_id"])
        self.report.cost_pusd += int(new["cost_pusd"].sum())
        priced = new["priced"]
        if not priced.all():
            models, counts = np.unique(new["model"][~priced].astype(str), return_counts=True)
            for model, n in zip(models.tolist(), counts.tolist(), strict=True):
                self.report.unpriced_models[model] = self.report.unpriced_models.get(model, 0) + n


_DAY_US = 86_400_000_000
_NULLABLE = frozenset({"latency_ms", "max_tokens"})
Events = dict[str, np.ndarray]  # column name -> one value per event


@dataclass
class Prepared:
    """A chunk ready to store: its events as arrays, and their rollup sums (computed with them,
    valid while every event of the chunk goes in; recomputed for the subset otherwise)."""

    cols: Events
    sums: RollupSums | None = None

    def take(self, rows: np.ndarray) -> Prepared:
        """The events at `rows` (a mask or positions); their sums are recomputed when written."""
        return Prepared(_take(self.cols, rows))


def event_arrays(df: pd.DataFrame) -> Events:
    """Events as plain arrays: ts as UTC microseconds, missing latency/max_tokens as -1."""
    out: Events = {"ts": _micros(df["ts"])}
    for name in EVENT_COLUMNS[1:]:
        column = df[name]
        if name in STRING_COLUMNS:
            out[name] = column.to_numpy(object).copy()
        elif name in _NULLABLE:
            out[name] = column.astype("Int64").fillna(-1).to_numpy(np.int64)
        elif name == "batch":
            out[name] = column.to_numpy(bool)
        else:
            out[name] = column.to_numpy(np.int64)
    return out


def _take(cols: Events, rows: np.ndarray) -> Events:
    """The events at `rows` (a mask or positions)."""
    return {name: values[rows] for name, values in cols.items()}


def row_params(cols: Events, dialect_name: str, report: IngestReport) -> list:
    """Every row's values in ROW_COLUMNS order, one flat list (row after row)."""
    n = len(cols["request_id"])
    width = len(ROW_COLUMNS)
    flat: list = [None] * (n * width)
    if "ts_text" in cols and dialect_name == "sqlite":
        stamps, days = cols["ts_text"].tolist(), cols["day_text"].tolist()
    else:
        stamps, days = _time_values(dialect_name, cols["ts"])
    for i, name in enumerate(ROW_COLUMNS):
        if name == "ts":
            values = stamps
        elif name == "day":
            values = days
        elif name == "source":
            values = [report.source] * n
        elif name == "upload_id":
            values = [report.upload_id] * n
        elif name in _NULLABLE or name == "latency_bucket":
            values = cols[name].tolist()
            if (cols[name] < 0).any():
                values = [v if v >= 0 else None for v in values]
        else:
            values = cols[name].tolist()
        flat[i::width] = values
    return flat


INSERT_COLUMNS = (
    *EVENT_COLUMNS,
    "day",
    "priced",
    *COST_COLUMNS,
    "output_bucket",
    "latency_bucket",
    "price_version",
    "content_hash",
)


_ROW_NAMES = {*INSERT_COLUMNS, "source", "upload_id"}
ROW_COLUMNS = tuple(c.name for c in LOG.columns if c.name in _ROW_NAMES)  # Core's VALUES order


def multi_row_sql(stmt: Any, dialect_name: str, n_columns: int, n_rows: int) -> str:
    """A Core INSERT compiled for the dialect, its VALUES group repeated for `n_rows` rows."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    sql = str(stmt.compile(dialect=dialect.dialect()))
    values, _, rest = sql.partition(" ON CONFLICT ")
    head = values.partition(" VALUES ")[0]
    mark = "?" if dialect_name == "sqlite" else "%s"
    one = "(" + ", ".join([mark] * n_columns) + ")"
    return f"{head} VALUES {', '.join([one] * n_rows)} ON CONFLICT {rest}"


def _log_insert(dialect_name: str) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(LOG)
        .values({name: bindparam(name) for name in ROW_COLUMNS})
        .on_conflict_do_nothing(index_elements=["source", "request_id"])
        .returning(LOG.c.request_id)
    )


_STATEMENTS: dict[tuple, str] = {}
MAX_PARAMS = 16_000  # per statement; under SQLite's 32,766 and PostgreSQL's 65,535


def _execute_flat(
    conn: Connection, key: tuple, make: Callable[[], Any], flat: list, width: int
) -> list:
    """Run a multi-row INSERT built by `make` over `flat` (rows of `width` values, one after
    another) in parameter-limited batches; returns what its RETURNING clause gave."""
    rows = len(flat) // width
    if not rows:
        return []
    per = max(1, MAX_PARAMS // width)
    name = conn.dialect.name
    returned: list = []
    start = 0
    # The driver's own cursor, inside the transaction `conn` began: statements this size gain
    # nothing from the Core execution layer, which would cost ~1 µs a row here.
    cursor = conn.connection.cursor()
    while start < rows:
        # Full batches, then power-of-two remainders: a handful of distinct statements per
        # table, so neither this cache nor the driver's prepared-statement cache grows.
        left = rows - start
        size = per if left >= per else 1 << (left.bit_length() - 1)
        part = flat[start * width : (start + size) * width]
        start += size
        cache_key = (*key, name, size)
        if cache_key not in _STATEMENTS:
            _STATEMENTS[cache_key] = multi_row_sql(make(), name, width, size)
        cursor.execute(_STATEMENTS[cache_key], part)
        if cursor.description is not None:  # a RETURNING clause
            returned += [r[0] for r in cursor.fetchall()]
    cursor.close()
    return returned


def insert_new(conn: Connection, flat: list) -> list[str]:
    """Insert rows (a flat ROW_COLUMNS-ordered list), skipping existing natural keys; returns
    the request_ids actually inserted."""
    name = conn.dialect.name
    return _execute_flat(conn, ("log",), lambda: _log_insert(name), flat, len(ROW_COLUMNS))


def _time_values(dialect_name: str, micros: np.ndarray) -> tuple[list, list]:
    """ts and day as the driver wants them (SQLite: the text SQLAlchemy would have written)."""
    moments = micros.astype("datetime64[us]")
    if dialect_name != "sqlite":  # timestamptz: aware datetimes
        aware = pd.to_datetime(micros, unit="us", utc=True).to_pydatetime().tolist()
        return aware, moments.astype("datetime64[D]").tolist()
    stamps = np.datetime_as_string(moments, unit="us")  # 2025-03-01T10:00:00.000000
    if len(stamps):
        stamps.view(np.uint32).reshape(len(stamps), -1)[:, 10] = ord(" ")
    days, inverse = np.unique(moments.astype("datetime64[D]"), return_inverse=True)
    texts = np.array(np.datetime_as_string(days).tolist(), dtype=object)  # one object per day
    return stamps.tolist(), texts[inverse.ravel()].tolist()


class _MemoBook:
    """A price book whose lookups are remembered for the length of one ingest."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self.cache: dict[tuple, Any] = {}

    def price_at(self, model: str, when: Any = None, *, service_tier: str | None = None) -> Any:
        """`PriceBook.price_at`, memoised per (model, day, tier)."""
        key = (model, when, service_tier)
        if key not in self.cache:
            self.cache[key] = self.book.price_at(model, when, service_tier=service_tier)
        return self.cache[key]

    def resolve(self, model: str) -> Any:
        """`PriceBook.resolve`."""
        return self.book.resolve(model)


# ---------------------------------------------------------------------------------------------
# Rollups

_TOKENS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
_ROLLUP_COUNTS = (*COST_COLUMNS, *_TOKENS)


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, distinct values), codes numbered in sorted order like a GROUP BY."""
    if values.dtype == object:  # labels are never missing: no NA pass
        codes, uniques = pd.factorize(values, sort=True)
        return codes, np.asarray(uniques, dtype=object)
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.ravel(), uniques


class _Grouper:
    """Groups of events by any subset of their key columns, each column coded once."""

    def __init__(self, cols: Events) -> None:
        self.cols = cols
        self.codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def code(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.codes:
            self.codes[name] = _sorted_codes(self.cols[name])
        return self.codes[name]

    def groups(
        self, key: tuple[str, ...], rows: np.ndarray | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The distinct `key` values (sorted) among `rows` (all if None) and each row's group."""
        combined = np.zeros(len(self.cols["request_id"]) if rows is None else len(rows), np.int64)
        for name in key:
            codes, uniques = self.code(name)
            combined = combined * max(1, len(uniques)) + (codes if rows is None else codes[rows])
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        picked = first if rows is None else rows[first]
        keys = {}
        for name in key:
            codes, uniques = self.code(name)
            keys[name] = uniques[codes[picked]]
        return keys, inverse.ravel()


def _group_sums(inverse: np.ndarray, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Exact integer sums of each array per group number."""
    order = np.argsort(inverse, kind="stable")
    ordered = inverse[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return {n: np.add.reduceat(v.astype(np.int64)[order], starts) for n, v in values.items()}


def _upsert_sum(
    conn: Connection, table: Any, key: tuple[str, ...], columns: dict[str, np.ndarray]
) -> None:
    """Add the sums in `columns` into `table` on `key` (insert new keys, add to existing)."""
    names = [c.name for c in table.columns if c.name in columns]
    n = len(columns[names[0]])
    if not n:
        return
    flat: list = [None] * (n * len(names))
    for i, name in enumerate(names):
        flat[i :: len(names)] = _sql_values(conn.dialect.name, name, columns[name])

    def make() -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table).values({n: bindparam(n) for n in names})
        return stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={n: table.c[n] + stmt.excluded[n] for n in names if n not in key},
        )

    _execute_flat(conn, (table.name,), make, flat, len(names))


def _sql_values(dialect_name: str, name: str, values: np.ndarray) -> list:
    """A rollup column as driver values (days: ISO text on SQLite, dates elsewhere)."""
    if name != "day":
        return values.tolist()
    days = values.astype("datetime64[D]")
    return np.datetime_as_string(days).tolist() if dialect_name == "sqlite" else days.tolist()


RollupSums = list[tuple[str, tuple[str, ...], dict[str, np.ndarray]]]  # (table, key, columns)


def rollup_sums(cols: Events) -> RollupSums:
    """What the events add to the daily rollup and the histograms: one row per key and table."""
    grouper = _Grouper(cols)
    keys, inverse = grouper.groups(ROLLUP_KEY)
    values = {name: cols[name] for name in _ROLLUP_COUNTS}
    values["requests"] = np.ones(len(inverse), dtype=np.int64)
    values["unpriced_requests"] = ~cols["priced"]
    values["truncated"] = cols["finish_reason"] == "length"
    values["with_max_tokens"] = cols["max_tokens"] >= 0
    values["latency_count"] = cols["latency_ms"] >= 0
    values["latency_sum_ms"] = np.maximum(cols["latency_ms"], 0)
    out: RollupSums = [(ROLLUP.name, ROLLUP_KEY, {**keys, **_group_sums(inverse, values)})]
    timed = np.flatnonzero(cols["latency_bucket"] >= 0)
    for table, key, column, rows in (
        (LATENCY, HISTOGRAM_KEY, "latency_bucket", timed),
        (LATENCY_DAILY, DAILY_KEY, "latency_bucket", timed),
        (OUTPUT, HISTOGRAM_KEY, "output_bucket", None),
    ):
        if rows is not None and not len(rows):
            continue
        keys, inverse = grouper.groups((*key, column), rows)
        keys["bucket"] = keys.pop(column).astype(np.int64)
        keys["count"] = np.bincount(inverse, minlength=len(keys["bucket"])).astype(np.int64)
        out.append((table.name, (*key, "bucket"), keys))
    return out


def add_rollups(conn: Connection, chunk: Prepared) -> None:
    """Add newly inserted events to the daily rollup and the histograms (same transaction)."""
    tables = {t.name: t for t in (ROLLUP, LATENCY, LATENCY_DAILY, OUTPUT)}
    for name, key, columns in chunk.sums or rollup_sums(chunk.cols):
        _upsert_sum(conn, tables[name], key, columns)


def rebuild_rollups(conn: Connection, days: Iterable[date] | None = None) -> None:
    """Recompute rollups (all, or for `days`) from the stored rows, in SQL."""
    tables = (ROLLUP, LATENCY, LATENCY_DAILY, OUTPUT)
    day_list = sorted(set(days)) if days is not None else None
    for table in tables:
        stmt = delete(table)
        if day_list is not None:
            stmt = stmt.where(table.c.day.in_(day_list))
        conn.execute(stmt)
    where = LOG.c.day.in_(day_list) if day_list is not None else None
    key = [getattr(LOG.c, k) for k in ROLLUP_KEY]
    sums = [
        func.count().label("requests"),
        func.sum(_case(~LOG.c.priced)).label("unpriced_requests"),
        *[func.sum(getattr(LOG.c, n)).label(n) for n in (*COST_COLUMNS, *_TOKENS)],
        func.sum(_case(LOG.c.finish_reason == "length")).label("truncated"),
        func.sum(_case(LOG.c.max_tokens.isnot(None))).label("with_max_tokens"),
        func.count(LOG.c.latency_ms).label("latency_count"),
        func.coalesce(func.sum(LOG.c.latency_ms), 0).label("latency_sum_ms"),
    ]
    _insert_select(conn, ROLLUP, key, sums, where)
    for table, hist_key, column in (
        (LATENCY, HISTOGRAM_KEY, LOG.c.latency_bucket),
        (LATENCY_DAILY, DAILY_KEY, LOG.c.latency_bucket),
        (OUTPUT, HISTOGRAM_KEY, LOG.c.output_bucket),
    ):
        cond = column.isnot(None) if where is None else (where & column.isnot(None))
        group = [*(getattr(LOG.c, k) for k in hist_key), column.label("bucket")]
        _insert_select(conn, table, group, [func.count().label("count")], cond)


def _case(condition: Any) -> Any:
    from sqlalchemy import case

    return case((condition, 1), else_=0)


def _insert_select(conn: Connection, table: Any, key: list, sums: list, where: Any) -> None:
    query = select(*key, *sums)
    if where is not None:
        query = query.where(where)
    query = query.group_by(*key)
    names = [c.name for c in query.selected_columns]
    conn.execute(table.insert().from_select(names, query))


# ---------------------------------------------------------------------------------------------
# Uploads


def start_upload(
    engine: Engine, *, file_name: str, sha256: str, fmt: str, source: str, size_bytes: int
) -> int:
    """The upload row for this file (re-used when the same file went into the same source)."""
    now = datetime.now(UTC)
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
            created_at=now,
        )
        return conn.execute(UPLOAD.insert().values(**values).returning(UPLOAD.c.id)).scalar_one()


def finish_upload(engine: Engine, report: IngestReport) -> None:
    """Record this run's counts on its upload row (accepted and cost accumulate over reruns)."""
    with engine.begin() as conn:
        conn.execute(
            update(UPLOAD)
            .where(UPLOAD.c.id == report.upload_id)
            .values(
                accepted=UPLOAD.c.accepted + report.accepted,
                cost_pusd=UPLOAD.c.cost_pusd + report.cost_pusd,
                duplicates=report.duplicates,
                conflicts=report.conflicts,
                rejected=report.rejected,
                unpriced=sum(report.unpriced_models.values()),
                scrubbed=sum(report.scrubbed.values()),
                updated_at=datetime.now(UTC),
            )
        )


def ingest_records(
    engine: Engine,
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    file_name: str,
    book: PriceBook | None = None,
    normalize: Callable[[Mapping[str, Any]], UsageEvent] = normalize_flat,
    fmt: str = "flat",
    sha256: str = "",
    progress: Progress | None = None,
) -> IngestReport:
    """Validate, price and store flat-log dicts (or any shape via `normalize`) under `source`."""
    report = IngestReport(file_name=file_name, format=fmt, source=source)
    sha256 = sha256 or f"records:{file_name}"  # re-running the same named batch re-uses its upload
    scrub = report.scrub
    if normalize is normalize_flat:
        numbered = ((n, r, None) for n, r in enumerate(records, start=1))
        parsed = flat_blocks(numbered, scrub)
    else:
        parsed = events_from_records(records, normalize, scrub)
    return ingest_parsed(engine, parsed, report, book=book, sha256=sha256, progress=progress)


PARALLEL_MIN_BYTES = 16 << 20  # flat JSON-lines files from this size parse in a second process
WORKER_ERRORS = 1_000  # rejected records sent per message when no chunk is ready


def can_parse_in_parallel(fmt: str, head: bytes, size: int) -> bool:
    """Whether a file goes through `_Ingester.run_forked`: a large flat JSON-lines file, on a
    machine with a spare core, from a single-threaded process (forking a threaded one, like a
    web server, is not safe) and unless `COSTDESK_INGEST_WORKERS=0`."""
    import multiprocessing
    import os
    import threading

    return (
        fmt == "flat"
        and size >= PARALLEL_MIN_BYTES
        and os.environ.get("COSTDESK_INGEST_WORKERS", "1") != "0"
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
        and _json_shape(head) == "lines"
    )


def _parse_worker(send: Any, parsed: Iterable[Parsed], ingester: _Ingester, stream: Any) -> None:
    """The forked half of `run_forked`: parse, validate and prepare; send it all down `send`.

    Messages are (kind, rejected records, payload, file position), kind "chunk" (a Prepared),
    "done" (the scrub tally) or "error" (the exception, raised in the writing process).
    """
    gc.disable()
    errors: list[tuple[int, str, str]] = []
    try:
        for line, item in parsed:
            if isinstance(item, RecordError):
                errors.append((line, item.field, item.reason))
                if len(errors) >= WORKER_ERRORS:
                    send.send(("errors", errors, None, stream.tell()))
                    errors = []
            elif len(item["request_id"]):
                send.send(("chunk", errors, ingester.prepare(item), stream.tell()))
                errors = []
        send.send(("done", errors, ingester.report.scrub, stream.tell()))
    except BaseException as exc:
        if not isinstance(exc, (FileFormatError, RecordError, OSError)):
            exc = RuntimeError(f"parsing failed: {exc!r}")
        with contextlib.suppress(OSError):  # the writing side may be gone already
            send.send(("error", errors, exc, 0))
    finally:
        send.close()


def ingest_parsed(
    engine: Engine,
    parsed: Iterable[Parsed],
    report: IngestReport,
    *,
    book: PriceBook | None = None,
    sha256: str | Callable[[], str] = "",
    size_bytes: int = 0,
    progress: Progress | None = None,
    parse_stream: BinaryIO | None = None,
) -> IngestReport:
    """Store numbered events/errors under `report`'s source and upload; fills `report`.

    With `parse_stream` (the stream `parsed` reads), parsing runs in a forked process, and a
    callable `sha256` runs meanwhile.
    """
    from db.prices import load_price_book

    started = time.perf_counter()
    book = book or load_price_book(engine)

    def open_upload() -> None:
        report.upload_id = start_upload(
            engine,
            file_name=report.file_name,
            sha256=sha256 if isinstance(sha256, str) else sha256(),
            fmt=report.format,
            source=report.source,
            size_bytes=size_bytes,
        )

    ingester = _Ingester(engine, book, report)
    if parse_stream is not None:  # the file's digest is read while the worker parses it
        ingester.run_forked(parsed, parse_stream, size_bytes, progress, before=open_upload)
    else:
        open_upload()
        ingester.run(parsed, progress)
    report.errors.sort(key=lambda e: e.line)
    finish_upload(engine, report)
    report.seconds = time.perf_counter() - started
    return report


def redact_text(value: str) -> str:
    """Redact API-key look-alikes in free text (used for file names shown in history)."""
    return SECRET_PATTERN.sub("[redacted]", value)


def dumps(report: IngestReport) -> bytes:
    """The report as JSON bytes (money as decimal strings)."""
    return orjson.dumps(report.as_json(), default=str)


def ingest_details() -> Callable[[Connection], None]:
    """Migration step: the column_mapping table and the per-row cost/bucket columns."""
    from db.migrations import add_column, create_tables

    big = "BIGINT NOT NULL DEFAULT 0"
    steps = [
        create_tables("column_mapping"),
        *[add_column("request_log", c, big) for c in COST_COLUMNS[1:]],
        add_column("request_log", "latency_bucket", "INTEGER"),
        add_column("request_log", "output_bucket", "INTEGER NOT NULL DEFAULT 0"),
        add_column("upload", "unpriced", "INTEGER NOT NULL DEFAULT 0"),
        add_column("upload", "scrubbed", "INTEGER NOT NULL DEFAULT 0"),
        add_column("upload", "updated_at", "TIMESTAMP"),
    ]

    def step(conn: Connection) -> None:
        for one in steps:
            one(conn)

    return step


def refingerprint(conn: Connection) -> None:
    """Migration step: recompute every stored `content_hash` with `content_hashes`.

    Rows stored by an earlier version carry a fingerprint of another function; without this,
    re-sending those records would count them as conflicts instead of duplicates.
    """
    columns = [LOG.c.id, *(LOG.c[name] for name in EVENT_COLUMNS)]
    stmt = update(LOG).where(LOG.c.id == bindparam("v_id")).values(content_hash=bindparam("v_h"))
    last_id = 0
    while True:
        query = select(*columns).where(LOG.c.id > last_id).order_by(LOG.c.id).limit(REPRICE_ROWS)
        rows = conn.execute(query).all()
        if not rows:
            return
        frame = pd.DataFrame(rows, columns=["id", *EVENT_COLUMNS])
        last_id = int(frame["id"].iloc[-1])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["batch"] = frame["batch"].astype(bool)
        for name in STRING_COLUMNS:
            frame[name] = frame[name].fillna("").astype(object)
        digests = hex_hashes(content_hashes(event_arrays(frame)))
        ids = frame["id"].tolist()
        conn.execute(stmt, [{"v_id": i, "v_h": d} for i, d in zip(ids, digests, strict=True)])


def drop_index(name: str) -> Callable[[Connection], None]:
    """Migration step: drop an index no query needs any more (same DDL on both backends)."""

    def step(conn: Connection) -> None:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")

    return step


# ---------------------------------------------------------------------------------------------
# Files

HEAD_BYTES = 1 << 16
WHOLE_DOCUMENT_BYTES = 64 << 20  # a pretty-printed single JSON document is read whole up to this
JSON_PROBE_LINES = 20  # that many unreadable lines at the start make it a whole-file problem


def _digest_beside(stream: BinaryIO) -> str:
    """The sha256 of a stream a forked worker is reading: through a handle of its own for a
    file (a shared descriptor shares its position), else this process's copy of the stream."""
    import os

    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        with open(name, "rb") as own:
            return file_digest(own)[0]
    return file_digest(stream)[0]


def file_digest(stream: BinaryIO) -> tuple[str, int]:
    """sha256 and size of a seekable binary stream (left at its start)."""
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(1 << 22):
        digest.update(block)
        size += len(block)
    stream.seek(0)
    return digest.hexdigest(), size


def ingest_file(
    engine: Engine,
    stream: BinaryIO | str | Path,
    *,
    file_name: str | None = None,
    fmt: str | None = None,
    project: str | None = None,
    mapping: Mapping[str, str] | None = None,
    source: str | None = None,
    book: PriceBook | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Detect (or take) the format of one file and ingest it; whole-file problems -> file_error."""
    if isinstance(stream, (str, Path)):
        with open(stream, "rb") as handle:
            name = file_name or Path(stream).name
            return ingest_file(
                engine,
                handle,
                file_name=name,
                fmt=fmt,
                project=project,
                mapping=mapping,
                source=source,
                book=book,
                progress=progress,
            )
    name = file_name or getattr(stream, "name", "upload")
    report = IngestReport(file_name=str(name))
    try:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
        fmt = fmt or sniff(head, report.file_name)
        if fmt not in FORMATS:
            raise FileFormatError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
        problem = whole_file_problem(fmt, head)
        if problem:
            raise FileFormatError(problem)
        report.format = fmt
        report.source = source or default_source(fmt, project)
        if fmt in ("usage_api", "costs_api"):
            return _ingest_pages(engine, stream, head, report)
        if can_parse_in_parallel(fmt, head, size):
            parsed = _parsed(stream, head, fmt, report, project, mapping, size, None)
            return ingest_parsed(
                engine,
                parsed,
                report,
                book=book,
                sha256=lambda: _digest_beside(stream),
                size_bytes=size,
                progress=progress,
                parse_stream=stream,
            )
        sha256, _ = file_digest(stream)
        parsed = _parsed(stream, head, fmt, report, project, mapping, size, progress)
        return ingest_parsed(engine, parsed, report, book=book, sha256=sha256, size_bytes=size)
    except FileFormatError as exc:
        report.file_error = str(exc)
        if report.upload_id is not None and not report.accepted:
            delete_upload(engine, report.upload_id)
            report.upload_id = None
        return report


def _parsed(
    stream: BinaryIO,
    head: bytes,
    fmt: str,
    report: IngestReport,
    project: str | None,
    mapping: Mapping[str, str] | None,
    size: int,
    progress: Progress | None,
) -> Iterator[Parsed]:
    if fmt == "csv":
        items = _csv_events(stream, mapping, report.scrub)
    elif fmt == "flat" and _json_shape(head) == "lines":
        items = flat_lines(stream, report.scrub)
    else:
        normalize = NORMALIZERS[fmt]
        records = _json_records(stream, head)
        if fmt == "batch":
            items = _timed_batch(records, report.scrub)
        elif fmt == "flat":
            items = flat_blocks(records, report.scrub)
        else:
            items = _events(records, normalize, report.scrub)
    if project:
        items = ((n, _with_project(e, project)) for n, e in items)
    if progress:
        items = _with_progress(items, stream, size, progress)
    return items


def _with_project(item: Any, project: str) -> Any:
    """An event (or a columnar block of events) with `project` where it names none."""
    if isinstance(item, UsageEvent) and not item.project:
        return item._replace(project=project)
    if isinstance(item, dict):
        item["project"][item["project"] == ""] = project
    return item


def _with_progress(
    items: Iterator[Parsed], stream: BinaryIO, size: int, progress: Progress
) -> Iterator[Parsed]:
    for n, item in enumerate(items, start=1):
        if n % 20 == 0 or isinstance(item[1], dict):
            progress(stream.tell(), size)
        yield item
    progress(size, size)


Raw = tuple[int, Any, bytes | None]  # (line, parsed record or RecordError, raw bytes)


def _json_shape(head: bytes) -> str:
    """ "array", "lines" (its first line is a JSON value) or "document" (pretty-printed)."""
    body = head.removeprefix(BOM).lstrip()
    if body[:1] == b"[":
        return "array"
    try:
        orjson.loads(body.split(b"\n", 1)[0].strip())
    except orjson.JSONDecodeError:
        return "document"
    return "lines"


def _json_records(stream: BinaryIO, head: bytes) -> Iterator[Raw]:
    """Records of a JSON-lines file, a JSON array, or one pretty-printed JSON document."""
    shape = _json_shape(head)
    if shape == "array":
        yield from _decode(iter_array(stream))
    elif shape == "document":
        yield from _whole_document(stream)
    else:
        yield from _decode(iter_lines(stream), probe=True)


def _decode(lines: Iterator[Line], probe: bool = False) -> Iterator[Raw]:
    good = bad = 0
    for number, raw in lines:
        if raw is None:
            bad += 1
            yield number, RecordError("line", f"is longer than {MAX_LINE_BYTES:,} bytes"), None
            continue
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            bad += 1
            if probe and not good and bad >= JSON_PROBE_LINES:
                raise FileFormatError(
                    f"the first {bad} lines are not JSON; is this the right format? ({exc})"
                ) from None
            yield number, RecordError("line", f"is not valid JSON ({exc})"), None
            continue
        good += 1
        yield number, record, raw


def _whole_document(stream: BinaryIO) -> Iterator[Raw]:
    data = stream.read(WHOLE_DOCUMENT_BYTES + 1)
    if len(data) > WHOLE_DOCUMENT_BYTES:
        raise FileFormatError("a JSON document over 64 MiB must be JSON lines or an array")
    try:
        document = orjson.loads(data.removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        raise FileFormatError(f"the file is not valid JSON ({exc})") from None
    items = document if isinstance(document, list) else [document]
    for item in items:
        yield 1, item, None


def _events(
    records: Iterator[Raw], normalize: Callable[[Mapping[str, Any]], UsageEvent], scrub: Scrub
) -> Iterator[Parsed]:
    for number, record, raw in records:
        if isinstance(record, RecordError):
            yield number, record
        elif not isinstance(record, Mapping):
            yield number, RecordError("record", "must be a JSON object")
        else:
            yield number, event_of(record, normalize, scrub, raw)


def _timed_batch(records: Iterator[Raw], scrub: Scrub) -> Iterator[Parsed]:
    """Batch lines; a line without a time (expired) takes the time of the file's other lines."""
    waiting: list[tuple[int, Mapping[str, Any], bytes | None]] = []
    when: datetime | None = None
    for number, record, raw in records:
        if isinstance(record, RecordError) or not isinstance(record, Mapping):
            yield (
                number,
                record
                if isinstance(record, RecordError)
                else RecordError("record", "must be a JSON object"),
            )
            continue
        body = (record.get("response") or {}).get("body") or {}
        if isinstance(body, Mapping) and body.get("created") is not None:
            item = event_of(record, normalize_batch_line, scrub, raw)
            if isinstance(item, UsageEvent):
                when = when or item.ts
            yield number, item
            continue
        if when is None:
            waiting.append((number, record, raw))
            continue
        yield number, event_of(record, _batch_at(when), scrub, raw)
        for late in waiting:
            yield late[0], event_of(late[1], _batch_at(when), scrub, late[2])
        waiting = []
    for number, record, raw in waiting:
        if when is None:
            yield (
                number,
                RecordError(
                    "response.body.created",
                    "no line of this batch file has a time; expired lines need one completed line",
                ),
            )
        else:
            yield number, event_of(record, _batch_at(when), scrub, raw)


def _batch_at(when: datetime) -> Callable[[Mapping[str, Any]], UsageEvent]:
    return lambda record: normalize_batch_line(record, created=when)


def _csv_events(
    stream: BinaryIO, mapping: Mapping[str, str] | None, scrub: Scrub
) -> Iterator[Parsed]:
    text_stream = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", errors="replace")
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.DictReader(text_stream)
    columns = reader.fieldnames or []
    if not columns:
        raise FileFormatError("the CSV file has no header row")
    mapping = dict(mapping or guess_mapping(columns))
    missing = missing_fields(mapping, columns)
    if missing:
        raise FileFormatError(
            f"map the CSV columns for {', '.join(missing)} (header: {', '.join(columns[:12])})"
        )
    extra = [c for c in columns if c.strip().lower() in CONTENT_KEYS]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, RecordError("line", f"is not valid CSV ({exc})")
            continue
        if extra:
            scrub.add_content(extra)
        try:
            event = normalize_csv_row(row, mapping)
        except RecordError as err:
            yield reader.line_num, _csv_error(err, mapping)
            continue
        yield reader.line_num, redact_event(event, scrub)


def _csv_error(err: RecordError, mapping: Mapping[str, str]) -> RecordError:
    column = mapping.get(err.field)
    if column and column != err.field:
        return RecordError(f"{err.field} (column {column})", err.reason)
    return err


def _ingest_pages(
    engine: Engine, stream: BinaryIO, head: bytes, report: IngestReport
) -> IngestReport:
    from db.imports import store_costs_page, store_usage_page

    store = store_usage_page if report.format == "usage_api" else store_costs_page
    started = time.perf_counter()
    for number, page, _raw in _json_records(stream, head):
        if isinstance(page, RecordError):
            report.reject(number, page)
            continue
        try:
            added, same = store(engine, page)
        except RecordError as err:
            report.reject(number, err)
            continue
        report.accepted += added
        report.duplicates += same
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------------------------------------
# Upload history, delete, re-price, remembered CSV mappings


def list_uploads(engine: Engine) -> pd.DataFrame:
    """Every upload, newest first: id, file, format, source, counts, cost (pico-dollars), when."""
    query = select(UPLOAD).order_by(UPLOAD.c.id.desc())
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all(), columns=list(UPLOAD.c.keys()))


def delete_upload(engine: Engine, upload_id: int) -> int | None:
    """Delete an upload with its rows and their share of the rollups; rows removed, or None."""
    with engine.begin() as conn:
        if conn.execute(select(UPLOAD.c.id).where(UPLOAD.c.id == upload_id)).first() is None:
            return None
        days = (
            conn.execute(select(LOG.c.day).where(LOG.c.upload_id == upload_id).distinct())
            .scalars()
            .all()
        )
        removed = conn.execute(delete(LOG).where(LOG.c.upload_id == upload_id)).rowcount
        conn.execute(delete(UPLOAD).where(UPLOAD.c.id == upload_id))
        if days:
            rebuild_rollups(conn, days)
        return removed


@dataclass
class RepriceReport:
    """What a re-price changed: rows priced, total cost before and after, unpriced models."""

    rows: int = 0
    before_pusd: int = 0
    after_pusd: int = 0
    unpriced_models: dict[str, int] = field(default_factory=dict)

    @property
    def change_usd(self) -> Decimal:
        """After minus before, exact."""
        return picos_to_usd(self.after_pusd - self.before_pusd)


_PRICE_INPUT = ("id", *PRICE_KEY, *PRICED_TOKENS, "cost_pusd")
REPRICE_ROWS = 50_000


def reprice(engine: Engine, book: PriceBook | None = None) -> RepriceReport:
    """Recompute every stored cost with the current price book, then rebuild the rollups."""
    from db.prices import load_price_book

    book = book or load_price_book(engine)
    report = RepriceReport()
    columns = [LOG.c[n] for n in _PRICE_INPUT]
    set_cols = {n: bindparam(f"v_{n}") for n in (*COST_COLUMNS, "priced", "price_version")}
    stmt = update(LOG).where(LOG.c.id == bindparam("v_id")).values(set_cols)
    with engine.begin() as conn:
        last_id = 0
        while True:
            query = select(*columns).where(LOG.c.id > last_id).order_by(LOG.c.id)
            batch = pd.DataFrame(conn.execute(query.limit(REPRICE_ROWS)).all())
            if batch.empty:
                break
            batch.columns = list(_PRICE_INPUT)
            last_id = int(batch["id"].max())
            _reprice_batch(conn, stmt, batch, book, report)
        rebuild_rollups(conn)
    return report


def _reprice_batch(
    conn: Connection, stmt: Any, batch: pd.DataFrame, book: PriceBook, report: RepriceReport
) -> None:
    batch["batch"] = batch["batch"].astype(bool)
    batch["service_tier"] = batch["service_tier"].fillna("")
    batch["day"] = pd.to_datetime(batch["day"]).dt.date
    report.before_pusd += int(batch["cost_pusd"].sum())
    priced = price_frame(batch.drop(columns=["cost_pusd"]), book)
    names = [*COST_COLUMNS, "priced", "price_version", "id"]
    values = {n: priced[n].tolist() for n in names}
    rows = [
        {f"v_{n}": v for n, v in zip(names, row, strict=True)}
        for row in zip(*values.values(), strict=True)
    ]
    conn.execute(stmt, rows)
    report.rows += len(priced)
    report.after_pusd += int(priced["cost_pusd"].sum())
    for model, n in priced.loc[~priced["priced"], "model"].value_counts().items():
        report.unpriced_models[model] = report.unpriced_models.get(model, 0) + int(n)


def header_key(columns: Iterable[str]) -> str:
    """The key a CSV header's remembered mapping is stored under."""
    return hashlib.sha256("\x1f".join(sorted(columns)).encode()).hexdigest()[:32]


def load_mapping(engine: Engine, columns: Iterable[str]) -> dict[str, str] | None:
    """The mapping saved for this CSV header, if any."""
    from db.models import ColumnMapping

    table = ColumnMapping.__table__
    with engine.connect() as conn:
        found = conn.execute(
            select(table.c.mapping_json).where(table.c.header_key == header_key(columns))
        ).scalar()
    return orjson.loads(found) if found else None


def save_mapping(engine: Engine, columns: Iterable[str], mapping: Mapping[str, str]) -> None:
    """Remember `mapping` for files with this CSV header."""
    from db.models import ColumnMapping

    table = ColumnMapping.__table__
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    values = {
        "header_key": header_key(columns),
        "mapping_json": orjson.dumps(dict(mapping)).decode(),
        "updated_at": datetime.now(UTC),
    }
    stmt = dialect.insert(table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["header_key"],
        set_={"mapping_json": stmt.excluded.mapping_json, "updated_at": stmt.excluded.updated_at},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


# ---------------------------------------------------------------------------------------------
# Columnar flat path


def flat_blocks(records: Iterable[Raw], scrub: Scrub) -> Iterator[Parsed]:
    """Flat records in blocks: clean rows normalised per column, the rest one by one.

    Yields each block's rejected records as (line, RecordError) and then its events as one
    frame (line of the block's last record) for `_Ingester.run`.
    """
    numbers: list[int] = []
    kept: list[dict] = []
    raws: list[bytes | None] = []
    for number, record, raw in records:
        if type(record) is not dict:  # parsed JSON objects are plain dicts: one cheap test
            if isinstance(record, RecordError):
                yield number, record
                continue
            if not isinstance(record, Mapping):
                yield number, RecordError("record", "must be a JSON object")
                continue
        numbers.append(number)
        kept.append(record)
        raws.append(raw)
        if len(kept) >= CHUNK_ROWS:
            yield from _flat_block(numbers, kept, raws, scrub)
            numbers, kept, raws = [], [], []
    if kept:
        yield from _flat_block(numbers, kept, raws, scrub)


def flat_lines(stream: BinaryIO, scrub: Scrub) -> Iterator[Parsed]:
    """Flat JSON lines, a block of lines at a time: parsed in one pass, normalised per column.

    A block with a blank, over-long, unreadable or non-object line is read line by line
    instead, which reports each such line (and spots a file that is not JSON lines at all).
    """
    numbers: list[int] | range = []
    kept: list = []
    raws: list = []
    good = 0
    for first, lines in iter_line_blocks(stream):
        records = _parse_all(lines) if all(lines) else None
        if records is not None:
            good += len(records)
            block = (range(first, first + len(lines)), records, lines)
        else:
            block = ([], [], [])
            for number, record, raw in _decode(enumerate(lines, first), probe=not good):
                if isinstance(record, RecordError) or type(record) is not dict:
                    why = record if isinstance(record, RecordError) else _NOT_OBJECT
                    yield number, why
                    continue
                good += 1
                block[0].append(number)
                block[1].append(record)
                block[2].append(raw)
        numbers = [*numbers, *block[0]] if numbers else block[0]
        kept = kept + block[1] if kept else block[1]
        raws = raws + block[2] if raws else block[2]
        while len(kept) >= CHUNK_ROWS:
            yield from _flat_block(
                numbers[:CHUNK_ROWS], kept[:CHUNK_ROWS], raws[:CHUNK_ROWS], scrub
            )
            numbers, kept, raws = numbers[CHUNK_ROWS:], kept[CHUNK_ROWS:], raws[CHUNK_ROWS:]
    if kept:
        yield from _flat_block(numbers, kept, raws, scrub)


_NOT_OBJECT = RecordError("record", "must be a JSON object")


def _parse_all(lines: list[bytes]) -> list[dict] | None:
    """Every line parsed to a JSON object, or None when any line is not one."""
    try:
        records = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return None
    return records if set(map(type, records)) == {dict} else None


def _flat_block(
    numbers: Sequence[int],
    records: list[Mapping[str, Any]],
    raws: Sequence[bytes | None],
    scrub: Scrub,
) -> Iterator[Parsed]:
    columns = RecordColumns(records)
    if columns.keys is not None:  # one key set for the block: one look for content fields
        found = CONTENT_KEYS.intersection(columns.keys)
        if found:
            scrub.add_content(found, len(records))
    elif not CONTENT_KEYS.isdisjoint(set().union(*records)):
        for record in records:
            found = CONTENT_KEYS.intersection(record)
            if found:
                scrub.add_content(found)
    frame, rest = flat_columns(records, columns)
    fast = np.ones(len(records), dtype=bool)
    fast[rest] = False
    slow_events = []
    for i in rest:
        item = event_of(records[i], normalize_flat, scrub, raws[i], count_content=False)
        if isinstance(item, RecordError):
            yield numbers[i], item
        else:
            slow_events.append(item)
    kept = np.flatnonzero(fast)
    suspects = _secret_suspects(frame, [records[i] for i in kept], [raws[i] for i in kept])
    if suspects:
        _redact_frame(frame, suspects, [records[i] for i in kept], [raws[i] for i in kept], scrub)
    if slow_events:
        slow = event_arrays(events_frame(slow_events))
        frame = {name: np.concatenate([values, slow[name]]) for name, values in frame.items()}
    yield numbers[-1], frame


def _secret_suspects(frame: Events, records: list, raws: list) -> list[int]:
    """Rows of the block that may hold an API key: one scan of the raw bytes (or labels)."""
    if None not in raws:
        if not may_hold_secret(b"\n".join(raws)):
            return []
        return [j for j, raw in enumerate(raws) if may_hold_secret(raw)]
    labels = "\x1f".join(
        chain.from_iterable(frame[name].tolist() for name in sorted(_LABEL_FIELDS))
    )
    if not SECRET_PATTERN.search(labels) and all(raw is None for raw in raws):
        return []
    return [
        j
        for j, raw in enumerate(raws)
        if (raw is None and any(map(SECRET_PATTERN.search, _labels_of(frame, j))))
        or (raw is not None and may_hold_secret(raw))
    ]


def _labels_of(frame: Events, row: int) -> list[str]:
    return [frame[name][row] for name in _LABEL_FIELDS]


def _redact_frame(frame: Events, rows: list[int], records: list, raws: list, scrub: Scrub) -> None:
    """Redact secret look-alikes in the labels of `rows`, and report unstored ones too."""
    for name in _LABEL_FIELDS:
        values = frame[name]
        for j in rows:
            value = values[j]
            if value and SECRET_PATTERN.search(value):
                values[j] = redact(value)
                scrub.add_secret(name)
    for j in rows:
        record, raw = records[j], raws[j]
        if raw is None:
            continue
        for path in secret_paths(record):
            top = path.split(".")[0].split("[")[0]
            if top not in CONTENT_KEYS and top not in _LABEL_FIELDS:
                scrub.add_secret(path)
