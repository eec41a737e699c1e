"""Ingest entry points: a file (CLI), an upload (dashboard), records (SDK wrapper, demo).

    open -> LogFile (shape, format, first block) -> upload row -> pieces (here or in a worker)
         -> Writer (a transaction per chunk) -> upload counts -> IngestReport

A problem with the whole file (empty, binary, unknown format, a rollup overflow) becomes the
report's one `file_error`; every other bad record is one error with its line.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine, select

from core.access import SENDERS, Actor, require
from core.logs import FileFormatError, LogFile, RecordError, redact
from core.pricing import PriceBook
from core.rollups import RollupOverflow
from db.audit import record_now
from db.imports import store_cost_rows, store_usage_rows
from db.ingest.parallel import Piece, WorkerFailed, pieces, use_worker, worker_pieces
from db.ingest.report import IngestReport
from db.ingest.uploads import UPLOAD, finish_upload, remove_upload, start_upload
from db.ingest.writer import OVERFLOW, StoreError, Writer
from db.prices import price_state

Progress = Callable[[int, int | None], None]  # (bytes or records done, total or None)
SPOOL_BYTES = 1 << 20  # uploads are copied to disk in pieces this size


def file_digest(stream: BinaryIO) -> tuple[str, int]:
    """sha256 and size of a seekable binary stream (left at its start)."""
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(1 << 22):
        digest.update(block)
        size += len(block)
    stream.seek(0)
    return digest.hexdigest(), size


def _path_of(stream: BinaryIO) -> str | None:
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) and os.path.isfile(name) else None


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
    upload_key: str | None = None,
    state: Mapping[str, Any] | None = None,
    actor: Actor,
) -> IngestReport:
    """Detect (or take) the format of one file and ingest it; whole-file problems -> file_error.

    With `upload_key`, every ingest under that key (and the same source) adds to one upload
    row, a rolling upload (the live receiver's per key and day), instead of one per content."""
    require(actor, "upload")
    if isinstance(stream, (str, Path)):
        with open(stream, "rb") as handle:
            name = file_name or Path(stream).name
            return ingest_file(
                engine, handle, file_name=name, fmt=fmt, project=project, mapping=mapping,
                source=source, book=book, progress=progress, upload_key=upload_key, state=state,
                actor=actor,
            )  # fmt: skip
    report = IngestReport(file_name=redact(str(file_name or getattr(stream, "name", "upload"))))
    options = {"file_name": report.file_name, "fmt": fmt, "mapping": mapping, "project": project}
    options["state"] = dict(state or {})  # settings the formats read (`format_state`)
    started = time.perf_counter()
    try:
        _ingest_stream(engine, stream, options, report, source, book, progress, upload_key)
    except (FileFormatError, StoreError) as exc:
        _fail(engine, report, str(exc))
    except RollupOverflow:
        _fail(engine, report, f"{OVERFLOW}; the file's later records were not stored")
    except WorkerFailed as exc:
        if exc.kind not in ("FileFormatError", "StoreError", "RollupOverflow"):
            raise
        message = str(exc) if exc.kind != "RollupOverflow" else OVERFLOW
        _fail(engine, report, message)
    report.seconds = time.perf_counter() - started
    _audit(engine, actor, report)
    return report


def _audit(engine: Engine, actor: Actor, report: IngestReport) -> None:
    """One audit row per ingest that stored something (a live sender's many small posts are
    its key's rolling uploads, listed in upload history, not audit rows)."""
    if actor.via in SENDERS or report.upload_id is None:
        return
    after = {
        "upload_id": report.upload_id,
        "format": report.format,
        "accepted": report.accepted,
        "rejected": len(report.errors),
        "duplicates": report.duplicates,
    }
    record_now(engine, actor, "upload", report.file_name, after=after)


def _fail(engine: Engine, report: IngestReport, message: str) -> None:
    """Record a whole-file problem; an upload row left without any stored row goes (one that
    was re-used, or is rolling, keeps what earlier runs stored under it)."""
    report.file_error = message
    if report.upload_id is not None and not _stored_rows(engine, report.upload_id):
        remove_upload(engine, report.upload_id)
        report.upload_id = None


def _stored_rows(engine: Engine, upload_id: int) -> int:
    """The requests stored under an upload (kept on its row as chunks are stored)."""
    with engine.connect() as conn:
        found = conn.execute(select(UPLOAD.c.accepted).where(UPLOAD.c.id == upload_id)).scalar()
    return int(found or 0)


def _ingest_stream(
    engine: Engine,
    stream: BinaryIO,
    options: dict[str, Any],
    report: IngestReport,
    source: str | None,
    book: PriceBook | None,
    progress: Progress | None,
    upload_key: str | None = None,
) -> None:
    """Read, store and account one file; a large one parses in a worker meanwhile."""
    from db.prices import load_price_book

    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    path = _path_of(stream)
    worker = use_worker(path, size)
    sha256 = upload_key or ("" if worker else file_digest(stream)[0])
    log = LogFile(stream, **options)
    report.format, report.source = log.format.name, source or log.source
    if log.format.kind != "events":
        _store_pages(engine, log, report)
        return
    book = book or load_price_book(engine)
    dialect = engine.dialect.name
    if worker:
        options = {**options, "fmt": log.format.name}
        log.release()  # the worker reads the file from its start
        produced = worker_pieces(path, options, book, dialect, report.source, report.scrub)  # type: ignore[arg-type]
        first = next(produced, None)  # the worker goes on while the digest is read here
        with open(path, "rb") as own:  # type: ignore[arg-type]
            sha256 = upload_key or file_digest(own)[0]
        produced = _chain(first, produced)
    else:
        report.scrub = log.scrub
        produced = pieces(log, book, dialect, report.source)
    report.upload_id = start_upload(
        engine, file_name=report.file_name, sha256=sha256, fmt=report.format,
        source=report.source, size_bytes=size,
    )  # fmt: skip
    prices, before = price_state(engine), _stored_cost(engine, report.upload_id)
    store(engine, produced, report, (lambda done: progress(done, size)) if progress else None)
    if price_state(engine) != prices:
        _reprice_upload(engine, report, before)
    finish_upload(engine, report)


def _stored_cost(engine: Engine, upload_id: int) -> int:
    """The cost stored under an upload (kept on its row as chunks are stored)."""
    with engine.connect() as conn:
        found = conn.execute(select(UPLOAD.c.cost_pusd).where(UPLOAD.c.id == upload_id)).scalar()
    return int(found or 0)


def _reprice_upload(engine: Engine, report: IngestReport, cost_before: int) -> None:
    """Custom prices changed while the file went in (and a re-price may have run meanwhile):
    price the upload's rows again with the prices now stored, so none keeps a stale cost;
    the report's cost is then what this run added at those prices."""
    from db.ingest.reprice import reprice_rows

    reprice_rows(engine, upload_id=report.upload_id)
    report.cost_pusd = _stored_cost(engine, report.upload_id) - cost_before


def _chain(first: Piece | None, rest: Iterator[Piece]) -> Iterator[Piece]:
    if first is not None:
        yield first
    yield from rest


def store(
    engine: Engine,
    produced: Iterable[Piece],
    report: IngestReport,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write the pieces of one file under the report's source and upload."""
    writer = Writer(engine, report)
    with writer.session():
        for piece in produced:
            for line, field_name, reason in piece.rejected:
                report.reject(line, RecordError(field_name, reason))
            if piece.chunk is not None:
                writer.save(piece.chunk)
            if progress:
                progress(piece.position)
    report.errors.sort(key=lambda e: e.line)


def ingest_records(
    engine: Engine,
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    file_name: str,
    book: PriceBook | None = None,
    fmt: str = "flat",
    progress: Progress | None = None,
    actor: Actor,
) -> IngestReport:
    """Validate, price and store records given as objects (flat-log fields, or `fmt`)."""
    from db.prices import load_price_book

    require(actor, "upload")

    started = time.perf_counter()
    report = IngestReport(file_name=redact(file_name), format=fmt, source=source)
    log = LogFile.from_records(records, fmt=fmt)
    report.scrub = log.scrub
    report.upload_id = start_upload(
        engine, file_name=report.file_name, sha256=f"records:{report.file_name}", fmt=fmt,
        source=source, size_bytes=0,
    )  # fmt: skip
    book = book or load_price_book(engine)
    try:
        store(engine, pieces(log, book, engine.dialect.name, source), report)
    except StoreError as exc:
        _fail(engine, report, str(exc))
    except RollupOverflow:
        _fail(engine, report, f"{OVERFLOW}; the later records were not stored")
    finish_upload(engine, report)
    report.seconds = time.perf_counter() - started
    _audit(engine, actor, report)
    return report


def ingest_upload(
    engine: Engine, upload: BinaryIO, *, file_name: str, **options: Any
) -> IngestReport:
    """An uploaded file (the dashboard's, held in memory by the web server): copied to a
    temporary file first, so a large one parses in a worker with memory flat in file size."""
    upload.seek(0)
    with tempfile.NamedTemporaryFile(
        prefix="costdesk-upload-", suffix=Path(file_name).suffix
    ) as spool:
        shutil.copyfileobj(upload, spool, SPOOL_BYTES)
        spool.flush()
        spool.seek(0)
        return ingest_file(engine, spool, file_name=file_name, **options)


def _store_pages(engine: Engine, log: LogFile, report: IngestReport) -> None:
    """Usage or cost pages: flattened rows stored in their own tables (idempotently)."""
    store_rows = store_usage_rows if log.format.kind == "usage_buckets" else store_cost_rows
    for line, rows in log.pages():
        if isinstance(rows, RecordError):
            report.reject(line, rows)
            continue
        added, same = store_rows(engine, rows)
        report.accepted += added
        report.duplicates += same
