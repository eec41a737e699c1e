"""OpenTelemetry traces in the protobuf encoding: `ExportTraceServiceRequest` messages.

A file holds one message (what an OTLP/HTTP exporter sends, or `SerializeToString` writes), or
several, each after a 4-byte big-endian length (the Collector's file exporter with
`format: proto`); a record is one message, numbered from 1 in the file. A message is decoded
with `opentelemetry-proto` into protobuf's JSON mapping (base64 ids, 64-bit integers as text),
which the OTLP/JSON format reads: spans, conventions and token semantics are the same, and so
is the natural-key family, so the same spans sent as JSON and as protobuf are one set of calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from core.logs.formats import Format, Record
from core.logs.formats.otlp import detect, expand, map_records
from core.logs.readers import WHOLE_DOCUMENT_BYTES
from core.logs.rules import FileFormatError, RecordError

LENGTH_BYTES = 4


def messages(data: bytes) -> Iterator[bytes | RecordError]:
    """The messages of a file: the whole file, or each length-prefixed one."""
    if data[:1] != b"\x00":
        yield data
        return
    at = 0
    while at < len(data):
        size = int.from_bytes(data[at : at + LENGTH_BYTES], "big")
        at += LENGTH_BYTES
        if at + size > len(data):
            yield RecordError("message", f"is cut short ({len(data) - at} of {size:,} bytes)")
            return
        yield data[at : at + size]
        at += size


def to_record(message: bytes) -> Record | RecordError:
    """One encoded ExportTraceServiceRequest as protobuf's JSON mapping of it."""
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        request = ExportTraceServiceRequest.FromString(message)
    except DecodeError as exc:
        return RecordError("message", f"is not an OTLP ExportTraceServiceRequest ({exc})")
    return MessageToDict(request, use_integers_for_enums=True)


def decode(stream: BinaryIO) -> Iterator[tuple[int, Record | RecordError]]:
    """The file's export requests, numbered from 1 (read whole, up to 64 MiB)."""
    data = stream.read(WHOLE_DOCUMENT_BYTES + 1)
    if len(data) > WHOLE_DOCUMENT_BYTES:
        raise FileFormatError("a protobuf trace file over 64 MiB must be split")
    for number, message in enumerate(messages(data), start=1):
        yield number, message if isinstance(message, RecordError) else to_record(message)


FORMAT = Format(
    name="otlp_proto",
    description="OpenTelemetry traces, OTLP protobuf (ExportTraceServiceRequest)",
    priority=16,
    detect=detect,
    map=map_records,
    shape="protobuf",
    family="otlp",
    expand=expand,
    decode=decode,
)
