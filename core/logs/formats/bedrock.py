"""AWS Bedrock model invocation logs (`schemaType: ModelInvocationLog`), as delivered to S3 or
CloudWatch: JSON lines, usually gzip-compressed.

Token semantics (Bedrock's `TokenUsage` API reference, the invocation-log fields
`input.inputTokenCount`, `input.cacheReadInputTokenCount`, `input.cacheWriteInputTokenCount`,
`output.outputTokenCount`; checked against genai-prices' AWS extractor, which sums the three
input counts, and samples in tensorzero/tensorzero#5688 where `totalTokens` = input + cache
writes + output):
- `inputTokenCount` EXCLUDES cache reads and writes, which sit beside it (as in Anthropic's
  own API): input = inputTokenCount + cacheReadInputTokenCount + cacheWriteInputTokenCount,
  cached = the reads, cache write = the writes.
- `outputTokenCount` includes any reasoning; Bedrock does not break reasoning out.
- `timestamp` is RFC 3339 UTC (second precision); latency is only in Converse output
  (`output.outputBodyJson.metrics.latencyMs`).
- `modelId` may be an ARN. A mapping from the logged id or ARN to a model, given by the caller
  in `state["bedrock_models"]` (the CLI and the Upload page are to pass the one from the
  settings), wins. Otherwise a foundation-model ARN (`...:foundation-model/<model id>`) or a
  system inference-profile ARN (`...:inference-profile/us.<model id>`) is cut to its model
  part, which the price book resolves; an application inference profile or a provisioned
  model is opaque (its ARN names no model) and is kept as logged, so it shows as unpriced
  until it is mapped or given a custom price.
- A failed call has `errorCode` (`ThrottlingException`, ...): it is the error type, and its
  HTTP status comes from the Bedrock runtime API reference.
- Labels: the caller's `requestMetadata` keys `project`, `feature` and `user` (any case); the
  user is otherwise the caller's role (`identity.arn`). Other metadata keys, the account and
  the region have no canonical field yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import Mapped
from core.logs.formats import Format, Record
from core.logs.formats.litellm import first, mapping, part, total
from core.logs.formats.openai import map_objects

MODELS_STATE = "bedrock_models"
_ARN_MODEL_KINDS = ("foundation-model", "inference-profile")
# Bedrock runtime errors and their HTTP statuses (InvokeModel / Converse API reference).
ERROR_STATUS = {
    "AccessDeniedException": 403,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelStreamErrorException": 424,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 400,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "ValidationException": 400,
}


def detect(record: Record) -> bool:
    """A Bedrock model invocation log record."""
    return record.get("schemaType") == "ModelInvocationLog"


def arn_model(model_id: str) -> str:
    """The model part of a foundation-model or inference-profile ARN; other ids as given."""
    if not model_id.startswith("arn:"):
        return model_id
    resource = model_id.split(":", 5)[-1]  # arn:partition:service:region:account:resource
    kind, _, name = resource.partition("/")
    return name if kind in _ARN_MODEL_KINDS and name else model_id


def model_of(model_id: object, models: Mapping[str, str]) -> object:
    """The model a logged id names: the caller's mapping first, then the ARN's model part."""
    if not isinstance(model_id, str):
        return model_id
    if model_id in models:
        return models[model_id]
    bare = arn_model(model_id)
    return models.get(bare, bare)


def metadata_label(metadata: Mapping[str, Any], name: str) -> object:
    """A caller's `requestMetadata` value by key, whatever its case."""
    return next((v for k, v in metadata.items() if str(k).lower() == name), None)


def usage_counts(record: Record) -> dict[str, object]:
    """Input (own + cache reads + cache writes) and output counts."""
    given, produced = mapping(record.get("input")), mapping(record.get("output"))
    read = part(given.get("cacheReadInputTokenCount"), "input.cacheReadInputTokenCount")
    write = part(given.get("cacheWriteInputTokenCount"), "input.cacheWriteInputTokenCount")
    return {
        "input_tokens": total(given.get("inputTokenCount"), "input.inputTokenCount", read, write),
        "output_tokens": produced.get("outputTokenCount", 0),
        "cached_input_tokens": read,
        "cache_write_tokens": write,
    }


def output_details(record: Record) -> dict[str, object]:
    """Latency (Converse metrics) and stop reason from the logged output body."""
    body = mapping(mapping(record.get("output")).get("outputBodyJson"))
    return {
        "latency_ms": mapping(body.get("metrics")).get("latencyMs"),
        "finish_reason": first(body.get("stopReason"), body.get("stop_reason")),
    }


def map_one(record: Record, models: Mapping[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """One invocation log record -> canonical raw values."""
    metadata = mapping(record.get("requestMetadata"))
    error = record.get("errorCode")
    values = {
        "timestamp": record.get("timestamp"),
        "request_id": record.get("requestId"),
        "model": model_of(record.get("modelId"), models),
        **usage_counts(record),
        **output_details(record),
        "status": ERROR_STATUS.get(error, "error") if error else None,
        "error_type": error,
        "project": metadata_label(metadata, "project"),
        "feature": metadata_label(metadata, "feature"),
        "user": first(metadata_label(metadata, "user"), mapping(record.get("identity")).get("arn")),
        "provider": "bedrock",
    }
    names = {
        "request_id": "requestId",
        "model": "modelId",
        "input_tokens": "input.inputTokenCount",
        "output_tokens": "output.outputTokenCount",
        "latency_ms": "output.outputBodyJson.metrics.latencyMs",
        "error_type": "errorCode",
        "project": "requestMetadata.project",
        "feature": "requestMetadata.feature",
        "user": "requestMetadata.user",
    }
    return values, names


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Invocation log records -> canonical columns (ids mapped by `state["bedrock_models"]`)."""
    models = mapping(state.get(MODELS_STATE))
    return map_objects(records, lambda record: map_one(record, models))


FORMAT = Format(
    name="bedrock",
    description="AWS Bedrock model invocation logs (JSON lines, gzip or not)",
    priority=60,
    detect=detect,
    map=map_records,
    family="bedrock",
)
