"""The one price book: per-model token rates with effective dates.

Built from the `genai-prices` data that ships inside its wheel (never its network updater),
plus user overrides (negotiated discounts, self-hosted or fine-tuned models) that win over the
snapshot from their effective date on. All rates are `Decimal` USD per million tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache
from importlib.metadata import version

from genai_prices import types as gp
from genai_prices.data_snapshot import get_snapshot

PROVIDERS: tuple[str, ...] = ("openai", "anthropic", "google", "mistral", "deepseek", "x-ai")
# Providers whose Batch APIs bill half the real-time price; used where the snapshot has no
# dated batch variant for the request's date.
BATCH_DISCOUNT_PROVIDERS = frozenset({"openai", "anthropic", "google"})
BATCH_FACTOR = Decimal("0.5")
SNAPSHOT = f"genai-prices {version('genai-prices')}"
# The kind of model that answers chat and completion requests; routing targets, model
# comparisons and switch suggestions offer only these.
CHAT_KIND = "text"
KIND_NAMES = {
    "embedding": "an embedding model",
    "image": "an image model",
    "audio": "an audio model",
    "video": "a video model",
    "speech": "a text-to-speech model",
    "transcription": "a transcription model",
    "moderation": "a moderation model",
    "completion": "a legacy completion model",
    "computer use": "a computer-use model",
}
# Prices of a non-text output modality say what a snapshot model produces.
_OUTPUT_KINDS = (
    ("output_image_mtok", "image"),
    ("output_audio_mtok", "audio"),
    ("output_video_mtok", "video"),
)
# The fallback name rule, for models whose prices say nothing (custom prices have input and
# output only): the first pattern found in the lower-cased id, provider prefix removed.
_EDGE = r"(?:^|[-_.:/ ])"
_END = r"(?:$|[-_.:/ ])"
_NAME_KINDS = (
    (re.compile(r"embed"), "embedding"),
    (re.compile(r"moderation"), "moderation"),
    (re.compile(rf"{_EDGE}tts{_END}"), "speech"),
    (re.compile(r"transcri|whisper"), "transcription"),
    (re.compile(r"image|dall-e|imagen|nano-banana"), "image"),
    (re.compile(rf"audio|realtime|{_EDGE}live{_END}"), "audio"),
    (re.compile(r"^(?:text-)?(?:ada|babbage|curie|davinci)(?:$|-)"), "completion"),
    (re.compile(r"^gpt-3\.5-turbo-instruct"), "completion"),
    (re.compile(r"computer-use"), "computer use"),
)

_DATED_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")


@dataclass(frozen=True)
class LongContextTier:
    """Rates that apply to *all* tokens of a request whose input exceeds `above_tokens`."""

    above_tokens: int
    input_mtok: Decimal
    cached_input_mtok: Decimal | None
    cache_write_mtok: Decimal | None
    output_mtok: Decimal


@dataclass(frozen=True)
class Rates:
    """Resolved prices of one model at one instant, USD per million tokens."""

    provider: str
    model: str
    input_mtok: Decimal
    output_mtok: Decimal
    cached_input_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    batch_input_mtok: Decimal | None = None
    batch_output_mtok: Decimal | None = None
    batch_cached_input_mtok: Decimal | None = None
    tiers: tuple[LongContextTier, ...] = ()
    context_window: int | None = None
    effective_from: date | None = None
    source: str = SNAPSHOT
    service_tier: str | None = None
    kind: str = CHAT_KIND  # what the model does: `model_kind`

    @property
    def chat(self) -> bool:
        """True when the model answers chat requests (not embeddings, images, audio...)."""
        return self.kind == CHAT_KIND

    @property
    def source_text(self) -> str:
        """Where this price comes from, for a help text: `genai-prices 0.2.3 price list, in
        force since 2025-06-10` or `custom price #3, from 2025-01-01`."""
        since = self.effective_from.isoformat() if self.effective_from else None
        if self.source.startswith("override"):
            number = self.source.removeprefix("override").strip()
            return f"custom price {number}".rstrip() + (f", from {since}" if since else "")
        list_name = f"{self.source} price list"
        return f"{list_name}, in force since {since}" if since else list_name

    @property
    def version(self) -> str:
        """Short label stored with each priced event, e.g. `genai-prices 0.2.3@2025-06-10`."""
        start = self.effective_from.isoformat() if self.effective_from else "always"
        tier = f"/{self.service_tier}" if self.service_tier else ""
        return f"{self.source}@{start}{tier}"

    def for_batch(self) -> Rates:
        """The rates a Batch API request pays (each unset batch rate falls back to real time)."""
        return replace(
            self,
            input_mtok=_first_set(self.batch_input_mtok, self.input_mtok),
            output_mtok=_first_set(self.batch_output_mtok, self.output_mtok),
            cached_input_mtok=_first_set(self.batch_cached_input_mtok, self.cached_input_mtok),
            tiers=(),
        )


def _first_set(rate: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    """`rate` unless unset: a batch rate of exactly 0 is a price, not a missing one."""
    return rate if rate is not None else fallback


@dataclass(frozen=True)
class Unpriced:
    """A model the price book cannot price: reported, never counted as zero."""

    model: str
    reason: str


@dataclass(frozen=True)
class PriceOverride:
    """A user price (negotiated, fine-tuned or self-hosted) that wins from `effective_from` on."""

    model: str
    effective_from: date
    input_mtok: Decimal
    output_mtok: Decimal
    provider: str = "custom"
    cached_input_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    batch_input_mtok: Decimal | None = None
    batch_output_mtok: Decimal | None = None
    context_window: int | None = None
    id: int | None = None
    note: str = ""

    def to_rates(self, model: str) -> Rates:
        """These prices as `Rates` for `model`."""
        return Rates(
            provider=self.provider,
            model=model,
            input_mtok=self.input_mtok,
            output_mtok=self.output_mtok,
            cached_input_mtok=self.cached_input_mtok,
            cache_write_mtok=self.cache_write_mtok,
            batch_input_mtok=self.batch_input_mtok,
            batch_output_mtok=self.batch_output_mtok,
            context_window=self.context_window,
            effective_from=self.effective_from,
            source=f"override #{self.id}" if self.id is not None else "override",
            kind=model_kind(model),
        )


@dataclass(frozen=True)
class ModelEntry:
    """One model of the snapshot: how to match it and its dated prices."""

    provider: str
    model: str
    name: str
    context_window: int | None
    deprecated: bool
    info: gp.ModelInfo = field(repr=False, compare=False)
    kind: str = CHAT_KIND

    @property
    def chat(self) -> bool:
        """True when the model answers chat requests."""
        return self.kind == CHAT_KIND

    def change_dates(self) -> list[date]:
        """Every date on which this model's standard, batch or tier prices changed."""
        dates = set()
        if not isinstance(self.info.prices, gp.ModelPrice):
            dates |= {_start(c.constraint) for c in self.info.prices}
        dates |= {_start(v.constraint) for v in self.info.price_variants or ()}
        return sorted(d for d in dates if d is not None)


def _start(constraint: object) -> date | None:
    return constraint.start_date if isinstance(constraint, gp.StartDateConstraint) else None


def _as_utc(when: datetime | date | None) -> datetime:
    if when is None:
        return datetime.now(UTC)
    if not isinstance(when, datetime):
        return datetime.combine(when, time(12), UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _base(value: object) -> Decimal | None:
    if isinstance(value, gp.TieredPrices):
        return value.base
    return value if isinstance(value, Decimal) else None


def _tier_price(value: object, start: int) -> Decimal | None:
    if isinstance(value, gp.TieredPrices):
        for tier in value.tiers:
            if tier.start == start:
                return tier.price
        return value.base
    return value if isinstance(value, Decimal) else None


def _tiers(price: gp.ModelPrice) -> tuple[LongContextTier, ...]:
    keys = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok")
    starts = sorted(
        {
            t.start
            for k in keys
            if isinstance(v := getattr(price, k), gp.TieredPrices)
            for t in v.tiers
        }
    )
    return tuple(
        LongContextTier(
            above_tokens=s,
            input_mtok=_tier_price(price.input_mtok, s),
            cached_input_mtok=_tier_price(price.cache_read_mtok, s),
            cache_write_mtok=_tier_price(price.cache_write_mtok, s),
            output_mtok=_tier_price(price.output_mtok, s),
        )
        for s in starts
    )


def _effective_from(info: gp.ModelInfo, when: datetime) -> date | None:
    if isinstance(info.prices, gp.ModelPrice):
        return None
    for conditional in reversed(info.prices):
        if conditional.constraint is None or conditional.constraint.active(when):
            return _start(conditional.constraint)
    return None


def _rates_from_snapshot(entry: ModelEntry, when: datetime, service_tier: str | None) -> Rates:
    info = entry.info
    context = {"service_tier": service_tier} if service_tier else None
    standard = info.get_prices(when, context)
    batch = info.get_prices(when, {"processing": "batch"})
    plain = info.get_prices(when)
    rates = Rates(
        provider=entry.provider,
        model=entry.model,
        input_mtok=_base(standard.input_mtok) or Decimal(0),
        output_mtok=_base(standard.output_mtok) or Decimal(0),
        cached_input_mtok=_base(standard.cache_read_mtok),
        cache_write_mtok=_base(standard.cache_write_mtok),
        tiers=_tiers(standard),
        context_window=entry.context_window,
        effective_from=_effective_from(info, when),
        service_tier=service_tier if standard != plain else None,
        kind=entry.kind,
    )
    if batch != plain:
        return replace(
            rates,
            batch_input_mtok=_base(batch.input_mtok),
            batch_output_mtok=_base(batch.output_mtok),
            batch_cached_input_mtok=_base(batch.cache_read_mtok),
        )
    if entry.provider in BATCH_DISCOUNT_PROVIDERS:
        half = rates.cached_input_mtok * BATCH_FACTOR if rates.cached_input_mtok else None
        return replace(
            rates,
            batch_input_mtok=rates.input_mtok * BATCH_FACTOR,
            batch_output_mtok=rates.output_mtok * BATCH_FACTOR,
            batch_cached_input_mtok=half,
        )
    return rates


def _latest_prices(info: gp.ModelInfo) -> gp.ModelPrice:
    return info.prices if isinstance(info.prices, gp.ModelPrice) else info.prices[-1].prices


def model_kind(model: str, prices: gp.ModelPrice | None = None) -> str:
    """What a model does: `CHAT_KIND` ("text") for a chat model, else "embedding", "image",
    "audio", "video", "speech", "transcription", "moderation", "completion", "computer use".

    The snapshot's prices decide first (no output price: an embedding model; a price for image,
    audio or video output: that kind), then the name rule, which is all a custom model has.
    """
    if prices is not None:
        if _base(prices.output_mtok) is None:
            return "embedding"
        for name, kind in _OUTPUT_KINDS:
            if getattr(prices, name, None) is not None:
                return kind
    _, name = _split_provider(model.strip().lower())
    for pattern, kind in _NAME_KINDS:
        if pattern.search(name):
            return kind
    return CHAT_KIND


def _is_token_priced(info: gp.ModelInfo) -> bool:
    """Priced per input token; embedding models have no output price (they emit none)."""
    return _base(_latest_prices(info).input_mtok) is not None


@cache
def snapshot_entries(providers: tuple[str, ...] = PROVIDERS) -> tuple[ModelEntry, ...]:
    """Every token-priced model of the bundled snapshot for `providers`."""
    entries = []
    for provider in get_snapshot().providers:
        if provider.id not in providers:
            continue
        for info in provider.models:
            if not _is_token_priced(info):
                continue
            entries.append(
                ModelEntry(
                    provider=provider.id,
                    model=info.id,
                    name=info.name or info.id,
                    context_window=info.context_window,
                    deprecated=bool(info.deprecated),
                    info=info,
                    kind=model_kind(info.id, _latest_prices(info)),
                )
            )
    return tuple(entries)


class PriceBook:
    """Resolves a model name and an instant to the `Rates` that applied then."""

    def __init__(
        self, entries: Sequence[ModelEntry], overrides: Iterable[PriceOverride] = ()
    ) -> None:
        self.entries = tuple(entries)
        self._by_id = {(e.provider, e.model): e for e in self.entries}
        self._overrides: dict[str, list[PriceOverride]] = {}
        for override in sorted(overrides, key=lambda o: o.effective_from):
            self._overrides.setdefault(override.model.lower(), []).append(override)
        self._resolved: dict[str, ModelEntry | None] = {}

    @classmethod
    def from_snapshot(
        cls, overrides: Iterable[PriceOverride] = (), providers: tuple[str, ...] = PROVIDERS
    ) -> PriceBook:
        """The bundled snapshot for `providers`, with `overrides` on top."""
        return cls(snapshot_entries(providers), overrides)

    @property
    def overrides(self) -> list[PriceOverride]:
        """All overrides, oldest first per model."""
        return [o for items in self._overrides.values() for o in items]

    def resolve(self, model_ref: str) -> ModelEntry | None:
        """The snapshot model behind a name: dated snapshot ids and `provider/` prefixes work."""
        key = model_ref.strip().lower()
        if key not in self._resolved:
            self._resolved[key] = self._resolve(key)
        return self._resolved[key]

    def _resolve(self, key: str) -> ModelEntry | None:
        """A provider's own models before other providers' (Google also sells Claude models
        under the same names: a bare `claude-3-5-haiku` is Anthropic's)."""
        provider, name = _split_provider(key)
        names = (name, _DATED_SUFFIX.sub("", name))
        for group in self._groups(provider):
            for candidate_name in names:
                for entry in group:
                    if entry.model == candidate_name:
                        return entry
                for entry in group:
                    if entry.info.is_match(candidate_name):
                        return entry
        return None

    def _groups(self, provider: str | None) -> list[list[ModelEntry]]:
        """The entries to search, one group per provider: the named one, or each provider in
        the book's order, so a provider's own models are tried before the next provider's."""
        if provider is not None:
            return [[e for e in self.entries if e.provider == provider]]
        by_provider: dict[str, list[ModelEntry]] = {}
        for entry in self.entries:
            by_provider.setdefault(entry.provider, []).append(entry)
        return list(by_provider.values())

    def price_at(
        self,
        model_ref: str,
        when: datetime | date | None = None,
        *,
        service_tier: str | None = None,
    ) -> Rates | Unpriced:
        """Rates for `model_ref` at `when` (UTC; now if None); overrides win from their date on."""
        instant = _as_utc(when)
        entry = self.resolve(model_ref)
        override = self._override_at(model_ref, instant.date())
        if override is not None:
            base = _rates_from_snapshot(entry, instant, None) if entry else None
            return _merge(override.to_rates(entry.model if entry else model_ref), base)
        if entry is None:
            return Unpriced(model_ref, "not in the price book; add a custom price to include it")
        return _rates_from_snapshot(entry, instant, _tier(service_tier))

    def _override_at(self, model_ref: str, day: date) -> PriceOverride | None:
        key = model_ref.strip().lower()
        names = [key]
        entry = self.resolve(key)
        if entry is not None:
            names.append(entry.model)
        for name in names:
            active = [o for o in self._overrides.get(name, ()) if o.effective_from <= day]
            if active:
                return active[-1]
        return None

    def history(self, model_ref: str) -> list[Rates]:
        """Every distinct price period of a model, oldest first, overrides included."""
        entry = self.resolve(model_ref)
        periods: list[Rates] = []
        if entry is not None:
            for start in [None, *entry.change_dates()]:
                rates = _rates_from_snapshot(entry, _as_utc(start or date(2020, 1, 1)), None)
                rates = replace(rates, effective_from=start)
                if not periods or _price_fields(periods[-1]) != _price_fields(rates):
                    periods.append(rates)
        key = entry.model if entry else model_ref.strip().lower()
        periods += [o.to_rates(key) for o in self._overrides.get(key, ())]
        return periods

    def table(self, when: datetime | date | None = None, *, kind: str | None = None) -> list[Rates]:
        """Rates of every model (and override-only model) at `when`; `kind=CHAT_KIND` keeps the
        chat models only (no embedding, image, audio or moderation models)."""
        rows = [self.price_at(f"{e.provider}/{e.model}", when) for e in self.entries]
        known = {e.model for e in self.entries}
        extra = {o.model.lower() for o in self.overrides} - known
        rows += [self.price_at(m, when) for m in sorted(extra)]
        return [r for r in rows if isinstance(r, Rates) and kind in (None, r.kind)]


def _tier(service_tier: str | None) -> str | None:
    if service_tier in (None, "", "auto", "default", "standard"):
        return None
    return service_tier


def _split_provider(key: str) -> tuple[str | None, str]:
    for sep in ("/", ":"):
        head, found, tail = key.partition(sep)
        if found and head in PROVIDERS:
            return head, tail
    return None, key


def _price_fields(rates: Rates) -> tuple:
    return (
        rates.input_mtok,
        rates.cached_input_mtok,
        rates.cache_write_mtok,
        rates.output_mtok,
        rates.batch_input_mtok,
        rates.batch_output_mtok,
        rates.tiers,
    )


def _merge(custom: Rates, snapshot: Rates | None) -> Rates:
    """A custom price; the fields it leaves empty keep the snapshot's value."""
    if snapshot is None:
        return custom
    inherited = {
        name: getattr(snapshot, name)
        for name in (
            "cached_input_mtok",
            "cache_write_mtok",
            "context_window",
        )
        if getattr(custom, name) is None
    }
    merged = replace(custom, provider=snapshot.provider, kind=snapshot.kind, **inherited)
    if custom.batch_input_mtok is None and snapshot.provider in BATCH_DISCOUNT_PROVIDERS:
        cached = merged.cached_input_mtok
        merged = replace(
            merged,
            batch_input_mtok=custom.input_mtok * BATCH_FACTOR,
            batch_output_mtok=custom.output_mtok * BATCH_FACTOR,
            batch_cached_input_mtok=cached * BATCH_FACTOR if cached is not None else None,
        )
    return merged


def as_row(rates: Rates) -> dict[str, object]:
    """One model's prices as a flat table row (per 1M tokens; None where not offered)."""
    top = rates.tiers[-1] if rates.tiers else None
    return {
        "provider": rates.provider,
        "model": rates.model,
        "input_mtok": rates.input_mtok,
        "cached_input_mtok": rates.cached_input_mtok,
        "cache_write_mtok": rates.cache_write_mtok,
        "output_mtok": rates.output_mtok,
        "batch_input_mtok": rates.batch_input_mtok,
        "batch_output_mtok": rates.batch_output_mtok,
        "long_context_above_tokens": top.above_tokens if top else None,
        "long_context_input_mtok": top.input_mtok if top else None,
        "long_context_output_mtok": top.output_mtok if top else None,
        "context_window": rates.context_window,
        "effective_from": rates.effective_from,
        "source": rates.source,
    }
