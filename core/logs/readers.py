"""Reading log files in bounded memory: shapes, line blocks, JSON arrays, CSV rows.

A file is read a block at a time whatever its size; a record (line or array element) longer
than MAX_LINE_BYTES is skipped unread and reported. The shape of a file (JSON lines, one JSON
array, one pretty-printed JSON document, CSV) is told from its first bytes and, for JSON,
from several of its first lines, never from the first line alone. One binary shape is known:
OTLP protobuf trace exports ("protobuf"), which the format of that shape decodes.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from core.logs.rules import FileFormatError, RecordError

MAX_LINE_BYTES = 1024 * 1024  # a record longer than 1 MiB is rejected unread
BLOCK_BYTES = 1 << 22
HEAD_BYTES = 1 << 20
PROBE_LINES = 20  # lines looked at to tell JSON lines from one document
WHOLE_DOCUMENT_BYTES = 64 << 20  # a pretty-printed single JSON document is read whole up to this
BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
BINARY_SHARE = 0.1  # a head with more than this share of non-text bytes is not a log
PROTOBUF_SUFFIXES = (".pb", ".bin", ".protobuf")
OTLP_FIRST_TAG = 0x0A  # field 1 (resource_spans), length-delimited

Line = tuple[int, bytes | None]  # (line number, bytes), None for a line over the size limit


def open_stream(stream: BinaryIO) -> BinaryIO:
    """The stream itself, or its decompressed content when it is gzip-compressed."""
    head = stream.read(2)
    stream.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    return stream


def looks_binary(head: bytes) -> bool:
    """True when a share of the head is not text (NULs, control bytes, broken UTF-8)."""
    if not head:
        return False
    text = head.decode("utf-8", "replace")
    odd = text.count("\ufffd") + sum(text.count(c) for c in "\x00\x01\x02\x03\x04\x05\x06\x07")
    return odd > BINARY_SHARE * len(text)


def shape_of(head: bytes, file_name: str = "", *, protobuf: bool = False) -> str:
    """ "lines", "array", "document" (one pretty-printed JSON value), "csv" or "protobuf" (an
    OTLP trace export, looked for in a binary file, a file named `.pb`, `.bin` or `.protobuf`,
    or when `protobuf` says a protobuf format was chosen); FileFormatError for an empty or
    other binary file or one that is neither JSON nor CSV."""
    named = file_name.lower().removesuffix(".gz").endswith(PROTOBUF_SUFFIXES)
    if head and (protobuf or named or looks_binary(head)) and looks_like_otlp_proto(head):
        return "protobuf"
    body = head.removeprefix(BOM).lstrip()
    if not body:
        raise FileFormatError("the file is empty")
    if looks_binary(head):
        raise FileFormatError("the file is binary, not text (expected JSON lines, JSON or CSV)")
    if body[:1] == b"[":
        return "array"
    if body[:1] == b"{":
        return "lines" if _some_line_parses(body) else "document"
    first_line = body.split(b"\n", 1)[0]
    if file_name.lower().removesuffix(".gz").endswith(".csv") or b"," in first_line:
        return "csv"
    raise FileFormatError(
        "the file is not JSON or CSV (the first line does not start with { or [ and has no commas)"
    )


def looks_like_otlp_proto(head: bytes) -> bool:
    """Whether a file's head starts an OTLP ExportTraceServiceRequest: one message, or one after
    a 4-byte big-endian length (the Collector's file exporter); the first resource's spans must
    parse when the head holds them whole."""
    if head[:1] == b"\x00" and len(head) > 4:
        size = int.from_bytes(head[:4], "big")
        head = head[4 : 4 + size]
    if head[:1] != bytes([OTLP_FIRST_TAG]):
        return False
    size, start = _varint(head, 1)
    if size is None or size == 0:
        return False
    if start + size > len(head):
        return True  # a first resource larger than the head: its tag and length are all we see
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

    try:
        return bool(ResourceSpans.FromString(head[start : start + size]).ListFields())
    except DecodeError:
        return False


def _varint(data: bytes, at: int) -> tuple[int | None, int]:
    """A protobuf varint at `at`: (value, the position after it), or (None, at) if cut."""
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at
    return None, at


def _some_line_parses(body: bytes) -> bool:
    """Whether any of the first lines is a JSON object on its own (JSON lines, not a document)."""
    lines = [line for line in body.split(b"\n", PROBE_LINES)[:PROBE_LINES] if line.strip()]
    for line in lines:
        try:
            if isinstance(orjson.loads(line), dict):
                return True
        except orjson.JSONDecodeError:
            continue
    return False


def iter_line_blocks(
    stream: Any, block_bytes: int = BLOCK_BYTES, limit: int = MAX_LINE_BYTES
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
    stream: Any, block_bytes: int = BLOCK_BYTES, limit: int = MAX_LINE_BYTES
) -> Iterator[Line]:
    """Numbered lines of a binary stream; BOM and CR dropped; over-long lines yield None."""
    for number, lines in iter_line_blocks(stream, block_bytes, limit):
        yield from enumerate(lines, number)


_STRUCTURE = re.compile(rb'[\[\]{}"\\\n]')


def iter_array(
    stream: Any, block_bytes: int = BLOCK_BYTES, limit: int = MAX_LINE_BYTES
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
                    self.buffer, self.start_line, self.too_long = bytearray(), self.line, False
                    begin = pos
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


def read_document(stream: BinaryIO) -> list[Any]:
    """One pretty-printed JSON document (a page, an object or a list of them) as records."""
    data = stream.read(WHOLE_DOCUMENT_BYTES + 1)
    if len(data) > WHOLE_DOCUMENT_BYTES:
        raise FileFormatError("a JSON document over 64 MiB must be JSON lines or an array")
    try:
        document = orjson.loads(data.removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        raise FileFormatError(f"the file is not valid JSON ({exc})") from None
    return document if isinstance(document, list) else [document]


def csv_reader(stream: BinaryIO) -> tuple[list[str], Iterator[tuple[int, dict | RecordError]]]:
    """The header of a CSV file and its rows as (line, {column: text}) or (line, error)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", errors="replace")
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.DictReader(text)
    columns = [c.strip() for c in (reader.fieldnames or [])]
    if not columns:
        raise FileFormatError("the CSV file has no header row")
    reader.fieldnames = columns

    def rows() -> Iterator[tuple[int, dict | RecordError]]:
        try:
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield reader.line_num, RecordError("line", f"is not valid CSV ({exc})")
                    continue
                yield reader.line_num, row
        finally:
            text.detach()  # the caller's stream stays open

    return columns, rows()


def csv_header(data: bytes) -> list[str]:
    """The column names of a CSV file's first line (BOM and quotes handled)."""
    first = data.removeprefix(BOM).split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r")
    return [c.strip() for c in next(csv.reader([first]), [])]
