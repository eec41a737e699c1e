"""Which models answer chat requests: the price book's kind rule, from prices first, then names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from genai_prices import types as gp
from hypothesis import given, settings
from hypothesis import strategies as st

from core.pricing import CHAT_KIND, PriceBook, PriceOverride, Rates, model_kind

BOOK = PriceBook.from_snapshot()
DAY = date(2026, 1, 1)
PROPERTY = settings(max_examples=150, deadline=None)
CHAT_IDS = sorted(e.model for e in BOOK.entries if e.chat and e.provider == "openai")


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        ("gpt-4o", CHAT_KIND),
        ("gpt-4o-mini-2024-07-18", CHAT_KIND),
        ("claude-sonnet-4-5", CHAT_KIND),
        ("gemini-2.5-pro", CHAT_KIND),
        ("ministral-3b", CHAT_KIND),
        ("text-embedding-3-small", "embedding"),  # no output price
        ("mistral-embed", "embedding"),  # has an output price: the name says it
        ("gemini-embedding-001", "embedding"),
        ("ada", "completion"),
        ("babbage-002", "completion"),
        ("text-davinci-003", "completion"),
        ("gpt-3.5-turbo-instruct", "completion"),
        ("gpt-image-1", "image"),
        ("gemini-2.5-flash-image", "image"),  # an image output price
        ("gemini-omni-flash-preview", "video"),  # a video output price
        ("gpt-audio", "audio"),  # an audio output price
        ("gpt-4o-audio-preview", "audio"),
        ("gpt-4o-realtime-preview", "audio"),
        ("gemini-live-2.5-flash", "audio"),
        ("gpt-4o-mini-tts", "speech"),
        ("gemini-2.5-flash-tts", "speech"),
        ("gpt-4o-transcribe", "transcription"),
        ("computer-use", "computer use"),
    ],
)
def test_each_snapshot_model_has_its_kind(model: str, kind: str) -> None:
    rates = BOOK.price_at(model, DAY)
    assert isinstance(rates, Rates)
    assert rates.kind == kind
    assert rates.chat is (kind == CHAT_KIND)


def test_chat_lists_leave_out_every_model_that_cannot_chat() -> None:
    chat = {r.model for r in BOOK.table(DAY, kind=CHAT_KIND)}
    everything = {r.model for r in BOOK.table(DAY)}
    assert {"gpt-4o", "gpt-4o-mini", "gpt-4.1-nano", "claude-haiku-4-5", "gemini-2.5-flash"} <= chat
    left_out = everything - chat
    assert {"text-embedding-3-small", "mistral-embed", "ada", "babbage-002", "gpt-image-1"} <= (
        left_out
    )
    assert {"moderation", "tts-1", "whisper-1"}.isdisjoint(everything)  # not priced per token


def test_prices_decide_before_the_name() -> None:
    assert model_kind("helpful-chat", gp.ModelPrice(input_mtok=Decimal(1))) == "embedding"
    image = gp.ModelPrice(
        input_mtok=Decimal(1), output_mtok=Decimal(2), output_image_mtok=Decimal(30)
    )
    assert model_kind("helpful-chat", image) == "image"
    chat = gp.ModelPrice(input_mtok=Decimal(1), output_mtok=Decimal(2))
    assert model_kind("helpful-chat", chat) == CHAT_KIND
    assert model_kind("acme-embed-large", chat) == "embedding"  # the name rule still applies


def test_custom_prices_keep_the_snapshot_kind_or_follow_the_name() -> None:
    book = PriceBook.from_snapshot(
        [
            PriceOverride("text-embedding-3-small", date(2025, 1, 1), Decimal("0.01"), Decimal(0)),
            PriceOverride("acme-embed-v2", date(2025, 1, 1), Decimal("0.05"), Decimal(0)),
            PriceOverride("acme-chat", date(2025, 1, 1), Decimal(1), Decimal(2)),
        ]
    )
    assert book.price_at("text-embedding-3-small", DAY).kind == "embedding"
    assert book.price_at("acme-embed-v2", DAY).kind == "embedding"
    assert book.price_at("acme-chat", DAY).chat


MARKERS = ("embed", "moderation", "transcribe", "whisper", "image", "audio", "realtime")
WORD = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@PROPERTY
@given(
    marker=st.sampled_from(MARKERS),
    head=st.lists(WORD, max_size=2),
    tail=st.lists(WORD, max_size=2),
    provider=st.sampled_from(["", "openai/", "custom-"]),
)
def test_a_name_with_a_non_chat_word_is_never_a_chat_model(
    marker: str, head: list[str], tail: list[str], provider: str
) -> None:
    name = provider + "-".join([*head, marker, *tail])
    assert model_kind(name) != CHAT_KIND
    assert model_kind(name.upper()) == model_kind(name)


@PROPERTY
@given(
    words=st.lists(WORD, min_size=1, max_size=3),
    separator=st.sampled_from(["-", "_", "."]),
    marker=st.sampled_from(["tts", "live"]),
)
def test_short_markers_count_only_as_whole_words(
    words: list[str], separator: str, marker: str
) -> None:
    whole = separator.join([*words, marker])
    assert model_kind(whole) != CHAT_KIND
    glued = "".join([*words, marker, "x"])  # e.g. "olivex": not the word "live"
    if not any(m in glued for m in MARKERS) and "ada" not in glued[:3]:
        expected = model_kind(glued.replace(marker, "q"))
        assert model_kind(glued) == expected


@PROPERTY
@given(
    model=st.sampled_from(CHAT_IDS),
    provider=st.booleans(),
    upper=st.booleans(),
    space=st.booleans(),
)
def test_every_spelling_of_a_chat_model_is_a_chat_model(
    model: str, provider: bool, upper: bool, space: bool
) -> None:
    name = ("openai/" if provider else "") + model
    name = name.upper() if upper else name
    name = f"  {name} " if space else name
    assert model_kind(name) == CHAT_KIND
    rates = BOOK.price_at(name, DAY)
    assert isinstance(rates, Rates) and rates.chat
