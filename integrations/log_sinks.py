"""Where usage records go: a rotating JSON-lines file, the database, or a function.

A sink is anything with `write(record)` (and optionally `close()`). `DatabaseSink` stores from a
background thread in batches, so a slow or locked database never delays the caller; a record it
cannot keep is dropped, counted and reported through the `costdesk.openai_logging` logger.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core.access import sender

# The OpenAI wrapper's logger: one name to watch for every failure to log usage.
log = logging.getLogger("costdesk.openai_logging")

Record = dict[str, Any]


class Sink(Protocol):
    """Where records go: anything with `write(record)` (and optionally `close()`)."""

    def write(self, record: Record) -> None:
        """Store one record."""


class JsonlSink:
    """Append records to a JSON-lines file, rotating it at `max_bytes` (file.1 ... file.N)."""

    def __init__(self, path: str | Path, *, max_bytes: int = 50_000_000, backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Record) -> None:
        """Append one record as a line; rotate first when the file would grow past the limit."""
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            if self._size() + len(line) > self.max_bytes and self._size() > 0:
                self._rotate()
            with self.path.open("a+b", buffering=0) as handle:
                _append_line(handle, line)

    def files(self) -> list[Path]:
        """The current file and its rotated copies that exist, newest first."""
        names = [self.path] + [self._backup(i) for i in range(1, self.backups + 1)]
        return [p for p in names if p.exists()]

    def close(self) -> None:
        """Nothing is held open between writes."""

    def _size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def _backup(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def _rotate(self) -> None:
        if self.backups <= 0:
            self.path.unlink(missing_ok=True)
            return
        self._backup(self.backups).unlink(missing_ok=True)
        for index in range(self.backups - 1, 0, -1):
            if self._backup(index).exists():
                os.replace(self._backup(index), self._backup(index + 1))
        os.replace(self.path, self._backup(1))


def _append_line(handle: Any, line: bytes) -> None:
    """Append `line` in one write; a line left unfinished before (a full disk) is ended first."""
    if handle.seek(0, os.SEEK_END) > 0:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) != b"\n":
            line = b"\n" + line
    view = memoryview(line)
    while view:  # an unbuffered write may be short; finish the same line
        view = view[handle.write(view) :]


class NullSink:
    """Stores nothing: what `instrument` logs to when its log file cannot be made."""

    def write(self, record: Record) -> None:
        """Drop the record."""


_STOP = object()


class _Writer:
    """The background thread that stores queued records in batches (the caller never waits)."""

    def __init__(
        self, engine: Any, source: str, batch_size: int, interval_s: float, size: int
    ) -> None:
        self.engine, self.source = engine, source
        self.batch_size, self.interval_s = max(1, batch_size), interval_s
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self.pending: list[Record] = []
        self.dropped = 0
        self._count_lock = threading.Lock()  # callers on many threads may drop at once
        self.thread = threading.Thread(target=self.run, name="costdesk-db-sink", daemon=True)
        self.thread.start()

    def put(self, record: Record) -> None:
        """Queue one record without waiting; when the queue is full, drop it and count it."""
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.drop(1, "the write queue is full")

    def drop(self, count: int, why: str) -> None:
        """Count lost records; warn on the first and then whenever the count doubles."""
        with self._count_lock:
            before, self.dropped = self.dropped, self.dropped + count
        if before == 0 or self.dropped.bit_length() > before.bit_length():
            log.warning("dropped %d Costdesk usage record(s) so far: %s", self.dropped, why)

    def run(self) -> None:
        """Store a batch when it is full, old enough, flushed or stopped; until stopped."""
        due = time.monotonic() + self.interval_s
        while True:
            try:
                item = self.queue.get(timeout=max(0.0, due - time.monotonic()))
            except queue.Empty:
                item = None
            if isinstance(item, dict):
                self.pending.append(item)
            full = len(self.pending) >= self.batch_size
            if full or not isinstance(item, dict) or time.monotonic() >= due:
                self.store()
                due = time.monotonic() + self.interval_s
            if isinstance(item, threading.Event):  # a flush waiting for this point
                item.set()
            if item is _STOP:
                return

    def store(self) -> None:
        """Ingest the pending records; on failure keep them (as many as the queue holds)."""
        if not self.pending:
            return
        try:
            DatabaseSink.store(self.engine, self.source, self.pending)
            self.pending = []
        except Exception:
            log.warning("could not store %d Costdesk usage records yet", len(self.pending))
            extra = len(self.pending) - self.queue.maxsize
            if extra > 0:
                self.pending = self.pending[extra:]
                self.drop(extra, "the database kept failing")

    def send(self, marker: Any, timeout_s: float | None) -> bool:
        """Queue a marker behind every record; False when the writer is gone or too busy."""
        try:
            self.queue.put(marker, timeout=timeout_s)
        except queue.Full:
            return False
        return self.thread.is_alive()

    def close(self, timeout_s: float) -> None:
        """Store what is queued and stop the thread."""
        if self.thread.is_alive() and self.send(_STOP, timeout_s):
            self.thread.join(timeout_s)
        if self.thread.is_alive() or self.pending:
            log.warning("Costdesk usage records were still waiting to be stored")


class DatabaseSink:
    """Store records with `db.ingest.ingest_records` from a background thread, in batches.

    `write` only queues: a slow or locked database never slows the caller's request. A record
    that finds the queue (`max_queue`) full is dropped and counted in `dropped`, with a warning.
    Batches go out when `batch_size` records wait, `flush_interval_s` after the last store, on
    `flush()` / `close()`, and at interpreter exit; a failed store is retried at the next one.
    """

    def __init__(
        self,
        engine: Any,
        *,
        source: str = "openai-sdk",
        batch_size: int = 200,
        flush_interval_s: float = 5.0,
        max_queue: int = 10_000,
        close_timeout_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.source = source
        self._writer = _Writer(engine, source, batch_size, flush_interval_s, max_queue)
        self._closed = False
        self._finalizer = weakref.finalize(self, self._writer.close, close_timeout_s)

    @property
    def dropped(self) -> int:
        """Records lost because the queue was full or the database kept failing."""
        return self._writer.dropped

    def write(self, record: Record) -> None:
        """Queue one record for the background writer; never waits."""
        if self._closed:
            self._writer.drop(1, "the sink is closed")
            return
        self._writer.put(record)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Store every record queued so far; False if that did not finish within `timeout_s`."""
        done = threading.Event()
        return self._writer.send(done, timeout_s) and done.wait(timeout_s)

    def close(self) -> None:
        """Store what is queued and stop the writer."""
        self._closed = True
        self._finalizer()

    @staticmethod
    def store(engine: Any, source: str, records: list[Record]) -> None:
        """Ingest `records` as one batch named after the source and the day."""
        from db.ingest import ingest_records

        day = datetime.now(UTC).strftime("%Y-%m-%d")
        ingest_records(
            engine,
            records,
            source=source,
            file_name=f"{source}-{day}.jsonl",
            actor=sender(f"sdk:{source}", "sdk"),
        )


class CallbackSink:
    """Adapts a plain function `record -> None` to the sink protocol."""

    def __init__(self, func: Callable[[Record], None]) -> None:
        self.func = func

    def write(self, record: Record) -> None:
        """Hand the record to the function."""
        self.func(record)
