"""Load the sample usage and cost pages (`core.import_samples`) with their logged calls."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from core.access import Actor
from core.import_samples import sample
from core.pricing import PriceBook
from db.imports import store_page
from db.ingest import ingest_records

SAMPLE_SOURCE = "sample"
SAMPLE_FILE = "reconciliation-sample.jsonl"


def load_sample(
    engine: Engine, provider: str, book: PriceBook, today: date, *, actor: Actor
) -> int:
    """Store the sample pages and log its calls (as the upload `SAMPLE_FILE`, which the Upload
    page can delete); loading it again adds nothing. Returns the usage and cost rows stored."""
    found = sample(provider, book, today)
    stored = 0
    for fmt, page in found.pages:
        changed, same = store_page(engine, fmt, page, actor=actor)
        stored += changed + same
    ingest_records(
        engine,
        found.records,
        source=f"{SAMPLE_SOURCE}:{provider}",
        file_name=SAMPLE_FILE,
        book=book,
        actor=actor,
    )
    return stored
