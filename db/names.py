"""Names a user types (budget scopes, routing models and targets) checked against what is known.

A name is known when stored traffic holds it or, for models and providers, when the price book
knows it (a budget set before a model's launch is legitimate). Traffic is read from the daily
rollup, a few rows per day and group, never from the raw requests. An unknown name is refused
with the closest known names as suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, Table, select

from core.attribution import split_tags
from core.identity import suggestions
from core.pricing import PROVIDERS, PriceBook
from core.scopes import has_control_characters
from db.models import DailyRollup, RequestLog
from db.queries.common import tag_match

ROLLUP: Table = DailyRollup.__table__  # type: ignore[assignment]
LOG: Table = RequestLog.__table__  # type: ignore[assignment]


def _table(column: str) -> Table:
    """The daily rollup, or the stored rows for a column it lacks (`user`)."""
    return ROLLUP if column in ROLLUP.c else LOG


def has_traffic(engine: Engine, column: str, value: str, *, tag: bool = False) -> bool:
    """True when stored traffic holds `value` in `column` (project, feature, provider, model_id,
    key_label, team, environment, user), or, with `tag`, a tag set holding tag `value`."""
    table = _table(column)
    clause = tag_match(table.c[column], value) if tag else table.c[column] == value
    query = select(table.c[column]).where(clause).limit(1)
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def traffic_values(engine: Engine, column: str) -> set[str]:
    """Distinct non-empty values of `column` in the stored traffic (tags one by one)."""
    table = _table(column)
    with engine.connect() as conn:
        values = conn.execute(select(table.c[column]).distinct()).scalars().all()
    if column == "tags":
        return {t for v in values for t in split_tags(str(v or ""))}
    return {str(v) for v in values if v}


def book_models(book: PriceBook) -> set[str]:
    """Every model id the price book prices: its snapshot models and the custom prices."""
    return {e.model for e in book.entries} | {o.model.strip() for o in book.overrides}


def book_providers(book: PriceBook) -> set[str]:
    """Every provider the price book knows."""
    return set(PROVIDERS) | {e.provider for e in book.entries}


def knows_model(book: PriceBook, name: str) -> bool:
    """True when the price book knows `name` (dated snapshots and `provider/` prefixes too)."""
    key = name.strip().lower()
    return book.resolve(name) is not None or any(
        o.model.strip().lower() == key for o in book.overrides
    )


def _either(names: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """The '; did you mean a or b?' naming the known names closest to `name`; '' when none is."""
    shown = [k for k in known if not has_control_characters(k)]  # the message stays one line
    close = suggestions(name, shown)
    return f"; did you mean {_either(close)}?" if close else ""


def unknown_name(noun: str, name: str, known: Iterable[str], *, priced: bool = False) -> str:
    """One line, e.g. "no project named 'copilott' has traffic; did you mean copilot?"."""
    where = "has traffic or a price" if priced else "has traffic"
    return f"no {noun} named {name!r} {where}{did_you_mean(name, known)}"


def unknown_model(engine: Engine, book: PriceBook, name: str, model_id: str) -> str | None:
    """Why a model name matches nothing (no traffic under `model_id`, no price), else None."""
    if knows_model(book, name) or has_traffic(engine, "model_id", model_id):
        return None
    known = traffic_values(engine, "model_id") | book_models(book)
    return unknown_name("model", name, known, priced=True)
