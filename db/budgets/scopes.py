"""Which stored rows a budget or rule scope matches, and whether a new scope names anything.

A model scope matches the canonical model id, so every logged name of a model (`gpt-4o`,
`gpt-4o-2024-08-06`, `openai/gpt-4o`) counts toward it, whichever of them the scope names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from core.pricing import PriceBook
from core.scopes import Scope, canonical_scope
from db.budgets.validation import BudgetError, parse_scope
from db.names import (
    book_providers,
    has_traffic,
    traffic_values,
    unknown_model,
    unknown_name,
)
from db.prices import load_price_book
from db.queries.common import tag_match


def resolve_scope(engine: Engine, scope: str | Scope, book: PriceBook | None = None) -> Scope:
    """The parsed scope, its model named by the canonical id in the database's price book."""
    parsed = scope if isinstance(scope, Scope) else parse_scope(scope)
    if parsed.kind != "model":
        return parsed
    return canonical_scope(parsed, book or load_price_book(engine))


def scope_clause(engine: Engine, table: Any, scope: str | Scope) -> Any:
    """The WHERE clause restricting rollup or request rows to `scope` (None for all traffic).
    `table` must hold the scope's column (`scope_table` picks one that does)."""
    resolved = resolve_scope(engine, scope)
    return match(table, resolved)


def match(table: Any, scope: Scope) -> Any:
    """The rows of `table` a resolved scope matches (None for all traffic)."""
    if scope.column is None:
        return None
    if scope.kind == "tag":
        return tag_match(table.c[scope.column], scope.value)
    return table.c[scope.column] == scope.value


def scope_table(scope: str | Scope, rollups: Sequence[Any], rows: Any) -> Any:
    """The first of `rollups` (smallest first) that holds the scope's column, else the stored
    rows (a user scope: users are too many for a rollup key, so their spend is summed from
    the rows)."""
    parsed = scope if isinstance(scope, Scope) else parse_scope(scope)
    held = (t for t in rollups if parsed.column is None or parsed.column in t.c)
    return next(held, rows)


def _unknown(engine: Engine, book: PriceBook, typed: Scope, resolved: Scope) -> str | None:
    """Why a scope matches nothing (no stored traffic, no price-book name), else None."""
    if typed.kind == "model":
        return unknown_model(engine, book, typed.value, resolved.value)
    column = resolved.column or ""
    if has_traffic(engine, column, resolved.value, tag=resolved.kind == "tag"):
        return None
    known = traffic_values(engine, column)
    if resolved.kind == "provider":
        if resolved.value in book_providers(book):
            return None
        known |= book_providers(book)
    return unknown_name(resolved.kind, resolved.value, known, priced=resolved.kind == "provider")


def check_scope(engine: Engine, scope: str | None) -> Scope:
    """A new scope, canonical; BudgetError when it names no stored traffic and nothing priced."""
    parsed = parse_scope(scope)
    if parsed.column is None:
        return parsed
    book = load_price_book(engine)
    resolved = canonical_scope(parsed, book)
    problem = _unknown(engine, book, parsed, resolved)
    if problem is not None:
        raise BudgetError(problem)
    return resolved


def scope_note(engine: Engine, scope: str, book: PriceBook | None = None) -> str | None:
    """A note for a scope without stored traffic yet (a priced model before launch), else None."""
    resolved = resolve_scope(engine, scope, book)
    tag = resolved.kind == "tag"
    if resolved.column is None or has_traffic(engine, resolved.column, resolved.value, tag=tag):
        return None
    return f"No traffic for {resolved} yet: its spend counts from the first request."
