"""What a set of stored events adds to the daily rollup and the histograms: the one rollup rule.

Pages and commands read rollups, never raw rows: one row per day and group with request
counts, token and cost sums, so their cost grows with days x groups, not with requests.
Latency and output sizes are kept as fixed-bucket histograms (`core.stats`), so percentiles
come from sums. `db.ingest.rollups` adds these sums in SQL and rebuilds them from stored rows
with the same definitions (a property test holds the two equal on every column).

The routing rollup holds what the routing simulator reads: per day, canonical model, project,
feature, status, batch and input/output token-size bucket, the request count, token sums, cost
and the smallest and largest prompt and answer. The buckets come from a fixed grid, so they
can be summed at ingest: every edge a rule names in practice (round numbers and powers of two,
each with the number just below it, so `max_input_tokens=2000` and `min_input_tokens=2000`
both fall on an edge), every long-context tier edge and common context window of the price
book. A bucket holds lo < tokens <= edge.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# The group of a daily rollup row: the canonical model id with the model as logged (snapshot
# ids stay visible on drill-down), the project and feature, batch or not, the HTTP status, the
# key label, team and environment, and the tag set (a request's tags as one sorted text: tag
# sets are few, so the rollup stays days x groups and a tag filter is exact on every row).
ROLLUP_KEY = (
    "day", "provider", "model_id", "model", "project", "feature", "batch", "status",
    "key_label", "team", "environment", "tags",
)  # fmt: skip
# The usage rollup: the daily rollup without feature and tag set, which multiply its rows
# (~10x on a realistic log). The Usage page's totals, daily series and model table read it
# unless a tag filter needs the full key; every row is the sum of daily rollup rows.
USAGE_KEY = (
    "day", "provider", "model_id", "model", "project", "batch", "status",
    "key_label", "team", "environment",
)  # fmt: skip
# The model rollup: the usage rollup without project, key label, team and environment. With
# no filter on those (the Usage page's default) its totals, series and model table read it:
# ~7x fewer rows again on a realistic log.
MODEL_KEY = ("day", "provider", "model_id", "model", "batch", "status")
# The feature rollup: spend per project and feature, clustered in that order so a period's
# sums per feature are read in key order, without a sort.
FEATURE_KEY = ("project", "feature", "day")
# Spend per feature under a model filter: the feature rollup with the canonical model in front,
# so a filter on a few models reads their rows only (it has ~3x the feature rollup's rows, so
# the unfiltered view keeps reading that one).
FEATURE_MODEL_KEY = ("model_id", "project", "feature", "day")
# Coarser copies of the daily rollup, each row the sum of daily rollup rows over the columns
# its key drops; a query reads the smallest that holds its columns and filters.
COARSER = {
    "usage_daily": USAGE_KEY,
    "model_daily": MODEL_KEY,
    "feature_daily": FEATURE_KEY,
    "feature_model_daily": FEATURE_MODEL_KEY,
}
# Users are many: the user rollup keeps each day's TOP_USERS users by cost and sums the rest
# under OTHER_USERS (a control character, which no stored label can hold). Exact figures of
# any one user come from the stored rows.
TOP_USERS = 100
OTHER_USERS = "\x1fother"
# What each day's users add up to, per user: the sums the user rollup keeps (in its column
# order, cost last). They are not a table: the writer keeps a file's sums, and a day whose
# stored requests are all the file's gets its top users from them instead of from its rows.
USER_KEY = ("day", "user")
USER_SUMS = (
    "requests", "unpriced_requests", "input_tokens", "cached_input_tokens", "output_tokens",
    "cost_pusd",
)  # fmt: skip
USER_SUMS_NAME = "user_sums"
# Histograms are keyed by what the Usage page filters on; `latency_daily` and `output_daily`
# serve its default (no project or status filter).
HISTOGRAM_KEY = ("day", "model_id", "project", "status")
DAILY_KEY = ("day", "model_id")
COST_COLUMNS = (
    "cost_pusd",
    "uncached_input_pusd",
    "cached_input_pusd",
    "cache_write_pusd",
    "output_pusd",
    "cache_savings_pusd",
)
TOKEN_SUMS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
# Every summed column of the daily rollup, and what each row adds to it.
ROLLUP_SUMS = (
    "requests",
    "unpriced_requests",
    *TOKEN_SUMS,
    *COST_COLUMNS,
    "truncated",
    "with_max_tokens",
    "latency_count",
    "latency_sum_ms",
)
SUM_LIMIT = 2**63 - 1

# Token-size edges of the routing rollup; each also gives the edge one below it (see above),
# and 0 is an edge (calls that used no tokens).
INPUT_EDGES = (
    100, 200, 256, 500, 512, 1000, 1024, 1500, 2000, 2048, 3000, 4000, 4096, 5000, 8000, 8192,
    10000, 16000, 16384, 16385, 20000, 32000, 32768, 50000, 64000, 65536, 100000, 128000,
    131072, 200000, 256000, 262144, 272000, 400000, 500000, 524288, 1000000, 1048576, 1050000,
    2000000, 2097152,
)  # fmt: skip
OUTPUT_EDGES = (
    50, 100, 200, 250, 500, 1000, 1024, 2000, 2048, 4000, 4096, 8000, 8192, 16000, 16384, 32000,
    32768, 64000, 65536, 100000, 128000,
)  # fmt: skip
INPUT_GRID = tuple(sorted({0} | {e - 1 for e in INPUT_EDGES} | set(INPUT_EDGES)))
OUTPUT_GRID = tuple(sorted({0} | {e - 1 for e in OUTPUT_EDGES} | set(OUTPUT_EDGES)))
ROUTING_KEY = (
    "day", "model_id", "project", "feature", "status", "batch", "in_bucket", "out_bucket",
)  # fmt: skip
ROUTING_SUMS = ("requests", "unpriced_requests", *TOKEN_SUMS, "cost_pusd")
# Extremes of the routing rollup: (column, summed column it is taken of, "min" or "max").
ROUTING_EXTREMES = (
    ("in_min", "input_tokens", "min"),
    ("in_max", "input_tokens", "max"),
    ("out_min", "output_tokens", "min"),
    ("out_max", "output_tokens", "max"),
)
EXTREME_OF = {name: how for name, _, how in ROUTING_EXTREMES}
ROUTING_COLUMNS = (*ROUTING_SUMS, *EXTREME_OF)  # what a routing rollup row holds past its key
# The routing rollup summed over project, feature and status: a simulation whose rules match
# on none of those labels (the Routing page before a rule names one, its suggestions, plan vs
# actual, the digest) reads it: ~10x fewer rows, and fewer still per period.
ROUTING_MODEL_KEY = ("model_id", "batch", "in_bucket", "out_bucket", "day")
# The routing rollup summed over feature: a simulation whose rules or filters name a project or
# a status but no feature reads it (features are many: ~1.7x fewer rows than the routing
# rollup at 1M requests on a realistic log, ~2.8x at 10M). Clustered day first like the routing
# rollup, so a period's days are one range of it.
ROUTING_PROJECT_KEY = ("day", "model_id", "project", "status", "batch", "in_bucket", "out_bucket")
ROUTING_COARSER = {
    "routing_model_daily": ROUTING_MODEL_KEY,
    "routing_project_daily": ROUTING_PROJECT_KEY,
}
# The routing rollups by model and by project summed per week (Monday to Sunday, `week_of`): a
# period's whole weeks read from them and only its first and last few days from the daily ones
# (a week holds a quarter to a third of its days' rows on a realistic log, whose groups recur
# from day to day). Both are clustered with the week last: a period's weeks are most of such a
# table, so it is read whole in key order and summed per group without a sort.
ROUTING_WEEK_KEY = ("model_id", "batch", "in_bucket", "out_bucket", "week")
ROUTING_PROJECT_WEEK_KEY = (*ROUTING_PROJECT_KEY[1:], "week")
ROUTING_WEEKLY = {
    "routing_model_weekly": ("routing_model_daily", ROUTING_WEEK_KEY),
    "routing_project_weekly": ("routing_project_daily", ROUTING_PROJECT_WEEK_KEY),
}

# What the alert rules on windows (error rate, P95 latency, 429s) read for all traffic: per UTC
# day, hour of the day (0-23) and latency bucket (-1 for calls without a latency) the requests,
# errors (status >= 400) and 429s. A rule on all traffic whose windows are whole hours reads a
# month of it (a few dozen rows an hour) instead of the month's request rows.
HOURLY_KEY = ("day", "hour", "latency_bucket")
HOUR_US = 3_600_000_000

Events = Mapping[str, np.ndarray]
RollupSums = list[tuple[str, tuple[str, ...], dict[str, np.ndarray]]]  # (table, key, columns)


class RollupOverflow(ValueError):
    """A group's sum does not fit a 64-bit integer (over $9.2M in one day and group)."""


def week_of(days: np.ndarray) -> np.ndarray:
    """The Monday starting each day's week (days as datetime64 or ISO dates; 1970-01-01, day 0
    of numpy's count, was a Thursday)."""
    numbers = np.asarray(days, dtype="datetime64[D]").astype(np.int64)
    return (numbers - (numbers + 3) % 7).astype("datetime64[D]")


def row_values(cols: Events) -> dict[str, np.ndarray]:
    """What each event adds to each summed rollup column (the definition of those columns)."""
    values = {name: cols[name] for name in (*TOKEN_SUMS, *COST_COLUMNS)}
    values["requests"] = np.ones(len(cols["ts"]), dtype=np.int64)
    values["unpriced_requests"] = ~cols["priced"]
    values["truncated"] = cols["finish_reason"] == "length"
    values["with_max_tokens"] = cols["max_tokens"] >= 0
    values["latency_count"] = cols["latency_ms"] >= 0
    values["latency_sum_ms"] = np.maximum(cols["latency_ms"], 0)
    return values


def token_bucket(tokens: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """Each count's bucket on a grid: the number of edges below it (lo < tokens <= edge)."""
    return np.searchsorted(np.asarray(grid, dtype=np.int64), tokens, side="left").astype(np.int64)


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, distinct values), codes numbered in sorted order like a GROUP BY."""
    if values.dtype == object:  # labels are never missing: no NA pass
        codes, uniques = pd.factorize(values, sort=True)
        return codes, np.asarray(uniques, dtype=object)
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.ravel(), uniques


class Grouper:
    """Groups of events by any subset of their key columns, each column coded once."""

    def __init__(self, cols: Events) -> None:
        self.cols = cols
        self.codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def code(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes and distinct values of one column."""
        if name not in self.codes:
            self.codes[name] = _sorted_codes(np.asarray(self.cols[name]))
        return self.codes[name]

    def groups(
        self, key: tuple[str, ...], rows: np.ndarray | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The distinct `key` values (sorted) among `rows` (all if None) and each row's group."""
        size = len(next(iter(self.cols.values()))) if rows is None else len(rows)
        combined = np.zeros(size, np.int64)
        for name in key:
            codes, uniques = self.code(name)
            combined = combined * max(1, len(uniques)) + (codes if rows is None else codes[rows])
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        picked = first if rows is None else rows[first]
        keys = {}
        for name in key:
            codes, uniques = self.code(name)
            keys[name] = uniques[codes[picked]]
        return keys, inverse.ravel()


def group_sums(
    inverse: np.ndarray,
    values: Mapping[str, np.ndarray],
    extremes: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Exact integer sums of each array per group number; RollupOverflow past 64 bits. Columns
    named in `extremes` ("min" or "max") take the group's smallest or largest value instead."""
    order = np.argsort(inverse, kind="stable")
    ordered = inverse[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    out = {}
    for name, array in values.items():
        column = np.asarray(array).astype(np.int64)[order]
        how = (extremes or {}).get(name)
        if how is not None:
            reduce = np.minimum if how == "min" else np.maximum
            out[name] = reduce.reduceat(column, starts)
        elif np.add.reduceat(np.abs(column).astype(np.float64), starts).max(initial=0) >= 2**62:
            exact = np.add.reduceat(column.astype(object), starts)
            if max(map(abs, exact.tolist()), default=0) > SUM_LIMIT:
                raise RollupOverflow(f"the {name} of one day and group does not fit 64 bits")
            out[name] = exact.astype(np.int64)
        else:
            out[name] = np.add.reduceat(column, starts)
    return out


def rollup_sums(
    cols: Events, *, latency_bucket: np.ndarray, output_bucket: np.ndarray
) -> RollupSums:
    """What the events add to the daily, hourly and routing rollups and the histograms, one row
    per key and table, and their sums per day and user (`USER_SUMS_NAME`). The coarser tables
    are summed from these rows (`derived_sums`)."""
    grouper = Grouper(
        {
            **cols,
            "latency_bucket": latency_bucket,
            "output_bucket": output_bucket,
            "hour": cols["ts"] // HOUR_US % 24,
            "in_bucket": token_bucket(cols["input_tokens"], INPUT_GRID),
            "out_bucket": token_bucket(cols["output_tokens"], OUTPUT_GRID),
        }
    )
    values = row_values(cols)
    keys, inverse = grouper.groups(ROLLUP_KEY)
    out: RollupSums = [("daily_rollup", ROLLUP_KEY, {**keys, **group_sums(inverse, values)})]
    keys, inverse = grouper.groups(HOURLY_KEY)
    status = cols["status"]
    hourly = {
        "requests": values["requests"],
        "errors": status >= 400,
        "rate_limited": status == 429,
    }
    out.append(("traffic_hourly", HOURLY_KEY, {**keys, **group_sums(inverse, hourly)}))
    keys, inverse = grouper.groups(USER_KEY)
    users = group_sums(inverse, {name: values[name] for name in USER_SUMS})
    out.append((USER_SUMS_NAME, USER_KEY, {**keys, **users}))
    keys, inverse = grouper.groups(ROUTING_KEY)
    routed = {name: values[name] for name in ROUTING_SUMS}
    routed |= {name: cols[source] for name, source, _ in ROUTING_EXTREMES}
    routing = {**keys, **group_sums(inverse, routed, EXTREME_OF)}
    out.append(("routing_rollup", ROUTING_KEY, routing))
    timed = np.flatnonzero(latency_bucket >= 0)
    for table, key, column, rows in (
        ("latency_histogram", HISTOGRAM_KEY, "latency_bucket", timed),
        ("latency_daily", DAILY_KEY, "latency_bucket", timed),
        ("output_histogram", HISTOGRAM_KEY, "output_bucket", None),
        ("output_daily", DAILY_KEY, "output_bucket", None),
    ):
        if rows is not None and not len(rows):
            continue
        keys, inverse = grouper.groups((*key, column), rows)
        keys["bucket"] = keys.pop(column).astype(np.int64)
        keys["count"] = np.bincount(inverse, minlength=len(keys["bucket"])).astype(np.int64)
        out.append((table, (*key, "bucket"), keys))
    return out


def coarser(
    rows: dict[str, np.ndarray], key: tuple[str, ...], columns: tuple[str, ...] = ROLLUP_SUMS
) -> dict[str, np.ndarray]:
    """Rollup rows summed over a coarser key: a `COARSER` table's rows from the daily rollup's,
    a `ROUTING_COARSER` table's from the routing rollup's (its extremes kept as extremes)."""
    keys, inverse = Grouper({k: rows[k] for k in key}).groups(key)
    values = {name: rows[name] for name in columns}
    return {**keys, **group_sums(inverse, values, EXTREME_OF)}


def derived_sums(sums: RollupSums) -> RollupSums:
    """The coarser tables' rows from the daily and routing rollups' rows among `sums`:
    `COARSER` from the daily rollup, `ROUTING_COARSER` from the routing rollup, and the
    `ROUTING_WEEKLY` tables from those. The writer derives them once per batch of merged
    chunks: a chunk's events carry only the rollups summed from the events themselves."""
    tables = {name: columns for name, _, columns in sums}
    out: RollupSums = []
    if "daily_rollup" in tables:
        daily = tables["daily_rollup"]
        out += [(name, key, coarser(daily, key)) for name, key in COARSER.items()]
    if "routing_rollup" in tables:
        routing = tables["routing_rollup"]
        for name, key in ROUTING_COARSER.items():
            tables[name] = coarser(routing, key, ROUTING_COLUMNS)
            out.append((name, key, tables[name]))
        for name, (source, key) in ROUTING_WEEKLY.items():
            rows = {**tables[source], "week": week_of(tables[source]["day"])}
            out.append((name, key, coarser(rows, key, ROUTING_COLUMNS)))
    return out


def users_added(pieces: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several `USER_SUMS_NAME` sums added together: one row per day and user."""
    ((_, _, rows),) = merge_sums([[(USER_SUMS_NAME, USER_KEY, piece)] for piece in pieces])
    return rows


def user_days(pieces: list[dict[str, np.ndarray]]) -> dict[object, list[tuple]]:
    """Per day (a date), the (user, *USER_SUMS) rows of several `USER_SUMS_NAME` sums added
    together."""
    if not pieces:
        return {}
    rows = users_added(pieces)
    days = rows["day"].astype("datetime64[D]")
    out: dict[object, list[tuple]] = {}
    for day in np.unique(days):
        at = days == day
        columns = [rows["user"][at].tolist(), *(rows[name][at].tolist() for name in USER_SUMS)]
        out[day.item()] = list(zip(*columns, strict=True))
    return out


def merge_sums(parts: list[RollupSums]) -> RollupSums:
    """Several chunks' rollup sums as one: rows of the same table and key added together."""
    tables: dict[str, tuple[tuple[str, ...], list[dict[str, np.ndarray]]]] = {}
    for sums in parts:
        for table, key, columns in sums:
            tables.setdefault(table, (key, []))[1].append(columns)
    merged: RollupSums = []
    for table, (key, pieces) in tables.items():
        if len(pieces) == 1:
            merged.append((table, key, pieces[0]))
            continue
        joined = {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}
        keys, inverse = Grouper({k: joined[k] for k in key}).groups(key)
        values = {name: joined[name] for name in joined if name not in key}
        merged.append((table, key, {**keys, **group_sums(inverse, values, EXTREME_OF)}))
    return merged
