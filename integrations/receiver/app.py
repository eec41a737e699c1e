"""The live receiver's routes: OTLP/HTTP traces and log batches, each sent with an ingest key.

    POST /v1/traces   OTLP/HTTP: `application/x-protobuf` or `application/json`, plain, gzip
                      or deflate; answered with ExportTraceServiceResponse in the same encoding
    POST /v1/ingest   a body in any log format the file ingest reads (`?format=` optional)
    GET  /healthz     no key: 200 while the database answers, else 503; it says nothing else

A request is checked for its key (`Authorization: Bearer KEY`, `db.keys`) before its body is
read. The body then goes through the one ingest path (`db.ingest.ingest_file`), exactly as a
file with the same content would, the key's project filling records that name none: the same
natural keys, so a batch sent twice, or sent and then ingested from a file, is stored once.

Uploads: one rolling upload per key and UTC day (and source), `live/KEY/DAY`, instead of one
per request: an exporter posts every few seconds, which would bury the upload history; the
day's upload of a key can still be deleted with its rows.

Writers: ingests run in worker threads, one at a time on SQLite (one writer at a time, so no
request waits out the busy timeout) and a few at once on PostgreSQL; requests of one key wait
for each other, so concurrent batches of one key add to one upload row.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import anyio
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.access import sender
from db.ingest import IngestReport, ingest_file
from db.keys import Key, authenticate, mark_used
from integrations.receiver import answers
from integrations.receiver.answers import Answer
from integrations.receiver.body import BadBody, TooLarge, drain, encoding_of, inflate, read_limited

log = logging.getLogger("costdesk.receiver")

WRITERS = {"sqlite": 1, "postgresql": 4}  # ingests at once
TRACE_TYPES = {
    "application/x-protobuf": ("otlp_proto", "proto"),
    "application/json": ("otlp", "json"),
}
SUFFIXES = {"text/csv": ".csv", "application/x-protobuf": ".pb"}  # help tell a body's shape
NO_KEY = "send a live ingest key: Authorization: Bearer KEY (python cli.py keys create)"
BAD_KEY = "the ingest key is unknown or revoked"
UNAVAILABLE = "the database is unavailable; send the batch again"
Fail = Callable[[int, str], Answer]


class Receiver:
    """The receiver's state: the database, the body limit, the writer slots, per-key locks."""

    def __init__(self, engine: Engine, limit: int) -> None:
        self.engine = engine
        self.limit = limit
        self.writers = anyio.CapacityLimiter(WRITERS.get(engine.dialect.name, 1))
        self.locks: dict[str, asyncio.Lock] = {}

    def lock(self, name: str) -> asyncio.Lock:
        """The lock that orders the requests of one key."""
        return self.locks.setdefault(name, asyncio.Lock())


def make_app(engine: Engine, *, limit: int) -> Starlette:
    """The ASGI app over a migrated engine, with a body limit in bytes."""
    receiver = Receiver(engine, limit)
    routes = [
        Route("/v1/traces", partial(traces, receiver), methods=["POST"]),
        Route("/v1/ingest", partial(ingest, receiver), methods=["POST"]),
        Route("/healthz", partial(healthz, receiver), methods=["GET"]),
    ]
    return Starlette(routes=routes)


async def traces(receiver: Receiver, request: Request) -> Response:
    """POST /v1/traces: one OTLP export request."""
    kind = _media_type(request)
    fmt, encoding = TRACE_TYPES.get(kind, ("", "json"))
    fail: Fail = partial(answers.otlp_error, encoding=encoding)
    if not fmt:
        await drain(request.stream(), receiver.limit)
        return _send(fail(415, f"Content-Type {kind!r}: send {' or '.join(TRACE_TYPES)}"))
    taken = await _key_and_body(receiver, request, fail)
    if isinstance(taken, Answer):
        return _send(taken)
    key, data = taken
    if not data:  # an empty export request: nothing to store
        return _send(answers.otlp_answer(IngestReport(), encoding))
    report = await _store(receiver, key, data, fmt, SUFFIXES.get(kind, ".json"))
    if report is None:
        return _send(fail(503, UNAVAILABLE))
    return _send(answers.otlp_answer(report, encoding))


async def ingest(receiver: Receiver, request: Request) -> Response:
    """POST /v1/ingest: a log batch in any format the file ingest reads."""
    fmt = request.query_params.get("format") or None  # an unknown one is the ingest's 400
    taken = await _key_and_body(receiver, request, answers.json_error)
    if isinstance(taken, Answer):
        return _send(taken)
    key, data = taken
    report = await _store(receiver, key, data, fmt, SUFFIXES.get(_media_type(request), ""))
    if report is None:
        return _send(answers.json_error(503, UNAVAILABLE))
    return _send(answers.ingest_answer(report))


async def healthz(receiver: Receiver, request: Request) -> Response:
    """GET /healthz: whether the database answers (no key needed; nothing else is said)."""
    try:
        await anyio.to_thread.run_sync(_ping, receiver.engine)
    except SQLAlchemyError:
        return Response(b'{"status":"unavailable"}', 503, media_type=answers.JSON)
    return Response(b'{"status":"ok"}', 200, media_type=answers.JSON)


async def _key_and_body(
    receiver: Receiver, request: Request, fail: Fail
) -> tuple[Key, bytes] | Answer:
    """The sender's live key and the decoded body, or the answer that refuses the request."""
    presented = _bearer(request.headers.get("authorization"))
    try:
        key = await anyio.to_thread.run_sync(authenticate, receiver.engine, presented or "")
    except SQLAlchemyError as exc:
        log.error("cannot check a key: %s", type(exc).__name__)
        await drain(request.stream(), receiver.limit)
        return fail(503, UNAVAILABLE)
    if key is None:
        await drain(request.stream(), receiver.limit)
        log.warning(
            "refused a request to %s: %s", request.url.path, "bad key" if presented else "no key"
        )
        return fail(401, BAD_KEY if presented else NO_KEY)
    try:
        coding = encoding_of(request.headers.get("content-encoding"))
    except BadBody as exc:
        await drain(request.stream(), receiver.limit)
        return fail(415, str(exc))
    declared = request.headers.get("content-length", "")
    try:
        data = await read_limited(
            request.stream(), receiver.limit, int(declared) if declared.isdigit() else None
        )
        data = await anyio.to_thread.run_sync(inflate, data, coding, receiver.limit)
    except TooLarge as exc:
        log.warning("refused a body of key %s: %s", key.name, exc)
        return fail(413, str(exc))
    except BadBody as exc:
        return fail(400, str(exc))
    return key, data


async def _store(
    receiver: Receiver, key: Key, data: bytes, fmt: str | None, suffix: str
) -> IngestReport | None:
    """Ingest a body under the key's rolling upload of the day, in a writer slot (None when
    the database failed: the sender is asked to retry, and nothing is stored twice)."""
    day = datetime.now(UTC).date().isoformat()
    store = partial(_ingest_body, receiver.engine, key, data, fmt, day, suffix)
    async with receiver.lock(key.name):
        try:
            report = await anyio.to_thread.run_sync(store, limiter=receiver.writers)
        except SQLAlchemyError as exc:
            log.error("cannot store a batch of key %s: %s", key.name, type(exc).__name__)
            return None
    log.info(
        "key %s: %s accepted, %s duplicates, %s rejected",
        key.name, report.accepted, report.duplicates, report.rejected,
    )  # fmt: skip
    return report


def _ingest_body(
    engine: Engine, key: Key, data: bytes, fmt: str | None, day: str, suffix: str
) -> IngestReport:
    """The file ingest of one body (worker thread); the key's last use is noted."""
    report = ingest_file(
        engine, io.BytesIO(data), file_name=f"live/{key.name}/{day}{suffix}", fmt=fmt,
        project=key.project, upload_key=f"live:{key.name}:{day}",
        actor=sender(f"key:{key.name}", "receiver"),
    )  # fmt: skip
    try:
        mark_used(engine, key=key)
    except SQLAlchemyError as exc:  # the batch is stored: a missed note must not refuse it
        log.warning("cannot note the use of key %s: %s", key.name, type(exc).__name__)
    return report


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _bearer(header: str | None) -> str | None:
    """The key of an `Authorization: Bearer KEY` header, or None."""
    scheme, _, value = (header or "").strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _media_type(request: Request) -> str:
    """The request's media type, without parameters (`application/json; charset=utf-8`)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _send(answer: Answer) -> Response:
    """An answer as a Starlette response (a 503 asks the sender to retry in a second)."""
    extra = {"Retry-After": "1"} if answer.status == 503 else {}
    return Response(answer.body, answer.status, media_type=answer.media_type, headers=extra)
