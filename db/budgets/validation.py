"""What a budget or rule may hold: names, amounts, thresholds, timezones and scope syntax."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.scopes import Scope, ScopeError, has_control_characters
from core.scopes import parse_scope as parse_scope_text

PUSD_PER_USD = 10**12
DEFAULT_THRESHOLDS = (50, 75, 90, 100)


class BudgetError(ValueError):
    """A budget, rule or event change that cannot be made, with a message for the user."""


def check_name(name: str | None) -> str:
    """A budget's name, trimmed; raises BudgetError when empty or holding a line break."""
    name = (name or "").strip()
    if not name:
        raise BudgetError("A budget needs a name.")
    if has_control_characters(name):
        raise BudgetError(
            "A budget name cannot contain control characters such as newlines or tabs."
        )
    return name


def parse_thresholds(text: str | None) -> tuple[int, ...]:
    """'50,75,90,100' -> (50, 75, 90, 100); raises BudgetError on anything else."""
    if text is None or not str(text).strip():
        return DEFAULT_THRESHOLDS
    try:
        values = sorted(
            {int(part.strip().rstrip("%")) for part in str(text).split(",") if part.strip()}
        )
    except ValueError as exc:
        raise BudgetError(
            f"Thresholds must be whole percents like 50,75,90,100 (got {text!r})."
        ) from exc
    if not values or any(v <= 0 or v > 1000 for v in values):
        raise BudgetError("Each threshold must be a percent between 1 and 1000.")
    return tuple(values)


def parse_scope(scope: str | None) -> Scope:
    """The scope's syntax (`core.scopes.parse_scope`); raises BudgetError."""
    try:
        return parse_scope_text(scope)
    except ScopeError as exc:
        raise BudgetError(str(exc)) from exc


def parse_timezone(name: str | None) -> str:
    """A valid IANA timezone name (default UTC); raises BudgetError."""
    text = (name or "UTC").strip() or "UTC"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BudgetError(
            f"Unknown timezone {text!r}; use an IANA name like Europe/Berlin."
        ) from exc
    return text


def parse_amount(amount: Decimal | str | float | int) -> Decimal:
    """A positive USD amount of at most $1 billion; raises BudgetError."""
    try:
        value = Decimal(str(amount).strip().lstrip("$").replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise BudgetError(f"Amount {amount!r} is not a number of dollars.") from exc
    if not value.is_finite() or value <= 0:
        raise BudgetError("The budget amount must be above $0.")
    if value > Decimal(10) ** 9:
        raise BudgetError("The budget amount is above $1 billion; check for a typo.")
    return value
