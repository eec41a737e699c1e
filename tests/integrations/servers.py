"""Real loopback servers for notification tests: an HTTP receiver, a slow-drip HTTP server
and an SMTP sink (optionally with STARTTLS on a throwaway self-signed certificate)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records JSON POSTs and fails the first `fail_first`.

    With `redirect_to` set, every POST is answered `302 Found` with that `Location`.
    """

    fail_first: int = 0
    status: int = 500
    redirect_to: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The hook's URL (its path stands in for the secret part of a real webhook URL)."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET-TOKEN"

    def start(self) -> Receiver:
        """Serve in a background thread."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.attempts += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", outer.redirect_to)
                    self.end_headers()
                    return
                if outer.attempts <= outer.fail_first:
                    self.send_response(outer.status)
                    self.end_headers()
                    return
                outer.received.append(
                    {
                        "path": self.path,
                        "type": self.headers.get("Content-Type"),
                        "json": json.loads(body),
                    }
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class Dripper:
    """An HTTP server on 127.0.0.1 that answers each POST one byte every `interval_s` seconds.

    A socket timeout never fires against it (a byte always comes in time); only a total deadline
    ends the wait. `active` counts the answers still dripping.
    """

    REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.attempts = 0
        self.active = 0
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The hook's URL, shaped like a Slack incoming webhook with its secret."""
        assert self.server is not None
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/services/T000/B000/SECRET-TOKEN"

    def start(self) -> Dripper:
        """Serve in a background thread."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.attempts += 1
                outer.active += 1
                try:
                    self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    outer.drip(self.wfile)
                finally:
                    outer.active -= 1
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def drip(self, out: Any) -> None:
        """Write the reply a byte at a time until it is done, the client left, or we stop."""
        for byte in self.REPLY:
            if self.stopping.wait(self.interval_s):
                return
            try:
                out.write(bytes([byte]))
                out.flush()
            except OSError:
                return

    def stop(self) -> None:
        """Stop dripping and shut the server down."""
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class Sink:
    """aiosmtpd handler keeping every message it receives (and when, in `received_at`)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.received_at: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        self.received_at.append(time.monotonic())
        return "250 OK"


def smtp_server(**kwargs: Any) -> tuple[Controller, Sink]:
    """A started SMTP server on 127.0.0.1 (port in `controller.port`)."""
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, sink


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key, made with the `openssl` tool."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def starttls_server(folder: Path, **kwargs: Any) -> tuple[Controller, Sink, Path]:
    """A started SMTP server that requires STARTTLS; also returns the certificate to trust."""
    cert, key = self_signed_cert(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, sink = smtp_server(tls_context=context, require_starttls=True, **kwargs)
    return controller, sink, cert
