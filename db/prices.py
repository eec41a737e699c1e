"""Custom prices (`price_override`) and the price book they shape."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.access import Actor, require
from core.costs import MAX_RATE_MTOK
from core.pricing import PriceBook, PriceOverride
from db.audit import record
from db.models import PriceOverrideRow

RATE_FIELDS = (
    "input_mtok",
    "output_mtok",
    "cached_input_mtok",
    "cache_write_mtok",
    "batch_input_mtok",
    "batch_output_mtok",
)


class PriceError(ValueError):
    """A custom price that cannot be stored, with a message for the user."""


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _to_core(row: PriceOverrideRow) -> PriceOverride:
    return PriceOverride(
        id=row.id,
        provider=row.provider,
        model=row.model,
        effective_from=row.effective_from,
        input_mtok=_dec(row.input_mtok),
        output_mtok=_dec(row.output_mtok),
        cached_input_mtok=_dec(row.cached_input_mtok),
        cache_write_mtok=_dec(row.cache_write_mtok),
        batch_input_mtok=_dec(row.batch_input_mtok),
        batch_output_mtok=_dec(row.batch_output_mtok),
        context_window=row.context_window,
        note=row.note,
    )


def validate_override(
    *,
    model: str,
    effective_from: date,
    rates: dict[str, Decimal | None],
    context_window: int | None,
) -> None:
    """Raise `PriceError` with a plain-language reason when a custom price is not usable."""
    if not model.strip():
        raise PriceError("Model name is required.")
    for name in ("input_mtok", "output_mtok"):
        if rates.get(name) is None:
            raise PriceError(f"{name.replace('_mtok', '')} price per 1M tokens is required.")
    for name, value in rates.items():
        if value is None:
            continue
        label = name.replace("_mtok", "").replace("_", " ")
        if value < 0:
            raise PriceError(f"The {label} price cannot be negative.")
        if value * 10**5 != (value * 10**5).to_integral_value():
            raise PriceError(
                f"The {label} price has more than five decimals (batch prices are half of it)."
            )
        if value > MAX_RATE_MTOK:
            raise PriceError(
                f"The {label} price of ${value} per 1M tokens is above ${MAX_RATE_MTOK:,}, "
                "the most Costdesk prices exactly; is it a typo?"
            )
    if context_window is not None and context_window <= 0:
        raise PriceError("The context window must be a positive number of tokens.")
    if not isinstance(effective_from, date):
        raise PriceError("The effective date is required.")


def list_overrides(engine: Engine) -> list[PriceOverride]:
    """Every custom price, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(PriceOverrideRow).order_by(
                PriceOverrideRow.model, PriceOverrideRow.effective_from
            )
        ).all()
        return [_to_core(r) for r in rows]


def save_override(
    engine: Engine,
    *,
    model: str,
    effective_from: date,
    rates: dict[str, Decimal | None],
    provider: str = "custom",
    context_window: int | None = None,
    note: str = "",
    override_id: int | None = None,
    actor: Actor,
) -> PriceOverride:
    """Create (or with `override_id`, update) a custom price after validating it."""
    require(actor, "price.write")
    validate_override(
        model=model, effective_from=effective_from, rates=rates, context_window=context_window
    )
    with Session(engine) as session:
        row = session.get(PriceOverrideRow, override_id) if override_id else PriceOverrideRow()
        if row is None:
            raise PriceError(f"Custom price #{override_id} no longer exists.")
        before = row.model_dump() if override_id else None
        row.model = model.strip().lower()
        row.provider = provider.strip() or "custom"
        row.effective_from = effective_from
        row.context_window = context_window
        row.note = note.strip()
        for name in RATE_FIELDS:
            setattr(row, name, rates.get(name))
        session.add(row)
        after = row.model_dump(exclude={"id"})
        try:
            record(session, actor, "price.save", row.model, before, after)  # flushes the row
            session.commit()
        except IntegrityError as exc:
            raise PriceError(
                f"{row.model} already has a custom price from {effective_from}; edit that one."
            ) from exc
        session.refresh(row)
        return _to_core(row)


def delete_override(engine: Engine, override_id: int, *, actor: Actor) -> bool:
    """Delete one custom price; False when it did not exist."""
    require(actor, "price.write")
    with Session(engine) as session:
        row = session.get(PriceOverrideRow, override_id)
        if row is None:
            return False
        record(session, actor, "price.delete", row.model, row.model_dump(), None)
        session.delete(row)
        session.commit()
        return True


def load_price_book(engine: Engine) -> PriceBook:
    """The snapshot with every stored custom price on top."""
    return PriceBook.from_snapshot(list_overrides(engine))


def price_state(engine: Engine) -> tuple:
    """What the stored custom prices are now (compared to see whether they changed)."""
    return tuple((o.id, o.model, o.effective_from, *(getattr(o, n) for n in RATE_FIELDS))
                 for o in list_overrides(engine))  # fmt: skip
