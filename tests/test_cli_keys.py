"""`cli.py keys` and `cli.py serve` as a user runs them: real processes, a real database."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
LINE = b'{"timestamp": "2025-06-01T10:00:00Z", "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 200, "request_id": "k1"}\n'  # fmt: skip


def run(*args: str, db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", *args, "--db", db],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def stored(db: str, query: str) -> list[tuple]:
    engine = create_engine(db)
    with engine.connect() as conn:
        found = [tuple(row) for row in conn.execute(text(query))]
    engine.dispose()
    return found


def test_a_key_is_printed_once_and_only_its_hash_is_stored(db_url: str) -> None:
    made = run("keys", "create", "--name", "web", "--project", "shop", "--json", db=db_url)
    assert made.returncode == 0, made.stderr
    payload = json.loads(made.stdout)
    key = payload["key"]
    assert (payload["name"], payload["project"]) == ("web", "shop")
    assert key.startswith("cdk-") and len(key) == 4 + 64
    rows = stored(db_url, "SELECT * FROM ingest_key")
    assert len(rows) == 1 and all(key not in str(value) for value in rows[0])
    assert stored(db_url, "SELECT key_hash FROM ingest_key") == [
        (hashlib.sha256(key.encode()).hexdigest(),)
    ]
    listed = run("keys", "list", "--json", db=db_url)
    assert key not in listed.stdout
    (entry,) = json.loads(listed.stdout)["keys"]
    assert (entry["name"], entry["project"], entry["last_used_at"], entry["revoked_at"]) == (
        "web", "shop", None, None,
    )  # fmt: skip
    plain = run("keys", "list", db=db_url)
    assert (
        "web  project shop" in plain.stdout and "live" in plain.stdout and key not in plain.stdout
    )


def test_revoke_and_unusable_input(sqlite_url: str) -> None:
    assert run("keys", "create", "--name", "web", db=sqlite_url).returncode == 0
    twice = run("keys", "create", "--name", "web", db=sqlite_url)
    assert twice.returncode == 2 and twice.stderr.count("\n") == 1 and "exists" in twice.stderr
    bad = run("keys", "create", "--name", "two words", db=sqlite_url)
    assert bad.returncode == 2 and "key name" in bad.stderr and bad.stderr.count("\n") == 1
    blank = run("keys", "create", "--name", "p", "--project", "  ", db=sqlite_url)
    assert blank.returncode == 2 and "project is empty" in blank.stderr
    revoked = run("keys", "revoke", "web", "--json", db=sqlite_url)
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
    first = json.loads(revoked.stdout)["revoked_at"]
    again = run("keys", "revoke", "web", "--json", db=sqlite_url)
    assert json.loads(again.stdout)["revoked_at"] == first  # the first revocation stands
    missing = run("keys", "revoke", "nope", db=sqlite_url)
    assert (
        missing.returncode == 2 and missing.stderr == "error: no key named 'nope'; see: keys list\n"
    )
    assert "revoked" in run("keys", "list", db=sqlite_url).stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(db: str, port: int) -> Iterator[subprocess.Popen]:
    """`cli.py serve` in its own process until the block ends (then interrupted)."""
    process = subprocess.Popen(
        [sys.executable, "cli.py", "serve", "--port", str(port), "--db", db],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process
    finally:
        process.send_signal(2)  # SIGINT, as Ctrl+C
        process.wait(30)


def test_serve_receives_with_a_key_made_by_the_cli(sqlite_url: str) -> None:
    key = json.loads(run("keys", "create", "--name", "web", "--json", db=sqlite_url).stdout)["key"]
    port = _free_port()
    with serving(sqlite_url, port) as process:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/ingest", content=LINE,
            headers={"authorization": f"Bearer {key}"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["cost_usd"] == "0.00027"  # 1000 x 0.15 + 200 x 0.60 per 1M tokens
        taken = run("serve", "--port", str(port), db=sqlite_url)
        assert taken.returncode == 2 and taken.stderr.count("\n") == 1
        assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
    _, err = process.communicate()
    assert process.returncode == 0 and "Traceback" not in err
    assert f"Costdesk receiver on http://127.0.0.1:{port}" in err
    assert "key web: 1 accepted, 0 duplicates, 0 rejected" in err and key not in err
    listed = json.loads(run("keys", "list", "--json", db=sqlite_url).stdout)["keys"]
    assert listed[0]["last_used_at"] is not None


def test_serve_refuses_a_bad_body_limit(sqlite_url: str) -> None:
    env = {**os.environ, "COSTDESK_RECEIVER_MAX_BODY_MB": "lots"}
    result = run("serve", "--port", str(_free_port()), db=sqlite_url, env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "COSTDESK_RECEIVER_MAX_BODY_MB" in result.stderr
