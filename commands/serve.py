"""`serve`: the live receiver, next to the dashboard (OTLP/HTTP traces and log batches)."""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated

import typer

from commands.common import DbOption, fail, open_db, warn


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 for every one).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port (4318 is OTLP/HTTP's).")
    ] = 4318,
    db: DbOption = None,
) -> None:
    """Receive POST /v1/traces (OTLP/HTTP) and /v1/ingest (log batches) sent with an ingest key."""
    from db.keys import list_keys
    from integrations.receiver.body import body_limit, describe
    from integrations.receiver.server import bind, run

    try:
        limit = body_limit()
    except ValueError as exc:
        fail(str(exc))
    engine = open_db(db)
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror or exc})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    shown = f"[{host}]" if ":" in host else host
    warn(
        f"Costdesk receiver on http://{shown}:{port}: POST /v1/traces, POST /v1/ingest, "
        f"GET /healthz; bodies up to {describe(limit)}; Ctrl+C stops"
    )
    if not any(key.revoked_at is None for key in list_keys(engine)):
        warn("no live ingest key yet: make one with: python cli.py keys create --name NAME")
    if not _loopback(host):
        warn("listening beyond this machine over plain HTTP: put TLS (a reverse proxy) in front")
    run(engine, sock, limit=limit)


def _loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or names this machine only)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def register(app: typer.Typer) -> None:
    """Add `serve` to the CLI."""
    app.command("serve")(serve)
