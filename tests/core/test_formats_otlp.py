"""OpenTelemetry traces: GenAI, OpenInference and Vercel AI SDK spans as OTLP/JSON and protobuf.

Samples follow the OpenTelemetry GenAI semantic conventions, the OpenInference spec and the AI
SDK's telemetry attributes. Costs are checked by hand against the bundled price book's rates
on 2025-06-01 (USD per million tokens):
    o4-mini 1.10 in / 0.275 cached / 4.40 out     gpt-4o 2.50 / 1.25 / 10.00
    gpt-4o-mini 0.15 / 0.075 / 0.60                text-embedding-3-small 0.02
    claude-sonnet-4 3.00 / 0.30 read / 3.75 write / 15.00
    claude-3-5-haiku 0.80 / 4.00 out               gemini-2.5-flash 0.30 / 2.50 out
"""

from __future__ import annotations

import base64
import gzip
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from core.logs import FileFormatError, LogFile, file_shape
from core.pricing import PriceBook
from tests.core.gateway_samples import cost_usd as cost
from tests.core.gateway_samples import counts as tokens

BOOK = PriceBook.from_snapshot()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = 1748772000 * 10**9  # 2025-06-01T10:00:00Z in Unix nanoseconds
TRACE = "5b8efff798038103d269b633813fc60c"


# ---------------------------------------------------------------------------------------------
# Building OTLP/JSON the way exporters write it


def value(v: object) -> dict:
    """An OTLP AnyValue; integers as decimal strings, as OTLP/JSON writes 64-bit ints."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [value(x) for x in v]}}
    return {"stringValue": v}


def span(n: int, attrs: dict, *, ms: int = 1250, error: bool = False, **extra: object) -> dict:
    """Span number `n` of the trace, starting `n` seconds after T0 and lasting `ms`."""
    start = T0 + n * 10**9
    return {
        "traceId": TRACE,
        "spanId": f"{n:016x}",
        "name": str(attrs.get("gen_ai.operation.name", "span")),
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + ms * 10**6),
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()],
        "status": {"code": 2, "message": "boom"} if error else {},
        **extra,
    }


def export(*spans: dict, service: str | None = "checkout", **resource: object) -> dict:
    """One ExportTraceServiceRequest in OTLP/JSON."""
    labels = {**({"service.name": service} if service else {}), **resource}
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": k, "value": value(v)} for k, v in labels.items()]
                },
                "scopeSpans": [{"scope": {"name": "test"}, "spans": list(spans)}],
            }
        ]
    }


def read(data: bytes, **options: object) -> tuple[LogFile, list[dict], list]:
    """A file read through LogFile: the file, its events as dicts, and rejected (line, field,
    reason)."""
    log = LogFile(io.BytesIO(data), **options)
    events, rejected = [], []
    for block in log.blocks():
        names = list(block.events)
        for row in zip(*(block.events[n].tolist() for n in names), strict=True):
            event = dict(zip(names, row, strict=True))
            event["ts"] = EPOCH + timedelta(microseconds=event["ts"])
            events.append(event)
        rejected += [(line, err.field, err.reason) for line, err in block.rejected]
    return log, events, rejected


def events_of(*spans: dict, **resource: object) -> list[dict]:
    """The events of one export request holding `spans`; nothing may be rejected."""
    _, events, rejected = read(orjson.dumps(export(*spans, **resource)))
    assert not rejected, rejected
    return events


# ---------------------------------------------------------------------------------------------
# Samples

CHAT = {  # a reasoning model's chat call with cached input
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "o4-mini",
    "gen_ai.response.model": "o4-mini-2025-04-16",
    "gen_ai.response.id": "chatcmpl-BxJk9Q2",
    "gen_ai.request.max_tokens": 4096,
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 2000,
    "gen_ai.usage.cache_read.input_tokens": 1536,
    "gen_ai.usage.output_tokens": 900,
    "gen_ai.usage.reasoning.output_tokens": 640,
    "openai.response.service_tier": "default",
    "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]',
    "gen_ai.output.messages": '[{"role": "assistant", "parts": [{"type": "text", "content": "yo"}]}]',
}
EMBEDDINGS = {
    "gen_ai.operation.name": "embeddings",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "text-embedding-3-small",
    "gen_ai.usage.input_tokens": 5000,
}
CLAUDE = {  # Anthropic through the GenAI conventions: input includes the cache parts
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-20250514",
    "gen_ai.usage.input_tokens": 10000,
    "gen_ai.usage.cache_read.input_tokens": 8000,
    "gen_ai.usage.cache_creation.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 500,
}
# 1000 uncached x 3.00 + 8000 read x 0.30 + 1000 write x 3.75 + 500 out x 15.00
# = 3000 + 2400 + 3750 + 7500 micro-dollars
CLAUDE_COST = Decimal("0.01665")


def test_chat_with_cached_and_reasoning_tokens() -> None:
    (event,) = events_of(span(1, CHAT))
    assert tokens(event) == (2000, 1536, 0, 900, 640)
    assert event["ts"] == datetime(2025, 6, 1, 10, 0, 1, tzinfo=UTC)
    assert event["request_id"] == "chatcmpl-BxJk9Q2"
    assert (event["model"], event["provider"], event["project"]) == (
        "o4-mini-2025-04-16",
        "openai",
        "checkout",
    )
    assert (event["latency_ms"], event["status"], event["finish_reason"]) == (1250, 200, "stop")
    assert (event["max_tokens"], event["service_tier"]) == (4096, "default")
    # 464 uncached x 1.10 + 1536 cached x 0.275 + 900 out x 4.40 (reasoning inside output)
    # = 510.4 + 422.4 + 3960 micro-dollars
    assert cost(event) == Decimal("0.0048928")


def test_embeddings_span_counts_input_only() -> None:
    (event,) = events_of(span(2, EMBEDDINGS))
    assert tokens(event) == (5000, 0, 0, 0, 0)
    assert event["request_id"] == f"{TRACE}:{2:016x}"  # no response id: trace and span id
    assert cost(event) == Decimal("0.0001")  # 5000 x 0.02


def test_failed_span_with_status_2_and_error_type() -> None:
    failed = {k: v for k, v in CHAT.items() if not k.startswith("gen_ai.usage.")}
    failed["error.type"] = "openai.RateLimitError"
    (event,) = events_of(span(3, failed, error=True))
    assert (event["status"], event["error_type"]) == (429, "openai.RateLimitError")
    assert tokens(event) == (0, 0, 0, 0, 0)  # no usage on a failed call: zero, not rejected
    assert cost(event) == 0
    without_type = {k: v for k, v in EMBEDDINGS.items() if k != "gen_ai.usage.input_tokens"}
    exception = {"name": "exception", "attributes": [
        {"key": "exception.type", "value": value("httpx.ConnectTimeout")}]}  # fmt: skip
    (event,) = events_of(span(4, without_type, error=True, events=[exception]))
    assert (event["status"], event["error_type"]) == (500, "httpx.ConnectTimeout")


def test_an_agent_span_does_not_double_count_its_children() -> None:
    agent = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "refunds",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 3000,  # the sum of its children, repeated
        "gen_ai.usage.output_tokens": 240,
    }
    first_call = {**CHAT, "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o",
                  "gen_ai.response.id": "chatcmpl-1", "gen_ai.usage.input_tokens": 1200,
                  "gen_ai.usage.cache_read.input_tokens": 0, "gen_ai.usage.output_tokens": 150,
                  "gen_ai.usage.reasoning.output_tokens": 0}  # fmt: skip
    second_call = {**first_call, "gen_ai.response.id": "chatcmpl-2",
                   "gen_ai.usage.input_tokens": 1800, "gen_ai.usage.cache_read.input_tokens": 1024,
                   "gen_ai.usage.output_tokens": 90}  # fmt: skip
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.arguments": '{"order": 42}'}  # fmt: skip
    parent = {"parentSpanId": f"{1:016x}"}
    events = events_of(span(1, agent), span(2, first_call, **parent), span(3, tool, **parent),
                       span(4, second_call, **parent))  # fmt: skip
    assert [e["request_id"] for e in events] == ["chatcmpl-1", "chatcmpl-2"]
    # 1200 x 2.50 + 150 x 10 = 4500; 776 x 2.50 + 1024 x 1.25 + 90 x 10 = 1940 + 1280 + 900
    assert sum(map(cost, events)) == Decimal("0.00862")


def test_older_attribute_names() -> None:
    older = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-3-5-haiku-20241022",
        "gen_ai.usage.prompt_tokens": 3000,
        "gen_ai.usage.completion_tokens": 400,
        "gen_ai.prompt.0.content": "hello",  # flattened content: one content field
        "gen_ai.completion.0.content": "hi",
    }
    no_operation = {k: v for k, v in older.items() if k != "gen_ai.operation.name"}
    log, events, _ = read(orjson.dumps(export(span(1, older), span(2, no_operation))))
    assert [tokens(e) for e in events] == [(3000, 0, 0, 400, 0)] * 2
    assert events[0]["provider"] == "anthropic"
    assert cost(events[0]) == Decimal("0.004")  # 3000 x 0.80 + 400 x 4.00 = 2400 + 1600
    assert log.scrub.as_dict() == {"gen_ai.completion": 2, "gen_ai.prompt": 2}


def numbers(node: object) -> object:
    """OTLP/JSON with every 64-bit integer written as a JSON number instead of text."""
    if isinstance(node, list):
        return [numbers(item) for item in node]
    if not isinstance(node, dict):
        return node
    integers = ("intValue", "startTimeUnixNano", "endTimeUnixNano")
    return {k: int(v) if k in integers else numbers(v) for k, v in node.items()}


def test_64_bit_integers_as_strings_or_numbers() -> None:
    as_text = export(span(1, CHAT))
    assert b'"intValue":"2000"' in orjson.dumps(as_text)
    assert events_of(span(1, CHAT)) == read(orjson.dumps(numbers(as_text)))[1]


def test_cache_counts_left_out_of_input_are_added() -> None:
    """An input smaller than its own cache parts cannot include them (the uncached count)."""
    exclusive = {**CLAUDE, "gen_ai.usage.input_tokens": 1000}
    inclusive, added = events_of(span(1, CLAUDE), span(2, exclusive))
    assert tokens(inclusive) == tokens(added) == (10000, 8000, 1000, 500, 0)
    assert cost(inclusive) == cost(added) == CLAUDE_COST


def test_openinference_spans() -> None:
    llm = {
        "openinference.span.kind": "LLM",
        "llm.provider": "anthropic",
        "llm.system": "anthropic",
        "llm.model_name": "claude-sonnet-4-20250514",
        "llm.invocation_parameters": '{"max_tokens": 1024, "temperature": 0.2}',
        "llm.token_count.prompt": 10000,  # input + cache writes + cache reads
        "llm.token_count.prompt_details.cache_read": 8000,
        "llm.token_count.prompt_details.cache_write": 1000,
        "llm.token_count.completion": 500,
        "llm.token_count.total": 10500,
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "where is my order?",
        "llm.output_messages.0.message.content": "on its way",
        "input.value": '{"messages": []}',
        "user.id": "u-17",
    }
    older = {**llm, "llm.token_count.prompt": 1000}  # uncached only, as older versions wrote
    chain = {"openinference.span.kind": "CHAIN", "llm.token_count.prompt": 10000,
             "llm.token_count.completion": 500}  # fmt: skip
    embedding = {"openinference.span.kind": "EMBEDDING",
                 "embedding.model_name": "text-embedding-3-small", "llm.token_count.prompt": 5000,
                 "embedding.embeddings.0.embedding.text": "order 42"}  # fmt: skip
    data = orjson.dumps(export(span(1, chain), span(2, llm), span(3, older), span(4, embedding),
                               **{"openinference.project.name": "support-bot"}))  # fmt: skip
    log, events, rejected = read(data)
    assert not rejected and len(events) == 3
    call, old, embed = events
    assert tokens(call) == tokens(old) == (10000, 8000, 1000, 500, 0)
    assert cost(call) == cost(old) == CLAUDE_COST
    assert (call["project"], call["user"], call["max_tokens"]) == ("support-bot", "u-17", 1024)
    assert call["request_id"] == f"{TRACE}:{2:016x}"
    assert tokens(embed) == (5000, 0, 0, 0, 0) and cost(embed) == Decimal("0.0001")
    assert log.scrub.as_dict() == {"embedding.embeddings": 1, "input.value": 2,
                                   "llm.input_messages": 2, "llm.output_messages": 2}  # fmt: skip


VERCEL_V5 = {
    "ai.operationId": "ai.generateText.doGenerate",
    "ai.model.provider": "openai.chat",
    "ai.model.id": "gpt-4o-mini",
    "ai.response.model": "gpt-4o-mini-2024-07-18",
    "ai.response.id": "chatcmpl-v5",
    "ai.response.finishReason": "stop",
    "ai.settings.maxOutputTokens": 800,
    "ai.telemetry.functionId": "summarise-ticket",
    "ai.usage.inputTokens": 3000,  # OpenAI's prompt_tokens: includes the cached 2048
    "ai.usage.cachedInputTokens": 2048,
    "ai.usage.outputTokens": 400,
    "ai.prompt.messages": '[{"role":"user","content":"summarise"}]',
    "ai.response.text": "done",
    "gen_ai.system": "openai.chat",
    "gen_ai.usage.input_tokens": 3000,
}


def test_vercel_ai_sdk_provider_calls() -> None:
    outer = {**VERCEL_V5, "ai.operationId": "ai.generateText"}  # sums its steps: left out
    v5_anthropic = {
        "ai.operationId": "ai.streamText.doStream",
        "ai.model.provider": "anthropic.messages",
        "ai.model.id": "claude-sonnet-4-20250514",
        "ai.usage.inputTokens": 1000,  # Anthropic's input_tokens: without cache reads/writes
        "ai.usage.cachedInputTokens": 8000,
        "ai.usage.outputTokens": 500,
        "ai.response.providerMetadata": '{"anthropic":{"cacheCreationInputTokens":1000}}',
    }
    v4_anthropic = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "anthropic.messages",
        "ai.model.id": "claude-sonnet-4-20250514",
        "ai.usage.promptTokens": 1000,
        "ai.usage.completionTokens": 500,
        "ai.response.providerMetadata": '{"anthropic":{"cacheCreationInputTokens":1000,'
        '"cacheReadInputTokens":8000}}',
    }
    v6_anthropic = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "anthropic.messages",
        "ai.model.id": "claude-sonnet-4-20250514",
        "ai.usage.inputTokens": 9500,  # total: 1000 uncached + 8000 read + 500 written
        "ai.usage.inputTokenDetails.noCacheTokens": 1000,
        "ai.usage.inputTokenDetails.cacheReadTokens": 8000,
        "ai.usage.inputTokenDetails.cacheWriteTokens": 500,
        "ai.usage.cachedInputTokens": 8000,
        "ai.usage.outputTokens": 300,
        "ai.usage.outputTokenDetails.reasoningTokens": 100,
    }
    v5_google = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "google.generative-ai",
        "ai.model.id": "gemini-2.5-flash",
        "ai.usage.inputTokens": 1200,
        "ai.usage.outputTokens": 300,  # candidates only: thoughts are apart
        "ai.usage.reasoningTokens": 700,
    }
    embed = {"ai.operationId": "ai.embedMany.doEmbed", "ai.model.provider": "openai.embedding",
             "ai.model.id": "text-embedding-3-small", "ai.usage.tokens": 5000,
             "ai.values": ["a", "b"]}  # fmt: skip
    spans = [outer, VERCEL_V5, v5_anthropic, v4_anthropic, v6_anthropic, v5_google, embed]
    log, events, rejected = read(orjson.dumps(export(*(span(n, s) for n, s in enumerate(spans)))))
    assert not rejected
    openai, anthropic5, anthropic4, anthropic6, google, embedding = events
    assert tokens(openai) == (3000, 2048, 0, 400, 0)
    assert (openai["request_id"], openai["model"], openai["provider"]) == (
        "chatcmpl-v5",
        "gpt-4o-mini-2024-07-18",
        "openai",
    )
    assert (openai["feature"], openai["max_tokens"], openai["finish_reason"]) == (
        "summarise-ticket",
        800,
        "stop",
    )
    # 952 x 0.15 + 2048 x 0.075 + 400 x 0.60 = 142.8 + 153.6 + 240 micro-dollars
    assert cost(openai) == Decimal("0.0005364")
    assert tokens(anthropic5) == tokens(anthropic4) == (10000, 8000, 1000, 500, 0)
    assert cost(anthropic5) == cost(anthropic4) == CLAUDE_COST
    assert tokens(anthropic6) == (9500, 8000, 500, 300, 100)
    # 1000 x 3.00 + 8000 x 0.30 + 500 x 3.75 + 300 x 15.00 = 3000 + 2400 + 1875 + 4500
    assert cost(anthropic6) == Decimal("0.011775")
    assert tokens(google) == (1200, 0, 0, 1000, 700)
    assert cost(google) == Decimal("0.00286")  # 1200 x 0.30 + 1000 x 2.50 = 360 + 2500
    assert tokens(embedding) == (5000, 0, 0, 0, 0) and cost(embedding) == Decimal("0.0001")
    assert log.scrub.as_dict() == {"ai.prompt.messages": 1, "ai.response.text": 1, "ai.values": 1}


# ---------------------------------------------------------------------------------------------
# Files: JSON, JSON lines, gzip, protobuf


def proto_json(request: dict) -> dict:
    """OTLP/JSON as protobuf's JSON mapping wants it (ids in base64, not hex)."""
    text = orjson.dumps(request).decode()
    for key in ("traceId", "spanId", "parentSpanId"):
        for found in set(text.split(f'"{key}":"')[1:]):
            hex_id = found.split('"', 1)[0]
            encoded = base64.b64encode(bytes.fromhex(hex_id)).decode()
            text = text.replace(f'"{key}":"{hex_id}"', f'"{key}":"{encoded}"')
    return orjson.loads(text)


def to_protobuf(request: dict) -> bytes:
    """An OTLP/JSON request encoded as an ExportTraceServiceRequest."""
    message = json_format.ParseDict(proto_json(request), ExportTraceServiceRequest())
    return message.SerializeToString()


REQUESTS = [export(span(1, CHAT)), export(span(2, EMBEDDINGS), span(3, CLAUDE)), export()]


def test_one_json_document_and_json_lines_of_requests() -> None:
    pretty = orjson.dumps(REQUESTS[1], option=orjson.OPT_INDENT_2)
    log, events, _ = read(pretty, file_name="traces.json")
    assert (log.shape, log.format.name, log.source) == ("document", "otlp", "otlp")
    assert [e["line"] for e in events] == [1, 1]
    lines = b"\n".join(map(orjson.dumps, REQUESTS))
    log, events, _ = read(lines)
    assert log.shape == "lines"
    assert [(e["line"], e["input_tokens"]) for e in events] == [(1, 2000), (2, 5000), (2, 10000)]
    _, unzipped, _ = read(gzip.compress(lines), file_name="traces.jsonl.gz")
    assert unzipped == events


def test_protobuf_files_one_message_or_length_prefixed() -> None:
    _, expected, _ = read(b"\n".join(map(orjson.dumps, REQUESTS)))
    single = to_protobuf(REQUESTS[1])
    assert file_shape(single, "traces.pb") == file_shape(single) == "protobuf"  # binary
    log, events, _ = read(single, file_name="traces.pb")
    assert (log.shape, log.format.name, log.source) == ("protobuf", "otlp_proto", "otlp")
    assert events == [{**e, "line": 1} for e in expected if e["line"] == 2]
    framed = b"".join(len(m).to_bytes(4, "big") + m for m in map(to_protobuf, REQUESTS))
    _, events, _ = read(gzip.compress(framed), file_name="collector-out", fmt="otlp_proto")
    assert events == expected


def test_file_shape_problems() -> None:
    with pytest.raises(FileFormatError, match="binary"):
        file_shape(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00\x00\x00", "image.bin")
    with pytest.raises(FileFormatError, match="not protobuf"):
        LogFile(io.BytesIO(to_protobuf(REQUESTS[0])), file_name="t.pb", fmt="otlp")
    with pytest.raises(FileFormatError, match="reads OTLP protobuf"):
        LogFile(io.BytesIO(orjson.dumps(REQUESTS[0])), fmt="otlp_proto")
    _, events, rejected = read(to_protobuf(REQUESTS[0])[:-3], fmt="otlp_proto")
    assert events == [] and [(line, field) for line, field, _ in rejected] == [(1, "message")]


def test_rejected_spans_name_their_attribute_and_line() -> None:
    no_usage = {k: v for k, v in CHAT.items() if k != "gen_ai.usage.input_tokens"}
    bad_count = {**EMBEDDINGS, "gen_ai.usage.input_tokens": "12x"}
    no_start = {**span(9, EMBEDDINGS), "startTimeUnixNano": "0"}
    twice = span(4, EMBEDDINGS)
    twice["attributes"].append({"key": "gen_ai.usage.input_tokens", "value": value(9)})
    lines = [export(span(1, CHAT)), export(span(2, no_usage), span(3, bad_count), no_start, twice),
             {"resourceSpans": {"not": "a list"}}]  # fmt: skip
    _, events, rejected = read(b"\n".join(map(orjson.dumps, lines)))
    assert len(events) == 1
    assert rejected == [
        (2, "gen_ai.usage.input_tokens", "is required"),
        (2, "gen_ai.usage.input_tokens", "must be a non-negative whole number (got '12x')"),
        (2, "startTimeUnixNano", "is required"),
        (2, "gen_ai.usage.input_tokens", "appears twice in the span; send one value"),
        (3, "resourceSpans", "must be a list of objects"),
    ]


def test_project_key_and_secrets() -> None:
    leaked = {**EMBEDDINGS, "http.request.header.authorization": "Bearer abcdefghijklmnop1234"}
    log, events, _ = read(orjson.dumps(export(span(1, leaked), service=None)), project="search")
    assert events[0]["project"] == "search" and log.source == "otlp:search"
    assert log.scrub.as_dict() == {
        "secret:resourceSpans[].scopeSpans[].spans[].attributes[].value.stringValue": 1
    }
    _, events, _ = read(orjson.dumps(export(span(1, EMBEDDINGS))), project="search")
    assert events[0]["project"] == "checkout"  # the record's own service wins
    # The SDKs name a service nobody named `unknown_service` (`unknown_service:python`, ...).
    _, events, _ = read(
        orjson.dumps(export(span(1, EMBEDDINGS), service="unknown_service:python")),
        project="search",
    )
    assert events[0]["project"] == "search"


# ---------------------------------------------------------------------------------------------
# The real OpenTelemetry SDK and its own OTLP encoder


def sdk_request() -> ExportTraceServiceRequest:
    """Spans made through a TracerProvider, exported in memory, encoded by the OTLP encoder."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("costdesk.test")
    with tracer.start_as_current_span("invoke_agent refunds", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 2000}):  # fmt: skip
        with tracer.start_as_current_span("chat o4-mini", attributes=CHAT):
            pass
        with tracer.start_as_current_span("embeddings", attributes=EMBEDDINGS):
            pass
        failed = {**CLAUDE, "error.type": "overloaded_error", "gen_ai.input.messages": "[...]"}
        with tracer.start_as_current_span("chat claude", attributes=failed) as call:
            call.set_status(Status(StatusCode.ERROR, "overloaded"))
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def test_real_sdk_spans_as_protobuf_and_json_are_the_same_events() -> None:
    request = sdk_request()
    pb_log, from_pb, pb_rejected = read(request.SerializeToString(), file_name="export.pb")
    json_text = json_format.MessageToJson(request).encode()
    json_log, from_json, json_rejected = read(json_text, file_name="export.json")
    assert (pb_log.format.name, json_log.format.name) == ("otlp_proto", "otlp")
    assert not pb_rejected and not json_rejected
    assert from_pb == from_json and len(from_pb) == 3
    chat, embedding, claude = from_pb
    assert (chat["request_id"], chat["project"]) == ("chatcmpl-BxJk9Q2", "checkout")
    assert tokens(chat) == (2000, 1536, 0, 900, 640) and cost(chat) == Decimal("0.0048928")
    assert len(embedding["request_id"]) == 49 and cost(embedding) == Decimal("0.0001")
    assert (claude["status"], claude["error_type"]) == (500, "overloaded_error")
    assert cost(claude) == CLAUDE_COST  # usage reported on the failed call is still billed
    assert (
        pb_log.scrub.as_dict()
        == json_log.scrub.as_dict()
        == {
            "gen_ai.input.messages": 2,
            "gen_ai.output.messages": 1,
        }
    )
    stored = orjson.dumps(from_pb, default=str)
    assert b"parts" not in stored and b"[...]" not in stored  # no message content is kept
