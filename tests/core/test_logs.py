"""core.logs: file shapes, format detection and mapping, one validation, privacy, readers."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from core.logs import (
    MAX_LINE_BYTES,
    FileFormatError,
    LogFile,
    csv_header,
    file_shape,
    guess_mapping,
    parse_mapping,
    redact,
)
from core.logs.formats import classify, detect
from core.logs.formats.usage_pages import cost_rows, usage_rows
from core.logs.readers import iter_array, iter_line_blocks, iter_lines

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


FLAT = {
    "timestamp": "2025-06-01T10:00:00Z",
    "request_id": "req-1",
    "model": "gpt-4o-mini",
    "input_tokens": 1200,
    "output_tokens": 300,
    "cached_input_tokens": 1024,
    "reasoning_tokens": 0,
    "latency_ms": 812.4,
    "status": 200,
    "error_type": None,
    "project": "search",
    "feature": "chat",
    "user": "u-7",
    "finish_reason": "length",
    "max_tokens": 300,
    "batch": False,
    "service_tier": "default",
}

CHAT = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4.1-2025-04-14",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The image shows", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
}


def read(lines: list[object] | bytes, **options: object) -> tuple[LogFile, list[dict], list]:
    """A file of `lines` (objects as JSON lines, or raw bytes) read through LogFile: the file,
    its accepted events as dicts (ts as a datetime), and (line, field, reason) rejected."""
    data = (
        lines
        if isinstance(lines, bytes)
        else b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)
    )
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


def one(record: object, **options: object) -> dict:
    _, events, rejected = read([record], **options)
    assert not rejected, rejected
    return events[0]


def test_flat_record_normalises_every_field() -> None:
    event = one(FLAT)
    assert event["ts"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert (event["input_tokens"], event["cached_input_tokens"], event["output_tokens"]) == (
        1200,
        1024,
        300,
    )
    assert event["latency_ms"] == 812  # rounded to whole milliseconds
    assert event["finish_reason"] == "length" and event["max_tokens"] == 300
    assert (event["project"], event["feature"], event["user"]) == ("search", "chat", "u-7")


@pytest.mark.parametrize(
    "field", ["timestamp", "request_id", "model", "input_tokens", "output_tokens"]
)
def test_required_fields_are_required(field: str) -> None:
    _, events, rejected = read([{k: v for k, v in FLAT.items() if k != field}])
    assert not events and rejected == [(1, field, "is required")]


def test_parts_cannot_exceed_their_totals() -> None:
    _, _, rejected = read(
        [{**FLAT, "cached_input_tokens": 5000}, {**FLAT, "reasoning_tokens": 301}]
    )
    assert [(line, field) for line, field, _ in rejected] == [
        (1, "cached_input_tokens"), (2, "reasoning_tokens"),
    ]  # fmt: skip


def test_the_first_failing_field_is_reported_once() -> None:
    _, _, rejected = read([{**FLAT, "input_tokens": -1, "output_tokens": "x", "timestamp": None}])
    assert rejected == [(1, "timestamp", "is required")]


def test_aliases_cached_tokens_and_tags() -> None:
    record = {k: v for k, v in FLAT.items() if k not in ("cached_input_tokens", "feature")}
    event = one({**record, "cached_tokens": 512, "tags": ["a", "b"]})
    assert (event["cached_input_tokens"], event["feature"]) == (512, "a,b")
    assert event["tags"] == "a,b"
    keyed = one({**record, "tags": {"team": "search", "beta": None}})
    assert (keyed["tags"], keyed["feature"]) == ("beta,team=search", "")
    _, _, rejected = read([{**record, "tags": {"a": [1]}}])
    assert rejected[0][1] == "tags"


def test_chat_completion_uses_created_and_prompt_tokens() -> None:
    event = one(CHAT)
    assert event["ts"] == datetime.fromtimestamp(1741570283, UTC)
    assert (event["input_tokens"], event["output_tokens"]) == (1117, 46)
    assert event["request_id"] == CHAT["id"] and event["finish_reason"] == "stop"
    assert event["provider"] == "openai"


def test_wrapped_responses_object_takes_wrapper_latency_and_status() -> None:
    response = {
        "id": "resp_67cc",
        "object": "response",
        "created_at": 1741476542.0,
        "model": "gpt-4.1-2025-04-14",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "secret"}]}],
        "usage": {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 64},
        },
    }
    log, events, _ = read(
        [{"latency_ms": 1500, "status": 200, "project": "bots", "response": response}]
    )
    event = events[0]
    assert (event["input_tokens"], event["output_tokens"], event["reasoning_tokens"]) == (
        36,
        87,
        64,
    )
    assert (event["latency_ms"], event["status"], event["project"]) == (1500, 200, "bots")
    assert event["finish_reason"] == "length" and log.format.name == "openai"
    assert log.scrub.as_dict() == {"response.output": 1}


def test_openai_usage_errors_name_the_source_field() -> None:
    _, _, rejected = read([{**CHAT, "usage": {**CHAT["usage"], "prompt_tokens": -4}}])
    assert rejected[0][:2] == (1, "usage.prompt_tokens")
    _, _, rejected = read([{**CHAT, "usage": "lots"}])
    assert rejected[0][:2] == (1, "usage")


def test_embeddings_need_no_id_from_the_body_when_the_wrapper_has_one() -> None:
    body = {"object": "list", "data": [{"embedding": [0.1]}], "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8}}  # fmt: skip
    event = one({"request_id": "emb-1", "timestamp": "2025-06-01T00:00:00Z", "response": body})
    assert (event["input_tokens"], event["output_tokens"], event["request_id"]) == (8, 0, "emb-1")


def test_batch_lines_success_http_error_and_expired() -> None:
    expired = {"id": "batch_req_3", "custom_id": "request-3", "response": None,
               "error": {"code": "batch_expired", "message": "expired"}}  # fmt: skip
    ok = {"id": "batch_req_1", "custom_id": "request-2", "error": None, "response": {
        "status_code": 200, "request_id": "96ff", "body": {**CHAT}}}  # fmt: skip
    http_error = {"id": "batch_req_2", "custom_id": "request-5", "error": None, "response": {
        "status_code": 400, "request_id": "x", "body": {"error": {"message": "bad",
        "type": "invalid_request_error", "param": "max_tokens", "code": None}}}}  # fmt: skip
    log, events, rejected = read([expired, ok, http_error])
    assert log.format.name == "batch" and not rejected
    by_id = {e["request_id"]: e for e in events}
    assert by_id["batch_req_1"]["batch"] and by_id["batch_req_1"]["input_tokens"] == 1117
    assert (by_id["batch_req_2"]["status"], by_id["batch_req_2"]["error_type"]) == (
        400,
        "invalid_request_error",
    )
    assert (by_id["batch_req_3"]["status"], by_id["batch_req_3"]["error_type"]) == (
        500,
        "batch_expired",
    )
    assert by_id["batch_req_3"]["ts"] == by_id["batch_req_1"]["ts"]  # the file's time
    assert {e["feature"] for e in events} == {""}  # custom_id is the caller's row id


def test_anthropic_cache_tokens_fold_into_input() -> None:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": "hello"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 100, "cache_creation_input_tokens": 2000,
                  "cache_read_input_tokens": 3000, "output_tokens": 50},
    }  # fmt: skip
    event = one({"timestamp": "2025-06-01T00:00:00Z", "response": message})
    # OpenAI convention: input = 100 uncached + 2000 written + 3000 read = 5100
    parts = (event["input_tokens"], event["cached_input_tokens"], event["cache_write_tokens"])
    assert parts == (5100, 3000, 2000)
    assert event["finish_reason"] == "length" and event["provider"] == "anthropic"


def test_csv_through_a_mapping() -> None:
    data = b"time,id,llm,prompt,completion,ms\n2025-06-01T00:00:00Z,c1,gpt-4o,12,3.0,250.5\n"
    data += b"2025-06-01T00:00:00Z,c2,gpt-4o,80.5,3,1\n"
    mapping = parse_mapping("timestamp=time,request_id=id,model=llm,input_tokens=prompt,"
                            "output_tokens=completion,latency_ms=ms")  # fmt: skip
    log, events, rejected = read(data, mapping=mapping, file_name="x.csv")
    assert log.format.name == "csv" and log.shape == "csv"
    assert (events[0]["input_tokens"], events[0]["output_tokens"], events[0]["latency_ms"]) == (
        12,
        3,
        250,
    )
    assert rejected[0][:2] == (3, "input_tokens (column prompt)")


def test_parse_mapping_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        parse_mapping("tokens=prompt")
    assert guess_mapping(["Prompt_Tokens", "id", "time"])["input_tokens"] == "Prompt_Tokens"


def test_secrets_are_redacted_in_stored_labels_and_counted_elsewhere() -> None:
    record = {**FLAT, "user": "Bearer abcdefghijklmnop1234", "project": "sk-proj-" + "a" * 30,
              "meta": {"key": "AKIAABCDEFGHIJKLMNOP"}}  # fmt: skip
    log, events, _ = read([record])
    assert events[0]["user"] == "[redacted]" and events[0]["project"] == "[redacted]"
    assert log.scrub.as_dict() == {"secret:meta.key": 1, "secret:project": 1, "secret:user": 1}
    assert redact("key=AKIAABCDEFGHIJKLMNOP end") == "key=[redacted] end"


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-" + "a1B2" * 8,
        "sk-ant-admin01-" + "x" * 20,
        "Bearer eyJabc.def.ghi-token123",
        "Basic dXNlcjpwYXNzd29yZDEy",
        "AKIAABCDEFGHIJKLMNOP",
        "ghp_" + "a" * 36,
        "xoxb-1234567890-abcdef",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
        "AIza" + "b" * 35,
        "hf_" + "c" * 34,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghij",
        "postgresql://costdesk:hunter2@db.internal/costdesk",
    ],
)
def test_every_secret_pattern_is_redacted_in_every_stored_field(secret: str) -> None:
    fields = ("request_id", "model", "project", "feature", "user", "error_type",
              "finish_reason", "service_tier", "provider")  # fmt: skip
    record = {**FLAT, **{name: f"x {secret} y" for name in fields}}
    _, events, rejected = read([record])
    assert not rejected
    for name in fields:
        assert secret not in events[0][name] and "[redacted]" in events[0][name], name


@pytest.mark.parametrize(
    ("record", "fmt"),
    [
        (FLAT, "flat"),
        (CHAT, "openai"),
        ({"custom_id": "r", "response": {"body": CHAT}}, "batch"),
        ({"type": "message", "usage": {"input_tokens": 1}}, "anthropic"),
        ({"object": "page", "data": [{"results": [{"object": "organization.costs.result"}]}]},
         "costs_api"),
        ({"object": "page", "data": []}, "usage_api"),
    ],
)  # fmt: skip
def test_each_format_recognises_its_records(record: dict, fmt: str) -> None:
    assert classify(record) == fmt


def test_the_format_is_detected_from_many_records() -> None:
    assert detect([{"odd": 1}, CHAT, FLAT, CHAT]) == "openai"
    assert detect([{"odd": 1}]) is None


def test_file_shapes_and_whole_file_problems() -> None:
    with pytest.raises(FileFormatError, match="empty"):
        file_shape(b"\xef\xbb\xbf \r\n\n")
    with pytest.raises(FileFormatError, match="binary"):
        file_shape(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00\x00\x00")
    assert file_shape(b"\xef\xbb\xbf" + orjson.dumps(FLAT) + b"\r\n") == "lines"
    assert file_shape(b"[\n  " + orjson.dumps(CHAT)) == "array"
    assert file_shape(b'{\n  "object": "page",\n  "data": []\n}') == "document"
    assert file_shape(b"timestamp,request_id,model\n2025-06-01T00:00:00Z,a,gpt-4o\n") == "csv"
    with pytest.raises(FileFormatError, match="looks like CSV"):
        LogFile(io.BytesIO(b"timestamp,request_id\n1,2\n"), fmt="flat")
    with pytest.raises(FileFormatError, match="unknown format"):
        LogFile(io.BytesIO(orjson.dumps(FLAT)), fmt="nope")


def test_a_bad_first_line_does_not_decide_the_file() -> None:
    head = [b'{"timestamp": "2025-06-01T10:00:00Z", "request_id": "cut', b"NaN",
            b'{"messages": "' + b"x" * 100_000 + b'"}']  # fmt: skip
    log, events, rejected = read([*head, FLAT, {**FLAT, "request_id": "r2"}])
    assert log.shape == "lines" and log.format.name == "flat"
    assert [e["request_id"] for e in events] == ["req-1", "r2"]
    assert [line for line, *_ in rejected] == [1, 2, 3]


def test_a_stray_nul_or_bad_byte_rejects_one_line_not_the_file() -> None:
    _, events, rejected = read([b'{"a": "\xff\x00"}', FLAT])
    assert len(events) == 1 and [line for line, *_ in rejected] == [1]


def test_gzip_files_are_read_as_their_content() -> None:
    import gzip

    data = gzip.compress(
        b"\n".join(orjson.dumps({**FLAT, "request_id": f"r{i}"}) for i in range(3))
    )
    log, events, _ = read(data)
    assert log.format.name == "flat" and len(events) == 3


def test_iter_lines_bounds_long_lines_and_handles_crlf_and_bom() -> None:
    data = b"\xef\xbb\xbf{}\r\n\r\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\n{}"
    lines = list(iter_lines(io.BytesIO(data), block_bytes=4096))
    assert lines == [(1, b"{}"), (2, b""), (3, None), (4, b"{}")]


def test_iter_array_streams_elements_with_their_lines() -> None:
    data = b'[\n {"a": "}{\\"", "b": [1]},\n {"c": 2}\n]'
    assert list(iter_array(io.BytesIO(data), block_bytes=3)) == [
        (2, b'{"a": "}{\\"", "b": [1]}'),
        (3, b'{"c": 2}'),
    ]


def test_pages_flatten_to_rows() -> None:
    usage = {"object": "page", "data": [{"start_time": 1730419200, "end_time": 1730505600, "results": [
        {"object": "organization.usage.completions.result", "input_tokens": 1000,
         "input_cached_tokens": 400, "output_tokens": 50, "num_model_requests": 3,
         "model": "gpt-4o-mini-2024-07-18"}]}]}  # fmt: skip
    costs = {"object": "page", "data": [{"start_time": 1730419200, "end_time": 1730505600, "results": [
        {"object": "organization.costs.result", "amount": {"value": 0.13080438, "currency": "usd"},
         "line_item": "gpt-4o-mini-2024-07-18, input"}]}]}  # fmt: skip
    (row,) = usage_rows(usage)
    assert (row["requests"], row["cached_input_tokens"]) == (3, 400)
    (cost,) = cost_rows(costs)
    assert cost["amount"] == "0.13080438" and cost["model"] == "gpt-4o-mini-2024-07-18"


def test_sources_and_csv_header() -> None:
    assert LogFile(io.BytesIO(orjson.dumps(FLAT))).source == "flat"
    assert LogFile(io.BytesIO(orjson.dumps(CHAT)), project="x").source == "openai:x"
    assert csv_header(b'\xef\xbb\xbfa,"b,c",d\r\nx') == ["a", "b,c", "d"]


def test_line_blocks_number_lines_across_block_edges() -> None:
    data = b'{"a":1}\r\n\r\n{"b":2}\r\n' + b"y" * 50 + b"\n  \n{}"
    for size in range(1, len(data) + 2):  # every place a block can end, "\r|\n" included
        blocks = list(iter_line_blocks(io.BytesIO(data), block_bytes=size, limit=40))
        numbered = [(first + i, line) for first, lines in blocks for i, line in enumerate(lines)]
        assert numbered == [
            (1, b'{"a":1}'), (2, b""), (3, b'{"b":2}'), (4, None), (5, b"  "), (6, b"{}"),
        ], size  # fmt: skip


def test_the_format_example_in_the_architecture_guide_works() -> None:
    """docs/architecture.md shows how to add a format; its code must map and validate."""
    from pathlib import Path

    from core.logs import validate

    guide = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    code = guide.split("# core/logs/formats/acme.py", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "acme.py", "exec"), namespace)
    fmt = namespace["FORMAT"]
    record = {"gateway": "acme", "time": "2025-06-01T10:00:00Z", "id": "a1", "model": "gpt-4o",
              "usage": {"in": 1000, "out": 200}, "ms": 900, "team": "search"}  # fmt: skip
    assert fmt.detect(record)
    events, errors = validate(fmt.map([record, {**record, "usage": {"in": -1}}], {}))
    assert events["input_tokens"].tolist() == [1000] and events["project"].tolist() == ["search"]
    assert [(row, err.field) for row, err in errors] == [(1, "usage.in")]


def test_a_key_named_twice_rejects_its_record() -> None:
    twice = b'{"timestamp": "2025-06-01T10:00:00Z", "request_id": "d1", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5, "input_tokens": 10000}'
    nested = orjson.dumps({**FLAT, "request_id": "n1", "meta": {"input_tokens": 1, "a": {"b": 2}}})
    _, events, rejected = read([twice, nested, FLAT])
    assert rejected == [(1, "input_tokens", "appears twice in the record; send one value")]
    assert [e["request_id"] for e in events] == ["n1", "req-1"]
