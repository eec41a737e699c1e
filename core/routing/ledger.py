"""What a simulation found: per rule, per model and in total, in exact Decimal dollars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

import pandas as pd

from core.routing.rules import Rule
from core.routing.units import DAYS_PER_MONTH, PICO, PREC, SHARE_QUANTUM, ZERO


@dataclass
class RuleResult:
    """What one rule did: traffic it matched, moved or could not move, and what it saved."""

    number: int
    label: str
    matched_requests: int = 0
    requests_moved: Decimal = ZERO
    requests_blocked: int = 0  # target's context window too small: counted, not moved
    requests_escalated: Decimal = ZERO
    requests_to_batch: Decimal = ZERO
    tokens_moved: Decimal = ZERO
    baseline_usd: Decimal = ZERO
    scenario_usd: Decimal = ZERO
    escalation_cost_usd: Decimal = ZERO  # extra cost per unit of escalation rate
    escalation: Decimal = ZERO

    @property
    def savings_usd(self) -> Decimal:
        """Baseline minus scenario cost of the traffic this rule matched."""
        return self.baseline_usd - self.scenario_usd

    @property
    def break_even_escalation(self) -> Decimal | None:
        """The escalation rate at which the rule stops saving (None when nothing is routed)."""
        if self.escalation_cost_usd == 0:
            return None
        with localcontext(prec=PREC):
            at_zero = self.savings_usd + self.escalation * self.escalation_cost_usd
            return (at_zero / self.escalation_cost_usd).quantize(Decimal("1e-6"))


@dataclass
class Simulation:
    """Baseline vs scenario cost of a traffic period under a list of rules."""

    baseline_usd: Decimal
    scenario_usd: Decimal
    period_days: int
    requests: int
    rules: list[RuleResult]
    models: pd.DataFrame  # model, requests_before, requests_after, baseline_usd, scenario_usd
    unpriced: dict[str, int] = field(default_factory=dict)

    @property
    def savings_usd(self) -> Decimal:
        """Baseline minus scenario."""
        return self.baseline_usd - self.scenario_usd

    @property
    def savings_share(self) -> Decimal | None:
        """Savings as a share of the baseline (None for an empty baseline)."""
        if self.baseline_usd == 0:
            return None
        with localcontext(prec=PREC):
            return (self.savings_usd / self.baseline_usd).quantize(SHARE_QUANTUM)

    def monthly(self, usd: Decimal) -> Decimal:
        """A period figure scaled to a 30-day month, to the pico-dollar."""
        with localcontext(prec=PREC):
            return (usd * DAYS_PER_MONTH / max(self.period_days, 1)).quantize(PICO)

    def rule_table(self) -> pd.DataFrame:
        """One row per rule with exact Decimal money and the break-even escalation rate."""
        rows = [
            {
                "rule": r.number,
                "description": r.label,
                "matched_requests": r.matched_requests,
                "requests_moved": r.requests_moved,
                "tokens_moved": r.tokens_moved,
                "requests_blocked": r.requests_blocked,
                "requests_escalated": r.requests_escalated,
                "requests_to_batch": r.requests_to_batch,
                "baseline_usd": r.baseline_usd,
                "scenario_usd": r.scenario_usd,
                "savings_usd": r.savings_usd,
                "monthly_savings_usd": self.monthly(r.savings_usd),
                "break_even_escalation": r.break_even_escalation,
            }
            for r in self.rules
        ]
        return pd.DataFrame(rows, columns=list(_RULE_TABLE_COLUMNS))


_RULE_TABLE_COLUMNS = (
    "rule",
    "description",
    "matched_requests",
    "requests_moved",
    "tokens_moved",
    "requests_blocked",
    "requests_escalated",
    "requests_to_batch",
    "baseline_usd",
    "scenario_usd",
    "savings_usd",
    "monthly_savings_usd",
    "break_even_escalation",
)


class Ledger:
    """Accumulates baseline and scenario cost and requests, per rule and per model."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = [
            RuleResult(i + 1, r.label(), escalation=r.escalation) for i, r in enumerate(rules)
        ]
        self.models: dict[str, list] = {}
        self.baseline = ZERO
        self.scenario = ZERO
        self.requests = 0

    def model(
        self,
        name: str,
        requests_before: Decimal,
        requests_after: Decimal,
        before: Decimal,
        after: Decimal,
    ) -> None:
        """Add to one model's before/after row."""
        row = self.models.setdefault(name, [ZERO, ZERO, ZERO, ZERO])
        for i, value in enumerate((requests_before, requests_after, before, after)):
            row[i] += value

    def frame(self) -> pd.DataFrame:
        """Per-model before/after, most expensive baseline first."""
        rows = [
            {
                "model": m,
                "requests_before": v[0],
                "requests_after": v[1],
                "baseline_usd": v[2],
                "scenario_usd": v[3],
            }
            for m, v in self.models.items()
        ]
        columns = ["model", "requests_before", "requests_after", "baseline_usd", "scenario_usd"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values(
            "baseline_usd", ascending=False, key=lambda s: s.map(float)
        ).reset_index(drop=True)
