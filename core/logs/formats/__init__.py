"""The format registry: one small module per log format, found by discovery.

A format only maps its shape to the canonical fields (`core.logs.events.FIELDS`); the one rule
set validates them and the one writer stores them. To add a format, add a module to this
package that defines `FORMAT = Format(...)`: a name, a description, a detection priority, a
`detect(record)` test for one parsed record and a `map(records, state)` to canonical columns.

Most formats map one record to one row. A format whose record holds many calls (an OTLP trace
export holds many spans) also gives `expand(record) -> list[dict]`: `LogFile` applies it to each
record before `map`, so `map` receives the expanded rows, each reported under the line of the
record it came from. A record that cannot be expanded raises `RecordError` and is rejected whole;
one that expands to no row (no model call in it) adds nothing. A row may name, under `SCRUBBED`,
the content fields its source held; they are counted as dropped content and never stored.

A format of a binary file shape (`shape="protobuf"`) gives `decode(stream)`, which yields the
file's records as (number, record) pairs, or (number, RecordError) for one it cannot read.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, BinaryIO

from core.logs.events import Mapped
from core.logs.rules import RecordError

Record = Mapping[str, Any]
MapFn = Callable[[list[Record], dict[str, Any]], Mapped]
ExpandFn = Callable[[Record], list[dict[str, Any]]]
DecodeFn = Callable[[BinaryIO], Iterator[tuple[int, Record | RecordError]]]
SCRUBBED = "_scrubbed"  # an expanded row's list of the content fields its source held


@dataclass(frozen=True)
class Format:
    """One log format: how to recognise a record of it and how to map records to columns.

    `kind` is "events" for request records, or "usage_buckets" / "billed_costs" for provider
    usage and cost pages (stored in their own tables by `rows`). `shape` is the file shape the
    format comes in ("json", "csv" or "protobuf"); `family` the natural-key namespace of its
    records; `wrappers` the keys whose objects may hold content (counted when dropped);
    `stored_keys` the top-level keys whose text is stored as it is (a record with only those
    keys has no other place for a secret than the stored labels, which are always searched).
    `expand` turns one record into the rows `map` reads (see the module docstring); `decode`
    reads the records of a binary file.
    """

    name: str
    description: str
    priority: int
    detect: Callable[[Record], bool]
    map: MapFn | None = None
    rows: Callable[[Record], list[dict[str, Any]]] | None = None
    kind: str = "events"
    shape: str = "json"
    family: str = ""
    wrappers: tuple[str, ...] = ()
    stored_keys: frozenset[str] | None = None
    expand: ExpandFn | None = None
    decode: DecodeFn | None = None

    @property
    def source_family(self) -> str:
        """The natural-key namespace of this format's records."""
        return self.family or self.name


@cache
def registry() -> dict[str, Format]:
    """Every format of this package, in detection order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        formats = getattr(loaded, "FORMATS", None) or [loaded.FORMAT]
        found += formats
    return {f.name: f for f in sorted(found, key=lambda f: (f.priority, f.name))}


def get(name: str) -> Format:
    """The format called `name`; KeyError when there is none."""
    return registry()[name]


def decoder(shape: str) -> Format:
    """The first format (in detection order) that decodes files of a binary `shape`."""
    found = [f for f in registry().values() if f.shape == shape and f.decode is not None]
    if not found:
        raise KeyError(shape)
    return found[0]


def descriptions() -> dict[str, str]:
    """Format name -> description, in detection order."""
    return {name: f.description for name, f in registry().items()}


def classify(record: object, shape: str = "json") -> str | None:
    """The first format (in detection order) that recognises one parsed record."""
    if not isinstance(record, Mapping):
        return None
    for name, fmt in registry().items():
        if fmt.shape == shape and fmt.detect(record):
            return name
    return None


def detect(records: Sequence[object], shape: str = "json") -> str | None:
    """The format most of `records` have (ties go to the earlier format); None if none."""
    votes = Counter(filter(None, (classify(r, shape) for r in records)))
    if not votes:
        return None
    order = list(registry())
    return max(votes, key=lambda name: (votes[name], -order.index(name)))
