"""Which cheaper models the calculator and the routing page suggest, and in what order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.alternatives import (
    FAMILY,
    IN_TRAFFIC,
    SHORTLISTED,
    SIBLING,
    rank,
    reason,
    smaller_siblings,
)
from core.plans import RateMatrix, Workload, analyse
from core.pricing import CHAT_KIND, PriceBook
from core.routing import target_choices

BOOK = PriceBook.from_snapshot()
DAY = date(2026, 1, 1)
MATRIX = RateMatrix.from_rates(BOOK.table(DAY, kind=CHAT_KIND))
CLASSIC = Workload(Decimal(500), 1600, 400, pricing_date=DAY)  # the guide's example


def switches(model: str, **ranking: object) -> list:
    """The switch suggestions for the classic workload on `model`."""
    return list(analyse(CLASSIC, BOOK.price_at(model, DAY), MATRIX, **ranking).questions.switches)


@pytest.mark.parametrize(
    ("model", "first"),
    [
        ("gpt-4o", ["gpt-4o-mini"]),
        ("gpt-4.1", ["gpt-4.1-mini", "gpt-4.1-nano"]),
        ("claude-sonnet-4-5", ["claude-haiku-4-5"]),
        ("gemini-2.5-pro", ["gemini-2.5-flash", "gemini-2.5-flash-lite"]),
    ],
)
def test_the_same_familys_smaller_models_lead(model: str, first: list[str]) -> None:
    found = switches(model)
    assert [s.model for s in found[: len(first)]] == first
    assert {s.reason for s in found[: len(first)]} == {SIBLING}


def test_the_lead_for_gpt4o_with_its_figures() -> None:
    lead = switches("gpt-4o")[0]
    # gpt-4o: 15,000 requests x (1,600 x $2.50 + 400 x $10) / 1M = $120.00;
    # gpt-4o-mini: 15,000 x (1,600 x $0.15 + 400 x $0.60) / 1M = $7.20 -> saves $112.80 (94 %).
    assert (lead.provider, lead.model) == ("openai", "gpt-4o-mini")
    assert (lead.monthly_usd, lead.saving_usd, lead.saving_share) == (
        Decimal("7.2"),
        Decimal("112.8"),
        Decimal("0.94"),
    )
    assert (lead.context_window, lead.fits_context) == (128_000, True)


def test_suggestions_are_chat_models_only() -> None:
    found = {s.model for s in switches("gpt-4o")}
    assert "ministral-3b" in found
    assert not {"mistral-embed", "text-embedding-3-small", "babbage-002", "ada"} & found
    assert all(BOOK.price_at(m, DAY).chat for m in found)


def test_shortlisted_then_siblings_then_own_traffic_then_the_rest() -> None:
    found = switches(
        "gpt-4o",
        shortlist={"anthropic/claude-haiku-4-5"},
        in_traffic={"gemini-2.5-flash", "gpt-4o"},
    )
    assert [(s.model, s.reason) for s in found[:3]] == [
        ("claude-haiku-4-5", SHORTLISTED),
        ("gpt-4o-mini", SIBLING),
        ("gemini-2.5-flash", IN_TRAFFIC),
    ]
    rest = [s for s in found[3:] if s.fits_context is not False]
    assert [s.monthly_usd for s in rest] == sorted(s.monthly_usd for s in rest)  # cheapest first


def test_a_model_too_small_for_the_request_goes_last() -> None:
    long_prompts = Workload(Decimal(500), 150_000, 400, pricing_date=DAY)
    found = list(analyse(long_prompts, BOOK.price_at("gpt-4.1", DAY), MATRIX).questions.switches)
    fits = [s.fits_context is False for s in found]
    assert fits == sorted(fits)  # every False after every True or None
    assert found[0].model == "gpt-4.1-mini"  # 1,000,000-token window: it fits


def test_sibling_names_and_family_reasons() -> None:
    assert smaller_siblings("claude-opus-4-5")[:2] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert smaller_siblings("openai/gpt-4o")[0] == "gpt-4o-mini"
    assert reason("claude-sonnet-4-5", "claude-3-5-haiku-latest") == FAMILY
    assert reason("gpt-4o", "gpt-4.1-mini") == ""  # another version is no sibling
    assert reason("gpt-4o", "gpt-4o-mini", same_maker=False) == ""
    assert reason("gpt-4o", "gpt-4o-mini", shortlist=["openai/gpt-4o-mini"]) == SHORTLISTED


def test_rank_keeps_the_given_order_within_a_reason() -> None:
    ranked = rank([("gpt-4o", "openai")], ["zeta", "gpt-4o-mini", "alpha"], name=str)
    assert [r.item for r in ranked] == ["gpt-4o-mini", "zeta", "alpha"]


def test_routing_targets_lead_with_the_sources_sibling_and_leave_out_the_source() -> None:
    choices = target_choices(BOOK, DAY, sources=["gpt-4o-2024-08-06"], in_traffic=["o3-mini"])
    assert [(c.item, c.reason) for c in choices[:2]] == [
        ("gpt-4o-mini", SIBLING),
        ("o3-mini", IN_TRAFFIC),
    ]
    names = [c.item for c in choices]
    assert "gpt-4o" not in names and "text-embedding-3-small" not in names
