"""Log every OpenAI SDK call as one metadata-only record in Costdesk's flat log schema.

`instrument(client, sink=...)` wraps `chat.completions.create`, `responses.create` and
`embeddings.create` of a real `openai.OpenAI` or `openai.AsyncOpenAI` client, in place. Each call
(streamed or not, successful or failed) writes ONE record: timestamp, request id (the
`x-request-id` header), the model as resolved by the API, token counts, latency, status, error
type, finish reason, service tier, max_tokens and the caller's project / feature tags. Prompt and
response text, keys and headers other than the request id are never read into a record.

    client = instrument(openai.OpenAI(), "logs/openai.jsonl", project="support")
    client = instrument(openai.AsyncOpenAI(), DatabaseSink(make_engine()), feature="search")

Token counts and finish reasons are read from the SDK's result as plain JSON by the same
functions that read OpenAI objects in log files (`core.logs.formats.openai`), so a logged call
and an uploaded response can never count differently. The sinks live in `integrations.log_sinks`.

A failure to log is reported through the `costdesk.openai_logging` logger and never breaks the
caller's request: a log folder that cannot be made means a warning and no logging, and
`DatabaseSink` stores from a background thread, so a slow or locked database never delays a
call. Clients made later with `client.with_options(...)` / `client.copy()` are new objects:
instrument them too.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
from openai._legacy_response import LegacyAPIResponse

from core.logs.formats.openai import finish_of, usage_values
from core.logs.rules import TRUNCATION_REASONS
from integrations.log_sinks import (
    CallbackSink,
    DatabaseSink,
    JsonlSink,
    NullSink,
    Record,
    Sink,
)

__all__ = [
    "ENDPOINTS",
    "TOKEN_FIELDS",
    "CallLogger",
    "CallbackSink",
    "DatabaseSink",
    "JsonlSink",
    "NullSink",
    "Record",
    "Sink",
    "as_sink",
    "error_fields",
    "fields_of_body",
    "finish_reason",
    "instrument",
    "plain",
    "token_counts",
    "uninstrument",
]

log = logging.getLogger("costdesk.openai_logging")

ENDPOINTS = ("chat", "responses", "embeddings")
# The token counts a record carries, each read from the usage as `core.logs` reads it.
TOKEN_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")


def as_sink(sink: Sink | Callable[[Record], None] | str | Path) -> Sink:
    """A sink from a sink object, a function, or a path to a JSON-lines file."""
    if isinstance(sink, (str, Path)):
        return _jsonl_or_nothing(Path(sink))
    if hasattr(sink, "write"):
        return sink  # type: ignore[return-value]
    if callable(sink):
        return CallbackSink(sink)
    raise TypeError(f"not a sink: {type(sink).__name__}")


def _jsonl_or_nothing(path: Path) -> Sink:
    """A JSON-lines sink at `path`, or a warning and no logging when its folder cannot be made."""
    try:
        return JsonlSink(path)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        text = f"Costdesk cannot log OpenAI usage to {path} ({why}); calls go on unlogged"
        log.warning(text)
        warnings.warn(text, RuntimeWarning, stacklevel=4)
        return NullSink()


# --------------------------------------------------------------------------- reading SDK objects


def _get(obj: Any, *path: str) -> Any:
    """`obj.a.b` (attributes or dict keys), None as soon as a step is missing."""
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def _int(value: Any) -> int:
    """A count as an int; 0 for anything that is not a number."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    """A label as text; "" for anything that is not a string."""
    return value if isinstance(value, str) else ""


def plain(obj: Any) -> Mapping[str, Any]:
    """An SDK object as the mapping its JSON body is; empty when it is neither."""
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    # The SDK builds objects without validating them; pydantic would warn about odd values.
    return dump(warnings=False) if callable(dump) else {}


def token_counts(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """A record's token counts from a Chat, Responses or Embeddings usage (missing = 0)."""
    values, _sources = usage_values(usage)
    return {name: _int(values.get(name)) for name in TOKEN_FIELDS}


def finish_reason(kind: str, body: Mapping[str, Any]) -> str:
    """The finish reason in Chat's words (a completed Response `stop`, a truncated one `length`)."""
    reason = _str(finish_of(body))
    if kind != "responses":
        return reason
    status = _str(body.get("status"))
    if status == "completed":
        return "stop"
    return "length" if reason in TRUNCATION_REASONS else reason or status


def fields_of_body(kind: str, body: Mapping[str, Any]) -> Record:
    """Model, token counts, finish reason and service tier of a finished call's body."""
    usage = body.get("usage")
    return {
        "model": _str(body.get("model")),
        "service_tier": _str(body.get("service_tier")),
        "finish_reason": finish_reason(kind, body),
        "usage_known": usage is not None or kind == "embeddings",
        **token_counts(usage),
    }


def _requested_max_tokens(kind: str, kwargs: dict[str, Any]) -> int | None:
    names = {"chat": ("max_completion_tokens", "max_tokens"), "responses": ("max_output_tokens",)}
    for name in names.get(kind, ()):
        value = kwargs.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def error_fields(exc: BaseException) -> Record:
    """HTTP status and a short error type (API error code, never the message) of a failure."""
    if isinstance(exc, openai.APIStatusError):
        kind = _str(exc.code) or _str(exc.type) or f"http_{exc.status_code}"
        return {"status": exc.status_code, "error_type": kind, "request_id": exc.request_id}
    if isinstance(exc, openai.APITimeoutError):
        return {"status": 0, "error_type": "timeout"}
    if isinstance(exc, openai.APIConnectionError):
        return {"status": 0, "error_type": "connection_error"}
    if isinstance(exc, openai.APIError):
        return {"status": 0, "error_type": _str(exc.code) or _str(exc.type) or "api_error"}
    return {"status": 0, "error_type": f"client_error:{type(exc).__name__}"}


# --------------------------------------------------------------------------- one call


@dataclass
class _Call:
    """What is known about one call while it runs (no prompt text is kept)."""

    kind: str
    model: str
    max_tokens: int | None
    started_at: datetime
    started: float
    fields: Record = field(default_factory=dict)
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class CallLogger:
    """Turns SDK calls into records and hands them to the sink; never raises."""

    def __init__(self, sink: Sink, project: str | None = None, feature: str | None = None) -> None:
        self.sink = sink
        self.project = project or ""
        self.feature = feature or ""

    def start(self, kind: str, kwargs: dict[str, Any]) -> _Call:
        """Note the start of a call."""
        model = kwargs.get("model")
        return _Call(
            kind=kind,
            model=model if isinstance(model, str) else "",
            max_tokens=_requested_max_tokens(kind, kwargs),
            started_at=datetime.now(UTC),
            started=time.perf_counter(),
        )

    def finish(self, call: _Call, **fields: Any) -> None:
        """Write the call's one record (later calls for the same call are ignored)."""
        try:
            with call.lock:
                if call.done:
                    return
                call.done = True
            self.sink.write(self._record(call, {**call.fields, **fields}))
        except Exception:  # logging must never break the caller
            log.warning("could not write a Costdesk usage record", exc_info=True)

    def succeeded(self, call: _Call, result: Any, request_id: str | None) -> None:
        """Record a finished, non-streamed call."""
        try:
            result, request_id = _unwrap_raw(result, request_id)
            fields = fields_of_body(call.kind, plain(result))
        except Exception:
            log.warning("could not read usage from an OpenAI result", exc_info=True)
            fields = {"usage_known": False}
        self.finish(call, request_id=request_id, status=200, **fields)

    def failed(self, call: _Call, exc: BaseException) -> None:
        """Record a call that raised."""
        try:
            fields = error_fields(exc)
        except Exception:
            fields = {"status": 0, "error_type": "unknown"}
        self.finish(call, **fields)

    def _record(self, call: _Call, fields: Record) -> Record:
        error_type = _str(fields.get("error_type"))
        if not error_type and not fields.get("usage_known", True):
            error_type = "usage_unknown"
        return {
            "timestamp": call.started_at.isoformat().replace("+00:00", "Z"),
            "request_id": fields.get("request_id") or f"local-{uuid.uuid4().hex}",
            "model": fields.get("model") or call.model,
            "input_tokens": _int(fields.get("input_tokens")),
            "output_tokens": _int(fields.get("output_tokens")),
            "cached_input_tokens": _int(fields.get("cached_input_tokens")),
            "reasoning_tokens": _int(fields.get("reasoning_tokens")),
            "latency_ms": round((time.perf_counter() - call.started) * 1000),
            "status": _int(fields.get("status", 200)) or None,  # None: no HTTP response
            "error_type": error_type,
            "project": self.project,
            "feature": self.feature,
            "user": "",
            "finish_reason": _str(fields.get("finish_reason")),
            "max_tokens": call.max_tokens,
            "batch": False,
            "service_tier": _str(fields.get("service_tier")),
            "provider": "openai",
            "endpoint": call.kind,
        }


# --------------------------------------------------------------------------- streams


class _StreamState:
    """Folds stream chunks / events into record fields as they pass."""

    def __init__(self, kind: str, injected_usage: bool) -> None:
        self.kind = kind
        self.injected_usage = injected_usage
        self.fields: Record = {"usage_known": False}
        self.finished = False

    def observe(self, item: Any) -> bool:
        """Update the fields from one item; False when the caller should not see it."""
        try:
            if self.kind == "chat":
                return self._chat(item)
            self._responses(item)
        except Exception:
            log.warning("could not read a stream item", exc_info=True)
        return True

    def _chat(self, chunk: Any) -> bool:
        self.fields["model"] = _str(_get(chunk, "model")) or self.fields.get("model", "")
        tier = _str(_get(chunk, "service_tier"))
        self.fields["service_tier"] = tier or self.fields.get("service_tier", "")
        choices = _get(chunk, "choices") or []
        for choice in choices:
            reason = _str(_get(choice, "finish_reason"))
            self.fields["finish_reason"] = reason or self.fields.get("finish_reason", "")
        usage = _get(chunk, "usage")
        if usage is not None:
            self.fields |= token_counts(plain(usage)) | {"usage_known": True}
            return not (self.injected_usage and not choices)
        return True

    def _responses(self, event: Any) -> None:
        kind = _str(_get(event, "type"))
        response = _get(event, "response")
        if response is not None:
            self.fields["model"] = _str(_get(response, "model")) or self.fields.get("model", "")
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self.fields |= fields_of_body("responses", plain(response))
            if kind == "response.failed":
                code = _str(_get(response, "error", "code")) or "response_failed"
                self.fields["error_type"] = code
        elif kind == "error":
            self.fields["error_type"] = _str(_get(event, "code")) or "stream_error"

    def end_fields(self, exc: BaseException | None) -> Record:
        """Fields for the record when the stream ends, normally or not."""
        if exc is not None:
            interrupted = error_fields(exc)
            if interrupted["error_type"] in ("connection_error", "timeout"):
                interrupted["error_type"] = "stream_interrupted"
            interrupted = {k: v for k, v in interrupted.items() if k != "request_id" or v}
            return {**self.fields, **interrupted}
        if not self.finished:
            return {**self.fields, "error_type": "stream_closed_early"}
        return dict(self.fields)


def _watch_sync_stream(logger: CallLogger, call: _Call, stream: Any, injected: bool) -> Any:
    """Replace the stream's iterator with one that records the call when it ends."""
    state = _StreamState(call.kind, injected)
    call.fields["request_id"] = stream.response.headers.get("x-request-id")
    call.fields["status"] = stream.response.status_code

    def observed(inner: Iterator[Any]) -> Iterator[Any]:
        error: BaseException | None = None
        try:
            for item in inner:
                if state.observe(item):
                    yield item
            state.finished = True
        except Exception as exc:
            error = exc
            raise
        finally:
            logger.finish(call, **state.end_fields(error))

    generator = observed(stream._iterator)
    stream._iterator = generator
    original_close = stream.close

    def close() -> None:
        try:
            original_close()
        finally:
            generator.close()
            logger.finish(call, **state.end_fields(None))

    stream.close = close
    weakref.finalize(stream, lambda: logger.finish(call, **state.end_fields(None)))
    return stream


def _watch_async_stream(logger: CallLogger, call: _Call, stream: Any, injected: bool) -> Any:
    """The asyncio twin of `_watch_sync_stream`."""
    state = _StreamState(call.kind, injected)
    call.fields["request_id"] = stream.response.headers.get("x-request-id")
    call.fields["status"] = stream.response.status_code

    async def observed(inner: AsyncIterator[Any]) -> AsyncIterator[Any]:
        error: BaseException | None = None
        try:
            async for item in inner:
                if state.observe(item):
                    yield item
            state.finished = True
        except Exception as exc:
            error = exc
            raise
        finally:
            logger.finish(call, **state.end_fields(error))

    generator = observed(stream._iterator)
    stream._iterator = generator
    original_close = stream.close

    async def close() -> None:
        try:
            await original_close()
        finally:
            await generator.aclose()
            logger.finish(call, **state.end_fields(None))

    stream.close = close
    weakref.finalize(stream, lambda: logger.finish(call, **state.end_fields(None)))
    return stream


def _ask_for_usage(kind: str, kwargs: dict[str, Any]) -> bool:
    """Ask a streamed chat call for its final usage chunk; True when Costdesk added it."""
    if kind != "chat" or not kwargs.get("stream"):
        return False
    options = kwargs.get("stream_options")
    options = dict(options) if isinstance(options, dict) else {}
    if "include_usage" in options:
        return False
    kwargs["stream_options"] = {**options, "include_usage": True}
    return True


# --------------------------------------------------------------------------- wrapping


def _unwrap_raw(result: Any, request_id: str | None) -> tuple[Any, str | None]:
    """The parsed object behind `.with_raw_response` (its body is already read), else as is."""
    if isinstance(result, LegacyAPIResponse):
        request_id = result.headers.get("x-request-id")
        return (None if result._stream else result.parse()), request_id
    return result, request_id


def _request_id(result: Any) -> str | None:
    return getattr(result, "_request_id", None)


def _sync_create(logger: CallLogger, kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        call = logger.start(kind, kwargs)
        injected = _safe_ask_for_usage(kind, kwargs)
        try:
            result = original(*args, **kwargs)
        except Exception as exc:
            logger.failed(call, exc)
            raise
        if isinstance(result, openai.Stream):
            return _safe_watch(_watch_sync_stream, logger, call, result, injected)
        logger.succeeded(call, result, _request_id(result))
        return result

    return create


def _async_create(
    logger: CallLogger, kind: str, original: Callable[..., Any]
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        call = logger.start(kind, kwargs)
        injected = _safe_ask_for_usage(kind, kwargs)
        try:
            result = await original(*args, **kwargs)
        except Exception as exc:
            logger.failed(call, exc)
            raise
        if isinstance(result, openai.AsyncStream):
            return _safe_watch(_watch_async_stream, logger, call, result, injected)
        logger.succeeded(call, result, _request_id(result))
        return result

    return create


def _safe_ask_for_usage(kind: str, kwargs: dict[str, Any]) -> bool:
    try:
        return _ask_for_usage(kind, kwargs)
    except Exception:
        log.warning("could not add stream_options.include_usage", exc_info=True)
        return False


def _safe_watch(
    watch: Callable[..., Any], logger: CallLogger, call: _Call, stream: Any, injected: bool
) -> Any:
    try:
        return watch(logger, call, stream, injected)
    except Exception:
        log.warning("could not watch an OpenAI stream", exc_info=True)
        logger.finish(call, status=200, usage_known=False)
        return stream


def _resources(client: Any) -> list[tuple[str, Any]]:
    return [
        ("chat", client.chat.completions),
        ("responses", client.responses),
        ("embeddings", client.embeddings),
    ]


def instrument(
    client: Any,
    sink: Sink | Callable[[Record], None] | str | Path,
    *,
    project: str | None = None,
    feature: str | None = None,
    throttle: Any = None,
) -> Any:
    """Make `client` log every chat / responses / embeddings call to `sink`; returns `client`.

    `throttle` (an `integrations.throttle.Throttle`) is opt-in: calls then wait for request and
    token budget and retry 429 / 5xx themselves (give the client `max_retries=0` so the SDK does
    not retry as well). Each attempt is its own record, so rate-limited attempts are counted.
    """
    logger = CallLogger(as_sink(sink), project, feature)
    is_async = isinstance(client, openai.AsyncOpenAI)
    for kind, resource in _resources(client):
        original = resource.create
        original = getattr(original, "__costdesk_original__", original)
        wrapped = (_async_create if is_async else _sync_create)(logger, kind, original)
        if throttle is not None:
            wrapped = throttle.wrap(wrapped, kind=kind)
        wrapped.__costdesk_original__ = original  # type: ignore[attr-defined]
        resource.create = wrapped
    return client


def uninstrument(client: Any) -> Any:
    """Restore the client's original methods."""
    for _kind, resource in _resources(client):
        if hasattr(resource.create, "__costdesk_original__"):
            del resource.create
    return client
