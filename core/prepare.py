"""A block of validated events made ready to store: identity, fingerprint, cost, buckets, sums.

Pure computation over arrays (no database), so it can run in a parsing process of its own.
Every cost comes from `core.costs.price_arrays`, the one kernel; every rollup sum from
`core.rollups`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from core.costs import price_arrays
from core.fingerprint import content_hashes, hex_hashes, key_hashes
from core.identity import identify_column
from core.pricing import PriceBook
from core.rollups import RollupSums, rollup_sums
from core.stats import LATENCY_EDGES_MS, OUTPUT_EDGES_TOKENS, bucket_index

DAY_US = 86_400_000_000
PRICED_COUNTS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")

Events = dict[str, np.ndarray]


@dataclass
class Prepared:
    """Events ready to store, and their rollup sums (valid while every event goes in; the
    writer recomputes them for the subset it actually inserts)."""

    cols: Events
    sums: RollupSums | None = None

    @property
    def size(self) -> int:
        """Events in the chunk."""
        return len(self.cols["ts"])

    def take(self, rows: np.ndarray) -> Prepared:
        """The events at `rows` (a mask or positions), sums to be recomputed."""
        return Prepared({name: values[rows] for name, values in self.cols.items()})

    def with_sums(self) -> Prepared:
        """This chunk with its rollup sums computed."""
        self.sums = sums_of(self.cols)
        return self


class MemoBook:
    """A price book whose lookups are remembered for the length of one ingest.

    A model's price only changes on the dates its snapshot entry or a custom price starts, so
    lookups are remembered per (model, service tier, price period), not per day.
    """

    def __init__(self, book: PriceBook) -> None:
        self.book = book
        self.cache: dict[tuple, Any] = {}
        self.changes: dict[str, list[date]] = {}
        self.overrides = book.overrides

    def price_at(self, model: str, when: Any = None, *, service_tier: str | None = None) -> Any:
        """`PriceBook.price_at`, remembered per price period of `model` (a day or a date)."""
        if not isinstance(when, date):
            return self.book.price_at(model, when, service_tier=service_tier)
        day = when.date() if isinstance(when, datetime) else when
        key = (model, service_tier, bisect.bisect_right(self._changes(model), day))
        if key not in self.cache:
            self.cache[key] = self.book.price_at(model, when, service_tier=service_tier)
        return self.cache[key]

    def _changes(self, model: str) -> list[date]:
        """The dates on which `model`'s price may change (snapshot periods, custom prices)."""
        if model not in self.changes:
            entry = self.book.resolve(model)
            names = {model.strip().lower(), entry.model if entry else ""}
            dates = set(entry.change_dates()) if entry else set()
            dates |= {o.effective_from for o in self.overrides if o.model.strip().lower() in names}
            self.changes[model] = sorted(dates)
        return self.changes[model]

    def resolve(self, model: str) -> Any:
        """`PriceBook.resolve` (memoised by the book)."""
        return self.book.resolve(model)


def identify_events(cols: Events, book: PriceBook | MemoBook) -> None:
    """Add `model_id`, and set `provider` to the price book's where it knows the model (a
    gateway's `gemini` and the book's `google` are one provider); else keep the logged one."""
    providers, ids = identify_column(book, cols["model"])  # type: ignore[arg-type]
    cols["model_id"] = ids
    known = providers != ""
    if known.any():
        cols["provider"] = np.where(known, providers, cols["provider"])


def price_events(cols: Events, book: PriceBook | MemoBook) -> None:
    """Add the cost parts, `priced` and `price_version` (in place). A call that used no
    tokens costs nothing whatever its model, so it is never "unpriced"."""
    cols["day"] = (cols["ts"] // DAY_US).astype("datetime64[D]")
    cols.update(price_arrays(cols, book))  # type: ignore[arg-type]
    used = np.zeros(len(cols["ts"]), dtype=bool)
    for name in PRICED_COUNTS:
        used |= cols[name] > 0
    cols["priced"] = cols["priced"] | ~used


def bucket_events(cols: Events) -> None:
    """Add each event's latency and output-size histogram bucket (-1: no latency)."""
    latency = cols["latency_ms"]
    buckets = bucket_index(np.maximum(latency, 0).astype(float), LATENCY_EDGES_MS)
    cols["latency_bucket"] = np.where(latency >= 0, buckets, -1)
    cols["output_bucket"] = bucket_index(cols["output_tokens"].astype(float), OUTPUT_EDGES_TOKENS)


def sums_of(cols: Events) -> RollupSums:
    """The rollup sums of prepared events."""
    return rollup_sums(
        cols, latency_bucket=cols["latency_bucket"], output_bucket=cols["output_bucket"]
    )


def prepare(events: Events, book: PriceBook | MemoBook, source: str) -> Prepared:
    """Validated events -> a chunk ready to store under `source`: keyed, fingerprinted,
    identified, priced and summed."""
    cols = dict(events)
    cols["key_hash"] = key_hashes(source, cols["request_id"])
    cols["content_hash"] = np.array(hex_hashes(content_hashes(cols, intern=True)), dtype=object)
    identify_events(cols, book)
    price_events(cols, book)
    bucket_events(cols)
    return Prepared(cols).with_sums()
