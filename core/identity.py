"""One identity per model: what a logged model name resolves to in the price book.

Logs name the same model `gpt-4o`, `gpt-4o-2024-08-06` or `openai/gpt-4o`. Costdesk stores
the name as logged and the price-book model it resolves to (provider + canonical id), and
groups, filters, scopes and charts by the canonical id. A model the book does not know keeps
its logged name (trimmed) as its id; a custom price for it makes it known.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.pricing import PriceBook


@dataclass(frozen=True)
class ModelId:
    """A model's identity: its provider ("" when unknown) and canonical id."""

    provider: str
    model: str


def identify(book: PriceBook, logged: str) -> ModelId:
    """The price-book identity of a logged model name."""
    entry = book.resolve(logged)
    if entry is not None:
        return ModelId(entry.provider, entry.model)
    key = logged.strip().lower()
    for override in book.overrides:
        if override.model.strip().lower() == key:
            provider = "" if override.provider == "custom" else override.provider
            return ModelId(provider, override.model.strip())
    return ModelId("", logged.strip())


def identify_column(book: PriceBook, models: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(providers, canonical ids) for an array of logged names, one lookup per distinct name."""
    codes, names = pd.factorize(np.asarray(models, dtype=object))
    found = [identify(book, name) for name in names]
    providers = np.array([f.provider for f in found], dtype=object)
    ids = np.array([f.model for f in found], dtype=object)
    if not len(codes):
        return np.zeros(0, object), np.zeros(0, object)
    return providers[codes], ids[codes]


def canonical(book: PriceBook, model: str) -> str:
    """The canonical id a model name stands for (a scope, a filter, a routing target)."""
    return identify(book, model).model


def suggestions(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Known names close to `name`, for a "did you mean ...?" message."""
    choices = sorted(set(known))
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=limit, cutoff=0.6)
    return [lowered[c] for c in close]
