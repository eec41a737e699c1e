"""The model shortlist on SQLite and PostgreSQL: canonical ids, chat models only, notes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from core.pricing import PriceBook, PriceOverride
from db.shortlist import (
    ShortlistError,
    add_to_shortlist,
    list_shortlist,
    remove_from_shortlist,
    shortlisted,
)
from tests.actors import ADMIN

BOOK = PriceBook.from_snapshot(
    [PriceOverride("acme-chat", date(2025, 1, 1), Decimal(1), Decimal(2))]
)


def test_any_logged_spelling_is_one_entry(engine: Engine) -> None:
    first = add_to_shortlist(
        engine, model="gpt-4o-mini-2024-07-18", book=BOOK, note="evals ok", actor=ADMIN
    )
    again = add_to_shortlist(engine, model=" openai/GPT-4o-mini ", book=BOOK, actor=ADMIN)
    assert (first.model, first.provider, first.note) == ("gpt-4o-mini", "openai", "evals ok")
    assert again.note == "evals ok"  # a second add without a note keeps the first one
    add_to_shortlist(
        engine, model="claude-haiku-4-5", book=BOOK, note="  short   answers ", actor=ADMIN
    )
    add_to_shortlist(engine, model="acme-chat", book=BOOK, actor=ADMIN)
    entries = list_shortlist(engine)
    assert [(e.model, e.note) for e in entries] == [
        ("acme-chat", ""),
        ("claude-haiku-4-5", "short answers"),
        ("gpt-4o-mini", "evals ok"),
    ]
    assert shortlisted(engine) == {"acme-chat", "anthropic/claude-haiku-4-5", "openai/gpt-4o-mini"}


def test_remove(engine: Engine) -> None:
    add_to_shortlist(engine, model="gpt-4o-mini", book=BOOK, actor=ADMIN)
    assert remove_from_shortlist(engine, model="gpt-4o-mini", actor=ADMIN) is True
    assert remove_from_shortlist(engine, model="gpt-4o-mini", actor=ADMIN) is False
    assert list_shortlist(engine) == []


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("text-embedding-3-small", "is an embedding model; only chat models"),
        ("gpt-image-1", "is an image model"),
        ("no-such-model", "not in the price book"),
        ("   ", "Pick a model"),
    ],
)
def test_what_cannot_be_shortlisted_says_why(engine: Engine, model: str, reason: str) -> None:
    with pytest.raises(ShortlistError, match=reason):
        add_to_shortlist(engine, model=model, book=BOOK, actor=ADMIN)
    assert list_shortlist(engine) == []
