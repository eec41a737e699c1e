"""The parse side of an ingest: blocks of a log file prepared for storing, here or in a worker.

`pieces` reads a `LogFile` and yields `Piece`s: the rejected records of a stretch of the file
and, when it has accepted events, the chunk prepared to store (fingerprints, identities,
prices, rollup sums, the dialect's row values). An ingest consumes them in this process, or
`worker_pieces` runs the same generator in a second process and passes the pieces through a
pipe holding at most one chunk in flight, so parsing and writing overlap on two cores with
memory flat in file size. The worker dies with its parent.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.logs import LogFile, Scrub
from core.prepare import MemoBook, Prepared, prepare
from core.pricing import PriceBook
from db.ingest.memory import give_back
from db.ingest.rows import for_dialect

PARALLEL_MIN_BYTES = 16 << 20  # files from this size parse in a second process
WORKER_ERRORS = 1_000  # rejected records passed on at once when no chunk is ready
AHEAD = 2  # pieces received ahead of the writer

Rejected = list[tuple[int, str, str]]  # (line, field, reason): plain values pickle anywhere


@dataclass
class Piece:
    """A stretch of the file: its rejected records, its prepared chunk, the bytes read."""

    rejected: Rejected = field(default_factory=list)
    chunk: Prepared | None = None
    position: int = 0


def pieces(log: LogFile, book: PriceBook, dialect_name: str, source: str) -> Iterator[Piece]:
    """The file's pieces in line order (the last one carries what remains of the rejected)."""
    memo = MemoBook(book)
    rejected: Rejected = []
    position = 0
    for block in log.blocks():
        rejected += [(line, err.field, err.reason) for line, err in block.rejected]
        position = block.position
        if block.size:
            chunk = for_dialect(prepare(block.events, memo, source), dialect_name)
            yield Piece(rejected, chunk, position)
            rejected = []
        elif len(rejected) >= WORKER_ERRORS:
            yield Piece(rejected, None, position)
            rejected = []
    yield Piece(rejected, None, position)


def use_worker(path: str | None, size: int) -> bool:
    """Whether a file parses in a second process: a large file on disk, a spare core, and
    unless `COSTDESK_INGEST_WORKERS=0`."""
    return (
        path is not None
        and size >= PARALLEL_MIN_BYTES
        and os.environ.get("COSTDESK_INGEST_WORKERS", "1") != "0"
        and (os.cpu_count() or 1) > 1
    )


def _context() -> Any:
    """`fork` from a single-threaded process (the CLI: nothing to re-import); a forkserver
    from a threaded one (the dashboard), where forking is not safe."""
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # workers start with the parsing code loaded
    return context


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a killed ingest leaves nothing)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _worker(
    send: Any, receive: Any, path: str, options: dict, book: PriceBook, dialect: str, source: str
) -> None:
    """The worker's side: parse, validate, prepare; send every piece, then the scrub tally."""
    _die_with_parent()
    if receive is not None:
        receive.close()  # the parent's end: holding it would keep a dead parent's pipe open
    gc.disable()
    try:
        with open(path, "rb") as stream:
            log = LogFile(stream, **options)
            for piece in pieces(log, book, dialect, source):
                send.send(("piece", piece))
                del piece
                give_back()
            send.send(("done", log.scrub))
    except BaseException as exc:  # the writing side raises it, with its message
        with contextlib.suppress(OSError):
            send.send(("error", (type(exc).__name__, str(exc))))
    finally:
        send.close()


class WorkerFailed(RuntimeError):
    """The parsing process stopped on an error (its type and message are kept)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def worker_pieces(
    path: str, options: dict, book: PriceBook, dialect: str, source: str, scrub: Scrub
) -> Iterator[Piece]:
    """`pieces` of the file at `path`, parsed in a second process; its scrub tally is merged
    into `scrub` at the end. Any failure on either side stops both."""
    context = _context()
    receive, send = context.Pipe(duplex=False)
    inherits = context.get_start_method() == "fork"
    args = (send, receive if inherits else None, path, options, book, dialect, source)
    process = context.Process(target=_worker, args=args, daemon=True)
    gc.freeze()  # the collector then leaves inherited objects alone: fewer pages copied
    try:
        process.start()
    finally:
        gc.unfreeze()
    send.close()
    messages: queue.Queue = queue.Queue(maxsize=AHEAD)
    receiver = threading.Thread(target=_receive, args=(receive, messages), daemon=True)
    receiver.start()
    try:
        while True:
            kind, payload = messages.get()
            if kind == "piece":
                yield payload
            elif kind == "done":
                scrub.merge(payload)
                return
            else:
                raise WorkerFailed(*payload)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        while receiver.is_alive():  # let a receiver blocked on a full queue finish
            with contextlib.suppress(queue.Empty):
                messages.get(timeout=0.1)
        receive.close()


def _receive(receive: Any, messages: queue.Queue) -> None:
    """Read the worker's messages into `messages` (a few pieces ahead of the writer, so the
    worker goes on parsing while the writer commits); the end of the pipe ends it."""
    while True:
        try:
            message = receive.recv()
        except (EOFError, OSError):
            message = ("error", ("RuntimeError", "the parsing process stopped unexpectedly"))
        messages.put(message)
        if message[0] != "piece":
            return
