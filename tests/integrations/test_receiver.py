"""The live receiver on a loopback port: the real OpenTelemetry OTLP/HTTP exporter and httpx
against it, on a real SQLite file and a real PostgreSQL.

Prices per million tokens: gpt-4o-mini 0.15 in / 0.075 cached / 0.60 out; gpt-4o 2.50 / 10.00.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import Engine, func, select

from db.budgets.clock import as_utc
from db.engine import make_engine
from db.ingest import ingest_file
from db.keys import create_key, list_keys, revoke_key
from db.models import DailyRollup, RequestLog, Upload
from integrations.receiver.body import body_limit
from integrations.receiver.server import running
from tests.actors import ADMIN
from tests.integrations.genai_spans import chat, otlp_json, protobuf, spans

LIMIT = 256 * 1024
PROTO = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
LOG = RequestLog.__table__
FLAT = {"timestamp": "2025-06-01T10:00:00Z", "model": "gpt-4o-mini", "input_tokens": 1000,
        "output_tokens": 200}  # fmt: skip
TWO_CALLS = (  # 600 x 0.15 + 400 x 0.075 + 200 x 0.60 = 240 micro-dollars;
    chat("gpt-4o-mini", "chatcmpl-a1", 1000, 200, cached=400),
    chat("gpt-4o", "chatcmpl-a2", 2000, 500),  # 2000 x 2.50 + 500 x 10.00 = 10,000 micro-dollars
)
TWO_CALLS_PUSD = 10_240 * 10**6  # 10,240 micro-dollars = $0.01024


@pytest.fixture
def url(engine: Engine) -> Iterator[str]:
    """The receiver serving the test's database on a free loopback port."""
    with running(engine, limit=LIMIT) as base:
        yield base


@pytest.fixture
def key(engine: Engine) -> str:
    """A live key whose project fills records that name none."""
    return create_key(engine, name="web", project="shop", actor=ADMIN)[1]


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def exporter(url: str, key: str, **options: object) -> OTLPSpanExporter:
    return OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers=bearer(key), **options)


def rows(engine: Engine) -> list[tuple]:
    """Stored requests, every column but the surrogate ids, in a backend-neutral form."""
    columns = [c for c in LOG.columns if c.name not in ("id", "upload_id")]
    with engine.connect() as conn:
        found = conn.execute(select(*columns).order_by(LOG.c.request_id)).all()
    return [tuple(as_utc(v) if isinstance(v, datetime) else v for v in row) for row in found]


def stored_cost(engine: Engine) -> tuple[int, int]:
    """(requests, cost in pico-dollars) stored."""
    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count(), func.sum(LOG.c.cost_pusd))).one())


def uploads(engine: Engine) -> list[tuple]:
    table = Upload.__table__
    with engine.connect() as conn:
        query = select(table.c.file_name, table.c.source, table.c.accepted).order_by(table.c.id)
        return [tuple(r) for r in conn.execute(query)]


# ---------------------------------------------------------------------------------- OTLP


def test_the_sdk_exporter_stores_priced_calls_once(engine: Engine, url: str, key: str) -> None:
    finished = spans(*TWO_CALLS)
    assert exporter(url, key).export(finished) == SpanExportResult.SUCCESS
    assert stored_cost(engine) == (2, TWO_CALLS_PUSD)
    # the same batch again (an exporter's retry), gzip-compressed this time: nothing added
    again = exporter(url, key, compression=Compression.Gzip).export(finished)
    assert again == SpanExportResult.SUCCESS and stored_cost(engine) == (2, TWO_CALLS_PUSD)
    day = datetime.now(UTC).date().isoformat()
    assert uploads(engine) == [(f"live/web/{day}.pb", "otlp:shop", 2)]  # one rolling upload
    with engine.connect() as conn:
        projects = conn.execute(select(LOG.c.project).distinct()).scalars().all()
    assert projects == ["checkout"]  # the resource's service.name wins over the key's project
    assert list_keys(engine)[0].last_used_at is not None


def test_sdk_environment_variables_reach_the_receiver(
    engine: Engine, url: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{key}")
    assert OTLPSpanExporter().export(spans(*TWO_CALLS)) == SpanExportResult.SUCCESS
    assert stored_cost(engine) == (2, TWO_CALLS_PUSD)


def test_keys_missing_wrong_or_revoked_are_refused(engine: Engine, url: str, key: str) -> None:
    finished = spans(*TWO_CALLS)
    body = protobuf(finished)
    missing = httpx.post(f"{url}/v1/traces", content=body, headers=PROTO)
    assert missing.status_code == 401 and missing.headers["content-type"] == PROTO["content-type"]
    assert Status.FromString(missing.content).code == 16  # UNAUTHENTICATED
    other = key[:-1] + ("1" if key.endswith("0") else "0")  # another key, whatever the last digit
    wrong = httpx.post(f"{url}/v1/traces", content=otlp_json(finished),
                       headers={**JSON, **bearer(other)})  # fmt: skip
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["message"]
    not_bearer = httpx.post(f"{url}/v1/ingest", content=b"{}", headers={"authorization": key})
    assert not_bearer.status_code == 401 and "Bearer" in not_bearer.json()["error"]
    revoke_key(engine, name="web", actor=ADMIN)
    assert exporter(url, key).export(finished) == SpanExportResult.FAILURE
    revoked = httpx.post(f"{url}/v1/traces", content=body, headers={**PROTO, **bearer(key)})
    assert revoked.status_code == 401
    assert stored_cost(engine) == (0, None) and uploads(engine) == []


def test_bodies_over_the_limit_are_refused_413(engine: Engine, url: str, key: str) -> None:
    headers = {**JSON, **bearer(key)}
    plain = httpx.post(f"{url}/v1/traces", content=b" " * (LIMIT + 1), headers=headers)
    assert plain.status_code == 413
    assert "limit of 256 KiB" in plain.json()["message"]
    chunked = httpx.post(f"{url}/v1/ingest", content=iter([b" " * 100_000] * 3), headers=headers)
    assert chunked.status_code == 413  # 300,000 bytes without a Content-Length
    bomb = gzip.compress(b"\n" * (4 * LIMIT))  # about 1 KiB that inflates to 1 MiB
    inflated = httpx.post(f"{url}/v1/ingest", content=bomb,
                          headers={**headers, "content-encoding": "gzip"})  # fmt: skip
    assert len(bomb) < 4096 and inflated.status_code == 413
    assert uploads(engine) == []


def test_the_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTDESK_RECEIVER_MAX_BODY_MB", raising=False)
    assert body_limit() == 20 * 1024 * 1024
    monkeypatch.setenv("COSTDESK_RECEIVER_MAX_BODY_MB", "0.5")
    assert body_limit() == 512 * 1024
    for bad in ("lots", "0", "-1", "nan"):
        monkeypatch.setenv("COSTDESK_RECEIVER_MAX_BODY_MB", bad)
        with pytest.raises(ValueError, match="COSTDESK_RECEIVER_MAX_BODY_MB"):
            body_limit()


def test_malformed_bodies_are_refused_400_with_the_first_errors(
    engine: Engine, url: str, key: str
) -> None:
    proto, json_ = {**PROTO, **bearer(key)}, {**JSON, **bearer(key)}
    garbage = httpx.post(f"{url}/v1/traces", content=b"\x0a\x05garbage", headers=proto)
    assert garbage.status_code == 400 and Status.FromString(garbage.content).code == 3
    not_json = httpx.post(f"{url}/v1/traces", content=b"{not json", headers=json_)
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["message"]
    negative = spans(chat("gpt-4o-mini", "n1", -5, 10), chat("gpt-4o-mini", "n2", 10, -1))
    every_bad = httpx.post(f"{url}/v1/traces", content=otlp_json(negative), headers=json_)
    assert every_bad.status_code == 400
    assert every_bad.json()["message"] == (
        "line 1: gen_ai.usage.input_tokens: must not be negative (got -5); "
        "line 1: gen_ai.usage.output_tokens: must not be negative (got -1)"
    )
    broken = httpx.post(f"{url}/v1/traces", content=gzip.compress(protobuf(negative))[:-9],
                        headers={**proto, "content-encoding": "gzip"})  # fmt: skip
    assert broken.status_code == 400 and "cut short" in Status.FromString(broken.content).message
    brotli = httpx.post(
        f"{url}/v1/traces", content=b"x", headers={**proto, "content-encoding": "br"}
    )
    assert brotli.status_code == 415
    xml = httpx.post(
        f"{url}/v1/traces", content=b"<a/>", headers={"content-type": "text/xml", **bearer(key)}
    )
    assert xml.status_code == 415 and "application/x-protobuf" in xml.json()["message"]
    assert stored_cost(engine) == (0, None)


def test_partly_valid_exports_get_otlps_partial_success(engine: Engine, url: str, key: str) -> None:
    batch = spans(*TWO_CALLS, chat("gpt-4o-mini", "bad", 10, -1))
    answer = httpx.post(
        f"{url}/v1/traces", content=protobuf(batch), headers={**PROTO, **bearer(key)}
    )
    assert answer.status_code == 200
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    assert partial.rejected_spans == 1
    assert (
        partial.error_message == "line 1: gen_ai.usage.output_tokens: must not be negative (got -1)"
    )
    assert stored_cost(engine) == (2, TWO_CALLS_PUSD)
    changed = spans(chat("gpt-4o-mini", "chatcmpl-a1", 1000, 999), chat("house-llm", "h1", 5, 5))
    again = httpx.post(
        f"{url}/v1/traces", content=otlp_json(changed), headers={**JSON, **bearer(key)}
    )
    found = again.json()["partialSuccess"]
    assert found["rejectedSpans"] == "1"  # the conflicting copy of chatcmpl-a1; house-llm is kept
    assert "first copy is kept): chatcmpl-a1" in found["errorMessage"]
    assert "stored without a price (their cost is not counted): house-llm" in found["errorMessage"]
    assert stored_cost(engine) == (3, TWO_CALLS_PUSD)
    fresh = protobuf(spans(chat("gpt-4o-mini", "chatcmpl-a4", 1000, 200)))
    clean = httpx.post(f"{url}/v1/traces", content=fresh, headers={**PROTO, **bearer(key)})
    assert clean.status_code == 200 and clean.content == b""  # an empty ExportTraceServiceResponse


# ------------------------------------------------------------------- same as a file ingest


def test_a_batch_then_its_file_adds_nothing_and_stores_what_the_file_would(
    engine: Engine, url: str, key: str, tmp_path: Path
) -> None:
    finished = spans(*TWO_CALLS, chat("gpt-4o-mini", "chatcmpl-a3", 300, 30), service=None)
    assert exporter(url, key).export(finished) == SpanExportResult.SUCCESS
    path = tmp_path / "batch.pb"
    path.write_bytes(protobuf(finished))
    again = ingest_file(engine, path, project="shop", actor=ADMIN)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 3, 0)
    alone = make_engine(f"sqlite:///{tmp_path / 'file.db'}")
    assert ingest_file(alone, path, project="shop", actor=ADMIN).accepted == 3
    assert rows(engine) == rows(alone)
    # 300 x 0.15 + 30 x 0.60 = 63 micro-dollars more; no service.name: the key's project
    assert stored_cost(engine) == (3, TWO_CALLS_PUSD + 63 * 10**6)
    with engine.connect() as conn:
        assert conn.execute(select(LOG.c.project).distinct()).scalars().all() == ["shop"]


def test_a_file_then_the_same_json_batch_adds_nothing(engine: Engine, url: str, key: str) -> None:
    body = otlp_json(spans(*TWO_CALLS))
    assert (
        ingest_file(
            engine, io.BytesIO(body), file_name="x.json", project="shop", actor=ADMIN
        ).accepted
        == 2
    )
    answer = httpx.post(f"{url}/v1/traces", content=body, headers={**JSON, **bearer(key)})
    assert answer.status_code == 200 and answer.json() == {}
    assert stored_cost(engine) == (2, TWO_CALLS_PUSD)


# ------------------------------------------------------------------------------ /v1/ingest


def lines(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_log_batches_in_flat_json_lines(engine: Engine, url: str, key: str) -> None:
    body = lines({**FLAT, "request_id": "f1"}, {**FLAT, "request_id": "f2"},
                 {**FLAT, "request_id": "f3", "input_tokens": 80.5})  # fmt: skip
    answer = httpx.post(f"{url}/v1/ingest", content=body, headers=bearer(key))
    assert answer.status_code == 200
    report = answer.json()
    # two calls of 1000 x 0.15 + 200 x 0.60 = 270 micro-dollars each
    assert (report["status"], report["accepted"], report["cost_usd"]) == ("partial", 2, "0.00054")
    assert report["errors"] == [{"file": f"live/web/{datetime.now(UTC).date()}", "line": 3,
                                 "field": "input_tokens",
                                 "reason": "must be a non-negative whole number (got 80.5)"}]  # fmt: skip
    assert report["projects"] == ["shop"]
    assert (
        ingest_file(
            engine, io.BytesIO(body), file_name="f.jsonl", project="shop", actor=ADMIN
        ).accepted
        == 0
    )
    named = httpx.post(f"{url}/v1/ingest?format=flat", content=lines({**FLAT, "request_id": "f4"}),
                       headers=bearer(key))  # fmt: skip
    assert named.json()["status"] == "ok" and stored_cost(engine) == (3, 810 * 10**6)
    unknown = httpx.post(f"{url}/v1/ingest?format=xml", content=body, headers=bearer(key))
    assert unknown.status_code == 400 and "unknown format 'xml'" in unknown.json()["error"]
    all_bad = httpx.post(f"{url}/v1/ingest", content=lines({**FLAT, "request_id": "b", "input_tokens": -1}),
                         headers=bearer(key))  # fmt: skip
    assert all_bad.status_code == 400 and all_bad.json()["errors"][0]["line"] == 1
    empty = httpx.post(f"{url}/v1/ingest", content=b"", headers=bearer(key))
    assert empty.status_code == 400 and empty.json()["error"] == "the file is empty"


def test_health_needs_no_key(url: str) -> None:
    answer = httpx.get(f"{url}/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


# ------------------------------------------------------------------------------ concurrency


def test_concurrent_clients_lose_and_double_nothing(engine: Engine, url: str) -> None:
    keys = [
        create_key(engine, name="web", actor=ADMIN)[1],
        create_key(engine, name="jobs", project="batch", actor=ADMIN)[1],
    ]
    chance = random.Random(7)
    batches, expected_pusd = [], 0
    for b in range(12):
        calls = []
        for _ in range(15):
            tokens_in, tokens_out = chance.randint(1, 5000), chance.randint(1, 800)
            expected_pusd += tokens_in * 150_000 + tokens_out * 600_000  # micro-$ per M tokens
            calls.append(chat("gpt-4o-mini", f"r{chance.getrandbits(64):x}", tokens_in, tokens_out))
        batches.append((keys[b % 2], spans(*calls)))
    results: list[SpanExportResult] = []

    def client(n: int) -> None:
        for b in range(n, len(batches), 6):  # each batch once, and again by the next client
            for key, finished in (batches[b], batches[(b + 1) % len(batches)]):
                results.append(exporter(url, key).export(finished))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SpanExportResult.SUCCESS] * 24
    assert stored_cost(engine) == (180, expected_pusd)
    with engine.connect() as conn:
        rollup = conn.execute(select(func.sum(DailyRollup.__table__.c.cost_pusd))).scalar()
    assert rollup == expected_pusd
    day = datetime.now(UTC).date()
    assert sorted(uploads(engine)) == [(f"live/jobs/{day}.pb", "otlp:batch", 90),
                                       (f"live/web/{day}.pb", "otlp", 90)]  # fmt: skip
