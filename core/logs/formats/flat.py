"""Flat request logs: one JSON object per request with the canonical field names.

Two spellings are read as well: `cached_tokens` for `cached_input_tokens`, and a `tags` list
(joined with commas) as the `feature` where a record has none (as before tags were stored).
`tags` are the request's tags (a list of labels or `key=value` texts, or an object of keys
and values); `key_label`, `team` and `environment` may also sit in a `metadata` object (the
top-level field wins). Unknown keys are ignored.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

from core.logs.events import FIELDS, Mapped
from core.logs.formats import Format, Record


def detect(record: Record) -> bool:
    """A record with any of the flat log's key fields."""
    return "request_id" in record or "timestamp" in record or "input_tokens" in record


def _columns(records: list[Record], names: tuple[str, ...]) -> dict[str, list | None]:
    """One list per name, read with `dict.get` in C (None for a name no record has)."""
    if not records or type(records[0]) is not dict or not _plain(records):
        present = set().union(*records) if records else set()
        getters = {n: (lambda r, n=n: r.get(n)) for n in names}
        return {n: list(map(getters[n], records)) if n in present else None for n in names}
    present = set().union(*records)
    return {n: list(map(dict.get, records, repeat(n))) if n in present else None for n in names}


def _plain(records: list[Record]) -> bool:
    return all(type(r) is dict for r in records)


def map_records(records: list[Record], state: dict[str, Any]) -> Mapped:
    """Flat records -> canonical columns (the aliases filled in where the field is missing)."""
    mapped = Mapped(len(records))
    columns = _columns(records, (*FIELDS, "cached_tokens", "metadata"))
    _from_metadata(columns, columns.pop("metadata"), mapped)
    cached, alias = columns["cached_input_tokens"], columns.pop("cached_tokens")
    if alias is not None and (cached is None or None in cached):
        cached = cached or [None] * len(records)
        columns["cached_input_tokens"] = [
            c if c is not None else a for c, a in zip(cached, alias, strict=True)
        ]
    tags = columns["tags"]
    feature = columns["feature"]
    if tags is not None and (feature is None or None in feature):
        feature = feature or [None] * len(records)
        columns["feature"] = [
            _listed(t) if f is None else f for f, t in zip(feature, tags, strict=True)
        ]
        mapped.names["feature"] = ["tags" if f is None else "feature" for f in feature]
    mapped.columns = {name: values for name, values in columns.items() if values is not None}
    return mapped


METADATA_FIELDS = ("key_label", "team", "environment", "tags")


def _from_metadata(columns: dict[str, list | None], metadata: list | None, mapped: Mapped) -> None:
    """Fill key label, team, environment and tags from a `metadata` object where the record
    has no top-level field."""
    if metadata is None:
        return
    objects = [m if isinstance(m, dict) else {} for m in metadata]
    for name in METADATA_FIELDS:
        found = [m.get(name) for m in objects]
        if not any(v is not None for v in found):
            continue
        own = columns.get(name) or [None] * len(objects)
        columns[name] = [o if o is not None else f for o, f in zip(own, found, strict=True)]
        mapped.names[name] = [name if o is not None else f"metadata.{name}" for o in own]


def _listed(tags: object) -> object:
    """Tags as a feature: a list of labels joined by commas, a text as it is (an object of
    keys and values names no feature)."""
    return None if isinstance(tags, dict) else _joined(tags)


def _joined(tags: object) -> object:
    """A list of labels as one comma-separated label (other values are left to the rule)."""
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        return ",".join(tags)
    return tags


FORMAT = Format(
    name="flat",
    description="Flat JSON request log (JSON lines or one JSON array)",
    priority=90,
    detect=detect,
    map=map_records,
    stored_keys=frozenset({*FIELDS, "cached_tokens"}),
)
