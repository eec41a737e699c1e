"""A planned workload, its validation, and the exact Decimal context every plan figure uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")


class PlanError(ValueError):
    """A workload that cannot be planned, with a message for the user."""


@contextmanager
def exact() -> Iterator[None]:
    """A Decimal context wide enough that no plan figure is ever rounded."""
    with localcontext() as ctx:
        ctx.prec = 80
        yield


def as_decimal(value: object) -> Decimal:
    """`value` as a Decimal, through its text so a float keeps the digits it shows."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def as_share(value: object, name: str) -> Decimal:
    """A share in 1e-4 steps (0.01 %), refused with `name` in the message outside 0..1."""
    share = as_decimal(value).quantize(Decimal(1).scaleb(-4), rounding=ROUND_HALF_UP)
    if not 0 <= share <= 1:
        raise PlanError(f"{name} must be between 0 % and 100 %.")
    return share


def cents(value: Decimal) -> Decimal:
    """Round half up to the cent, for display and for to-the-cent comparisons."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Workload:
    """Planned traffic: how many requests, how big, and how much is cached or batched."""

    requests_per_day: Decimal
    input_tokens: int
    output_tokens: int
    cache_hit_share: Decimal = Decimal(0)
    batch_share: Decimal = Decimal(0)
    growth_monthly_share: Decimal = Decimal(0)
    days_per_month: int = 30
    months: int = 12
    pricing_date: date | None = None
    max_output_tokens: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "requests_per_day", as_decimal(self.requests_per_day))
        set_(self, "cache_hit_share", as_share(self.cache_hit_share, "Cache-hit share"))
        set_(self, "batch_share", as_share(self.batch_share, "Batch share"))
        growth = as_decimal(self.growth_monthly_share).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        set_(self, "growth_monthly_share", growth)
        self._validate()

    def _validate(self) -> None:
        if self.requests_per_day < 0:
            raise PlanError("Requests per day cannot be negative.")
        if self.input_tokens < 0 or self.output_tokens < 0:
            raise PlanError("Token counts cannot be negative.")
        if not 1 <= self.days_per_month <= 31:
            raise PlanError("Days per month must be between 1 and 31.")
        if not 1 <= self.months <= 120:
            raise PlanError("The horizon must be between 1 and 120 months.")
        if self.growth_monthly_share <= -1:
            raise PlanError("Monthly growth must be above -100 %.")
        if self.max_output_tokens is not None and self.max_output_tokens <= 0:
            raise PlanError("The max_tokens cap must be a positive number of tokens.")

    @property
    def billed_output_tokens(self) -> int:
        """Output tokens per request after the max_tokens cap."""
        if self.max_output_tokens is None:
            return self.output_tokens
        return min(self.output_tokens, self.max_output_tokens)

    @property
    def reserved_tokens(self) -> int:
        """Tokens the context window must hold: input plus the output cap (or the output)."""
        return self.input_tokens + (self.max_output_tokens or self.output_tokens)

    @property
    def requests_per_month(self) -> Decimal:
        """Requests in one month of `days_per_month` days."""
        return self.requests_per_day * self.days_per_month

    def to_params(self) -> dict[str, str | int | None]:
        """JSON-safe parameters (decimal strings, ISO date) for scenarios and links."""
        params = asdict(self)
        for key, value in params.items():
            if isinstance(value, Decimal):
                params[key] = str(value)
            elif isinstance(value, date):
                params[key] = value.isoformat()
        return params

    @classmethod
    def from_params(cls, params: dict) -> Workload:
        """The inverse of `to_params`; unknown keys are ignored."""
        known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        if known.get("pricing_date"):
            known["pricing_date"] = date.fromisoformat(str(known["pricing_date"]))
        for key in ("input_tokens", "output_tokens", "days_per_month", "months"):
            if key in known:
                known[key] = int(known[key])
        if known.get("max_output_tokens") is not None:
            known["max_output_tokens"] = int(known["max_output_tokens"])
        return cls(**known)
