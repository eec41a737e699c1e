"""The canonical request record and the one validation of it.

Every format maps its shape to the canonical fields (`FIELDS`, the flat-log names) as columns
of raw values; `validate` applies the field rules of `core.logs.rules` to whole columns and
returns the accepted records as arrays (`Events`) in their original order, plus one error per
rejected record, from the first rule it failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.logs import rules
from core.logs.rules import RecordError

FIELDS = (
    "timestamp",
    "request_id",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "latency_ms",
    "status",
    "error_type",
    "project",
    "feature",
    "user",
    "finish_reason",
    "max_tokens",
    "batch",
    "service_tier",
    "provider",
    "key_label",
    "team",
    "environment",
    "tags",
)
REQUIRED_FIELDS = ("timestamp", "request_id", "model", "input_tokens", "output_tokens")
# The stored event: `ts` (UTC microseconds) in place of `timestamp`, then the other fields.
EVENT_COLUMNS = ("ts", *FIELDS[1:])
TEXT_COLUMNS = (
    "request_id",
    "model",
    "error_type",
    "project",
    "feature",
    "user",
    "finish_reason",
    "service_tier",
    "provider",
    "key_label",
    "team",
    "environment",
    "tags",
)
DIMENSION_LABELS = ("key_label", "team", "environment")  # labels beside project/feature/user
NULLABLE_COLUMNS = frozenset({"latency_ms", "max_tokens"})  # -1 in arrays, NULL when stored
TOKEN_COLUMNS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)

Events = dict[str, np.ndarray]  # column -> one value per event


@dataclass
class Mapped:
    """A block of records in canonical fields: raw values as the format found them.

    `columns` holds one list per field present (missing fields count as all None); `names`
    says how a field is called in the source, for messages (one name, or one per record);
    `errors` holds the records the format itself could not read, by position.
    """

    size: int
    columns: dict[str, list] = field(default_factory=dict)
    names: dict[str, str | list[str]] = field(default_factory=dict)
    errors: dict[int, RecordError] = field(default_factory=dict)

    def values(self, name: str) -> list:
        """The raw values of one field (None for every record when the source has none)."""
        found = self.columns.get(name)
        return found if found is not None else [None] * self.size

    def name(self, name: str, row: int) -> str:
        """How field `name` of record `row` is called in the source."""
        found = self.names.get(name, name)
        return found if isinstance(found, str) else found[row]


def from_records(records: Sequence[Mapping]) -> Mapped:
    """Records already in the canonical fields (flat logs, the SDK wrapper, demo traffic)."""
    from operator import methodcaller

    mapped = Mapped(len(records))
    for name in FIELDS:
        mapped.columns[name] = list(map(methodcaller("get", name), records))
    return mapped


def _rule_columns(mapped: Mapped) -> list[tuple[str, str, rules.Column]]:
    """(field, event column, rule result) for every field, in the order errors are reported."""
    error_type = rules.label_column(mapped.values("error_type"))
    texts = error_type[0].tolist()
    return [
        ("timestamp", "ts", rules.timestamp_column(mapped.values("timestamp"))),
        ("request_id", "request_id", rules.label_column(mapped.values("request_id"), True)),
        ("model", "model", rules.label_column(mapped.values("model"), True)),
        ("input_tokens", "input_tokens", rules.count_column(mapped.values("input_tokens"))),
        ("output_tokens", "output_tokens", rules.count_column(mapped.values("output_tokens"))),
        *[
            (name, name, rules.optional_count_column(mapped.values(name), True))
            for name in ("cached_input_tokens", "cache_write_tokens", "reasoning_tokens")
        ],
        ("latency_ms", "latency_ms", rules.latency_column(mapped.values("latency_ms"))),
        ("status", "status", rules.status_column(mapped.values("status"), texts)),
        ("error_type", "error_type", error_type),
        *[
            (name, name, rules.label_column(mapped.values(name)))
            for name in ("project", "feature", "user")
        ],
        ("finish_reason", "finish_reason", rules.finish_column(mapped.values("finish_reason"))),
        (
            "max_tokens",
            "max_tokens",
            rules.optional_count_column(mapped.values("max_tokens"), False),
        ),
        ("batch", "batch", rules.flag_column(mapped.values("batch"))),
        ("service_tier", "service_tier", rules.label_column(mapped.values("service_tier"))),
        ("provider", "provider", rules.label_column(mapped.values("provider"))),
        *[(name, name, rules.label_column(mapped.values(name))) for name in DIMENSION_LABELS],
        ("tags", "tags", rules.tags_column(mapped.values("tags"))),
    ]


def _parts_errors(events: Events) -> dict[int, RecordError]:
    """Rows whose token parts exceed their totals (cached + write > input, reasoning > output)."""
    errors = {}
    over_input = events["cached_input_tokens"] + events["cache_write_tokens"]
    for row in np.flatnonzero(over_input > events["input_tokens"]).tolist():
        errors[row] = RecordError(
            "cached_input_tokens", "cached plus cache-write tokens exceed input_tokens"
        )
    for row in np.flatnonzero(events["reasoning_tokens"] > events["output_tokens"]).tolist():
        errors.setdefault(
            row,
            RecordError("reasoning_tokens", "exceeds output_tokens (reasoning is part of output)"),
        )
    return errors


def validate(mapped: Mapped) -> tuple[Events, list[tuple[int, RecordError]]]:
    """The accepted records as event arrays (original order, `row` = position in the block),
    and (position, error) for each rejected record: the first rule it failed, in field order."""
    errors: dict[int, RecordError] = dict(mapped.errors)
    events: Events = {}
    for name, column, (values, _ok, reasons) in _rule_columns(mapped):
        events[column] = values
        for row, reason in reasons.items():
            errors.setdefault(row, RecordError(mapped.name(name, row), reason))
    for row, err in _parts_errors(events).items():
        errors.setdefault(row, RecordError(mapped.name(err.field, row), err.reason))
    keep = np.ones(mapped.size, dtype=bool)
    keep[list(errors)] = False
    events = {name: values[keep] for name, values in events.items()}
    events["row"] = np.flatnonzero(keep)
    return events, sorted(errors.items())
