"""The price book: snapshot resolution, dates, tiers, batch, overrides, unpriced models."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.pricing import PriceBook, PriceOverride, Rates, Unpriced

D = Decimal


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.from_snapshot()


@pytest.mark.parametrize(
    ("ref", "canonical"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("GPT-4o-2024-11-20", "gpt-4o"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("openai:gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gemini-2.5-pro", "gemini-2.5-pro"),
        ("gpt-4o-2099-01-01", "gpt-4o"),  # an unseen dated snapshot falls back to its family
    ],
)
def test_resolves_dated_ids_and_provider_prefixes(book: PriceBook, ref: str, canonical: str):
    rates = book.price_at(ref, date(2025, 9, 1))
    assert isinstance(rates, Rates)
    assert rates.model == canonical


def test_guide_prices_of_gpt_4o_and_mini(book: PriceBook):
    gpt4o = book.price_at("gpt-4o", date(2025, 9, 1))
    mini = book.price_at("gpt-4o-mini", date(2025, 9, 1))
    assert (gpt4o.input_mtok, gpt4o.output_mtok) == (D("2.5"), D("10"))
    assert (mini.input_mtok, mini.output_mtok) == (D("0.15"), D("0.6"))
    assert gpt4o.context_window == 128_000


def test_unknown_model_is_unpriced_not_zero(book: PriceBook):
    result = book.price_at("acme-llm-9000", date(2025, 1, 1))
    assert isinstance(result, Unpriced)
    assert result.model == "acme-llm-9000"
    assert "custom price" in result.reason


def test_price_history_follows_effective_dates(book: PriceBook):
    # o3 was cut from $10/$40 to $2/$8 on 2025-06-10.
    before = book.price_at("o3", datetime(2025, 6, 9, 23, 59, tzinfo=UTC))
    after = book.price_at("o3", datetime(2025, 6, 10, 0, 0, tzinfo=UTC))
    assert (before.input_mtok, before.output_mtok) == (D("10"), D("40"))
    assert (after.input_mtok, after.output_mtok) == (D("2"), D("8"))
    assert after.effective_from == date(2025, 6, 10)
    history = book.history("o3")
    assert [(h.effective_from, h.input_mtok) for h in history[:2]] == [
        (None, D("10")),
        (date(2025, 6, 10), D("2")),
    ]


def test_long_context_tier_is_exposed(book: PriceBook):
    rates = book.price_at("gemini-2.5-pro", date(2025, 9, 1))
    assert rates.tiers[0].above_tokens == 200_000
    assert (rates.tiers[0].input_mtok, rates.tiers[0].output_mtok) == (D("2.5"), D("15"))


def test_batch_rates_are_half_for_openai(book: PriceBook):
    rates = book.price_at("gpt-4o", date(2025, 9, 1))
    assert (rates.batch_input_mtok, rates.batch_output_mtok) == (D("1.25"), D("5"))


def test_service_tier_prices(book: PriceBook):
    flex = book.price_at("gpt-5", date(2026, 11, 1), service_tier="flex")
    default = book.price_at("gpt-5", date(2026, 11, 1), service_tier="default")
    assert (flex.input_mtok, flex.output_mtok) == (D("0.625"), D("5"))
    assert (default.input_mtok, default.output_mtok) == (D("1.25"), D("10"))


def test_override_wins_from_its_date_and_keeps_snapshot_extras():
    override = PriceOverride(
        model="gpt-4o", effective_from=date(2025, 3, 1), input_mtok=D("2"), output_mtok=D("8"), id=3
    )
    book = PriceBook.from_snapshot([override])
    before = book.price_at("gpt-4o-2024-08-06", date(2025, 2, 28))
    after = book.price_at("gpt-4o-2024-08-06", date(2025, 3, 1))
    assert before.input_mtok == D("2.5")
    assert (after.input_mtok, after.output_mtok) == (D("2"), D("8"))
    assert after.cached_input_mtok == D("1.25")  # not given: the snapshot's
    assert (after.batch_input_mtok, after.batch_output_mtok) == (D("1"), D("4"))  # half of custom
    assert after.source == "override #3"
    assert after.context_window == 128_000


def test_override_prices_a_custom_model():
    override = PriceOverride(
        model="acme-ft-1",
        effective_from=date(2025, 1, 1),
        input_mtok=D("0.4"),
        output_mtok=D("1.6"),
    )
    book = PriceBook.from_snapshot([override])
    assert isinstance(book.price_at("acme-ft-1", date(2024, 12, 31)), Unpriced)
    assert book.price_at("acme-ft-1", date(2025, 1, 2)).output_mtok == D("1.6")
    assert "acme-ft-1" in {r.model for r in book.table(date(2025, 6, 1))}


def test_table_lists_openai_anthropic_and_google(book: PriceBook):
    providers = {r.provider for r in book.table(date(2026, 1, 1))}
    assert {"openai", "anthropic", "google"} <= providers


def test_embedding_models_are_priced_on_input_only(book: PriceBook):
    rates = book.price_at("text-embedding-3-small", date(2026, 1, 1))
    assert isinstance(rates, Rates)
    assert (rates.input_mtok, rates.output_mtok) == (D("0.02"), D(0))


def test_embedding_models_are_left_out_of_text_model_lists(book: PriceBook):
    text_models = {r.model for r in book.table(date(2026, 1, 1), kind="text")}
    all_models = {r.model for r in book.table(date(2026, 1, 1))}
    assert "text-embedding-3-small" in all_models - text_models
    assert {"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"} <= text_models


def test_a_bare_name_resolves_to_its_makers_model_before_a_reseller() -> None:
    book = PriceBook.from_snapshot()
    assert book.resolve("claude-3-5-haiku").provider == "anthropic"  # Google sells it too
    assert book.resolve("claude-3-5-haiku-20241022").model == book.resolve("claude-3-5-haiku").model
    assert book.resolve("google/claude-3-5-haiku").provider == "google"
