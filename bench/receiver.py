"""Live receiver benchmark: sustained spans per second from concurrent OTLP/HTTP clients.

It builds `--clients` x `--batches` export requests of `--spans` spans each, the way GenAI
instrumentations send them: traces of an agent span, one to four model calls (chat or
embeddings over five models, some failed) and now and then a tool span; random trace, span and
response ids (a fifth of the calls carry no response id); optional cache, reasoning and content
attributes on some calls only; start times spread over the last day. Then, in one run:

  1. receiver: `python cli.py serve` in its own process on a loopback port; every client is a
     thread with its own httpx connection posting its batches (protobuf, gzip with `--gzip`)
     one after another; timed from the first request to the last answer;
  2. file ingest (the baseline): the same request bodies through `db.ingest.ingest_file`, one
     after another in this process, into a fresh database: the same path without HTTP.

Both must store every model call (checked). It prints spans/s (every span sent) and calls/s
(model calls stored) of each, and the ratio receiver / file ingest.

    .venv/bin/python bench/receiver.py [--clients 8] [--batches 50] [--spans 100] [--gzip]
                                       [--seed 7] [--db URL] [--baseline-db URL]
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.access import local_admin  # noqa: E402  (after the path above)

MODELS = (  # (model, operation, provider, share)
    ("gpt-4o-mini", "chat", "openai", 0.45),
    ("gpt-4o", "chat", "openai", 0.15),
    ("claude-sonnet-4-20250514", "chat", "anthropic", 0.2),
    ("gemini-2.5-flash", "generate_content", "gcp.gemini", 0.1),
    ("text-embedding-3-small", "embeddings", "openai", 0.1),
)
SERVICES = ("checkout", "search", "support", "")
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DAY_NS = 86_400 * 10**9


@dataclass
class Batch:
    """One export request: its body as sent, spans in it, model calls among them."""

    body: bytes
    spans: int
    calls: int


def _value(value: object) -> object:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    return AnyValue(string_value=str(value))


def _attributes(items: dict[str, object]) -> list:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    return [KeyValue(key=k, value=_value(v)) for k, v in items.items()]


def _call_attributes(chance: random.Random) -> tuple[dict[str, object], bool]:
    """A model call's attributes (optional ones on some calls only) and whether it failed."""
    model, operation, provider, _ = chance.choices(MODELS, weights=[m[3] for m in MODELS])[0]
    tokens_in = chance.randint(20, 12_000)
    attrs: dict[str, object] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": tokens_in,
    }
    if operation != "embeddings":
        attrs["gen_ai.usage.output_tokens"] = chance.randint(1, 2_000)
        if chance.random() < 0.8:
            prefix = "msg_" if provider == "anthropic" else "chatcmpl-"
            attrs["gen_ai.response.id"] = prefix + "".join(chance.choices(ALPHABET, k=24))
            attrs["gen_ai.response.model"] = model
        if chance.random() < 0.3:
            attrs["gen_ai.usage.cache_read.input_tokens"] = chance.randint(0, tokens_in)
        if chance.random() < 0.1:
            attrs["gen_ai.usage.reasoning.output_tokens"] = 0
        if chance.random() < 0.2:
            attrs["gen_ai.input.messages"] = '[{"role": "user", "parts": [{"content": "..."}]}]'
    failed = chance.random() < 0.02
    if failed:
        attrs["error.type"] = "rate_limit_exceeded"
    return attrs, failed


def _span(chance: random.Random, trace: bytes, parent: bytes, start: int, attrs: dict) -> object:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    span = Span(
        trace_id=trace, span_id=chance.randbytes(8), parent_span_id=parent,
        name=str(attrs.get("gen_ai.operation.name", "span")), kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start, end_time_unix_nano=start + chance.randint(50, 20_000) * 10**6,
        attributes=_attributes(attrs),
    )  # fmt: skip
    if attrs.get("error.type"):
        span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR))
    return span


def _batch(chance: random.Random, size: int, now_ns: int) -> Batch:
    """One export request of `size` spans from one service."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    spans, calls = [], 0
    while len(spans) < size:
        trace, root = chance.randbytes(16), chance.randbytes(8)
        start = now_ns - chance.randrange(DAY_NS)
        agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper"}
        spans.append(_span(chance, trace, b"", start, agent))
        for _ in range(min(chance.randint(1, 4), size - len(spans))):
            spans.append(_span(chance, trace, root, start, _call_attributes(chance)[0]))
            calls += 1
        if len(spans) < size and chance.random() < 0.3:
            tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
            spans.append(_span(chance, trace, root, start, tool))
    service = chance.choice(SERVICES)
    resource = Resource(attributes=_attributes({"service.name": service} if service else {}))
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )
    return Batch(request.SerializeToString(), len(spans), calls)


def make_batches(count: int, size: int, seed: int) -> list[Batch]:
    """`count` export requests of `size` spans each."""
    chance = random.Random(seed)
    now_ns = time.time_ns()
    return [_batch(chance, size, now_ns) for _ in range(count)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(db: str, port: int) -> subprocess.Popen:
    """`cli.py serve` on a loopback port, once it answers /healthz."""
    process = subprocess.Popen(
        [sys.executable, "cli.py", "serve", "--port", str(port), "--db", db],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(
        f"the receiver did not start: {process.stderr.read() if process.stderr else ''}"
    )


def run_receiver(db: str, batches: list[list[Batch]], use_gzip: bool) -> float:
    """Seconds for every client to post its batches; SystemExit if any was not taken."""
    from db.engine import make_engine
    from db.keys import create_key

    key = create_key(make_engine(db), name="bench", project="bench", actor=local_admin(via="cli"))[
        1
    ]
    headers = {"authorization": f"Bearer {key}", "content-type": "application/x-protobuf"}
    if use_gzip:
        headers["content-encoding"] = "gzip"
    bodies = [[gzip.compress(b.body) if use_gzip else b.body for b in mine] for mine in batches]
    port = _free_port()
    server = _start_server(db, port)
    failures: list[str] = []

    def client(mine: list[bytes]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            for body in mine:
                answer = http.post("/v1/traces", content=body, headers=headers)
                if answer.status_code != 200 or answer.content:
                    failures.append(f"{answer.status_code} {answer.content[:200]!r}")

    threads = [threading.Thread(target=client, args=(mine,)) for mine in bodies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    server.send_signal(signal.SIGINT)
    server.wait(60)
    if failures:
        raise SystemExit(f"{len(failures)} batches not taken whole, first: {failures[0]}")
    return seconds


def run_file_ingest(db: str, batches: list[Batch]) -> float:
    """Seconds to ingest the same bodies as files, one after another, in this process."""
    from db.engine import make_engine
    from db.ingest import ingest_file

    engine = make_engine(db)
    started = time.perf_counter()
    for n, batch in enumerate(batches):
        report = ingest_file(
            engine,
            io.BytesIO(batch.body),
            file_name=f"b{n}.pb",
            project="bench",
            actor=local_admin(via="cli"),
        )
        if report.file_error or report.rejected:
            raise SystemExit(f"file ingest refused batch {n}: {report.file_error or report.errors}")
    return time.perf_counter() - started


def stored_calls(db: str) -> int:
    """Requests stored in a database."""
    from sqlalchemy import func, select

    from db.engine import make_engine
    from db.models import RequestLog

    with make_engine(db).connect() as conn:
        return conn.execute(select(func.count()).select_from(RequestLog.__table__)).scalar_one()


def main() -> None:
    """Run both and print spans/s, calls/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=50, help="batches per client")
    parser.add_argument("--spans", type=int, default=100, help="spans per batch")
    parser.add_argument("--gzip", action="store_true", help="send gzip-compressed bodies")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", help="receiver database URL (default: a fresh SQLite file)")
    parser.add_argument("--baseline-db", help="file ingest database URL (default: fresh SQLite)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="costdesk-bench-receiver-"))
    db = args.db or f"sqlite:///{workdir / 'receiver.db'}"
    baseline_db = args.baseline_db or f"sqlite:///{workdir / 'file.db'}"
    everything = make_batches(args.clients * args.batches, args.spans, args.seed)
    per_client = [everything[n :: args.clients] for n in range(args.clients)]
    spans = sum(b.spans for b in everything)
    calls = sum(b.calls for b in everything)
    received = run_receiver(db, per_client, args.gzip)
    ingested = run_file_ingest(baseline_db, everything)
    for name, url in (("receiver", db), ("file ingest", baseline_db)):
        if stored_calls(url) != calls:
            raise SystemExit(f"{name} stored {stored_calls(url):,} of {calls:,} calls")
    print(
        f"{args.clients} clients x {args.batches} batches x {args.spans} spans = {spans:,} spans "
        f"({calls:,} model calls){', gzip' if args.gzip else ''}; {db.split(':', 1)[0]}"
    )
    for name, seconds in (("receiver", received), ("file ingest", ingested)):
        print(
            f"{name:>12}: {seconds:7.2f} s  {spans / seconds:10,.0f} spans/s  "
            f"{calls / seconds:10,.0f} calls/s"
        )
    print(f"ratio receiver / file ingest: {ingested / received:.2f}")


if __name__ == "__main__":
    main()
