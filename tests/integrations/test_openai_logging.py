"""The logging wrapper: the real openai SDK against a local server speaking the documented shapes."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy import text

from core.logs import LogFile
from integrations.openai_logging import DatabaseSink, JsonlSink, instrument, uninstrument
from integrations.throttle import Throttle
from tests.actors import ADMIN
from tests.integrations.fake_openai import (
    CHAT_MODEL,
    USAGE,
    FakeOpenAI,
    Reply,
    chat_chunks,
    chat_completion,
    embedding,
    error_body,
    response_object,
)

API_KEY = "sk-test-DO-NOT-STORE-4f9a8b7c6d5e"
PROMPT = "SECRET-PROMPT the quarterly numbers of ACME"
MESSAGES = [{"role": "user", "content": PROMPT}]
RECORD_KEYS = {
    "timestamp", "request_id", "model", "input_tokens", "output_tokens", "cached_input_tokens",
    "reasoning_tokens", "latency_ms", "status", "error_type", "project", "feature", "user",
    "finish_reason", "max_tokens", "batch", "service_tier", "provider", "endpoint",
}  # fmt: skip


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.url = fake.start()  # type: ignore[attr-defined]
    yield fake
    fake.stop()


def client_for(server: FakeOpenAI, records: list, *, retries: int = 0, **kwargs: object):
    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=retries)
    return instrument(client, records.append, project="support", feature="triage", **kwargs)


def test_chat_call_writes_one_metadata_record(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=500
    )
    assert completion.choices[0].message.content == "SECRET-ANSWER-TEXT"  # caller unaffected
    assert len(records) == 1
    record = records[0]
    assert set(record) == RECORD_KEYS
    assert record["request_id"] == completion._request_id == f"req_{1:032x}"
    assert record["model"] == CHAT_MODEL  # as resolved, not the alias requested
    assert (record["input_tokens"], record["cached_input_tokens"]) == (1200, 1024)
    assert (record["output_tokens"], record["reasoning_tokens"]) == (300, 0)
    assert (record["status"], record["error_type"], record["finish_reason"]) == (200, "", "stop")
    assert (record["max_tokens"], record["service_tier"]) == (500, "default")
    assert (record["project"], record["feature"]) == ("support", "triage")
    assert record["timestamp"].endswith("Z") and record["latency_ms"] >= 0


def test_responses_and_embeddings(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    client.responses.create(model="o3-mini", input=PROMPT, max_output_tokens=4000)
    client.embeddings.create(model="text-embedding-3-small", input=PROMPT)
    response, embedding = records
    assert response["model"] == "o3-mini-2025-01-31" and response["service_tier"] == "flex"
    assert (response["input_tokens"], response["output_tokens"]) == (2000, 900)
    assert response["reasoning_tokens"] == 640 and response["max_tokens"] == 4000
    assert response["finish_reason"] == "stop" and response["endpoint"] == "responses"
    assert embedding["model"] == "text-embedding-3-small"
    assert (embedding["input_tokens"], embedding["output_tokens"]) == (8, 0)


TOKEN_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")
CALLS: dict[str, Callable[[openai.OpenAI], Any]] = {
    "chat": lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES),
    "responses": lambda c: c.responses.create(model="o3-mini", input=PROMPT),
    "embeddings": lambda c: c.embeddings.create(model="text-embedding-3-small", input=PROMPT),
}
RESPONSE_USAGE = {
    "input_tokens": 3000,
    "input_tokens_details": {"cached_tokens": 2048},
    "output_tokens": 900,
    "output_tokens_details": {"reasoning_tokens": 640},
    "total_tokens": 3900,
}
SAME_COUNT_CASES = {
    "chat": (
        "chat",
        chat_completion({**USAGE, "completion_tokens_details": {"reasoning_tokens": 96}}),
    ),
    "chat-without-details": (
        "chat",
        chat_completion({"prompt_tokens": 50, "completion_tokens": 7}),
    ),
    "responses": ("responses", {**response_object(), "usage": RESPONSE_USAGE}),
    "responses-incomplete": (
        "responses",
        {**response_object("incomplete"), "usage": {"input_tokens": 10, "output_tokens": 4}},
    ),
    "embeddings": ("embeddings", embedding({})),
}


@pytest.mark.parametrize(("kind", "body"), SAME_COUNT_CASES.values(), ids=SAME_COUNT_CASES.keys())
def test_record_counts_tokens_as_log_ingestion_reads_the_response(
    server: FakeOpenAI, kind: str, body: dict
) -> None:
    records: list[dict] = []
    server.script(Reply(body=body))
    result = CALLS[kind](client_for(server, records))
    (record,) = records
    logged = {
        "request_id": record["request_id"],
        "timestamp": record["timestamp"],
        "response": result.to_dict(),
    }
    block = next(LogFile.from_records([logged], fmt="openai").blocks())
    assert block.rejected == []
    assert record["input_tokens"] > 0
    assert {k: record[k] for k in TOKEN_KEYS} == {k: int(block.events[k][0]) for k in TOKEN_KEYS}
    assert record["model"] == block.events["model"][0]


def test_stream_asks_for_usage_and_hides_the_extra_chunk(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    # The caller did not ask for usage, so the usage-only chunk (no choices) is not shown.
    assert len(chunks) == 4 and all(c.choices for c in chunks)
    (record,) = records
    assert (record["input_tokens"], record["output_tokens"]) == (412, 3)
    assert record["finish_reason"] == "stop" and record["error_type"] == ""
    assert record["request_id"] == f"req_{1:032x}"


def test_stream_when_the_caller_asks_for_usage_itself(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    with client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    assert len(chunks) == 5 and chunks[-1].usage.prompt_tokens == 412
    assert len(records) == 1 and records[0]["input_tokens"] == 412


def test_stream_without_usage_chunk_is_flagged(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": False},
    )
    assert len(list(stream)) == 4
    (record,) = records
    assert record["input_tokens"] == record["output_tokens"] == 0
    assert record["status"] == 200 and record["error_type"] == "usage_unknown"


def test_interrupted_stream_still_writes_a_record(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    server.script(Reply(sse=chat_chunks(True), cut_after=2))
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    seen = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2
    (record,) = records
    assert record["error_type"] == "stream_interrupted"
    assert record["status"] is None  # no complete HTTP exchange; ingestion counts it as failed
    assert record["input_tokens"] == record["output_tokens"] == 0
    assert record["request_id"] == f"req_{1:032x}" and record["model"] == CHAT_MODEL


def test_stream_closed_early_by_the_caller(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    stream.close()
    (record,) = records
    assert record["error_type"] == "stream_closed_early" and record["status"] == 200


def test_streamed_responses_call(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    events = [e.type for e in client.responses.create(model="o3-mini", input=PROMPT, stream=True)]
    assert events == ["response.created", "response.output_text.delta", "response.completed"]
    (record,) = records
    assert (record["input_tokens"], record["output_tokens"], record["reasoning_tokens"]) == (
        2000,
        900,
        640,
    )


def test_async_client_normal_and_streamed(server: FakeOpenAI) -> None:
    records: list[dict] = []

    async def main() -> int:
        client = openai.AsyncOpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
        instrument(client, records.append, project="batchjobs")
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
        chunks = [c async for c in stream]
        await client.embeddings.create(model="text-embedding-3-small", input="x")
        server.script(Reply(sse=chat_chunks(True), cut_after=1))
        broken = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
        with pytest.raises(openai.APIConnectionError):
            async for _chunk in broken:
                pass
        async with await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        ) as early:
            await early.__anext__()
        await client.close()
        return len(chunks)

    assert asyncio.run(main()) == 4
    assert [r["input_tokens"] for r in records] == [1200, 412, 8, 0, 0]
    assert [r["error_type"] for r in records[3:]] == ["stream_interrupted", "stream_closed_early"]
    assert {r["project"] for r in records} == {"batchjobs"}


def test_raw_response_calls_are_logged_too(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.parse().usage.prompt_tokens == 1200  # the caller still gets its raw response
    (record,) = records
    assert record["input_tokens"] == 1200 and record["request_id"] == raw.headers["x-request-id"]


def test_429_is_logged_with_its_error_type(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    server.script(
        Reply(
            status=429,
            body=error_body("Rate limit reached for gpt-4o-mini", "tokens", "rate_limit_exceeded"),
            headers={"retry-after": "2"},
        )
    )
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (record,) = records
    assert (record["status"], record["error_type"]) == (429, "rate_limit_exceeded")
    assert record["request_id"] == f"req_{1:032x}" and record["model"] == "gpt-4o-mini"


def test_429_with_retry_after_is_retried_by_the_throttle(server: FakeOpenAI) -> None:
    slept: list[float] = []
    throttle = Throttle(requests_per_min=600, sleep=slept.append, clock=lambda: 0.0)
    records: list[dict] = []
    client = client_for(server, records, throttle=throttle)
    server.script(
        Reply(
            status=429,
            body=error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
            headers={"retry-after": "2"},
        )
    )
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.usage.prompt_tokens == 1200
    assert slept == [2.0]  # the server's retry-after, waited once before the second attempt
    assert [r["status"] for r in records] == [429, 200]  # every attempt is counted


def test_500_then_success(server: FakeOpenAI) -> None:
    slept: list[float] = []
    throttle = Throttle(sleep=slept.append, rng=lambda: 0.0, base_delay_s=0.5)
    records: list[dict] = []
    client = client_for(server, records, throttle=throttle)
    server.script(
        Reply(status=500, body=error_body("The server had an error", "server_error", None))
    )
    client.embeddings.create(model="text-embedding-3-small", input="x")
    assert slept == [0.25]  # backoff 0.5 s x jitter factor 0.5
    assert [(r["status"], r["error_type"]) for r in records] == [(500, "server_error"), (200, "")]


def test_sdk_own_retry_gives_one_record(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records, retries=2)
    server.script(
        Reply(
            status=429,
            body=error_body("Rate limit", "requests", "rate_limit_exceeded"),
            headers={"retry-after-ms": "10"},
        )
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(server.requests) == 2
    assert [r["status"] for r in records] == [200]


def test_failing_sink_never_breaks_the_call(server: FakeOpenAI) -> None:
    def broken(_record: dict) -> None:
        raise OSError("disk full")

    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
    instrument(client, broken)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.usage.completion_tokens == 300
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert len(list(stream)) == 4


def test_instrument_twice_logs_once_and_uninstrument_restores(server: FakeOpenAI) -> None:
    records: list[dict] = []
    client = client_for(server, records)
    instrument(client, records.append)
    client.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(records) == 1
    uninstrument(client)
    client.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(records) == 1


def test_jsonl_sink_rotates_by_size(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "calls.jsonl", max_bytes=300, backups=2)
    for n in range(12):
        sink.write({"request_id": f"req_{n:04d}", "pad": "x" * 40})
    files = sink.files()
    assert [f.name for f in files] == ["calls.jsonl", "calls.jsonl.1", "calls.jsonl.2"]
    assert all(f.stat().st_size <= 300 for f in files)
    kept = [json.loads(line)["request_id"] for f in reversed(files) for line in f.open()]
    assert kept == [f"req_{n:04d}" for n in range(12 - len(kept), 12)]  # newest kept, in order


def _run_every_kind(client: openai.OpenAI, server: FakeOpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=400)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    client.responses.create(model="o3-mini", input=PROMPT)
    client.embeddings.create(model="text-embedding-3-small", input=PROMPT)
    server.script(Reply(sse=chat_chunks(True), cut_after=1))
    with pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))


# Hand-computed (USD per 1M tokens: gpt-4o-mini 0.15 in / 0.075 cached / 0.60 out;
# o3-mini 1.10 in / 4.40 out; text-embedding-3-small 0.02 in):
#   chat:      176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 26.4 + 76.8 + 180 = 283.2 micro-USD
#   stream:    412 x 0.15 + 3 x 0.60                   = 61.8 + 1.8        =  63.6 micro-USD
#   responses: 2000 x 1.10 + 900 x 4.40                = 2200 + 3960       = 6160  micro-USD
#   embedding: 8 x 0.02                                                    =    0.16 micro-USD
#   interrupted stream: no usage -> 0;  total = 6506.96 micro-USD = $0.00650696
EXPECTED_USD = Decimal("0.00650696")


def _stored_cost(db_url: str) -> tuple[int, Decimal, dict]:
    from db.engine import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT model, cost_pusd, priced, status FROM request_log")).all()
    total = sum(Decimal(r.cost_pusd) for r in rows) / 10**12
    by_model = {r.model: (r.priced, r.status) for r in rows}
    return len(rows), total, by_model


def _assert_nothing_secret(paths: list[Path]) -> None:
    for path in paths:
        data = path.read_bytes()
        for needle in (b"SECRET", API_KEY.encode(), b"ACME", b"Bearer"):
            assert needle not in data, f"{needle!r} found in {path.name}"


def _sqlite_dump(db_path: Path, out: Path) -> Path:
    with sqlite3.connect(db_path) as conn:
        out.write_text("\n".join(conn.iterdump()))
    return out


def test_jsonl_records_ingest_and_price_exactly(server: FakeOpenAI, tmp_path: Path) -> None:
    from db.engine import make_engine
    from db.ingest import ingest_records

    sink = JsonlSink(tmp_path / "logs" / "openai.jsonl")
    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
    instrument(client, sink, project="support")
    _run_every_kind(client, server)
    lines = [json.loads(line) for line in sink.path.read_text().splitlines()]
    assert len(lines) == 5
    db_url = f"sqlite:///{tmp_path / 'costdesk.db'}"
    report = ingest_records(
        make_engine(db_url), lines, source="openai-sdk", file_name="o.jsonl", actor=ADMIN
    )
    assert (report.accepted, report.rejected) == (5, 0)
    assert not report.unpriced_models
    count, total_usd, by_model = _stored_cost(db_url)
    assert count == 5 and total_usd == EXPECTED_USD
    assert by_model["o3-mini-2025-01-31"] == (True, 200)
    # Re-ingesting the same lines adds nothing.
    again = ingest_records(
        make_engine(db_url), lines, source="openai-sdk", file_name="o.jsonl", actor=ADMIN
    )
    assert again.accepted == 0 and again.duplicates == 5
    make_engine(db_url).dispose()
    dump = _sqlite_dump(tmp_path / "costdesk.db", tmp_path / "dump.sql")
    _assert_nothing_secret([*sink.files(), *tmp_path.glob("costdesk.db*"), dump])


def test_database_sink_ingests_directly(server: FakeOpenAI, tmp_path: Path) -> None:
    from db.engine import make_engine

    db_url = f"sqlite:///{tmp_path / 'costdesk.db'}"
    sink = DatabaseSink(make_engine(db_url), batch_size=3, flush_interval_s=60)
    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
    instrument(client, sink, project="support", feature="triage")
    _run_every_kind(client, server)
    # One batch of 3 is stored in the background; 2 still wait for the next batch.
    assert _wait_for(lambda: _stored_cost(db_url)[0] == 3)
    sink.close()
    count, total_usd, _by_model = _stored_cost(db_url)
    assert count == 5 and total_usd == EXPECTED_USD
    with make_engine(db_url).connect() as conn:
        statuses = sorted(r[0] for r in conn.execute(text("SELECT status FROM request_log")))
        tags = set(conn.execute(text("SELECT project, feature FROM request_log")).all())
    assert statuses == [200, 200, 200, 200, 500]  # the interrupted stream counts as failed
    assert tags == {("support", "triage")}
    make_engine(db_url).dispose()
    dump = _sqlite_dump(tmp_path / "costdesk.db", tmp_path / "dump.sql")
    _assert_nothing_secret([*tmp_path.glob("costdesk.db*"), dump])


# --------------------------------------------------------------------------- a sink in trouble


def _wait_for(done: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Poll `done` until it is true or `timeout_s` passes."""
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def _locked(db_path: Path) -> sqlite3.Connection:
    """Another connection holding the database's write lock (BEGIN EXCLUSIVE)."""
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    return locker


def test_locked_database_never_slows_the_call(server: FakeOpenAI, tmp_path: Path) -> None:
    from db.engine import make_engine

    db_url = f"sqlite:///{tmp_path / 'costdesk.db'}"
    sink = DatabaseSink(make_engine(db_url), batch_size=1, flush_interval_s=0.2)
    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
    instrument(client, sink)
    locker = _locked(tmp_path / "costdesk.db")
    locked_at = time.monotonic()
    try:
        for _ in range(3):
            started = time.monotonic()
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            assert time.monotonic() - started < 2.0  # not the 30 s of the busy timeout
        time.sleep(max(0.0, 5.0 - (time.monotonic() - locked_at)))  # hold the lock 5 s
        assert _stored_cost(db_url)[0] == 0  # WAL readers still read: nothing got in yet
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert sink.flush(timeout_s=60)
    assert _stored_cost(db_url)[0] == 3 and sink.dropped == 0
    sink.close()
    make_engine(db_url).dispose()


def test_full_queue_drops_and_counts_instead_of_waiting(
    server: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from db.engine import make_engine

    records: list[dict] = []
    client_for(server, records).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    db_url = f"sqlite:///{tmp_path / 'costdesk.db'}"
    sink = DatabaseSink(make_engine(db_url), batch_size=1, flush_interval_s=0.2, max_queue=2)
    locker = _locked(tmp_path / "costdesk.db")
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="costdesk.openai_logging"):
            for n in range(10):
                sink.write({**records[0], "request_id": f"req_{n:04d}"})
        assert time.monotonic() - started < 0.5
        assert 7 <= sink.dropped <= 8  # the writer holds one, the queue two
        assert "dropped" in caplog.text
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert sink.flush(timeout_s=60)
    assert _stored_cost(db_url)[0] == 10 - sink.dropped
    sink.close()
    make_engine(db_url).dispose()


def test_jsonl_line_after_a_half_written_one_stays_readable(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    path = tmp_path / "openai.jsonl"
    path.write_bytes(b'{"request_id":"req_ok"}\n{"request_id":"req_cut","model":"gpt-4')
    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
    instrument(client, path)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.embeddings.create(model="text-embedding-3-small", input="x")
    lines = path.read_bytes().split(b"\n")
    assert lines[1] == b'{"request_id":"req_cut","model":"gpt-4' and lines[-1] == b""
    written = [json.loads(line) for line in lines[2:-1]]
    assert [r["endpoint"] for r in written] == ["chat", "embeddings"]


def test_instrument_with_an_unwritable_folder_warns_and_calls_work(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be")
    client = openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0)
    with pytest.warns(RuntimeWarning, match="calls go on unlogged"):
        instrument(client, blocker / "logs" / "openai.jsonl")
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.usage.prompt_tokens == 1200
    assert blocker.read_text().startswith("a file")
