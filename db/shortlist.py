"""The model shortlist: chat models the team has validated on its own prompts.

The calculator's switch suggestions and the routing page's target pickers list shortlisted
models first. Entries are stored under the model's canonical id (`core.identity`), so
`gpt-4o-mini-2024-07-18` and `openai/gpt-4o-mini` are one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from core.access import Actor, require
from core.identity import identify
from core.pricing import KIND_NAMES, PROVIDERS, PriceBook, Rates
from db.audit import record
from db.models import ModelShortlist

MAX_NOTE_LENGTH = 500


class ShortlistError(ValueError):
    """A model that cannot go on the shortlist, with a message for the user."""


@dataclass(frozen=True)
class ShortlistEntry:
    """One shortlisted model as the pages see it."""

    model: str
    provider: str
    note: str
    created_at: datetime

    @property
    def ref(self) -> str:
        """`provider/model` for a known provider's model (Google resells Claude under the
        same names), else the bare model id."""
        return f"{self.provider}/{self.model}" if self.provider in PROVIDERS else self.model


def _entry(row: ModelShortlist) -> ShortlistEntry:
    return ShortlistEntry(row.model, row.provider, row.note, row.created_at)


def _checked_id(book: PriceBook, model: str) -> tuple[str, str]:
    """(provider, canonical id) of a priced chat model; `ShortlistError` otherwise."""
    if not model.strip():
        raise ShortlistError("Pick a model to shortlist.")
    rates = book.price_at(model)
    if not isinstance(rates, Rates):
        raise ShortlistError(f"{model.strip()} is not in the price book; add a custom price first.")
    found = identify(book, model)
    if not rates.chat:
        kind = KIND_NAMES.get(rates.kind, f"a {rates.kind} model")
        raise ShortlistError(f"{found.model} is {kind}; only chat models can be shortlisted.")
    return found.provider or rates.provider, found.model


def add_to_shortlist(
    engine: Engine, *, model: str, book: PriceBook, note: str = "", actor: Actor
) -> ShortlistEntry:
    """Shortlist a priced chat model (a second add updates its note)."""
    require(actor, "shortlist.write")
    provider, model_id = _checked_id(book, model)
    note = " ".join(note.split())
    if len(note) > MAX_NOTE_LENGTH:
        raise ShortlistError(f"Notes are at most {MAX_NOTE_LENGTH} characters.")
    with Session(engine) as session:
        row = session.exec(select(ModelShortlist).where(ModelShortlist.model == model_id)).first()
        if row is None:
            row = ModelShortlist(
                model=model_id, provider=provider, note=note, created_at=datetime.now(UTC)
            )
        else:
            row.note = note or row.note
        session.add(row)
        record(session, actor, "shortlist.add", model_id, None, {"note": row.note})
        session.commit()
        session.refresh(row)
        return _entry(row)


def remove_from_shortlist(engine: Engine, *, model: str, actor: Actor) -> bool:
    """Take a model (its canonical id) off the shortlist; False when it was not on it."""
    require(actor, "shortlist.write")
    with Session(engine) as session:
        found = session.exec(select(ModelShortlist).where(ModelShortlist.model == model)).first()
        result = session.exec(delete(ModelShortlist).where(ModelShortlist.model == model))
        if result.rowcount and found is not None:
            before = {"provider": found.provider, "note": found.note}
            record(session, actor, "shortlist.remove", model, before)
        session.commit()
        return bool(result.rowcount)


def list_shortlist(engine: Engine) -> list[ShortlistEntry]:
    """The shortlist, by model id."""
    with Session(engine) as session:
        rows = session.exec(select(ModelShortlist).order_by(ModelShortlist.model)).all()
        return [_entry(r) for r in rows]


def shortlisted(engine: Engine) -> frozenset[str]:
    """The shortlist as `ShortlistEntry.ref` names, for `core.alternatives.rank`."""
    return frozenset(e.ref for e in list_shortlist(engine))
