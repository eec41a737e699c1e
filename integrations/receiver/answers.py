"""What the receiver answers: OTLP responses in the request's encoding, and JSON ingest reports.

One verdict per ingest report decides the status for both endpoints: a body that cannot be
read, or whose every record was rejected, is a 400 with the first errors (line, field, reason,
as the file ingest reports them); some records rejected, or conflicting with a stored copy,
is a partial success (OTLP's `partial_success` with `rejected_spans` and `error_message`); a
database that stayed busy is a 503, which OTLP exporters retry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

import orjson

from db.ingest import IngestReport
from db.ingest.writer import BUSY

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SHOWN_ERRORS = 5
# google.rpc.Code values carried by the Status of an error answer
INVALID_ARGUMENT, UNAUTHENTICATED, UNAVAILABLE = 3, 16, 14
GRPC_CODES = {400: INVALID_ARGUMENT, 401: UNAUTHENTICATED, 413: INVALID_ARGUMENT}
GRPC_CODES |= {415: INVALID_ARGUMENT, 503: UNAVAILABLE}


class Answer(NamedTuple):
    """An HTTP answer: status, body and its media type."""

    status: int
    body: bytes
    media_type: str


def verdict(report: IngestReport) -> str:
    """ "busy", "unusable", "rejected" (nothing usable), "partial" or "ok"."""
    if report.file_error:
        return "busy" if report.file_error == BUSY else "unusable"
    taken = report.accepted + report.duplicates + report.conflicts
    if report.rejected and not taken:
        return "rejected"
    return "partial" if report.rejected or report.conflicts else "ok"


def first_errors(report: IngestReport) -> str:
    """The whole-body problem, or the first rejected records as `line L: field: reason`."""
    if report.file_error:
        return report.file_error
    shown = [f"line {e.line}: {e.field}: {e.reason}" for e in report.errors[:SHOWN_ERRORS]]
    if report.rejected > len(shown):
        shown.append(f"and {report.rejected - len(shown):,} more")
    return "; ".join(shown)


def notes(report: IngestReport) -> str:
    """What a sender should know of an ingest that was taken: rejections, conflicts, prices."""
    found = [first_errors(report)] if report.rejected else []
    if report.conflicts:
        ids = ", ".join(report.conflict_ids[:SHOWN_ERRORS])
        found.append(
            f"{report.conflicts:,} with a request id stored before with other content "
            f"(the first copy is kept): {ids}"
        )
    if report.unpriced_models:
        models = ", ".join(sorted(report.unpriced_models))
        found.append(f"stored without a price (their cost is not counted): {models}")
    return "; ".join(found)


def status_of(verdict_: str) -> int:
    """The HTTP status of a verdict."""
    return {"busy": 503, "unusable": 400, "rejected": 400}.get(verdict_, 200)


def otlp_answer(report: IngestReport, encoding: str) -> Answer:
    """The answer to an OTLP export: ExportTraceServiceResponse, or a Status for a failure."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    found = verdict(report)
    if status_of(found) != 200:
        return otlp_error(status_of(found), first_errors(report), encoding)
    response = ExportTraceServiceResponse()
    message = notes(report)
    if message:  # rejected_spans 0 with a message is a warning (OTLP's partial success)
        rejected = report.rejected + report.conflicts
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        )
    return _message(200, response, encoding)


def otlp_error(status: int, message: str, encoding: str) -> Answer:
    """A failed OTLP export: a google.rpc.Status in the request's encoding."""
    from google.rpc.status_pb2 import Status

    return _message(status, Status(code=GRPC_CODES.get(status, 2), message=message), encoding)


def _message(status: int, message: Any, encoding: str) -> Answer:
    """A protobuf message as protobuf, or in protobuf's JSON mapping."""
    from google.protobuf.json_format import MessageToDict

    if encoding == "proto":
        return Answer(status, message.SerializeToString(), PROTOBUF)
    return Answer(status, orjson.dumps(MessageToDict(message)), JSON)


def ingest_answer(report: IngestReport) -> Answer:
    """The answer to a log batch: the ingest report as `ingest --json` gives it, with `status`."""
    found = verdict(report)
    payload = {"status": found, **report.as_json()}
    if found != "ok":
        payload["error"] = first_errors(report) if status_of(found) != 200 else notes(report)
    return Answer(status_of(found), orjson.dumps(payload, default=_decimal), JSON)


def json_error(status: int, message: str) -> Answer:
    """A failed log batch: `{"error": message}`."""
    return Answer(status, orjson.dumps({"error": message}), JSON)


def _decimal(value: object) -> str:
    """Money as a plain decimal string (never an exponent)."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    raise TypeError(f"cannot serialise {type(value).__name__}")
