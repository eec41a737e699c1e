"""OpenTelemetry traces (OTLP/JSON): the model calls among their spans, in three conventions.

A record is one export request, `{"resourceSpans": [{"resource": ..., "scopeSpans": [{"spans":
[...]}]}]}`: a whole file, or one per line as the Collector's file exporter writes them. It is
expanded into one row per model-call span; every other span (agents, tools, workflows, HTTP)
is left out, as agent and workflow spans repeat the usage of the calls under them. Attribute
values are OTLP AnyValues; 64-bit integers come as decimal strings or numbers; ids as hex (or
base64, as protobuf's own JSON mapping writes them).

OpenTelemetry GenAI semantic conventions. A model call is a span whose `gen_ai.operation.name`
is `chat`, `text_completion`, `generate_content` or `embeddings` (`invoke_agent`,
`create_agent`, `execute_tool` and others are not); older spans without an operation name count
when they name a provider (`gen_ai.system`) and a usage. `gen_ai.usage.input_tokens` (older
`gen_ai.usage.prompt_tokens`) includes cached tokens: the spec says it SHOULD include every kind
of input token, and that `gen_ai.usage.cache_read.input_tokens` and
`gen_ai.usage.cache_creation.input_tokens` SHOULD be included in it, so they are parts of it,
never added. `gen_ai.usage.output_tokens` (older `completion_tokens`) includes
`gen_ai.usage.reasoning.output_tokens`. Model: `gen_ai.response.model`, else
`gen_ai.request.model`; id: `gen_ai.response.id`, else trace id and span id.

OpenInference (`openinference.span.kind` `LLM` or `EMBEDDING`; `CHAIN`, `AGENT`, `TOOL`...
are left out). `llm.token_count.prompt` includes cache reads and writes: the spec maps
`llm.token_count.prompt_details.cache_read` to OpenAI's `cached_tokens` (a part of
`prompt_tokens`), and its Anthropic instrumentation sets the prompt count to `input_tokens` +
`cache_creation_input_tokens` + `cache_read_input_tokens`. Older instrumentations (Anthropic's
before caching, Bedrock's) wrote the uncached count alone; see the guard below.
`llm.token_count.completion` includes `completion_details.reasoning`. No response id: trace id
and span id. The project is the resource's `openinference.project.name` when set.

Vercel AI SDK (`ai.*`). Only the provider calls count (`ai.operationId` ending in `.doGenerate`,
`.doStream` or `.doEmbed`); `ai.generateText`, `ai.streamText`... sum their steps. From AI SDK 6
(`ai.usage.inputTokenDetails.*` present) `ai.usage.inputTokens` is the total including cache
reads and writes, and `ai.usage.outputTokens` includes reasoning. Up to AI SDK 5
(`ai.usage.inputTokens`/`outputTokens`, earlier `promptTokens`/`completionTokens`) the counts
are the provider's own: Anthropic's input leaves out cache reads (`ai.usage.cachedInputTokens`)
and writes (only in `ai.response.providerMetadata`), so they are added; Google's output leaves
out thoughts (`ai.usage.reasoningTokens`), so they are added; OpenAI's include both; others
(Bedrock, ...) are taken as given. Embedding calls count `ai.usage.tokens`.

Guard, for all three: an input count smaller than its own cache reads plus writes cannot
include them, so it is taken as the uncached count and they are added to it. A failed call
without a usage counts zero tokens; so does the output of an embedding call.

Content (`gen_ai.input.messages`, `llm.input_messages.*`, `ai.prompt`, ...) is never stored:
the content attributes of each model-call span are counted as dropped. Timestamps are the span
start; latency is end minus start; status code 2 or `error.type` marks a failure; the resource's
`service.name` is the default project (the SDKs' placeholder `unknown_service...` counts as
none, so an ingest key's or `--project`'s project fills it).

Who spent it, beyond the project: the environment is the resource's
`deployment.environment.name` (older `deployment.environment`); the team is the resource's
`service.namespace` (OpenTelemetry's group of services, which teams use for what they own),
unless a span or resource names `team.name`; tags are OpenInference's `tag.tags` or Langfuse's
`langfuse.trace.tags` (a list of labels) on the span. The key label is not carried by spans.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from core.logs.events import Mapped
from core.logs.formats import SCRUBBED, Format, Record
from core.logs.formats.openai import map_objects
from core.logs.privacy import CONTENT_KEYS
from core.logs.rules import RecordError

MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
OPENINFERENCE_CALLS = frozenset({"LLM", "EMBEDDING"})
VERCEL_CALLS = (".doGenerate", ".doStream", ".doEmbed")
ORCHESTRATION_KINDS = frozenset({"workflow", "task", "agent", "tool"})  # traceloop.span.kind
ERROR_CODES = (2, "STATUS_CODE_ERROR")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CONTENT_ROOTS = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.documents",
        "gen_ai.retrieval.query.text",
        "llm.input_messages",
        "llm.output_messages",
        "llm.prompts",
        "llm.choices",
        "llm.function_call",
        "llm.prompt_template.template",
        "llm.prompt_template.variables",
        "input.value",
        "output.value",
        "embedding.embeddings",
        "retrieval.documents",
        "reranker.query",
        "reranker.input_documents",
        "reranker.output_documents",
        "ai.prompt",
        "ai.prompt.messages",
        "ai.response.text",
        "ai.response.object",
        "ai.response.reasoning",
        "ai.response.toolCalls",
        "ai.toolCall.args",
        "ai.toolCall.result",
        "ai.value",
        "ai.values",
        "ai.embedding",
        "ai.embeddings",
    }
)

Attributes = dict[str, Any]
Values = tuple[dict[str, object], dict[str, str]]

# ---------------------------------------------------------------------------------------------
# OTLP values


def any_value(value: object) -> object:
    """An OTLP AnyValue as a plain value (64-bit integers given as text become ints)."""
    if not isinstance(value, Mapping) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "intValue" and isinstance(inner, str):
        try:
            return int(inner)
        except ValueError:
            return inner
    if kind == "arrayValue":
        return [any_value(v) for v in (inner or {}).get("values") or ()]
    if kind == "kvlistValue":
        return attributes((inner or {}).get("values"))
    return inner


def attributes(items: object) -> Attributes:
    """An OTLP attribute list (`[{key, value}]`) as a dict."""
    if not isinstance(items, list):
        return {}
    found = {}
    for item in items:
        if not isinstance(item, Mapping):
            continue
        key, inner = item.get("key"), item.get("value")
        if isinstance(key, str):  # most values are strings: read without a call
            plain = type(inner) is dict and "stringValue" in inner
            found[key] = inner["stringValue"] if plain else any_value(inner)  # type: ignore[index]
    return found


def repeated(items: object) -> str:
    """The first attribute key a list names twice ("" when none): which value was meant
    cannot be known."""
    seen = set()
    for item in items if isinstance(items, list) else ():
        key = item.get("key") if isinstance(item, Mapping) else None
        if isinstance(key, str) and key in seen:
            return key
        seen.add(key)
    return ""


def hex_id(value: object, size: int) -> str:
    """A trace or span id as lower-case hex (OTLP/JSON writes hex, protobuf's JSON base64)."""
    if not isinstance(value, str) or not value:
        return ""
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value
    return raw.hex() if len(raw) == size else value


def service_name(resource: dict) -> object:
    """The resource's `service.name`; None for the SDKs' `unknown_service` placeholder."""
    name = resource.get("service.name")
    return None if isinstance(name, str) and name.startswith("unknown_service") else name


def nanos(value: object) -> object:
    """Unix nanoseconds (a decimal string or a number) as an int; None when unset (0)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return None if value in (None, 0, "") else value


def rfc3339(value: object) -> object:
    """Unix nanoseconds as RFC 3339 text (microseconds), or the value as it came."""
    if type(value) is not int or not 0 < value < 253402300800 * 10**9:
        return value
    moment = EPOCH + timedelta(microseconds=value // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------
# Expansion: one row per model-call span


def convention(attrs: Attributes) -> str | None:
    """Which convention a span's model call follows, or None when it is not a model call."""
    operation_id = attrs.get("ai.operationId")
    if operation_id is not None:
        return "vercel" if str(operation_id).endswith(VERCEL_CALLS) else None
    kind = attrs.get("openinference.span.kind")
    if kind is not None:
        return "openinference" if str(kind).upper() in OPENINFERENCE_CALLS else None
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return "gen_ai" if operation in MODEL_OPERATIONS else None
    if attrs.get("traceloop.span.kind") in ORCHESTRATION_KINDS:
        return None
    named = "gen_ai.provider.name" in attrs or "gen_ai.system" in attrs
    used = any(k.startswith("gen_ai.usage.") for k in attrs)
    return "gen_ai" if named and used else None


@lru_cache(maxsize=8192)
def content_root(key: str) -> str | None:
    """The content attribute a key is (or is a flattened part of), else None."""
    if key in CONTENT_KEYS:
        return key
    while key:
        if key in CONTENT_ROOTS:
            return key
        key = key.rpartition(".")[0]
    return None


def content_of(attrs: Attributes, events: object) -> list[str]:
    """The content attributes a span holds, on itself or on its events (each named once)."""
    keys = list(attrs)
    for event in events if isinstance(events, list) else ():
        if isinstance(event, Mapping):
            keys += attributes(event.get("attributes"))
    return sorted({root for root in map(content_root, keys) if root})


def exception_type(events: object) -> str:
    """The `exception.type` of a span's first exception event ("" when none)."""
    for event in events if isinstance(events, list) else ():
        if isinstance(event, Mapping) and event.get("name") == "exception":
            found = attributes(event.get("attributes")).get("exception.type")
            return found if isinstance(found, str) else ""
    return ""


def span_row(span: Mapping[str, Any], attrs: Attributes, resource: Attributes, kind: str) -> dict:
    """One model-call span (of convention `kind`) as the row `map_one` reads."""
    status = span.get("status")
    code = status.get("code") if isinstance(status, Mapping) else None
    trace, span_id = hex_id(span.get("traceId"), 16), hex_id(span.get("spanId"), 8)
    return {
        "convention": kind,
        "attributes": attrs,
        "resource": resource,
        "key": f"{trace}:{span_id}" if trace and span_id else None,
        "start": nanos(span.get("startTimeUnixNano")),
        "end": nanos(span.get("endTimeUnixNano")),
        "failed": code in ERROR_CODES or bool(attrs.get("error.type")),
        "exception": exception_type(span.get("events")),
        "twice": repeated(span.get("attributes")),
        SCRUBBED: content_of(attrs, span.get("events")),
    }


def listed(holder: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
    """The objects of a list in an export request (missing is empty)."""
    items = holder.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise RecordError(path, "must be a list of objects")
    return items


def expand(record: Record) -> list[dict]:
    """An export request -> one row per model-call span, in the order they come."""
    if "resourceSpans" not in record:
        raise RecordError("resourceSpans", "is required (an OTLP trace export request)")
    rows = []
    for resource_spans in listed(record, "resourceSpans", "resourceSpans"):
        resource = resource_spans.get("resource")
        labels = attributes(resource.get("attributes") if isinstance(resource, Mapping) else None)
        for scope in listed(resource_spans, "scopeSpans", "resourceSpans[].scopeSpans"):
            for span in listed(scope, "spans", "resourceSpans[].scopeSpans[].spans"):
                attrs = attributes(span.get("attributes"))
                kind = convention(attrs)
                if kind is not None:
                    rows.append(span_row(span, attrs, labels, kind))
    return rows


# ---------------------------------------------------------------------------------------------
# Mapping: shared parts


def first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[object, str]:
    """The first of `keys` a span sets, with its name (None and the first name if none)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value, key
    return None, keys[0]


def whole(value: object) -> int | None:
    """A plain non-negative int (None for anything the count rule would have to judge)."""
    return value if type(value) is int and value >= 0 else None


def plus(total: object, *parts: object) -> object:
    """`total` with `parts` added, when all are plain counts (missing parts are 0)."""
    numbers = [whole(total), *(0 if p is None else whole(p) for p in parts)]
    return total if None in numbers else sum(numbers)  # type: ignore[arg-type]


def with_cache(input_tokens: object, read: object, write: object) -> object:
    """The input count, with its cache parts added when it is smaller than they are (it then
    cannot include them: the instrumentation wrote the uncached count)."""
    parts = (whole(read) or 0) + (whole(write) or 0)
    count = whole(input_tokens)
    return count + parts if count is not None and parts > count else input_tokens


def json_object(value: object) -> Mapping[str, Any]:
    """A JSON object held in a string attribute (empty when it is not one)."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            found = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return found if isinstance(found, Mapping) else {}
    return value if isinstance(value, Mapping) else {}


def span_values(row: Mapping[str, Any]) -> dict[str, object]:
    """What every convention reads the same way: time, latency, outcome, project, key."""
    attrs, start, end = row["attributes"], row["start"], row["end"]
    failed = row["failed"]
    error = attrs.get("error.type") or row["exception"] or ("error" if failed else "")
    http_status = attrs.get("http.response.status_code")
    timed = type(start) is int and type(end) is int
    return {
        "timestamp": rfc3339(start),
        "request_id": row["key"],
        "latency_ms": (end - start) / 1e6 if timed else None,
        "status": http_status if http_status is not None else ("error" if failed else None),
        "error_type": error,
        "project": service_name(row["resource"]),
        "user": attrs.get("user.id") or attrs.get("enduser.id"),
        **dimension_values(attrs, row["resource"]),
    }


def dimension_values(attrs: Attributes, resource: Attributes) -> dict[str, object]:
    """Environment, team and tags of a span (see the module docstring)."""
    return {
        "environment": resource.get("deployment.environment.name")
        or resource.get("deployment.environment"),
        "team": attrs.get("team.name")
        or resource.get("team.name")
        or resource.get("service.namespace"),
        "tags": attrs.get("tag.tags") or attrs.get("langfuse.trace.tags"),
    }


def counts(row: Mapping[str, Any], usage: dict[str, object], embedding: bool) -> dict:
    """Usage with the guard applied; a failed call's missing counts (and an embedding's
    output) are zero."""
    usage["input_tokens"] = with_cache(
        usage["input_tokens"], usage.get("cached_input_tokens"), usage.get("cache_write_tokens")
    )
    for name in ("input_tokens", "output_tokens"):
        if usage.get(name) is None and (row["failed"] or (embedding and name == "output_tokens")):
            usage[name] = 0
    return usage


SPAN_NAMES = {
    "timestamp": "startTimeUnixNano",
    "request_id": "traceId:spanId",
    "latency_ms": "endTimeUnixNano - startTimeUnixNano",
    "status": "status.code",
    "error_type": "error.type",
    "project": "service.name",
    "user": "user.id",
    "environment": "deployment.environment.name",
    "team": "service.namespace",
    "tags": "tag.tags",
}

# ---------------------------------------------------------------------------------------------
# The three conventions


def gen_ai_values(row: Mapping[str, Any]) -> Values:
    """A GenAI semantic-conventions span -> canonical values and their attribute names."""
    a = row["attributes"]
    names: dict[str, str] = {}
    picks = {
        "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cached_input_tokens": (
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
        ),
        "cache_write_tokens": (
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
        ),
        "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens",),
        "model": ("gen_ai.response.model", "gen_ai.request.model"),
        "provider": ("gen_ai.provider.name", "gen_ai.system"),
        "service_tier": ("openai.response.service_tier", "gen_ai.openai.response.service_tier"),
    }
    values: dict[str, object] = {}
    for field, keys in picks.items():
        values[field], names[field] = first(a, keys)
    reasons = a.get("gen_ai.response.finish_reasons")
    usage = {k: values.pop(k) for k in list(values) if k.endswith("_tokens")}
    embedding = a.get("gen_ai.operation.name") == "embeddings"
    base = span_values(row)
    if a.get("gen_ai.response.id") is not None:
        base["request_id"], names["request_id"] = a["gen_ai.response.id"], "gen_ai.response.id"
    return {
        **base,
        **values,
        **counts(row, usage, embedding),
        "finish_reason": reasons[0] if isinstance(reasons, list) and reasons else reasons,
        "max_tokens": a.get("gen_ai.request.max_tokens"),
        "feature": a.get("gen_ai.agent.name"),
    }, {**SPAN_NAMES, **names, "finish_reason": "gen_ai.response.finish_reasons"}


def openinference_values(row: Mapping[str, Any]) -> Values:
    """An OpenInference LLM or EMBEDDING span -> canonical values and their attribute names."""
    a = row["attributes"]
    names: dict[str, str] = {}
    picks = {
        "input_tokens": ("llm.token_count.prompt",),
        "output_tokens": ("llm.token_count.completion",),
        "cached_input_tokens": ("llm.token_count.prompt_details.cache_read",),
        "cache_write_tokens": ("llm.token_count.prompt_details.cache_write",),
        "reasoning_tokens": ("llm.token_count.completion_details.reasoning",),
        "model": (
            "llm.response.model_name",
            "llm.model_name",
            "llm.request.model_name",
            "embedding.model_name",
        ),
        "provider": ("llm.provider", "llm.system"),
    }
    values: dict[str, object] = {}
    for field, keys in picks.items():
        values[field], names[field] = first(a, keys)
    usage = {k: values.pop(k) for k in list(values) if k.endswith("_tokens")}
    embedding = str(a.get("openinference.span.kind")).upper() == "EMBEDDING"
    parameters = json_object(a.get("llm.invocation_parameters"))
    limit, _ = first(parameters, ("max_tokens", "max_completion_tokens", "max_output_tokens"))
    base = span_values(row)
    base["project"] = row["resource"].get("openinference.project.name") or base["project"]
    return {
        **base,
        **values,
        **counts(row, usage, embedding),
        "finish_reason": a.get("llm.finish_reason"),
        "max_tokens": limit,
    }, {**SPAN_NAMES, **names, "max_tokens": "llm.invocation_parameters"}


def vercel_usage(a: Attributes, provider: str) -> Values:
    """AI SDK usage in Costdesk's counting (see the module docstring), with attribute names."""
    picks = {
        "input_tokens": ("ai.usage.inputTokens", "ai.usage.promptTokens"),
        "output_tokens": ("ai.usage.outputTokens", "ai.usage.completionTokens"),
        "cached_input_tokens": (
            "ai.usage.inputTokenDetails.cacheReadTokens",
            "ai.usage.cachedInputTokens",
        ),
        "cache_write_tokens": ("ai.usage.inputTokenDetails.cacheWriteTokens",),
        "reasoning_tokens": (
            "ai.usage.outputTokenDetails.reasoningTokens",
            "ai.usage.reasoningTokens",
        ),
    }
    usage: dict[str, object] = {}
    names: dict[str, str] = {}
    for field, keys in picks.items():
        usage[field], names[field] = first(a, keys)
    if any(
        k.startswith(("ai.usage.inputTokenDetails.", "ai.usage.outputTokenDetails.")) for k in a
    ):
        return usage, names  # AI SDK 6 and later: already totals
    anthropic = json_object(json_object(a.get("ai.response.providerMetadata")).get("anthropic"))
    for field, key in (
        ("cached_input_tokens", "cacheReadInputTokens"),
        ("cache_write_tokens", "cacheCreationInputTokens"),
    ):
        if usage[field] is None and anthropic.get(key) is not None:
            usage[field], names[field] = anthropic.get(key), "ai.response.providerMetadata"
    if "anthropic" in provider:
        usage["input_tokens"] = plus(
            usage["input_tokens"], usage["cached_input_tokens"], usage["cache_write_tokens"]
        )
    elif provider.startswith("google"):
        usage["output_tokens"] = plus(usage["output_tokens"], usage["reasoning_tokens"])
    return usage, names


def vercel_values(row: Mapping[str, Any]) -> Values:
    """A Vercel AI SDK provider-call span -> canonical values and their attribute names."""
    a = row["attributes"]
    provider = str(a.get("ai.model.provider") or "")
    embedding = str(a.get("ai.operationId")).endswith(".doEmbed")
    if embedding:
        usage, names = (
            {"input_tokens": a.get("ai.usage.tokens")},
            {"input_tokens": "ai.usage.tokens"},
        )
    else:
        usage, names = vercel_usage(a, provider)
    model, names["model"] = first(a, ("ai.response.model", "gen_ai.response.model", "ai.model.id"))
    response_id, id_name = first(a, ("ai.response.id", "gen_ai.response.id"))
    limit, names["max_tokens"] = first(a, ("ai.settings.maxOutputTokens", "ai.settings.maxTokens"))
    base = span_values(row)
    if response_id is not None:
        base["request_id"], names["request_id"] = response_id, id_name
    return {
        **base,
        **counts(row, usage, embedding),
        "model": model,
        "provider": provider.split(".")[0] or None,
        "finish_reason": a.get("ai.response.finishReason"),
        "max_tokens": limit,
        "feature": a.get("ai.telemetry.functionId"),
    }, {**SPAN_NAMES, **names, "finish_reason": "ai.response.finishReason"}


MAPPERS: dict[str, Callable[[Mapping[str, Any]], Values]] = {
    "gen_ai": gen_ai_values,
    "openinference": openinference_values,
    "vercel": vercel_values,
}


def map_one(row: Record) -> Values:
    """One model-call span row -> canonical raw values and the attribute names of each."""
    if row["twice"]:
        raise RecordError(row["twice"], "appears twice in the span; send one value")
    return MAPPERS[row["convention"]](row)


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Model-call span rows -> canonical columns."""
    return map_objects(records, map_one)


def detect(record: Record) -> bool:
    """An OTLP trace export request (`resourceSpans`)."""
    return isinstance(record.get("resourceSpans"), list)


FORMAT = Format(
    name="otlp",
    description="OpenTelemetry traces, OTLP/JSON (GenAI, OpenInference, Vercel AI SDK spans)",
    priority=15,
    detect=detect,
    map=map_records,
    expand=expand,
    family="otlp",
)
