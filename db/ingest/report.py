"""What one ingest did: counts, rejected records, scrubbed fields, cost, unpriced models, span."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pandas as pd

from core.costs import picos_to_usd
from core.logs import RecordError, Scrub, redact

MAX_ERRORS = 10_000  # errors kept in a report (all are counted)
MAX_CONFLICT_IDS = 1_000


@dataclass(frozen=True)
class IngestError:
    """One rejected record: where it was and what was wrong with it."""

    file: str
    line: int
    field: str
    reason: str


@dataclass
class Tally:
    """What a stored chunk adds to a report (kept instead of the chunk until it commits)."""

    rows: int
    cost_pusd: int
    unpriced: dict[str, int]
    first_ts: int
    last_ts: int
    models: set[str]
    projects: set[str]


def tally_of(cols: dict[str, np.ndarray]) -> Tally:
    """The tally of stored events (`ts` in UTC microseconds)."""
    unpriced: dict[str, int] = {}
    if len(cols["ts"]) and not cols["priced"].all():
        models, counts = np.unique(cols["model"][~cols["priced"]].astype(str), return_counts=True)
        unpriced = dict(zip(models.tolist(), counts.tolist(), strict=True))
    present = len(cols["ts"]) > 0
    return Tally(
        rows=len(cols["ts"]),
        cost_pusd=int(sum(cols["cost_pusd"].tolist())),
        unpriced=unpriced,
        first_ts=int(cols["ts"].min()) if present else 0,
        last_ts=int(cols["ts"].max()) if present else 0,
        models=set(pd.unique(cols["model_id"]).tolist()) if present else set(),
        projects={p for p in pd.unique(cols["project"]).tolist() if p} if present else set(),
    )


@dataclass
class IngestReport:
    """What one ingest did; `merge` adds another file's report (multi-file totals)."""

    file_name: str = ""
    format: str = ""
    source: str = ""
    upload_id: int | None = None
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    errors: list[IngestError] = field(default_factory=list)
    conflict_ids: list[str] = field(default_factory=list)
    scrub: Scrub = field(default_factory=Scrub)
    cost_pusd: int = 0
    unpriced_models: dict[str, int] = field(default_factory=dict)
    file_error: str | None = None
    seconds: float = 0.0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    models: set[str] = field(default_factory=set)
    projects: set[str] = field(default_factory=set)

    @property
    def cost_usd(self) -> Decimal:
        """Cost of the rows added, exact."""
        return picos_to_usd(self.cost_pusd)

    @property
    def first_day(self) -> date | None:
        """The UTC day of the earliest request stored by this ingest (None when none was)."""
        return self.first_ts.date() if self.first_ts else None

    @property
    def last_day(self) -> date | None:
        """The UTC day of the latest request stored by this ingest."""
        return self.last_ts.date() if self.last_ts else None

    @property
    def scrubbed(self) -> dict[str, int]:
        """Content fields dropped and secrets redacted, field -> count."""
        return self.scrub.as_dict()

    @property
    def needs_attention(self) -> bool:
        """True when something was rejected, conflicting, unpriced or unreadable."""
        return bool(self.rejected or self.conflicts or self.unpriced_models or self.file_error)

    def reject(self, line: int, err: RecordError) -> None:
        """Count one rejected record (its details kept up to MAX_ERRORS)."""
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(IngestError(self.file_name, line, err.field, redact(err.reason)))

    def conflict(self, request_id: str) -> None:
        """Count one record whose key is stored with other content (the first copy stays)."""
        self.conflicts += 1
        if len(self.conflict_ids) < MAX_CONFLICT_IDS:
            self.conflict_ids.append(request_id)

    def tally(self, cols: dict[str, np.ndarray]) -> None:
        """Count events just stored."""
        self.add(tally_of(cols))

    def add(self, tally: Tally) -> None:
        """Count a stored chunk's tally: rows, cost, unpriced models, days, labels."""
        if not tally.rows:
            return
        self.accepted += tally.rows
        self.cost_pusd += tally.cost_pusd
        for model, count in tally.unpriced.items():
            self.unpriced_models[model] = self.unpriced_models.get(model, 0) + count
        first, last = moment(tally.first_ts), moment(tally.last_ts)
        self.first_ts = min(first, self.first_ts or first)
        self.last_ts = max(last, self.last_ts or last)
        self.models |= tally.models
        self.projects |= tally.projects

    def merge(self, other: IngestReport) -> None:
        """Add another file's report to this one."""
        for name in ("accepted", "duplicates", "conflicts", "rejected", "cost_pusd", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors[: max(0, MAX_ERRORS - len(self.errors))]
        self.conflict_ids += other.conflict_ids[: max(0, MAX_CONFLICT_IDS - len(self.conflict_ids))]
        self.scrub.merge(other.scrub)
        for model, n in other.unpriced_models.items():
            self.unpriced_models[model] = self.unpriced_models.get(model, 0) + n
        if other.file_error:
            note = f"{other.file_name}: {other.file_error}"
            self.file_error = f"{self.file_error}; {note}" if self.file_error else note
        for name, pick in (("first_ts", min), ("last_ts", max)):
            values = [v for v in (getattr(self, name), getattr(other, name)) if v is not None]
            setattr(self, name, pick(values) if values else None)
        self.models |= other.models
        self.projects |= other.projects

    def as_json(self) -> dict[str, Any]:
        """The CLI contract's JSON object (money as Decimal; the emitter makes it a string)."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected": self.rejected,
            "errors": [e.__dict__ for e in self.errors],
            "scrubbed": self.scrubbed,
            "cost_usd": self.cost_usd,
            "unpriced_models": sorted(self.unpriced_models),
            "file_errors": [self.file_error] if self.file_error else [],
            "conflict_ids": self.conflict_ids[:100],
            "first_ts": self.first_ts.isoformat() if self.first_ts else None,
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
            "models": sorted(self.models),
            "projects": sorted(self.projects),
        }


def moment(micros: int) -> datetime:
    """An aware UTC instant from microseconds since 1970 (how tallies keep `ts`)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def dumps(report: IngestReport) -> bytes:
    """The report as JSON bytes (money as decimal strings)."""
    return orjson.dumps(report.as_json(), default=str)
