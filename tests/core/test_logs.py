"""core.logs: format detection, one normaliser per shape, field rules, scrubbing, streaming."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from core.logs import (
    MAX_LINE_BYTES,
    FileFormatError,
    RecordError,
    Scrub,
    UsageEvent,
    cost_rows,
    count,
    csv_header,
    default_source,
    guess_mapping,
    iter_array,
    iter_lines,
    normalize_anthropic,
    normalize_batch_line,
    normalize_csv_row,
    normalize_flat,
    normalize_openai,
    parse_mapping,
    parse_timestamp,
    record_format,
    redact,
    redact_event,
    sniff,
    usage_rows,
    whole_file_problem,
)

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


def test_flat_record_normalises_every_field() -> None:
    event = normalize_flat(FLAT)
    assert event.ts == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert (event.input_tokens, event.cached_input_tokens, event.output_tokens) == (1200, 1024, 300)
    assert event.latency_ms == 812  # rounded to whole milliseconds
    assert event.finish_reason == "length" and event.max_tokens == 300
    assert (event.project, event.feature, event.user) == ("search", "chat", "u-7")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-01T12:00:00+02:00", datetime(2025, 6, 1, 10, tzinfo=UTC)),
        ("2025-06-01t10:00:00z", datetime(2025, 6, 1, 10, tzinfo=UTC)),
        ("2025-06-01 10:00:00.123456789Z", datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2025-05-31T23:30:00-05:00", datetime(2025, 6, 1, 4, 30, tzinfo=UTC)),
    ],
)
def test_timestamps_with_zone_are_stored_in_utc(value: str, expected: datetime) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-06-01T10:00:00", "no time zone"),
        ("2025-06-01", "no time zone"),
        ("20250601T100000Z", "not an RFC 3339"),
        ("2025-13-01T10:00:00Z", "not a valid date"),
        (1748772000, "RFC 3339 string"),
        (None, "required"),
    ],
)
def test_bad_timestamps_are_refused_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(RecordError) as err:
        parse_timestamp(value)
    assert err.value.field == "timestamp" and reason in err.value.reason


@pytest.mark.parametrize("value", [True, False, 80.5, -1, "80", [1]])
def test_counts_must_be_non_negative_integers(value: object) -> None:
    with pytest.raises(RecordError):
        count(value, "input_tokens")


def test_integral_floats_are_counts() -> None:
    assert count(3.0, "input_tokens") == 3


@pytest.mark.parametrize(
    "field", ["timestamp", "request_id", "model", "input_tokens", "output_tokens"]
)
def test_required_fields_are_required(field: str) -> None:
    record = {k: v for k, v in FLAT.items() if k != field}
    with pytest.raises(RecordError) as err:
        normalize_flat(record)
    assert err.value.field == field and "required" in err.value.reason


def test_cached_tokens_cannot_exceed_input() -> None:
    with pytest.raises(RecordError) as err:
        normalize_flat({**FLAT, "cached_input_tokens": 5000})
    assert err.value.field == "cached_input_tokens"


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [(None, None, 200), ("success", None, 200), ("error", "rate_limit_exceeded", 429),
     (None, "server_error", 500), (503, "server_error", 503)],
)  # fmt: skip
def test_status_words_and_codes(status: object, error_type: str | None, code: int) -> None:
    assert normalize_flat({**FLAT, "status": status, "error_type": error_type}).status == code


def test_chat_completion_uses_created_and_prompt_tokens() -> None:
    event = normalize_openai(CHAT)
    assert event.ts == datetime.fromtimestamp(1741570283, UTC)
    assert (event.input_tokens, event.output_tokens) == (1117, 46)
    assert event.request_id == CHAT["id"] and event.finish_reason == "stop"


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
    wrapped = {"latency_ms": 1500, "status": 200, "project": "bots", "response": response}
    event = normalize_openai(wrapped)
    assert (event.input_tokens, event.output_tokens, event.reasoning_tokens) == (36, 87, 64)
    assert (event.latency_ms, event.status, event.project) == (1500, 200, "bots")
    assert event.finish_reason == "length"


def test_embeddings_need_no_id_from_the_body_when_the_wrapper_has_one() -> None:
    body = {"object": "list", "data": [{"embedding": [0.1]}], "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8}}  # fmt: skip
    event = normalize_openai(
        {"request_id": "emb-1", "timestamp": "2025-06-01T00:00:00Z", "response": body}
    )
    assert (event.input_tokens, event.output_tokens, event.request_id) == (8, 0, "emb-1")


def test_batch_lines_success_http_error_and_expired() -> None:
    ok = {"id": "batch_req_1", "custom_id": "request-2", "error": None, "response": {
        "status_code": 200, "request_id": "96ff", "body": {**CHAT}}}  # fmt: skip
    http_error = {"id": "batch_req_2", "custom_id": "request-5", "error": None, "response": {
        "status_code": 400, "request_id": "x", "body": {"error": {"message": "bad",
        "type": "invalid_request_error", "param": "max_tokens", "code": None}}}}  # fmt: skip
    expired = {"id": "batch_req_3", "custom_id": "request-3", "response": None,
               "error": {"code": "batch_expired", "message": "expired"}}  # fmt: skip
    created = datetime(2025, 6, 1, tzinfo=UTC)
    first = normalize_batch_line(ok)
    assert first.batch and first.status == 200 and first.input_tokens == 1117
    second = normalize_batch_line(http_error, created=created)
    assert (second.status, second.error_type, second.input_tokens) == (
        400,
        "invalid_request_error",
        0,
    )
    third = normalize_batch_line(expired, created=created)
    assert (third.status, third.error_type) == (500, "batch_expired")


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
    event = normalize_anthropic({"timestamp": "2025-06-01T00:00:00Z", "response": message})
    # OpenAI convention: input = 100 uncached + 2000 written + 3000 read = 5100
    assert (event.input_tokens, event.cached_input_tokens, event.cache_write_tokens) == (
        5100,
        3000,
        2000,
    )
    assert event.finish_reason == "length" and event.provider == "anthropic"


def test_csv_row_through_a_mapping() -> None:
    row = {"time": "2025-06-01T00:00:00Z", "id": "c1", "llm": "gpt-4o", "prompt": "12",
           "completion": "3.0", "ms": "250.5"}  # fmt: skip
    mapping = parse_mapping("timestamp=time,request_id=id,model=llm,input_tokens=prompt,"
                            "output_tokens=completion,latency_ms=ms")  # fmt: skip
    event = normalize_csv_row(row, mapping)
    assert (event.input_tokens, event.output_tokens, event.latency_ms) == (12, 3, 250)
    with pytest.raises(RecordError):
        normalize_csv_row({**row, "prompt": "80.5"}, mapping)


def test_parse_mapping_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        parse_mapping("tokens=prompt")
    assert guess_mapping(["Prompt_Tokens", "id", "time"])["input_tokens"] == "Prompt_Tokens"


def test_secrets_are_redacted_and_counted() -> None:
    scrub = Scrub()
    event = normalize_flat(
        {**FLAT, "user": "Bearer abcdefghijklmnop1234", "project": "sk-proj-" + "a" * 30}
    )
    cleaned = redact_event(event, scrub)
    assert cleaned.user == "[redacted]" and cleaned.project == "[redacted]"
    assert scrub.as_dict() == {"secret:project": 1, "secret:user": 1}
    assert redact("key=AKIAABCDEFGHIJKLMNOP end") == "key=[redacted] end"


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
def test_record_format(record: dict, fmt: str) -> None:
    assert record_format(record) == fmt


def test_sniff_whole_file_problems() -> None:
    with pytest.raises(FileFormatError, match="empty"):
        sniff(b"\xef\xbb\xbf \r\n\n")
    with pytest.raises(FileFormatError, match="binary"):
        sniff(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert sniff(b"\xef\xbb\xbf" + orjson.dumps(FLAT) + b"\r\n") == "flat"
    assert sniff(b"[\n  " + orjson.dumps(CHAT)) == "openai"
    assert sniff(b"timestamp,request_id,model\n2025-06-01T00:00:00Z,a,gpt-4o\n") == "csv"
    assert "looks like CSV" in whole_file_problem("flat", b"timestamp,request_id\n1,2\n")


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


def test_default_source_and_csv_header() -> None:
    assert default_source("flat") == "flat" and default_source("batch", "x") == "batch:x"
    assert csv_header(b'\xef\xbb\xbfa,"b,c",d\r\nx') == ["a", "b,c", "d"]


def test_columnar_flat_path_matches_the_row_normaliser() -> None:
    from core.logs import flat_columns

    records = [
        FLAT,
        {**FLAT, "request_id": "r2", "timestamp": "2025-06-01 12:00:00.123456789+02:00"},
        {**FLAT, "request_id": "r3", "status": "error", "error_type": "rate_limit_exceeded"},
        {**FLAT, "request_id": "r4", "latency_ms": None, "max_tokens": None, "batch": True},
        {**FLAT, "request_id": "r5", "input_tokens": 80.5},  # rejected: goes the slow way
        {**FLAT, "request_id": "r6", "feature": None, "tags": ["a", "b"]},  # tags: slow way
        {**FLAT, "request_id": "r7", "timestamp": "2025-06-01t10:00:00z"},  # lower case: slow
    ]
    columns, rest = flat_columns(records)
    assert rest == [4, 5, 6]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i, record in enumerate(records[:4]):
        got = {name: columns[name][i] for name in UsageEvent._fields}
        got["ts"] = epoch + timedelta(microseconds=int(got["ts"]))
        for name in ("latency_ms", "max_tokens"):  # -1 stands for missing
            got[name] = None if got[name] < 0 else got[name]
        assert tuple(got.values()) == tuple(normalize_flat(record))


def test_line_blocks_number_lines_across_block_edges() -> None:
    from core.logs import iter_line_blocks

    data = b'{"a":1}\r\n\r\n{"b":2}\r\n' + b"y" * 50 + b"\n  \n{}"
    for size in range(1, len(data) + 2):  # every place a block can end, "\r|\n" included
        blocks = list(iter_line_blocks(io.BytesIO(data), block_bytes=size, limit=40))
        numbered = [(first + i, line) for first, lines in blocks for i, line in enumerate(lines)]
        assert numbered == [
            (1, b'{"a":1}'), (2, b""), (3, b'{"b":2}'), (4, None), (5, b"  "), (6, b"{}"),
        ], size  # fmt: skip


def test_columnar_timestamps_agree_with_the_row_parser() -> None:
    from core.logs import RecordError, fast_timestamps

    samples = [
        "2025-06-01T10:00:00Z", "2025-06-01T10:00:00.5Z", "2025-06-01 10:00:00.123456789Z",
        "2025-06-01T10:00:00+02:00", "2025-06-01T23:30:00.25-05:30", "2024-02-29T00:00:00Z",
        "2025-02-29T00:00:00Z", "2025-06-01T24:00:00Z", "2025-06-01T10:00:60Z",
        "2025-06-01T10:00:00", "2025-06-01", "2025-06-01T10:00:00.Z", "2025-06-01t10:00:00z",
        "2025-06-01T10:00:00.1234567890Z", "2025-13-01T10:00:00Z", "2025-06-01T10:00:00+2:00",
        "x" * 20, "", 20250601, None,
    ]  # fmt: skip
    micros, ok = fast_timestamps(samples)
    for value, stamp, fast in zip(samples, micros.tolist(), ok.tolist(), strict=True):
        try:
            expected = parse_timestamp(value)
        except RecordError:
            assert not fast, value  # the fast path never accepts what the rules refuse
            continue
        if fast:  # what it accepts, it reads exactly as the row parser does
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            assert stamp == (expected - epoch) // timedelta(microseconds=1), value
    assert ok.tolist()[:6] == [True] * 6
