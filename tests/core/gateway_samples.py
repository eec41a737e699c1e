"""Gateway and cloud log samples as files, and the pricing of the events read from them.

Samples are built from each source's documented shapes (see each format module's docstring);
prompt and completion text, key hashes and key aliases are planted in them so the tests can
show that none of it reaches an event.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import fields
from decimal import Decimal
from typing import Any

import orjson

from core.costs import Usage, price
from core.pricing import PriceBook, Unpriced

BOOK = PriceBook.from_snapshot()
PROMPT_TEXT = "Summarise the quarterly report for the board"
COMPLETION_TEXT = "Revenue grew eleven percent"
KEY_HASH = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
KEY_ALIAS = "prod-search-key"  # a key's label: stored as `key_label` (the key's hash never)
PLANTED = (PROMPT_TEXT, COMPLETION_TEXT, KEY_HASH)


def jsonl(records: list[dict[str, Any]]) -> bytes:
    """Records as JSON lines."""
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def json_array(records: list[dict[str, Any]]) -> bytes:
    """Records as one pretty-printed JSON array (as export tools write them)."""
    return orjson.dumps(records, option=orjson.OPT_INDENT_2)


def csv_file(rows: list[dict[str, Any]]) -> bytes:
    """Rows as CSV with a header (objects and lists written as JSON text, missing as empty)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: orjson.dumps(v).decode() if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return out.getvalue().encode()


def gz(data: bytes) -> bytes:
    """The bytes gzip-compressed."""
    return gzip.compress(data)


def counts(event: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(input, cached, cache write, output, reasoning) of an event."""
    return (
        event["input_tokens"],
        event["cached_input_tokens"],
        event["cache_write_tokens"],
        event["output_tokens"],
        event["reasoning_tokens"],
    )


def cost_usd(event: dict[str, Any]) -> Decimal:
    """The event priced by the bundled price book at its own time (batch rates if batch)."""
    usage = Usage(**{f.name: event[f.name] for f in fields(Usage)})
    found = price(usage, event["model"], BOOK, event["ts"], batch=bool(event["batch"]))
    assert not isinstance(found, Unpriced), found
    return found.total_usd


def assert_private(events: list[dict[str, Any]]) -> None:
    """No planted text or key hash in any stored value; the key alias only as the key label."""
    for event in events:
        for name, value in event.items():
            if isinstance(value, str):
                assert not any(planted in value for planted in PLANTED), value
                assert name == "key_label" or KEY_ALIAS not in value, (name, value)
