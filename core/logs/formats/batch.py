"""OpenAI Batch API output and error files: one line per request, priced at batch rates.

Usage sits in `response.body` as in a Chat or Responses object; errors sit in the body or on
the line. A line without a time of its own (an expired request) takes the time of the file's
other lines. `custom_id` is the caller's row id, not a label: it is not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.logs.events import Mapped
from core.logs.formats import Format, Record
from core.logs.formats.openai import finish_of, map_objects, usage_values, when
from core.logs.rules import RecordError


def detect(record: Record) -> bool:
    """A Batch output or error line."""
    return "custom_id" in record and ("response" in record or "error" in record)


def _body(record: Record) -> Mapping[str, Any]:
    response = record.get("response")
    body = response.get("body") if isinstance(response, Mapping) else None
    return body if isinstance(body, Mapping) else {}


def _error(record: Record, body: Mapping[str, Any]) -> str:
    error = body.get("error") or record.get("error")
    if isinstance(error, Mapping):
        return str(error.get("code") or error.get("type") or "error")
    return ""


def map_line(record: Record, created: object) -> tuple[dict[str, object], dict[str, str]]:
    """One line -> canonical raw values (`created`: the file's time for lines without one)."""
    response = record.get("response")
    body = _body(record)
    error_type = _error(record, body)
    status: object = "error"
    if isinstance(response, Mapping):
        status = response.get("status_code")
        if status is None:
            raise RecordError("response.status_code", "is required")
        if error_type and type(status) is int and status < 400:
            status = "error"
    counts, names = usage_values(body.get("usage") or None)
    ts, ts_name = when({}, body)
    if ts is None:
        ts, ts_name = created, "response.body.created"
        if ts is None:
            raise RecordError(
                ts_name, "no line of this batch file has a time; expired lines need one"
            )
    values = {
        "timestamp": ts,
        "request_id": record.get("id") or record.get("custom_id"),
        "model": body.get("model") or record.get("model") or "unknown",
        "status": status,
        "error_type": error_type,
        "finish_reason": finish_of(body),
        "batch": True,
        "service_tier": body.get("service_tier"),
        "provider": "openai",
        **counts,
    }
    return values, {
        **names,
        "timestamp": ts_name,
        "request_id": "id",
        "status": "response.status_code",
    }


def _first_time(records: list[Record]) -> object:
    for record in records:
        if isinstance(record, Mapping):
            ts, _ = when({}, _body(record))
            if ts is not None:
                return ts
    return None


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Batch lines -> canonical columns; the file's first known time is kept in `state`."""
    if state.get("created") is None:
        state["created"] = _first_time(records)
    created = state["created"]
    return map_objects(records, lambda record: map_line(record, created))


FORMAT = Format(
    name="batch",
    description="OpenAI Batch API output or error file",
    priority=20,
    detect=detect,
    map=map_records,
    wrappers=("response",),
)
