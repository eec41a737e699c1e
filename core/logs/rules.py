"""Field rules for request records, each written once and applied to whole columns.

A rule has one scalar definition (`accept(value)`, which returns the stored value or raises
`Refused` with a reason a user can act on) and a column form (`column(values)`) that takes a
fast vectorised path for values whose answer is plain (ints in range, short clean strings) and
asks `accept` for every other value. So the reason for a rejected record always comes from the
rule that refused it, and the fast path can only agree with the definition (a property test
holds them equal on generated columns).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.costs import MAX_TOKENS

LABEL_LIMIT = 200  # characters
MAX_TAGS = 10  # tags per request (a tag set is part of the daily rollup's key)
TAGS_LIMIT = 500  # characters of a request's tags joined
MAX_LATENCY_MS = 10**10  # about four months: anything longer is a unit mistake
NONE_TYPE = type(None)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_MICROS = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // timedelta(
    microseconds=1
)
TRUNCATION_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})
OK_WORDS = frozenset({"ok", "success", "succeeded", "completed", "complete"})
ERROR_WORDS = frozenset({"error", "failed", "failure", "cancelled", "expired", "incomplete"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(?:[Zz]|[+-]\d{2}:?\d{2})\Z"
)
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\Z")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class RecordError(ValueError):
    """One record cannot be used: which field, and why (in words a user can act on)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class FileFormatError(ValueError):
    """The whole file is unusable (empty, binary, wrong format): one message, not one per line."""


class Refused(ValueError):
    """A value a rule does not accept; the message is the reason (the field is added later)."""


@dataclass(frozen=True)
class Epoch:
    """Unix seconds, as API objects carry their `created` time; the timestamp rule reads it."""

    seconds: object


def shown(value: object, limit: int = 40) -> str:
    """A value as quoted in a reason: short, one line, never a whole prompt or key."""
    from core.logs.privacy import redact

    text = redact(repr(value)) if isinstance(value, str) else repr(value)
    text = _CONTROL.sub("?", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Scalar definitions


def accept_count(value: object) -> int:
    """A whole number of tokens from 0 to MAX_TOKENS; `3.0` is 3."""
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is int:
        if value < 0:
            raise Refused(f"must not be negative (got {value})")
        if value > MAX_TOKENS:
            raise Refused(f"{value:,} is more than {MAX_TOKENS:,}, the most one request can carry")
        return value
    if value is None:
        raise Refused("is required")
    if isinstance(value, bool):
        raise Refused(f"must be a whole number, not a boolean ({str(value).lower()})")
    raise Refused(f"must be a non-negative whole number (got {shown(value)})")


def accept_optional_count(value: object) -> int:
    """`accept_count`, with a missing value as -1 (stored as NULL)."""
    return -1 if value is None else accept_count(value)


def accept_zero_count(value: object) -> int:
    """`accept_count`, with a missing value as 0 (cached, cache-write and reasoning tokens)."""
    return 0 if value is None else accept_count(value)


def accept_latency(value: object) -> int:
    """Milliseconds as a non-negative finite number, rounded; -1 when missing."""
    if value is None:
        return -1
    if type(value) is int or type(value) is float:
        if value != value or value in (math.inf, -math.inf):
            raise Refused(f"must be a finite number of milliseconds (got {shown(value)})")
        if value < 0:
            raise Refused(f"must not be negative (got {shown(value)})")
        if value > MAX_LATENCY_MS:
            raise Refused(f"{value:,.0f} ms is more than {MAX_LATENCY_MS:,} ms; is it in seconds?")
        return round(value)
    raise Refused(f"must be a number of milliseconds (got {shown(value)})")


def clean_label(value: str) -> str:
    """A label without control characters (tabs, NULs, escapes) or surrounding spaces."""
    return _CONTROL.sub("", value).strip()


def accept_label(value: object) -> str:
    """A short label (model, project, user...): text of at most 200 characters, or a number."""
    if value is None:
        return ""
    if type(value) is int:
        value = str(value)
    if type(value) is not str:
        raise Refused(f"must be a string (got {type(value).__name__})")
    value = clean_label(value)
    if len(value) > LABEL_LIMIT:
        raise Refused(f"is longer than {LABEL_LIMIT} characters")
    return value


def accept_required_label(value: object) -> str:
    """`accept_label` that may not be empty."""
    label = accept_label(value)
    if not label:
        raise Refused("is required")
    return label


def _tag_items(value: object) -> list[object]:
    """The tags of a value: a list's items, an object's `key=value` pairs (a key with no value
    is a bare tag), a text's comma-separated parts (or a JSON array written as text)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            import orjson

            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                return parsed
        return text.split(",")
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        items: list[object] = []
        for key, item in value.items():
            if item is None or item == "":
                items.append(key)
            elif type(item) in (str, int, bool):
                items.append(f"{key}={str(item).lower() if type(item) is bool else item}")
            else:
                raise Refused(f"tag {shown(key)} must have a text value")
        return items
    raise Refused(f"must be a list of labels or an object (got {type(value).__name__})")


def _tag_key(tag: str) -> str | None:
    """The key of a `key=value` tag (None for a bare tag)."""
    key, sep, _ = tag.partition("=")
    return key.strip() if sep else None


def accept_tags(value: object) -> str:
    """Tags: labels (`support`) or `key=value` pairs (`team=search`), each a label under the
    label rule and without commas; at most MAX_TAGS, a key at most once. Stored distinct,
    sorted and joined by commas ("" for none), so equal tag sets are one text."""
    if value is None:
        return ""
    tags = set()
    for item in _tag_items(value):
        if item is None:
            continue
        tag = accept_label(item)
        if "=" in tag:
            key, _, rest = tag.partition("=")
            tag = f"{key.strip()}={rest.strip()}"
        if tag in ("", "="):
            continue
        if tag.startswith("="):
            raise Refused(f"tag {shown(tag)} has a value but no key")
        tags.add(tag)
    if len(tags) > MAX_TAGS:
        raise Refused(f"has {len(tags)} tags; at most {MAX_TAGS} are kept per request")
    keys = [k for k in map(_tag_key, tags) if k is not None]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise Refused(f"gives tag {shown(twice[0])} two values; a tag key takes one")
    joined = ",".join(sorted(tags))
    if len(joined) > TAGS_LIMIT:
        raise Refused(f"is longer than {TAGS_LIMIT} characters together")
    return joined


def accept_flag(value: object) -> bool:
    """true/false (also 1/0, yes/no and their text)."""
    if value is None:
        return False
    if type(value) is bool:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", ""):
        return value.lower() in ("true", "1", "yes")
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise Refused(f"must be true or false (got {shown(value)})")


def accept_finish(value: object) -> str:
    """A finish reason; every spelling of "cut by the token limit" (any case) becomes
    `length`."""
    reason = accept_label(value)
    return "length" if reason.lower() in TRUNCATION_REASONS else reason


def failure_status(error_type: str) -> int:
    """The status of a failed call that gives no code: 429 for rate limits, else 500."""
    lowered = error_type.lower()
    return 429 if "rate" in lowered or "429" in lowered else 500


def accept_status(value: object, error_type: str = "") -> int:
    """An HTTP status (100-599) or a word: success/ok = 200, error/failed = 500 (429 for rate
    limits); missing = 200, or a failure status when `error_type` is set."""
    if type(value) is int and 100 <= value <= 599:
        return value
    if value is None or value == "":
        return failure_status(error_type) if error_type else 200
    if isinstance(value, str):
        word = value.strip().lower()
        if word.isascii() and word.isdigit() and 100 <= int(word) <= 599:
            return int(word)
        if word in OK_WORDS:
            return 200
        if word in ERROR_WORDS:
            return failure_status(error_type)
    raise Refused(f"must be an HTTP status code or success/error (got {shown(value)})")


def accept_timestamp(value: object) -> int:
    """An RFC 3339 time with `Z` or an offset (or Unix seconds from an API object) as UTC
    microseconds since the epoch; a time without a zone is refused, never guessed."""
    if isinstance(value, Epoch):
        return _epoch_micros(value.seconds)
    if value is None or value == "":
        raise Refused("is required")
    if not isinstance(value, str):
        raise Refused("must be an RFC 3339 string such as 2025-01-31T12:00:00Z")
    matched = _TIMESTAMP.match(value)
    if matched is None:
        if _NAIVE.match(value):
            raise Refused(f"{shown(value)} has no time zone; add Z or an offset like +02:00")
        raise Refused(f"{shown(value)} is not an RFC 3339 timestamp")
    text = value.upper()
    if matched.group(1) and len(matched.group(1)) > 7:
        text = _FRACTION.sub(r"\1", text)
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise Refused(f"{shown(value)} is not a valid date and time") from None
    return (moment - EPOCH) // timedelta(microseconds=1)


def _epoch_micros(seconds: object) -> int:
    if type(seconds) not in (int, float) or seconds != seconds or not 0 <= seconds < 253402300800:
        raise Refused(f"must be Unix seconds (a non-negative number, got {shown(seconds)})")
    return round(seconds * 1_000_000) if type(seconds) is float else seconds * 1_000_000


# ---------------------------------------------------------------------------------------------
# Column forms: a fast path for plain values, the scalar definition for all others

Column = tuple[np.ndarray, np.ndarray, dict[int, str]]  # values, accepted, reasons by row


def apply(accept: Any, values: Sequence, dtype: Any, *args: Sequence) -> Column:
    """`accept` on every value (with the same row of each of `args`): the general path."""
    out = (
        np.full(len(values), "", dtype=object) if dtype is object else np.zeros(len(values), dtype)
    )
    ok = np.ones(len(values), dtype=bool)
    reasons: dict[int, str] = {}
    rows = zip(values, *args, strict=True)
    for i, row in enumerate(rows):
        try:
            out[i] = accept(*row)
        except Refused as refused:
            ok[i] = False
            reasons[i] = str(refused)
    return out, ok, reasons


def _only(values: Sequence, kinds: set[type]) -> bool:
    return set(map(type, values)) <= kinds


def _ints(values: Sequence, fill: int, low: int, high: int) -> np.ndarray | None:
    """Plain ints all within [low, high] (missing values given as `fill`) as int64; else None."""
    if not _only(values, {int, NONE_TYPE}):
        return None
    missing = [i for i, v in enumerate(values) if v is None] if None in values else []
    if missing:
        values = [low if v is None else v for v in values]
    try:
        array = np.asarray(values, dtype=np.int64)
    except OverflowError:
        return None
    if not ((array >= low) & (array <= high)).all():
        return None
    array[missing] = fill
    return array


def _all(values: Sequence) -> np.ndarray:
    return np.ones(len(values), dtype=bool)


def count_column(values: Sequence) -> Column:
    """Required token counts as int64; plain ints in range skip the scalar rule."""
    array = _ints(values, -1, 0, MAX_TOKENS) if None not in values else None
    return (array, _all(values), {}) if array is not None else apply(accept_count, values, np.int64)


def optional_count_column(values: Sequence, missing_as_zero: bool) -> Column:
    """Counts where a missing value is 0 (`missing_as_zero`) or -1 (stored as NULL)."""
    fill = 0 if missing_as_zero else -1
    array = _ints(values, fill, 0, MAX_TOKENS)
    if array is not None:
        return array, _all(values), {}
    accept = accept_zero_count if missing_as_zero else accept_optional_count
    return apply(accept, values, np.int64)


def label_column(values: Sequence, required: bool = False) -> Column:
    """Labels as an object array of str; short clean strings skip the scalar rule. Most label
    columns hold a few distinct values, so those are what is checked."""
    accept = accept_required_label if required else accept_label
    try:
        distinct = set(values)
    except TypeError:  # a list or an object among them: the rule says why
        return apply(accept, values, object)
    if distinct <= {None} or (_only(distinct, {str} if required else {str, NONE_TYPE})):
        texts = sorted(v for v in distinct if v is not None)
        if not values or ((not required or None not in distinct) and _clean(texts, required)):
            if None in distinct:
                return _objects(["" if v is None else v for v in values]), _all(values), {}
            return _objects(values), _all(values), {}
    return apply(accept, values, object)


def _clean(texts: list[str], required: bool) -> bool:
    """Whether `accept_label` would keep every text as it is (checked on the joined column):
    printable (no control character, no separator but the space), no space at either end,
    not too long, and not empty when required."""
    if not texts:
        return True
    lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    if lengths.max() > LABEL_LIMIT or (required and lengths.min() == 0):
        return False
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1 or not joined.replace("\x00", "").isprintable():
        return False
    padded = joined[:1] == " " or joined[-1:] == " " or " \x00" in joined or "\x00 " in joined
    return not padded


def _objects(texts: Sequence[str]) -> np.ndarray:
    array = np.empty(len(texts), dtype=object)
    array[:] = texts
    return array


def tags_column(values: Sequence) -> Column:
    """Tag sets as normalised text (`accept_tags`); records without tags skip the rule, and
    each distinct text value is checked once."""
    if all(v is None for v in values):
        return _objects([""] * len(values)), _all(values), {}
    out = np.full(len(values), "", dtype=object)
    ok = _all(values)
    reasons: dict[int, str] = {}
    seen: dict[object, tuple[bool, str]] = {}
    for i, value in enumerate(values):
        memo = value if isinstance(value, str) or value is None else None
        found = seen.get(memo) if memo is not None else None
        if found is None:
            try:
                found = (True, accept_tags(value))
            except Refused as refused:
                found = (False, str(refused))
            if memo is not None:
                seen[memo] = found
        if found[0]:
            out[i] = found[1]
        else:
            ok[i] = False
            reasons[i] = found[1]
    return out, ok, reasons


def flag_column(values: Sequence) -> Column:
    """Booleans; plain bools and missing values skip the scalar rule."""
    if _only(values, {bool, NONE_TYPE}):
        return np.fromiter((v is True for v in values), bool, len(values)), _all(values), {}
    return apply(accept_flag, values, bool)


def latency_column(values: Sequence) -> Column:
    """Latencies in whole milliseconds (rounded half to even, as `round`), -1 where missing."""
    array = _ints(values, -1, 0, MAX_LATENCY_MS)
    if array is not None:
        return array, _all(values), {}
    if _only(values, {int, float, NONE_TYPE}) and _bounded(values):
        floats = np.asarray([-1.0 if v is None else v for v in values], dtype=np.float64)
        present = np.asarray([v is not None for v in values], dtype=bool)
        if ((floats[present] >= 0) & (floats[present] <= MAX_LATENCY_MS)).all():
            return np.round(floats).astype(np.int64), _all(values), {}
    return apply(accept_latency, values, np.int64)


def _bounded(values: Sequence) -> bool:
    numbers = [v for v in values if v is not None]
    return not numbers or (min(numbers) > -(2**53) and max(numbers) < 2**53)


def status_column(values: Sequence, error_types: Sequence[str]) -> Column:
    """HTTP statuses; codes skip the scalar rule, a missing one follows `error_type`."""
    array = _ints(values, 200, 100, 599)
    if array is None:
        return apply(accept_status, values, np.int64, error_types)
    if None in values:
        missing = [i for i, v in enumerate(values) if v is None]
        kinds = {e: accept_status(None, e) for e in {error_types[i] for i in missing}}
        array[missing] = [kinds[error_types[i]] for i in missing]
    return array, _all(values), {}


def finish_column(values: Sequence) -> Column:
    """Finish reasons as labels, with the truncation spellings folded into `length`."""
    labels, ok, reasons = label_column(values)
    distinct = {v.lower() for v in set(labels.tolist()) - {"length"}}
    if not TRUNCATION_REASONS.isdisjoint(distinct):
        folded = ["length" if v.lower() in TRUNCATION_REASONS else v for v in labels.tolist()]
        labels = _objects(folded)
    return labels, ok, reasons


# ---------------------------------------------------------------------------------------------
# Timestamps: the shape of RFC 3339 checked on the whole column, read by pandas in C

_TS_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_TS_MARKS = ((4, "-"), (7, "-"), (13, ":"), (16, ":"))


def _digits(codes: np.ndarray, positions: list[int]) -> np.ndarray:
    part = codes[:, positions]
    return ((part >= 48) & (part <= 57)).all(axis=1)


def _rfc3339_shape(codes: np.ndarray, width: int) -> np.ndarray:
    """Rows shaped `YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|±hh:mm|±hhmm)` (upper-case T and Z only)."""
    ok = _digits(codes, list(_TS_DIGITS))
    for position, mark in _TS_MARKS:
        ok &= codes[:, position] == ord(mark)
    ok &= codes[:, 10] == ord("T")
    shaped = np.zeros(len(codes), dtype=bool)
    for zone in (1, 5, 6):  # "Z", "+hhmm" or "+hh:mm"
        fraction = width - 19 - zone
        if fraction < 0 or fraction == 1 or fraction > 10:
            continue
        form = ok.copy()
        if zone == 1:
            form &= codes[:, -1] == ord("Z")
        else:
            sign = codes[:, -zone]
            form &= (sign == ord("+")) | (sign == ord("-"))
            if zone == 6:
                form &= codes[:, -3] == ord(":")
            form &= _digits(
                codes,
                [width - 4, width - 3, width - 2, width - 1]
                if zone == 5
                else [width - 5, width - 4, width - 2, width - 1],
            )
        if fraction:
            form &= codes[:, 19] == ord(".")
            form &= _digits(codes, list(range(20, 19 + fraction)))
        shaped |= form
    return shaped


def timestamp_column(values: Sequence) -> Column:
    """UTC microseconds; well-shaped strings are read per column, all others by the rule."""
    n = len(values)
    micros = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    strings = np.flatnonzero([type(v) is str for v in values]) if n else np.zeros(0, np.int64)
    if len(strings):
        texts = [values[i] for i in strings]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        for width in np.unique(lengths).tolist():
            if width < 20:
                continue
            rows = strings[lengths == width]
            column = np.array([values[i] for i in rows], dtype=f"<U{width}")
            codes = column.view(np.uint32).reshape(len(column), width)
            shaped = _rfc3339_shape(codes, width)
            if not shaped.any():
                continue
            parsed = pd.to_datetime(column[shaped], format="ISO8601", utc=True, errors="coerce")
            stamps = np.asarray(parsed.floor("us").as_unit("us").asi8)
            good = ~np.asarray(parsed.isna()) & (stamps >= MIN_MICROS) & (stamps <= MAX_MICROS)
            where = rows[shaped][good]
            micros[where] = stamps[good]
            done[where] = True
    rest = np.flatnonzero(~done)
    if not len(rest):
        return micros, done, {}
    sub, ok, reasons = apply(accept_timestamp, [values[i] for i in rest], np.int64)
    micros[rest] = sub
    done[rest] = ok
    return micros, done, {int(rest[j]): why for j, why in reasons.items()}
