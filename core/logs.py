"""Request logs: detect a file's format, normalise each record to one `UsageEvent`.

One small normaliser per input shape (flat log, OpenAI Chat/Responses/Embeddings object,
Batch API output line, Anthropic Message, CSV row through a column mapping); nothing
downstream knows where an event came from. A bad record raises `RecordError` naming the
field and the reason; content fields are never kept and API-key-like strings are redacted.
Usage and Costs API pages are not request events: `usage_rows` / `cost_rows` flatten them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

MAX_LINE_BYTES = 1024 * 1024  # a record longer than 1 MiB is rejected unread
BOM = b"\xef\xbb\xbf"

FORMATS: dict[str, str] = {
    "flat": "Flat JSON request log (JSON lines or one JSON array)",
    "openai": "OpenAI Chat Completions / Responses / Embeddings objects",
    "batch": "OpenAI Batch API output or error file",
    "anthropic": "Anthropic Messages objects",
    "usage_api": "OpenAI Usage API pages (usage buckets)",
    "costs_api": "OpenAI Costs API pages (billed costs)",
    "csv": "CSV with a header row (columns mapped to the flat-log fields)",
}
EVENT_FORMATS = ("flat", "openai", "batch", "anthropic", "csv")

# Keys whose values are prompt or completion text (or vectors): never stored, always reported.
CONTENT_KEYS = frozenset(
    {
        "messages",
        "prompt",
        "prompts",
        "input",
        "inputs",
        "output",
        "outputs",
        "completion",
        "content",
        "text",
        "choices",
        "system",
        "instructions",
        "request_body",
        "response_body",
        "request",
        "body",
        "embedding",
        "embeddings",
        "data",
        "tools",
        "response_text",
        "prompt_text",
    }
)

SECRET_PATTERN = re.compile(
    r"(?:\bsk-(?:proj-|ant-|admin-|svcacct-)?[A-Za-z0-9_\-]{16,}"
    r"|\b[Bb]earer\s+[A-Za-z0-9._~+/\-]{12,}=*"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|\bAIza[0-9A-Za-z_\-]{35})"
)
SECRET_BYTES = re.compile(SECRET_PATTERN.pattern.encode())
# Raw lines are pre-checked for the two commonest shapes (OpenAI/Anthropic keys, bearer
# tokens); every stored label is checked against the full pattern after normalising.
_SECRET_HINTS = (b"sk-", b"earer")


def may_hold_secret(raw: bytes) -> bool:
    """Cheap pre-check (substring scans) before the full secret pattern runs on a raw line."""
    for hint in _SECRET_HINTS:
        if hint in raw:
            return SECRET_BYTES.search(raw) is not None
    return False


REDACTED = "[redacted]"

_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})\Z"
)
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\Z")
_FRACTION = re.compile(r"(\.\d{6})\d+")
TRUNCATION_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})
_OK_WORDS = frozenset({"ok", "success", "succeeded", "completed", "complete"})
_ERROR_WORDS = frozenset({"error", "failed", "failure", "cancelled", "expired", "incomplete"})


class RecordError(ValueError):
    """One record cannot be used: which field, and why (in words a user can act on)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class FileFormatError(ValueError):
    """The whole file is unusable (empty, binary, wrong format): one message, not one per line."""


class UsageEvent(NamedTuple):
    """One API call, normalised: UTC time, ids, OpenAI-convention token counts, outcome."""

    ts: datetime  # UTC
    request_id: str
    model: str
    input_tokens: int  # includes cached and cache-write tokens
    output_tokens: int  # includes reasoning tokens
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    latency_ms: int | None = None
    status: int = 200
    error_type: str = ""
    project: str = ""
    feature: str = ""
    user: str = ""
    finish_reason: str = ""
    max_tokens: int | None = None
    batch: bool = False
    service_tier: str = ""
    provider: str = ""


@dataclass
class Scrub:
    """What was removed from records: content fields dropped, secrets redacted (counts)."""

    content: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, int] = field(default_factory=dict)

    def add_content(self, keys: Iterable[str], times: int = 1) -> None:
        """Count content fields that were present and dropped (in `times` records)."""
        for key in keys:
            self.content[key] = self.content.get(key, 0) + times

    def add_secret(self, path: str) -> None:
        """Count one redacted API-key-like value."""
        self.secrets[path] = self.secrets.get(path, 0) + 1

    def merge(self, other: Scrub) -> None:
        """Add another tally to this one."""
        for key, n in other.content.items():
            self.content[key] = self.content.get(key, 0) + n
        for key, n in other.secrets.items():
            self.secrets[key] = self.secrets.get(key, 0) + n

    def as_dict(self) -> dict[str, int]:
        """One mapping field -> count; redacted secrets are keyed `secret:<field>`."""
        out = dict(sorted(self.content.items()))
        out.update({f"secret:{k}": n for k, n in sorted(self.secrets.items())})
        return out


# ---------------------------------------------------------------------------------------------
# Field rules


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    """An RFC 3339 string with `Z` or an offset -> UTC datetime; RecordError otherwise."""
    if value is None or value == "":
        raise RecordError(field, "is required")
    if not isinstance(value, str):
        raise RecordError(field, "must be an RFC 3339 string such as 2025-01-31T12:00:00Z")
    matched = _TIMESTAMP.match(value)
    if matched is None:
        if _NAIVE.match(value):
            raise RecordError(field, f"{value!r} has no time zone; add Z or an offset like +02:00")
        raise RecordError(field, f"{value!r} is not an RFC 3339 timestamp")
    text = value.upper() if "z" in value or "t" in value else value
    fraction = matched.group(1)
    if fraction and len(fraction) > 7:
        text = _FRACTION.sub(r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(field, f"{value!r} is not a valid date and time") from None
    return moment.astimezone(UTC)


def epoch_seconds(value: object, field: str) -> datetime:
    """Unix seconds (as OpenAI objects carry them) -> UTC datetime."""
    if type(value) not in (int, float) or value < 0:
        raise RecordError(field, "must be Unix seconds (a non-negative number)")
    return datetime.fromtimestamp(value, UTC)


def count(value: object, field: str, *, required: bool = False) -> int:
    """A non-negative integer token count; a boolean, a fraction or a string is refused."""
    if type(value) is int:
        if value >= 0:
            return value
        raise RecordError(field, f"must not be negative (got {value})")
    if value is None:
        if required:
            raise RecordError(field, "is required")
        return 0
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, bool):
        raise RecordError(field, f"must be a whole number, not a boolean ({value!r})")
    raise RecordError(field, f"must be a non-negative whole number (got {value!r})")


def optional_count(value: object, field: str) -> int | None:
    """Like `count`, but a missing value stays None."""
    return None if value is None else count(value, field)


def latency(value: object, field: str = "latency_ms") -> int | None:
    """Milliseconds (int or float, rounded); None when missing."""
    if value is None:
        return None
    if type(value) is int or type(value) is float:
        if value < 0 or value != value:
            raise RecordError(field, f"must not be negative (got {value!r})")
        return round(value)
    raise RecordError(field, f"must be a number of milliseconds (got {value!r})")


def status_code(value: object, error_type: str, field: str = "status") -> int:
    """HTTP status; words like `success`/`error` map to 200/500 (429 for rate limits)."""
    if type(value) is int and 100 <= value <= 599:
        return value
    failed = 429 if "rate" in error_type.lower() or "429" in error_type else 500
    if value is None or value == "":
        return failed if error_type else 200
    if isinstance(value, str):
        word = value.strip().lower()
        if word.isdigit() and 100 <= int(word) <= 599:
            return int(word)
        if word in _OK_WORDS:
            return 200
        if word in _ERROR_WORDS:
            return failed
    raise RecordError(field, f"must be an HTTP status code or success/error (got {value!r})")


def text(value: object, field: str, *, required: bool = False, limit: int = 200) -> str:
    """A short label (model, project, user...); numbers become text, objects are refused."""
    if value is None or value == "":
        if required:
            raise RecordError(field, "is required")
        return ""
    if type(value) is str:
        if len(value) > limit:
            raise RecordError(field, f"is longer than {limit} characters")
        return value
    if type(value) is int:
        return str(value)
    raise RecordError(field, f"must be a string (got {type(value).__name__})")


def flag(value: object, field: str) -> bool:
    """A true/false field (`batch`)."""
    if value is None:
        return False
    if type(value) is bool:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", ""):
        return value.lower() in ("true", "1", "yes")
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise RecordError(field, f"must be true or false (got {value!r})")


def _check_parts(event: UsageEvent) -> UsageEvent:
    if event.cached_input_tokens + event.cache_write_tokens > event.input_tokens:
        raise RecordError(
            "cached_input_tokens", "cached plus cache-write tokens exceed input_tokens"
        )
    if event.reasoning_tokens > event.output_tokens:
        raise RecordError("reasoning_tokens", "exceeds output_tokens (reasoning is part of output)")
    return event


def redact(value: str) -> str:
    """`value` with every API-key or bearer-token look-alike replaced by `[redacted]`."""
    return SECRET_PATTERN.sub(REDACTED, value)


LABEL_FIELDS = ("request_id", "project", "feature", "user", "error_type", "model")


def redact_event(event: UsageEvent, scrub: Scrub) -> UsageEvent:
    """Redact secrets in the event's stored labels, counting each in `scrub`."""
    joined = "\x1f".join((event[1], event[2], event[10], event[11], event[12], event[13]))
    if not SECRET_PATTERN.search(joined):
        return event
    changes = {}
    for name in LABEL_FIELDS:
        value = getattr(event, name)
        if value and SECRET_PATTERN.search(value):
            changes[name] = redact(value)
            scrub.add_secret(name)
    return event._replace(**changes) if changes else event


def secret_paths(record: object, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every string in `record` that looks like an API key or bearer token."""
    if isinstance(record, str):
        if SECRET_PATTERN.search(record):
            yield prefix or "value"
    elif isinstance(record, Mapping):
        for key, value in record.items():
            yield from secret_paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(record, list):
        for value in record:
            yield from secret_paths(value, f"{prefix}[]")


# ---------------------------------------------------------------------------------------------
# Normalisers: one per shape


def _tags(record: Mapping[str, Any]) -> str:
    feature = record.get("feature")
    if feature is not None:
        return _label(feature, "feature")
    tags = record.get("tags")
    if tags is None:
        return ""
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        return text(",".join(tags), "tags")
    return text(tags, "tags")


def _label(value: object, field: str) -> str:
    """`text` with a fast path for the common case (a short string or nothing)."""
    if value is None:
        return ""
    if type(value) is str and len(value) <= 200:
        return value
    return text(value, field)


def _int(value: object, field: str) -> int:
    """`count` with a fast path for a plain non-negative int (optional field)."""
    if type(value) is int and value >= 0:
        return value
    return count(value, field)


def normalize_flat(record: Mapping[str, Any]) -> UsageEvent:
    """A flat request-log record (timestamp, request_id, model, token counts, ...)."""
    get = record.get
    error_type = _label(get("error_type"), "error_type")
    cached = get("cached_input_tokens")
    if cached is None:
        cached = get("cached_tokens")
    status = get("status")
    max_tokens = get("max_tokens")
    finish = _label(get("finish_reason"), "finish_reason")
    event = UsageEvent(
        parse_timestamp(get("timestamp")),
        text(get("request_id"), "request_id", required=True),
        text(get("model"), "model", required=True),
        count(get("input_tokens"), "input_tokens", required=True),
        count(get("output_tokens"), "output_tokens", required=True),
        _int(cached, "cached_input_tokens"),
        _int(get("cache_write_tokens"), "cache_write_tokens"),
        _int(get("reasoning_tokens"), "reasoning_tokens"),
        latency(get("latency_ms")),
        status if type(status) is int and 100 <= status <= 599 else status_code(status, error_type),
        error_type,
        _label(get("project"), "project"),
        _tags(record),
        _label(get("user"), "user"),
        "length" if finish in TRUNCATION_REASONS else finish,
        max_tokens
        if type(max_tokens) is int and max_tokens >= 0
        else optional_count(max_tokens, "max_tokens"),
        flag(get("batch"), "batch"),
        _label(get("service_tier"), "service_tier"),
        _label(get("provider"), "provider"),
    )
    return _check_parts(event)


def _finish(reason: str) -> str:
    return "length" if reason in TRUNCATION_REASONS else reason


def _details(usage: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = usage.get(name)
    return value if isinstance(value, Mapping) else {}


def _openai_usage(usage: object) -> dict[str, int]:
    """Chat (`prompt_tokens`) or Responses (`input_tokens`) usage -> our counts."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    if not isinstance(usage, Mapping):
        raise RecordError("usage", "must be an object")
    if "prompt_tokens" in usage:
        inp, out = "prompt_tokens", "completion_tokens"
        in_details = _details(usage, "prompt_tokens_details")
        out_details = _details(usage, "completion_tokens_details")
    else:
        inp, out = "input_tokens", "output_tokens"
        in_details = _details(usage, "input_tokens_details")
        out_details = _details(usage, "output_tokens_details")
    return {
        "input_tokens": count(usage.get(inp), f"usage.{inp}", required=True),
        "output_tokens": count(usage.get(out), f"usage.{out}"),
        "cached_input_tokens": count(in_details.get("cached_tokens"), "usage.cached_tokens"),
        "cache_write_tokens": count(
            in_details.get("cache_write_tokens"), "usage.cache_write_tokens"
        ),
        "reasoning_tokens": count(out_details.get("reasoning_tokens"), "usage.reasoning_tokens"),
    }


_WRAPPER_KEYS = ("response", "body", "result")


def split_wrapper(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(wrapper fields, API object) for records that wrap the object with latency/status."""
    for key in _WRAPPER_KEYS:
        inner = record.get(key)
        if isinstance(inner, Mapping) and (
            "usage" in inner or "object" in inner or "error" in inner
        ):
            return record, inner
    return {}, record


def _meta(wrapper: Mapping[str, Any], body: Mapping[str, Any], key: str) -> object:
    for source in (wrapper, body.get("metadata") or {}, body):
        if isinstance(source, Mapping) and source.get(key) is not None:
            return source.get(key)
    return None


def _when(wrapper: Mapping[str, Any], body: Mapping[str, Any]) -> datetime:
    for key in ("timestamp", "created_at", "created"):
        value = wrapper.get(key)
        if value is not None:
            return (
                parse_timestamp(value, key) if isinstance(value, str) else epoch_seconds(value, key)
            )
    for key in ("created", "created_at"):
        value = body.get(key)
        if value is not None:
            return (
                epoch_seconds(value, key)
                if not isinstance(value, str)
                else parse_timestamp(value, key)
            )
    raise RecordError("timestamp", "is required (no `created` time in the object or its wrapper)")


def _error_of(wrapper: Mapping[str, Any], body: Mapping[str, Any]) -> tuple[str, int | None]:
    error = body.get("error") or wrapper.get("error")
    if isinstance(error, Mapping):
        kind = error.get("code") or error.get("type") or "error"
        return text(str(kind), "error.code"), None
    if isinstance(error, str):
        return text(error[:200], "error"), None
    return "", None


def _common(
    wrapper: Mapping[str, Any], body: Mapping[str, Any], usage: dict[str, int]
) -> dict[str, Any]:
    error_type, _ = _error_of(wrapper, body)
    status = wrapper.get("status_code", wrapper.get("status"))
    if status is None and body.get("status") in ("failed", "cancelled"):
        status = "error"
    return {
        **usage,
        "latency_ms": latency(wrapper.get("latency_ms", wrapper.get("duration_ms")), "latency_ms"),
        "status": status_code(status, error_type or ("error" if body.get("error") else "")),
        "error_type": error_type,
        "project": text(_meta(wrapper, body, "project"), "project"),
        "feature": text(_meta(wrapper, body, "feature"), "feature"),
        "user": text(_meta(wrapper, body, "user"), "user"),
        "max_tokens": optional_count(
            _meta(wrapper, body, "max_tokens") or body.get("max_output_tokens"), "max_tokens"
        ),
        "service_tier": text(
            body.get("service_tier") or wrapper.get("service_tier"), "service_tier"
        ),
    }


def normalize_openai(record: Mapping[str, Any]) -> UsageEvent:
    """A Chat Completion, Response or Embeddings object, optionally inside a wrapper."""
    wrapper, body = split_wrapper(record)
    usage = _openai_usage(body.get("usage"))
    request_id = wrapper.get("request_id") or body.get("id") or wrapper.get("id")
    finish = ""
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        finish = text(choices[0].get("finish_reason"), "finish_reason")
    incomplete = body.get("incomplete_details")
    if isinstance(incomplete, Mapping):
        finish = text(incomplete.get("reason"), "incomplete_details.reason")
    event = UsageEvent(
        ts=_when(wrapper, body),
        request_id=text(request_id, "id", required=True),
        model=text(body.get("model") or wrapper.get("model"), "model", required=True),
        finish_reason=_finish(finish),
        provider="openai",
        **_common(wrapper, body, usage),
    )
    return _check_parts(event)


def normalize_batch_line(
    record: Mapping[str, Any], *, created: datetime | None = None
) -> UsageEvent:
    """A Batch API output/error line: usage from `response.body`, errors wherever they sit."""
    response = record.get("response")
    body: Mapping[str, Any] = {}
    status: int = 500
    if isinstance(response, Mapping):
        body = response.get("body") if isinstance(response.get("body"), Mapping) else {}
        status = count(response.get("status_code"), "response.status_code", required=True)
    error = body.get("error") or record.get("error")
    error_type = ""
    if isinstance(error, Mapping):
        error_type = text(str(error.get("code") or error.get("type") or "error"), "error.code")
    if status < 400 and error_type:
        status = 500
    usage = (
        _openai_usage(body.get("usage"))
        if body.get("usage")
        else {
            "input_tokens": 0,
            "output_tokens": 0,
        }
    )
    choices = body.get("choices")
    finish = ""
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        finish = text(choices[0].get("finish_reason"), "finish_reason")
    when = created
    if body.get("created") is not None or body.get("created_at") is not None:
        when = _when({}, body)
    if when is None:
        raise RecordError("response.body.created", "is required for a line without a file date")
    return _check_parts(
        UsageEvent(
            ts=when,
            request_id=text(record.get("id") or record.get("custom_id"), "id", required=True),
            model=text(body.get("model") or record.get("model") or "unknown", "model"),
            status=status,
            error_type=error_type,
            finish_reason=_finish(finish),
            batch=True,
            service_tier=text(body.get("service_tier"), "service_tier"),
            feature=text(record.get("custom_id"), "custom_id"),
            provider="openai",
            **usage,
        )
    )


_ANTHROPIC_STOP = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop"}


def normalize_anthropic(record: Mapping[str, Any]) -> UsageEvent:
    """An Anthropic Message; cache tokens (outside `input_tokens` there) folded into input."""
    wrapper, body = split_wrapper(record)
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        raise RecordError("usage", "is required")
    uncached = count(usage.get("input_tokens"), "usage.input_tokens", required=True)
    write = count(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    read = count(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    thinking = count(
        _details(usage, "output_tokens_details").get("thinking_tokens"), "usage.thinking_tokens"
    )
    counts = {
        "input_tokens": uncached + write + read,
        "output_tokens": count(usage.get("output_tokens"), "usage.output_tokens", required=True),
        "cached_input_tokens": read,
        "cache_write_tokens": write,
        "reasoning_tokens": thinking,
    }
    stop = text(body.get("stop_reason"), "stop_reason")
    common = _common(wrapper, body, counts)
    common["service_tier"] = text(
        usage.get("service_tier") or common["service_tier"], "service_tier"
    )
    request_id = wrapper.get("request_id") or body.get("id")
    return _check_parts(
        UsageEvent(
            ts=_when(wrapper, body),
            request_id=text(request_id, "id", required=True),
            model=text(body.get("model"), "model", required=True),
            finish_reason=_ANTHROPIC_STOP.get(stop, stop),
            batch=common["service_tier"] == "batch",
            provider="anthropic",
            **common,
        )
    )


# ---------------------------------------------------------------------------------------------
# CSV through a column mapping

FLAT_FIELDS = (
    "timestamp",
    "request_id",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "latency_ms",
    "status",
    "error_type",
    "project",
    "feature",
    "user",
    "finish_reason",
    "max_tokens",
    "batch",
    "service_tier",
    "provider",
)
REQUIRED_FIELDS = ("timestamp", "request_id", "model", "input_tokens", "output_tokens")
_NUMERIC = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "max_tokens",
    }
)
# Common names other tools use for our fields (LiteLLM, Helicone, Langfuse exports).
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "created_at", "starttime", "request_created_at", "date"),
    "request_id": ("request_id", "id", "requestid", "response_id"),
    "model": ("model", "request_model", "response_model", "model_name"),
    "input_tokens": ("input_tokens", "prompt_tokens", "tokens_in"),
    "output_tokens": ("output_tokens", "completion_tokens", "tokens_out"),
    "cached_input_tokens": ("cached_input_tokens", "cached_tokens", "prompt_cache_read_tokens"),
    "cache_write_tokens": ("cache_write_tokens", "prompt_cache_write_tokens"),
    "reasoning_tokens": ("reasoning_tokens",),
    "latency_ms": ("latency_ms", "delay_ms", "request_duration_ms", "duration_ms", "latency"),
    "status": ("status", "response_status", "status_code"),
    "error_type": ("error_type", "error", "error_code"),
    "project": ("project", "project_id", "team_id"),
    "feature": ("feature", "tags", "request_tags"),
    "user": ("user", "user_id", "end_user", "request_user_id"),
    "finish_reason": ("finish_reason", "stop_reason"),
    "max_tokens": ("max_tokens",),
    "batch": ("batch",),
    "service_tier": ("service_tier",),
    "provider": ("provider", "custom_llm_provider"),
}


def parse_mapping(spec: str) -> dict[str, str]:
    """`--map "timestamp=time,input_tokens=prompt_tokens"` -> {field: column}."""
    mapping = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ValueError(f"mapping {part!r} is not FIELD=COLUMN")
        if name not in FLAT_FIELDS:
            raise ValueError(f"unknown field {name!r}; fields are: {', '.join(FLAT_FIELDS)}")
        mapping[name] = column
    return mapping


def guess_mapping(columns: Iterable[str]) -> dict[str, str]:
    """A first guess of {field: column} from the header, by exact and known names."""
    lowered = {c.strip().lower(): c for c in columns}
    guess = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                guess[name] = lowered[alias]
                break
    return guess


def missing_fields(mapping: Mapping[str, str], columns: Iterable[str]) -> list[str]:
    """Required fields the mapping does not cover with a column of the header."""
    present = set(columns)
    return [f for f in REQUIRED_FIELDS if mapping.get(f) not in present]


def _csv_value(name: str, raw: str) -> object:
    value = raw.strip()
    if value == "" or value.lower() in ("null", "none"):
        return None
    if name in _NUMERIC:
        if re.fullmatch(r"\d+(\.0+)?", value):
            return int(value.split(".")[0])
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return float(value)
        return value
    if name == "latency_ms":
        try:
            return float(value)
        except ValueError:
            return value
    if name == "status" and value.isdigit():
        return int(value)
    return value


def normalize_csv_row(row: Mapping[str, str], mapping: Mapping[str, str]) -> UsageEvent:
    """One CSV row through {field: column}; text cells are converted, then the flat rules apply."""
    record = {name: _csv_value(name, row.get(column) or "") for name, column in mapping.items()}
    return normalize_flat(record)


# ---------------------------------------------------------------------------------------------
# Usage and Costs API pages


def usage_rows(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Usage API page -> one row per (bucket, result) with its natural-key fields."""
    rows = []
    for bucket in _buckets(page):
        start, end = _bucket_times(bucket)
        for result in bucket.get("results") or ():
            rows.append(
                {
                    "start_time": start,
                    "end_time": end,
                    "project_id": result.get("project_id") or "",
                    "user_id": result.get("user_id") or "",
                    "api_key_id": result.get("api_key_id") or "",
                    "model": result.get("model") or "",
                    "batch": bool(result.get("batch"))
                    if result.get("batch") is not None
                    else False,
                    "service_tier": result.get("service_tier") or "",
                    "requests": count(result.get("num_model_requests"), "num_model_requests"),
                    "input_tokens": count(result.get("input_tokens"), "input_tokens"),
                    "cached_input_tokens": count(
                        result.get("input_cached_tokens"), "input_cached_tokens"
                    ),
                    "cache_write_tokens": count(
                        result.get("input_cache_write_tokens"), "input_cache_write_tokens"
                    ),
                    "output_tokens": count(result.get("output_tokens"), "output_tokens"),
                }
            )
    return rows


def cost_rows(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Costs API page -> one row per (bucket, result): amount as a decimal string."""
    rows = []
    for bucket in _buckets(page):
        start, end = _bucket_times(bucket)
        for result in bucket.get("results") or ():
            amount = result.get("amount") or {}
            value = amount.get("value")
            if value is None or isinstance(value, bool):
                raise RecordError("amount.value", "is required")
            line_item = result.get("line_item") or ""
            rows.append(
                {
                    "start_time": start,
                    "end_time": end,
                    "project_id": result.get("project_id") or "",
                    "api_key_id": result.get("api_key_id") or "",
                    "line_item": line_item,
                    "model": line_item.split(",", 1)[0].strip() if "," in line_item else "",
                    "amount": str(value),
                    "currency": (amount.get("currency") or "usd").lower(),
                }
            )
    return rows


def _buckets(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    data = page.get("data")
    if not isinstance(data, list):
        raise RecordError("data", "a Usage/Costs API page needs a `data` list of buckets")
    return [b for b in data if isinstance(b, Mapping)]


def _bucket_times(bucket: Mapping[str, Any]) -> tuple[datetime, datetime]:
    return (
        epoch_seconds(bucket.get("start_time"), "start_time"),
        epoch_seconds(bucket.get("end_time"), "end_time"),
    )


def page_kind(page: Mapping[str, Any]) -> str | None:
    """`usage_api` or `costs_api` for a Usage/Costs page, else None."""
    if page.get("object") != "page" or not isinstance(page.get("data"), list):
        return None
    for bucket in page["data"]:
        for result in (bucket or {}).get("results") or ():
            kind = str((result or {}).get("object", ""))
            if "costs" in kind or "amount" in (result or {}):
                return "costs_api"
            return "usage_api"
    return "usage_api"


# ---------------------------------------------------------------------------------------------
# Shape detection


def record_format(record: object) -> str | None:
    """The format of one parsed JSON record, or None when it matches none."""
    if not isinstance(record, Mapping):
        return None
    kind = page_kind(record)
    if kind:
        return kind
    if "custom_id" in record and ("response" in record or "error" in record):
        return "batch"
    _, body = split_wrapper(record)
    if body.get("type") == "message" or (
        isinstance(body.get("usage"), Mapping) and "cache_read_input_tokens" in body["usage"]
    ):
        return "anthropic"
    if body.get("object") in ("chat.completion", "response", "list", "text_completion"):
        return "openai"
    if isinstance(body.get("usage"), Mapping) and body is not record:
        return "openai"
    if "request_id" in record or "timestamp" in record or "input_tokens" in record:
        return "flat"
    return None


NORMALIZERS = {
    "flat": normalize_flat,
    "openai": normalize_openai,
    "batch": normalize_batch_line,
    "anthropic": normalize_anthropic,
}


def content_keys(record: Mapping[str, Any]) -> list[str]:
    """Top-level (and wrapped-object) content fields present in `record`."""
    found = [k for k in record if k in CONTENT_KEYS and not isinstance(record[k], Mapping)]
    for key in _WRAPPER_KEYS:
        inner = record.get(key)
        if isinstance(inner, Mapping):
            found += [f"{key}.{k}" for k in inner if k in CONTENT_KEYS and k != "usage"]
    return found


def looks_binary(head: bytes) -> bool:
    """True for bytes that are not text (NUL bytes or invalid UTF-8 in the first block)."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a cut multi-byte character at the end is fine
    return False


def sniff(head: bytes, file_name: str = "") -> str:
    """Guess a file's format from its first bytes; FileFormatError for empty or binary files."""
    head = head.removeprefix(BOM)
    stripped = head.lstrip()
    if not stripped:
        raise FileFormatError("the file is empty")
    if looks_binary(head):
        raise FileFormatError("the file is binary, not text (expected JSON lines, JSON or CSV)")
    if stripped[:1] in (b"{", b"["):
        return _sniff_json(stripped)
    if file_name.lower().endswith(".csv") or b"," in stripped.split(b"\n", 1)[0]:
        return "csv"
    raise FileFormatError(
        "the file is neither JSON nor CSV (the first line does not start with { or [ "
        "and has no commas)"
    )


def _sniff_json(stripped: bytes) -> str:
    first = stripped.split(b"\n", 1)[0].strip()
    candidates: list[object] = []
    for blob in (first, stripped):
        try:
            candidates.append(orjson.loads(blob))
            break
        except orjson.JSONDecodeError:
            continue
    if candidates:
        value = candidates[0]
        record = value[0] if isinstance(value, list) and value else value
        found = record_format(record)
        if found:
            return found
    if stripped[:1] == b"[":
        return _sniff_array(stripped)
    return _sniff_pretty(stripped)


def _sniff_array(stripped: bytes) -> str:
    import io

    try:
        for _line, raw in iter_array(io.BytesIO(stripped)):
            return (record_format(orjson.loads(raw)) if raw else None) or "flat"
    except (FileFormatError, orjson.JSONDecodeError):
        pass
    return _sniff_pretty(stripped)


def _sniff_pretty(stripped: bytes) -> str:
    for key, fmt in (
        (b'"custom_id"', "batch"),
        (b'"organization.costs.result"', "costs_api"),
        (b'"organization.usage', "usage_api"),
        (b'"chat.completion"', "openai"),
        (b'"cache_read_input_tokens"', "anthropic"),
    ):
        if key in stripped:
            return fmt
    return "flat"


def whole_file_problem(fmt: str, head: bytes) -> str | None:
    """A message when the start of a file cannot be `fmt` (e.g. a CSV sent as JSON lines)."""
    body = head.removeprefix(BOM).lstrip()
    if fmt in EVENT_FORMATS and fmt != "csv" and body[:1] not in (b"{", b"["):
        first_line = body.split(b"\n", 1)[0]
        if b"," in first_line:
            shown = first_line[:80].decode("utf-8", "replace").strip()
            return (
                f"this looks like CSV (first line: {shown!r}), not JSON; "
                "choose the CSV format and map its columns"
            )
        return f"this is not JSON ({FORMATS[fmt]} expected)"
    if fmt == "csv" and body[:1] in (b"{", b"["):
        return "this looks like JSON, not CSV; choose a JSON format (or let it be detected)"
    return None


# ---------------------------------------------------------------------------------------------
# Streaming readers: bounded memory whatever the file size

Line = tuple[int, bytes | None]  # (line number, bytes) or None for a line over the size limit


def iter_line_blocks(
    stream: Any, block_bytes: int = 1 << 22, limit: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, list[bytes | None]]]:
    """The lines of a binary stream a block at a time: (number of the first line, lines).

    BOM and CR are dropped; blank lines are kept (they count for line numbers); a line over
    `limit` bytes comes as None and is skipped in bounded memory, never held whole.
    """
    number = 1
    pending = b""
    oversized = False
    first = True
    while block := stream.read(block_bytes):
        if first:
            block, first = block.removeprefix(BOM), False
        crlf = b"\r" in block or pending.endswith(b"\r")
        parts = block.split(b"\n")
        lines: list[bytes | None] = []
        if oversized:
            if len(parts) == 1:
                continue
            lines.append(None)
            oversized, pending, parts = False, b"", parts[1:]
        parts[0] = pending + parts[0]
        pending = parts.pop()
        if crlf:
            parts = [p[:-1] if p.endswith(b"\r") else p for p in parts]
        if parts and max(map(len, parts)) > limit:
            lines += [p if len(p) <= limit else None for p in parts]
        else:
            lines += parts
        if len(pending) > limit:
            oversized, pending = True, b""
        if lines:
            yield number, lines
            number += len(lines)
    if oversized:
        yield number, [None]
    elif pending.strip():
        yield number, [pending.removesuffix(b"\r")]


def iter_lines(
    stream: Any, block_bytes: int = 1 << 22, limit: int = MAX_LINE_BYTES
) -> Iterator[Line]:
    """Numbered lines of a binary stream; BOM and CR dropped; over-long lines yield None."""
    for number, lines in iter_line_blocks(stream, block_bytes, limit):
        yield from enumerate(lines, number)


_STRUCTURE = re.compile(rb'[\[\]{}"\\\n]')


def iter_array(
    stream: Any, block_bytes: int = 1 << 22, limit: int = MAX_LINE_BYTES
) -> Iterator[Line]:
    """The objects of one top-level JSON array, each with the line it starts on (streamed)."""
    state = _ArrayState(limit)
    first = True
    while block := stream.read(block_bytes):
        if first:
            block, first = block.removeprefix(BOM), False
        yield from state.feed(block)
    if state.depth != 0 or not state.opened:
        raise FileFormatError("the JSON array is not closed (the file ends early)")


class _ArrayState:
    """Scanner state for `iter_array`: depth, string/escape flags, the element being read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.line = 1
        self.opened = False
        self.buffer: bytearray | None = None
        self.start_line = 0
        self.too_long = False

    def feed(self, block: bytes) -> Iterator[Line]:
        """Scan one block; yield every element that ends inside it."""
        begin = 0  # where the current element's bytes start in this block
        skip = 0 if self.escaped else -1
        self.escaped = False
        for match in _STRUCTURE.finditer(block):
            pos, char = match.start(), match.group()
            if char == b"\n":
                self.line += 1
                continue
            if pos == skip:
                continue
            if self.in_string:
                if char == b"\\":
                    skip = pos + 1
                    if skip == len(block):
                        self.escaped = True
                elif char == b'"':
                    self.in_string = False
                continue
            if char == b'"':
                self.in_string = True
            elif char in (b"{", b"["):
                self.depth += 1
                if self.depth == 1:
                    if char != b"[":
                        raise FileFormatError("expected a JSON array of objects")
                    self.opened = True
                elif self.depth == 2:
                    self.buffer, self.start_line, self.too_long, begin = (
                        bytearray(),
                        self.line,
                        False,
                        pos,
                    )
            else:
                self.depth -= 1
                if self.depth == 1:
                    done = self._append(block[begin : pos + 1])
                    self.buffer = None
                    yield self.start_line, done
        if self.buffer is not None:
            self._append(block[begin:])

    def _append(self, piece: bytes) -> bytes | None:
        if self.buffer is None or self.too_long:
            return None
        self.buffer += piece
        if len(self.buffer) > self.limit:
            self.too_long, self.buffer = True, bytearray()
            return None
        return bytes(self.buffer)


def default_source(fmt: str, project: str | None = None) -> str:
    """The natural-key namespace of a file: its format family, plus the project when given."""
    family = {"usage_api": "openai-usage", "costs_api": "openai-costs"}.get(fmt, fmt)
    return f"{family}:{project}" if project else family


def csv_header(data: bytes) -> list[str]:
    """The column names of a CSV file's first line (BOM and quotes handled)."""
    import csv

    first = data.removeprefix(BOM).split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    return [c.strip() for c in next(csv.reader([first]), [])]


# ---------------------------------------------------------------------------------------------
# Columnar fast path for flat logs: the same rules as `normalize_flat`, checked per column.
# Anything unusual in a row (a bad or odd value, tags instead of feature, a lower-case `t`)
# sends that row to `normalize_flat`, which has the last word; the fast path only ever accepts
# rows that `normalize_flat` would accept, with the same result (a test compares both).

_FAST_LABELS = ("error_type", "project", "user", "finish_reason", "service_tier", "provider")
_TS_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_TS_MARKS = ((4, "-"), (7, "-"), (13, ":"), (16, ":"))
_NONE = type(None)


def _digits(codes: Any, positions: Any) -> Any:
    part = codes[:, positions]
    return ((part >= 48) & (part <= 57)).all(axis=1)


def _rfc3339_shape(codes: Any, width: int) -> Any:
    """Rows (UCS-4 code points, all `width` long) shaped `YYYY-MM-DD[T ]hh:mm:ss[.f{1,9}](Z|±hh:mm)`."""
    import numpy as np

    ok = _digits(codes, list(_TS_DIGITS))
    for position, mark in _TS_MARKS:
        ok &= codes[:, position] == ord(mark)
    ok &= (codes[:, 10] == ord("T")) | (codes[:, 10] == ord(" "))
    shaped = np.zeros(len(codes), dtype=bool)
    for zone in (1, 6):  # "Z" or "+hh:mm"
        fraction = width - 19 - zone
        if fraction < 0 or fraction == 1 or fraction > 10:
            continue
        form = ok.copy()
        if zone == 1:
            form &= codes[:, -1] == ord("Z")
        else:
            sign = codes[:, -6]
            form &= ((sign == ord("+")) | (sign == ord("-"))) & (codes[:, -3] == ord(":"))
            form &= _digits(codes, [width - 5, width - 4, width - 2, width - 1])
        if fraction:
            form &= codes[:, 19] == ord(".")
            form &= _digits(codes, list(range(20, 19 + fraction)))
        shaped |= form
    return shaped


def fast_timestamps(values: list) -> tuple[Any, Any]:
    """RFC 3339 strings -> (UTC microseconds since the epoch as int64, which rows parsed).

    Shapes are checked on the whole column at once; pandas' ISO 8601 parser then reads the
    well-shaped strings in C. Rows it cannot read (Feb 30, second 60, naive, odd shapes) come
    back False, for `parse_timestamp` to explain.
    """
    import numpy as np
    import pandas as pd

    n = len(values)
    micros = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    if not n or set(map(type, values)) != {str}:
        if n:
            strings = [i for i, v in enumerate(values) if type(v) is str]
            sub_micros, sub_ok = fast_timestamps([values[i] for i in strings])
            micros[strings], ok[strings] = sub_micros, sub_ok
        return micros, ok
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
    widths = np.unique(lengths).tolist()
    for width in widths:
        rows = None if len(widths) == 1 else np.flatnonzero(lengths == width)
        if width < 20:
            continue
        column = np.array(values if rows is None else [values[i] for i in rows], dtype=f"<U{width}")
        codes = column.view(np.uint32).reshape(len(column), width)
        shaped = _rfc3339_shape(codes, width)
        if not shaped.any():
            continue
        parsed = pd.to_datetime(column[shaped], format="ISO8601", utc=True, errors="coerce")
        good = ~np.asarray(parsed.isna())
        stamps = np.asarray(parsed.floor("us").as_unit("us").asi8)
        where = np.flatnonzero(shaped) if rows is None else rows[shaped]
        micros[where[good]] = stamps[good]
        ok[where[good]] = True
    return micros, ok


def _count_column(values: list, optional: bool) -> tuple[Any, Any]:
    """Token counts -> (int64 array, which rows are plain non-negative ints or, if optional, None)."""
    import numpy as np

    types = set(map(type, values))
    if types == {int}:
        try:
            array = np.asarray(values, dtype=np.int64)
        except OverflowError:
            array = np.asarray([v if -(2**62) < v < 2**62 else -1 for v in values], np.int64)
        return array, array >= 0
    if optional and types == {_NONE}:
        return np.zeros(len(values), dtype=np.int64), np.ones(len(values), dtype=bool)
    clean = [
        (v if -1 < v < 2**62 else -1) if type(v) is int else (0 if optional and v is None else -1)
        for v in values
    ]
    array = np.asarray(clean, dtype=np.int64)
    return np.maximum(array, 0), array >= 0


def _label_column(values: list) -> tuple[list, Any]:
    """Short labels -> (strings, "" for None; True or a per-row mask of acceptable values)."""
    types = set(map(type, values))
    if types <= {str, _NONE} and max(map(len, filter(None, values)), default=0) <= 200:
        return (values if _NONE not in types else ["" if v is None else v for v in values]), True
    out = [v if type(v) is str and len(v) <= 200 else ("" if v is None else None) for v in values]
    return [v or "" for v in out], [v is not None for v in out]


class RecordColumns:
    """The values of each field across a block of records (None where a record lacks it).

    Plain dicts with the same keys (a clean log) are read one key at a time in C, and `keys`
    names them; any other block is read record by record with `get` (`keys` is None).
    """

    def __init__(self, records: list[Mapping[str, Any]]) -> None:
        from operator import itemgetter

        self.records = records
        self.keys: tuple[str, ...] | None = None
        self._columns: dict[str, list] = {}
        first = records[0] if records else None
        uniform = type(first) is dict and set(map(type, records)) == {dict}
        if uniform and set(map(len, records)) == {len(first)}:
            try:
                self._columns = {key: list(map(itemgetter(key), records)) for key in first}
            except KeyError:  # same number of keys, different names
                self._columns = {}
            else:
                self.keys = tuple(first)

    def __call__(self, name: str) -> list:
        if self.keys is not None:
            found = self._columns.get(name)
            return found if found is not None else [None] * len(self.records)
        return [r.get(name) for r in self.records]


def flat_columns(
    records: list[Mapping[str, Any]], column: RecordColumns | None = None
) -> tuple[dict[str, Any], list[int]]:
    """Normalise flat records column by column: (arrays of the clean rows, positions of the rest).

    The arrays hold the UsageEvent fields: `ts` as UTC microseconds, labels as object arrays,
    counts as int64 with -1 for a missing latency or max_tokens, `batch` as bool. The rest (anything unusual: a bad value, a word for a status, tags instead of feature) goes
    through `normalize_flat` one by one, which gives the same event or the exact error.
    """
    import numpy as np

    n = len(records)
    column = column or RecordColumns(records)
    micros, ok = fast_timestamps(column("timestamp"))
    columns: dict[str, Any] = {"ts": micros}
    for name in ("request_id", "model"):
        values = column(name)
        if (
            set(map(type, values)) != {str}
            or not 0 < min(map(len, values)) <= max(map(len, values)) <= 200
        ):
            ok &= np.fromiter((type(v) is str and 0 < len(v) <= 200 for v in values), bool, n)
            values = [v if type(v) is str else "" for v in values]
        columns[name] = values
    cached = column("cached_input_tokens")
    if None in cached:
        cached = [
            c if c is not None else t for c, t in zip(cached, column("cached_tokens"), strict=True)
        ]
    for name, values, optional in (
        ("input_tokens", column("input_tokens"), False),
        ("output_tokens", column("output_tokens"), False),
        ("cached_input_tokens", cached, True),
        ("cache_write_tokens", column("cache_write_tokens"), True),
        ("reasoning_tokens", column("reasoning_tokens"), True),
    ):
        columns[name], fine = _count_column(values, optional)
        ok &= fine
    ok &= columns["cached_input_tokens"] + columns["cache_write_tokens"] <= columns["input_tokens"]
    ok &= columns["reasoning_tokens"] <= columns["output_tokens"]
    columns["latency_ms"], fine = _latency_column(column("latency_ms"))
    ok &= fine
    for name in _FAST_LABELS:
        columns[name], fine = _label_column(column(name))
        ok &= fine
    features = column("feature")
    columns["feature"], fine = _label_column(features)
    ok &= fine
    if None in features:  # `tags` in place of `feature`: the row normaliser joins them
        tags = column("tags")
        ok &= np.fromiter(
            (f is not None or t is None for f, t in zip(features, tags, strict=True)), bool, n
        )
    columns["status"], fine = _status_column(column("status"), columns["error_type"])
    ok &= fine
    columns["max_tokens"], fine = _max_tokens_column(column("max_tokens"))
    ok &= fine
    batch = column("batch")
    types = set(map(type, batch))
    if types <= {bool}:
        columns["batch"] = np.asarray(batch, dtype=bool) if n else np.zeros(0, bool)
    else:
        ok &= np.fromiter((b is None or type(b) is bool for b in batch), bool, n)
        columns["batch"] = np.fromiter((b is True for b in batch), bool, n)
    finish = columns["finish_reason"]
    if not TRUNCATION_REASONS.isdisjoint(set(finish) - {"length"}):
        columns["finish_reason"] = ["length" if f in TRUNCATION_REASONS else f for f in finish]
    for name in ("request_id", "model", "feature", *_FAST_LABELS):
        columns[name] = np.asarray(columns[name], dtype=object)
    if ok.all():
        return columns, []
    return {name: values[ok] for name, values in columns.items()}, np.flatnonzero(~ok).tolist()


def _latency_column(values: list) -> tuple[Any, Any]:
    """Milliseconds, rounded like `latency` -> (int64 array, -1 where missing; mask of ok rows)."""
    import numpy as np

    types = set(map(type, values))
    if types == {int}:
        array = np.asarray(values, dtype=np.int64)
        return array, array >= 0
    good = [v is None or ((type(v) is int or type(v) is float) and 0 <= v < 1e15) for v in values]
    floats = np.asarray(
        [v if g and v is not None else -1.0 for v, g in zip(values, good, strict=True)], float
    )
    return np.round(floats).astype(np.int64), np.asarray(good, dtype=bool)


def _max_tokens_column(values: list) -> tuple[Any, Any]:
    """max_tokens -> (int64 array, -1 where missing; mask of ok rows)."""
    import numpy as np

    types = set(map(type, values))
    if types == {int}:
        array = np.asarray(values, dtype=np.int64)
        return array, array >= 0
    if types == {_NONE}:
        return np.full(len(values), -1, dtype=np.int64), True
    good = [m is None or (type(m) is int and 0 <= m < 2**62) for m in values]
    clean = [m if g and m is not None else -1 for m, g in zip(values, good, strict=True)]
    return np.asarray(clean, dtype=np.int64), np.asarray(good, dtype=bool)


def _status_column(values: list, error_types: list[str]) -> tuple[Any, Any]:
    """HTTP statuses (words and missing values as `status_code` reads them) -> (array, mask)."""
    import numpy as np

    if set(map(type, values)) == {int}:
        array = np.asarray(values, dtype=np.int64)
        return array, (array >= 100) & (array <= 599)
    out = np.zeros(len(values), dtype=np.int64)
    ok = np.ones(len(values), dtype=bool)
    for i, (value, error_type) in enumerate(zip(values, error_types, strict=True)):
        if type(value) is int and 100 <= value <= 599:
            out[i] = value
            continue
        try:
            out[i] = status_code(value, error_type)
        except RecordError:
            ok[i] = False
    return out, ok
