"""Multi-turn conversations: what full history, a last-K window and a rolling summary cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.costs import Usage, cost
from core.plans.workload import PlanError, as_decimal, as_share, exact
from core.pricing import Rates

STRATEGIES = ("full", "window", "summary")
STRATEGY_LABELS = {
    "full": "Full history",
    "window": "Last-K window",
    "summary": "Rolling summary",
}


@dataclass(frozen=True)
class Conversation:
    """A multi-turn chat: every turn sends the system prompt, some history and a user message."""

    conversations_per_day: Decimal
    turns: int
    system_tokens: int
    user_tokens: int
    assistant_tokens: int
    window_turns: int = 4
    summary_tokens: int = 300
    summary_every_turns: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "conversations_per_day", as_decimal(self.conversations_per_day))
        if self.turns < 1:
            raise PlanError("A conversation has at least one turn.")
        if (
            min(self.system_tokens, self.user_tokens, self.assistant_tokens, self.summary_tokens)
            < 0
        ):
            raise PlanError("Token counts cannot be negative.")
        if self.window_turns < 0 or self.summary_every_turns < 1:
            raise PlanError("The window must be 0 or more turns; summaries every 1 or more turns.")


def turn_input_tokens(conv: Conversation, strategy: str) -> list[int]:
    """Input tokens sent at each turn (1..turns) under a history strategy."""
    exchange = conv.user_tokens + conv.assistant_tokens
    sizes = []
    for turn in range(1, conv.turns + 1):
        before = turn - 1  # completed exchanges before this turn
        if strategy == "full":
            history = before * exchange
        elif strategy == "window":
            history = min(before, conv.window_turns) * exchange
        elif strategy == "summary":
            k = conv.summary_every_turns
            summary = conv.summary_tokens if before >= k else 0
            history = summary + (before % k) * exchange
        else:
            raise PlanError(f"Unknown history strategy {strategy!r}.")
        sizes.append(conv.system_tokens + history + conv.user_tokens)
    return sizes


def summary_calls(conv: Conversation) -> list[tuple[int, int]]:
    """(input, output) tokens of each summarising call: previous summary + K exchanges -> S."""
    k = conv.summary_every_turns
    exchange = conv.user_tokens + conv.assistant_tokens
    calls = []
    for m in range(1, (conv.turns - 1) // k + 1):
        previous = conv.summary_tokens if m > 1 else 0
        calls.append((previous + k * exchange, conv.summary_tokens))
    return calls


@dataclass(frozen=True)
class StrategyCost:
    """Tokens and cost of one conversation under one history strategy."""

    strategy: str
    label: str
    input_tokens: int
    output_tokens: int
    per_conversation_usd: Decimal
    monthly_usd: Decimal
    turn_input_tokens: tuple[int, ...]


def conversation_costs(
    conv: Conversation,
    rates: Rates,
    *,
    days_per_month: int = 30,
    cache_hit_share: Decimal = Decimal(0),
) -> list[StrategyCost]:
    """Per-conversation and monthly cost of full history, a last-K window and a rolling summary."""
    share = as_share(cache_hit_share, "Cache-hit share")
    out = []
    with exact():
        for strategy in STRATEGIES:
            turns = turn_input_tokens(conv, strategy)
            calls = [(t, conv.assistant_tokens) for t in turns]
            calls += summary_calls(conv) if strategy == "summary" else []
            total = sum(
                (
                    cost(Usage(i, o, cached_input_tokens=i * share), rates).total_usd
                    for i, o in calls
                ),
                Decimal(0),
            )
            out.append(
                StrategyCost(
                    strategy,
                    STRATEGY_LABELS[strategy],
                    sum(i for i, _ in calls),
                    sum(o for _, o in calls),
                    total,
                    total * conv.conversations_per_day * days_per_month,
                    tuple(turns),
                )
            )
    return out
