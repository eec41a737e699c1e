"""Prompt compression: what a shorter system prompt saves at the planned volume."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from core.plans.costs import plan_cost
from core.plans.workload import PlanError, Workload
from core.pricing import Rates


@dataclass(frozen=True)
class CompressionSaving:
    """Tokens and dollars saved by a shorter system prompt at the planned volume."""

    current_tokens: int
    compressed_tokens: int
    monthly_before_usd: Decimal
    monthly_after_usd: Decimal
    requests_per_month: Decimal

    @property
    def saved_tokens_per_request(self) -> int:
        """Prompt tokens no longer sent with each request."""
        return self.current_tokens - self.compressed_tokens

    @property
    def saved_tokens_per_month(self) -> Decimal:
        """Prompt tokens no longer sent in a month."""
        return self.saved_tokens_per_request * self.requests_per_month

    @property
    def saved_usd(self) -> Decimal:
        """Dollars saved per month."""
        return self.monthly_before_usd - self.monthly_after_usd


def compression_saving(
    workload: Workload, rates: Rates, current_tokens: int, compressed_tokens: int
) -> CompressionSaving:
    """Saving from replacing a system prompt of `current_tokens` by one of `compressed_tokens`."""
    if min(current_tokens, compressed_tokens) < 0:
        raise PlanError("Token counts cannot be negative.")
    saved = current_tokens - compressed_tokens
    if saved > workload.input_tokens:
        raise PlanError(
            "The current prompt is longer than the average input; raise the input tokens first."
        )
    after = replace(workload, input_tokens=workload.input_tokens - saved)
    return CompressionSaving(
        current_tokens,
        compressed_tokens,
        plan_cost(workload, rates).monthly_usd,
        plan_cost(after, rates).monthly_usd,
        workload.requests_per_month,
    )
