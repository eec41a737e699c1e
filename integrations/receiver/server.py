"""Serving the receiver with Uvicorn: in the foreground (`cli.py serve`) or in a thread.

The socket is bound before Uvicorn starts, so a taken port is one clear error. Uvicorn answers
503 itself once `MAX_CONNECTIONS` connections are open, which bounds the memory that bodies
waiting for a writer can hold (each at most the body limit).
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy import Engine

from integrations.receiver.app import make_app

MAX_CONNECTIONS = 64
START_SECONDS = 10


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (IPv4 or IPv6); OSError when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server(engine: Engine, *, limit: int) -> uvicorn.Server:
    """A Uvicorn server of the receiver app (no access log: the receiver logs what it stores)."""
    config = uvicorn.Config(
        make_app(engine, limit=limit),
        log_level="warning",
        access_log=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=30,
    )
    return uvicorn.Server(config)


def run(engine: Engine, sock: socket.socket, *, limit: int) -> None:
    """Serve on a bound socket until Ctrl+C or SIGTERM, which answer the open requests first
    and end cleanly (Uvicorn raises the signal again once it stops: here it is ignored)."""
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {stop: signal.signal(stop, _ignore) for stop in stops}
    try:
        server(engine, limit=limit).run(sockets=[sock])
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)


def _ignore(signum: int, frame: object) -> None:
    """A stop signal that arrives once the server has stopped."""


@contextmanager
def running(engine: Engine, *, limit: int, host: str = "127.0.0.1") -> Iterator[str]:
    """The receiver serving in a background thread on a free port; yields its base URL."""
    sock = bind(host, 0)
    instance = server(engine, limit=limit)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not instance.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        instance.should_exit = True
        thread.join(START_SECONDS)
        sock.close()
