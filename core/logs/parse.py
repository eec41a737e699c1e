"""One log file, read: shape, format, and its records as validated blocks of events.

    file -> shape (lines, array, document, csv, protobuf) -> raw blocks of parsed records
         -> format (detected from many records, or given) -> rows (format.expand, if any)
         -> canonical columns (format.map) -> one validation (core.logs.events)
         -> content dropped, secrets redacted -> Block

Each `Block` holds the accepted events of up to CHUNK_ROWS records in line order (more when a
format expands each record into many rows), and the rejected ones with their line, field and
reason. Nothing here touches a database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, BinaryIO

import numpy as np
import orjson

from core.logs import formats, readers
from core.logs.events import TEXT_COLUMNS, Events, validate
from core.logs.formats import SCRUBBED, Format
from core.logs.privacy import (
    CONTENT_KEYS,
    Scrub,
    content_keys,
    redact,
    secret_items,
    secret_lines,
    secret_paths,
)
from core.logs.rules import FileFormatError, RecordError

CHUNK_ROWS = 4_096  # records per block; parsed, a record holds ~2 KB, so a block ~8 MB in flight
DETECT_RECORDS = 200  # records the format is detected from
NOT_OBJECT = "must be a JSON object"
TWICE = "appears twice in the record; send one value"


@dataclass
class RawBlock:
    """Parsed records of a stretch of the file, before mapping: lines, records, raw bytes."""

    lines: list[int] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    errors: list[tuple[int, RecordError]] = field(default_factory=list)

    def add(self, line: int, record: Any, raw: bytes) -> None:
        """One parsed record."""
        self.lines.append(line)
        self.records.append(record)
        self.raws.append(raw)


@dataclass
class Block:
    """Validated records: accepted events (with their `line`) and rejected (line, error)."""

    events: Events
    rejected: list[tuple[int, RecordError]]
    position: int = 0  # bytes of the file read when the block was complete

    @property
    def size(self) -> int:
        """Accepted events in the block."""
        return len(self.events["line"])


def default_source(fmt: Format, project: str | None = None) -> str:
    """The natural-key namespace of a file: its format family, plus the project when given."""
    family = fmt.source_family
    return f"{family}:{project}" if project else family


class LogFile:
    """A log file being read. Shape and format are known once it is opened (the first block
    is read to detect the format); `blocks()` then yields the validated blocks in order."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        file_name: str = "",
        fmt: str | None = None,
        mapping: Mapping[str, str] | None = None,
        project: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        self.raw_stream = stream
        self.stream = readers.open_stream(stream)
        self.file_name = file_name
        self.project = project or None
        self.scrub = Scrub()
        self.state: dict[str, Any] = dict(state or {})  # settings the formats read (Bedrock ids)
        head = self.stream.read(readers.HEAD_BYTES)
        self.stream.seek(0)
        self.shape = readers.shape_of(head, file_name, protobuf=_names_protobuf(fmt))
        chosen = self._chosen(fmt)
        self._raw = self._raw_blocks(mapping, chosen)
        self._first = next(self._raw, None)
        self.format = chosen or self._detected()
        self.source = default_source(self.format, self.project)

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, fmt: str = "flat", project: str | None = None
    ) -> LogFile:
        """Records already parsed (numbered from 1), read as if they were a JSON-lines file."""
        self = cls.__new__(cls)
        self.raw_stream = self.stream = None  # type: ignore[assignment]
        self.file_name, self.project, self.scrub, self.state = "", project or None, Scrub(), {}
        self.shape = "lines"
        self._raw = _record_blocks(records)
        self._first = next(self._raw, None)
        self.format = self._chosen(fmt) or self._detected()
        self.source = default_source(self.format, self.project)
        return self

    def release(self) -> None:
        """Drop the block read ahead when opening (another process reads the file): a
        block's parsed records are many times its bytes."""
        self._first = None
        self._raw = iter(())

    def position(self) -> int:
        """Bytes of the file read so far (of the compressed file, for a gzip file)."""
        if self.raw_stream is None or self.raw_stream.closed:
            return 0
        return self.raw_stream.tell()

    def _chosen(self, name: str | None) -> Format | None:
        """The format the caller named (checked against the file's shape), if any."""
        if name is None:
            return None
        if name not in formats.registry():
            known = ", ".join(formats.registry())
            raise FileFormatError(f"unknown format {name!r}; formats: {known}")
        chosen = formats.get(name)
        self._check_shape(chosen)
        return chosen

    def _detected(self) -> Format:
        """The format most of the first block's records have."""
        records = self._first.records[:DETECT_RECORDS] if self._first else []
        found = formats.detect(records, _format_shape(self.shape))
        if found is None:
            raise FileFormatError("no record of this file is in a known log format")
        return formats.get(found)

    def _check_shape(self, chosen: Format) -> None:
        if (chosen.shape == "protobuf") != (self.shape == "protobuf"):
            raise FileFormatError(
                f"the {chosen.name} format reads "
                + ("OTLP protobuf files" if chosen.shape == "protobuf" else "text, not protobuf")
            )
        if chosen.shape == "csv" and self.shape != "csv":
            raise FileFormatError(
                "this looks like JSON, not CSV; choose a JSON format (or let it be detected)"
            )
        if chosen.shape == "json" and self.shape == "csv":
            raise FileFormatError(
                "this looks like CSV, not JSON; choose the CSV format and map its columns"
            )

    def _raw_blocks(
        self, mapping: Mapping[str, str] | None, chosen: Format | None = None
    ) -> Iterator[RawBlock]:
        if self.shape == "protobuf":
            return _decoded_blocks((chosen or formats.decoder(self.shape)).decode, self.stream)
        if self.shape == "csv":
            return self._csv_blocks(mapping)
        if self.shape == "array":
            return _element_blocks(readers.iter_array(self.stream))
        if self.shape == "document":
            return self._document_blocks()
        return _line_blocks(readers.iter_line_blocks(self.stream))

    def _document_blocks(self) -> Iterator[RawBlock]:
        try:
            records = readers.read_document(self.stream)
        except FileFormatError:
            self.stream.seek(0)
            yield from _line_blocks(readers.iter_line_blocks(self.stream))
            return
        block = RawBlock()
        for record in records:
            block.add(1, record, orjson.dumps(record))
        yield block

    def _csv_blocks(self, mapping: Mapping[str, str] | None) -> Iterator[RawBlock]:
        """CSV rows as {column: text}; the header and any mapping given are left in `state`
        for the format (the generic CSV format checks the mapping; others know their columns)."""
        columns, rows = readers.csv_reader(self.stream)
        self.state["columns"] = columns
        self.state["mapping"] = dict(mapping) if mapping else None
        block = RawBlock()
        for line, row in rows:
            if isinstance(row, RecordError):
                block.errors.append((line, row))
                continue
            block.add(
                line, row, "\x00".join(v for v in row.values() if isinstance(v, str)).encode()
            )
            if len(block.records) >= CHUNK_ROWS:
                yield block
                block = RawBlock()
        yield block

    def raw_blocks(self) -> Iterator[RawBlock]:
        """The raw blocks, the first (read when opening) included."""
        if self._first is not None:
            yield self._first
            self._first = None
        yield from self._raw

    def blocks(self, progress: Callable[[int], None] | None = None) -> Iterator[Block]:
        """Validated blocks of events, in line order."""
        if self.format.map is None:
            raise FileFormatError(f"{self.format.name} pages are not request records")
        for raw in self.raw_blocks():
            block = self.validate(raw)
            block.position = self.position()
            if progress:
                progress(block.position)
            yield block

    def pages(self) -> Iterator[tuple[int, list[dict[str, Any]] | RecordError]]:
        """Usage or cost pages flattened to rows, or the error of a page that cannot be read."""
        for raw in self.raw_blocks():
            yield from raw.errors
            for line, page in zip(raw.lines, raw.records, strict=True):
                if not isinstance(page, Mapping):
                    yield line, RecordError("record", NOT_OBJECT)
                    continue
                try:
                    yield line, self.format.rows(page)  # type: ignore[misc]
                except RecordError as err:
                    yield line, err

    def validate(self, raw: RawBlock) -> Block:
        """Map, validate and scrub one raw block."""
        rejected = list(raw.errors)
        plain = set(map(type, raw.records)) <= {dict}  # parsed JSON objects: one look in C
        twice = repeated_keys(raw) if plain and self.shape in ("lines", "array", "document") else {}
        rejected += [(raw.lines[i], RecordError(key, TWICE)) for i, key in twice.items()]
        keep = (
            range(len(raw.records))
            if plain and not twice
            else [i for i, r in enumerate(raw.records) if isinstance(r, Mapping) and i not in twice]
        )
        if len(keep) < len(raw.records):
            rejected += [
                (raw.lines[i], RecordError("record", NOT_OBJECT))
                for i in _missing(keep, len(raw.records))
                if i not in twice
            ]
            raw = RawBlock(
                [raw.lines[i] for i in keep],
                [raw.records[i] for i in keep],
                [raw.raws[i] for i in keep],
            )
        keys = set().union(*raw.records) if plain else None  # every key of the block, once
        self._count_content(raw.records, keys)
        records, record_lines = self._expanded(raw, rejected)
        mapped = self.format.map(records, self.state)  # type: ignore[misc]
        events, errors = validate(mapped)
        lines = np.asarray(record_lines, dtype=np.int64)
        rejected += [(int(lines[row]), err) for row, err in errors]
        events["line"] = lines[events.pop("row")]
        self._scrub_secrets(events, raw, keys)
        if self.project:
            events["project"][events["project"] == ""] = self.project
        return Block(events, sorted(rejected, key=lambda item: item[0]))

    def _expanded(self, raw: RawBlock, rejected: list) -> tuple[list[Any], list[int]]:
        """The records to map and their lines: as read, or the rows each record expands to
        (each with its record's line; the content fields a row names are counted)."""
        expand = self.format.expand
        if expand is None:
            return raw.records, raw.lines
        rows: list[Any] = []
        lines: list[int] = []
        for line, record in zip(raw.lines, raw.records, strict=True):
            try:
                found = expand(record)
            except RecordError as err:
                rejected.append((line, err))
                continue
            for row in found:
                self.scrub.add_content(row.pop(SCRUBBED, None) or ())
            rows += found
            lines += [line] * len(found)
        return rows, lines

    def _count_content(self, records: list[Mapping[str, Any]], keys: set | None) -> None:
        """Count the content fields the records hold (dropped: never stored)."""
        wrappers = self.format.wrappers
        if not records or (not wrappers and keys is not None and CONTENT_KEYS.isdisjoint(keys)):
            return
        for record in records:
            found = content_keys(record, wrappers)
            if found:
                self.scrub.add_content(found)

    def _scrub_secrets(self, events: Events, raw: RawBlock, keys: set | None) -> None:
        """Redact secrets in every stored text column; report those in fields not stored."""
        for name in TEXT_COLUMNS:
            redacted = redact_column(events[name])
            if redacted:
                self.scrub.add_secret(name, redacted)
        known = self.format.stored_keys
        if known is not None and keys is not None and known.issuperset(keys):
            return
        stored = set(TEXT_COLUMNS) | {"timestamp"}
        for i in secret_lines(raw.raws):
            for path in secret_paths(raw.records[i]):
                top = path.split(".")[0].split("[")[0]
                if top not in CONTENT_KEYS and top not in stored:
                    self.scrub.add_secret(path)


def repeated_keys(raw: RawBlock) -> dict[int, str]:
    """Records (by position) whose JSON names a top-level key twice, with that key. A JSON
    parser keeps the last value without a word; which one the logger meant cannot be known.

    Only lines with more `":` than their object has keys (nested objects, or a key twice) are
    read again, keeping every pair."""
    separators = list(map(bytes.count, raw.raws, repeat(b'":')))
    suspects = [
        i for i, (n, record) in enumerate(zip(separators, raw.records, strict=True))
        if n > len(record)
    ]  # fmt: skip
    found = {}
    for i in suspects:
        try:
            pairs = json.loads(raw.raws[i], object_pairs_hook=lambda items: items)
        except ValueError:
            continue
        names = [name for name, _ in pairs] if isinstance(pairs, list) else []
        twice = next((name for name in names if names.count(name) > 1), None)
        if twice is not None:
            found[i] = twice
    return found


def redact_column(values: np.ndarray) -> int:
    """Redact secret look-alikes in a text column in place; returns how many values changed.
    Distinct values are searched (most label columns hold a few)."""
    texts = values.tolist()
    distinct = list(dict.fromkeys(texts))
    found = {distinct[i] for i in secret_items(distinct)} if distinct else set()
    if not found:
        return 0
    rows = [i for i, text in enumerate(texts) if text in found]
    for i in rows:
        values[i] = redact(values[i])
    return len(rows)


def _names_protobuf(name: str | None) -> bool:
    """Whether the format a caller named reads protobuf files (an unknown name is refused
    later, with the list of formats)."""
    found = formats.registry().get(name) if name else None
    return found is not None and found.shape == "protobuf"


def _format_shape(shape: str) -> str:
    """The format shape that reads a file shape: "csv", "protobuf", else "json"."""
    return shape if shape in ("csv", "protobuf") else "json"


def _decoded_blocks(decode: Any, stream: BinaryIO) -> Iterator[RawBlock]:
    """A binary file's records as its format decodes them, in blocks of up to CHUNK_ROWS
    (raw bytes made for the secret scan)."""
    block = RawBlock()
    for number, record in decode(stream):
        if isinstance(record, RecordError):
            block.errors.append((number, record))
            continue
        block.add(number, record, orjson.dumps(record))
        if len(block.records) >= CHUNK_ROWS:
            yield block
            block = RawBlock()
    yield block


def _missing(keep: list[int], size: int) -> list[int]:
    kept = set(keep)
    return [i for i in range(size) if i not in kept]


def _line_blocks(line_blocks: Iterator[tuple[int, list[bytes | None]]]) -> Iterator[RawBlock]:
    """JSON lines in blocks of up to CHUNK_ROWS records; the first unreadable lines of a file
    that is not JSON lines at all make one file error instead of one error per line."""
    block = RawBlock()
    good = bad = 0
    for first, lines in line_blocks:
        parsed = _parse_all(lines)
        if parsed is not None:  # every line read: taken over whole, in C
            good += len(parsed)
            start = 0
            while start < len(lines):
                end = min(start + CHUNK_ROWS - len(block.records), len(lines))
                block.lines.extend(range(first + start, first + end))
                block.records.extend(parsed[start:end])
                block.raws.extend(lines[start:end])  # type: ignore[arg-type]
                start = end
                if len(block.records) >= CHUNK_ROWS:
                    yield block
                    block = RawBlock()
            continue
        for number, raw in enumerate(lines, first):
            if raw is None:
                bad += 1
                block.errors.append(
                    (
                        number,
                        RecordError("line", f"is longer than {readers.MAX_LINE_BYTES:,} bytes"),
                    )
                )
                continue
            if not raw.strip():
                continue
            record = parsed[number - first] if parsed is not None else _parse(raw)
            if isinstance(record, RecordError):
                bad += 1
                if not good and bad >= readers.PROBE_LINES:
                    raise FileFormatError(
                        f"the first {bad} lines are not JSON; is this the right format? ({record.reason})"
                    )
                block.errors.append((number, record))
                continue
            good += 1
            block.add(number, record, raw)
            if len(block.records) >= CHUNK_ROWS:
                yield block
                block = RawBlock()
    yield block


def _parse_all(lines: list[bytes | None]) -> list[Any] | None:
    """Every line parsed in one pass, or None when any line is blank, too long or not JSON."""
    if not all(lines):
        return None
    try:
        return list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        return None


def _parse(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return RecordError("line", f"is not valid JSON ({exc})")


def _element_blocks(elements: Iterator[readers.Line]) -> Iterator[RawBlock]:
    """The elements of a JSON array in blocks of up to CHUNK_ROWS records."""
    block = RawBlock()
    for number, raw in elements:
        if raw is None:
            block.errors.append(
                (number, RecordError("record", f"is longer than {readers.MAX_LINE_BYTES:,} bytes"))
            )
            continue
        record = _parse(raw)
        if isinstance(record, RecordError):
            block.errors.append((number, record))
            continue
        block.add(number, record, raw)
        if len(block.records) >= CHUNK_ROWS:
            yield block
            block = RawBlock()
    yield block


def _record_blocks(records: Iterable[Mapping[str, Any]]) -> Iterator[RawBlock]:
    """Records given as objects, numbered from 1, in blocks (raw bytes made for the secret scan)."""
    block = RawBlock()
    for number, record in enumerate(records, start=1):
        block.add(
            number,
            record,
            orjson.dumps(record, default=str) if isinstance(record, Mapping) else b"",
        )
        if len(block.records) >= CHUNK_ROWS:
            yield block
            block = RawBlock()
    yield block
