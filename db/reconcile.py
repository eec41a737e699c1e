"""Reconciliation: Costdesk's computed cost of the logged calls vs what a provider billed.

One provider at a time (OpenAI, Anthropic, or a provider a gateway's daily tables name), per
UTC day and model: the cost Costdesk computed from its request logs (`daily_rollup`), the
requests and tokens the provider counted (`usage_bucket`, from one usage report: the provider's
own by default, or a gateway's) priced with the same price book, and the amount it billed
(`billed_cost`). A difference over the tolerance (2 % by default) is flagged with its likely
cause: calls (or, where a report counts no requests, tokens) missing from the logs, service
tiers or batch rates, a price change or a negotiated price, or line items that are not tokens
at all (tools, storage, audio minutes). Models are matched by their canonical id
(`core.identity`): the logs' stored `model_id`, and the reports' names resolved through the same
price book, so a dated snapshot in one source meets its alias in another. The logged side holds
the calls the price book gives to the provider, and any other logged model the provider's
reports name. Each row lists the names the logs used for its model (`logged_as`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, Table, func, select

from core.costs import picos_to_usd, price_frame
from core.identity import canonical
from core.pricing import PriceBook
from db.imports import BilledCost, UsageBucket
from db.models import DailyRollup

ROLLUP: Table = DailyRollup.__table__  # type: ignore[assignment]
USAGE: Table = UsageBucket.__table__  # type: ignore[assignment]
BILLED: Table = BilledCost.__table__  # type: ignore[assignment]

TOLERANCE_SHARE = 0.02
OWN_USAGE = {"openai": "openai-usage", "anthropic": "anthropic-usage"}  # a provider's own report
PROVIDER_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic"}
OTHER_ITEMS = "(other line items)"
DEFAULT_TIERS = frozenset({"", "default", "auto", "standard", "batch"})  # batch: own cause
TOKEN_WORDS = ("input", "output", "token", "cached")
PRICE_CHANGE_LOOKBACK = timedelta(days=45)
COLUMNS = [
    "day", "model", "logged_as", "logged_requests", "usage_requests", "computed_pusd",
    "usage_pusd", "billed_pusd", "diff_pusd", "diff_share", "flagged", "cause", "logged_tokens",
    "usage_tokens",
]  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """What is known about one (day, model) when explaining a difference."""

    logged_requests: int
    usage_requests: int
    unpriced_requests: int
    computed_pusd: int
    usage_pusd: int
    billed_pusd: int
    tiers: tuple[str, ...] = ()
    batch: bool = False
    other_items: bool = False
    price_change: date | None = None
    logged_tokens: int = 0  # input + output
    usage_tokens: int = 0  # the report's input + output (reports without request counts)


@dataclass
class Reconciliation:
    """The table (one row per day and model) and its totals."""

    rows: pd.DataFrame
    start: date
    end: date
    provider: str = "openai"
    usage_source: str | None = None  # the usage report compared (None: there was none)

    @property
    def computed_usd(self) -> Decimal:
        """Costdesk's computed cost of the logged calls."""
        return picos_to_usd(int(self.rows["computed_pusd"].sum())) if len(self.rows) else Decimal(0)

    @property
    def billed_usd(self) -> Decimal:
        """What the provider billed."""
        return picos_to_usd(int(self.rows["billed_pusd"].sum())) if len(self.rows) else Decimal(0)

    @property
    def flagged(self) -> int:
        """Rows whose difference is over the tolerance."""
        return int(self.rows["flagged"].sum()) if len(self.rows) else 0

    def by_day(self) -> pd.DataFrame:
        """Per day: computed and billed pico-dollars and how many models were flagged."""
        if self.rows.empty:
            return pd.DataFrame(columns=["day", "computed_pusd", "billed_pusd", "flagged"])
        return self.rows.groupby("day", as_index=False).agg(
            computed_pusd=("computed_pusd", "sum"),
            billed_pusd=("billed_pusd", "sum"),
            flagged=("flagged", "sum"),
        )

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to compare."""
        return self.rows.empty


def parse_line_item(line_item: str) -> tuple[str, str]:
    """(service tier, model) of a Costs API line item; model "" for non-token items.

    "gpt-4o-mini-2024-07-18, input" -> ("", "gpt-4o-mini-2024-07-18");
    "priority | gpt-5, output, long context" -> ("priority", "gpt-5");
    "web search tool calls" / "whisper-1, audio" -> ("", "").
    """
    tier, _, rest = line_item.rpartition("|") if "|" in line_item else ("", "", line_item)
    head, _, kind = rest.partition(",")
    if not kind or not any(word in kind.lower() for word in TOKEN_WORDS):
        return tier.strip().lower(), ""
    words = head.strip().split()
    return tier.strip().lower(), words[0] if words else ""


def canonical_model(name: str, book: PriceBook) -> str:
    """The canonical id of a model name (`core.identity`); OTHER_ITEMS for a non-token item."""
    return canonical(book, name) if name else OTHER_ITEMS


def _canonical_models(names: pd.Series, book: PriceBook) -> pd.Series:
    """Canonical ids of a column of model names (a text column even when empty)."""
    return pd.Series([canonical_model(m, book) for m in names], index=names.index, dtype=object)


def price_change_near(book: PriceBook, model: str, day: date) -> date | None:
    """The latest price change of `model` in the weeks up to `day`, if any."""
    if model == OTHER_ITEMS:
        return None
    starts = [r.effective_from for r in book.history(model) if r.effective_from is not None]
    near = [d for d in starts if day - PRICE_CHANGE_LOOKBACK <= d <= day]
    return max(near) if near else None


def diff_share(computed_pusd: int, billed_pusd: int) -> float | None:
    """(computed - billed) / billed; None when nothing was billed."""
    return (computed_pusd - billed_pusd) / billed_pusd if billed_pusd else None


def is_flagged(computed_pusd: int, billed_pusd: int, tolerance_share: float) -> bool:
    """Over the tolerance, or billed and computed disagree about whether anything was spent."""
    share = diff_share(computed_pusd, billed_pusd)
    if share is None:
        return computed_pusd > 0
    return abs(share) > tolerance_share


def likely_cause(ev: Evidence, tolerance_share: float = TOLERANCE_SHARE) -> str:
    """The most likely reasons a computed cost differs from the billed cost, most likely first."""
    if ev.other_items:
        return "non-token line items (tools, storage, audio): not in request logs"
    causes = _coverage(ev)
    if ev.tiers:
        causes.append(f"service tier billed at other rates ({', '.join(ev.tiers)})")
    if ev.batch:
        causes.append("batch requests billed at batch rates")
    if ev.unpriced_requests:
        causes.append(f"model not in the price book ({ev.unpriced_requests:,} requests unpriced)")
    if ev.billed_pusd == 0 and ev.computed_pusd > 0:
        causes.append("nothing billed yet: the cost report can lag by a day")
    if causes or not (ev.usage_requests or ev.usage_tokens):
        return "; ".join(causes) or "unexplained: check the price book and the logs' coverage"
    if not is_flagged(ev.usage_pusd, ev.billed_pusd, tolerance_share):
        return (
            "logged token counts or prices differ from the provider's "
            "(re-price after a price change)"
        )
    if ev.price_change is not None:
        return f"price change on {ev.price_change.isoformat()}"
    return "price differs from the price book (negotiated or changed price)"


def _coverage(ev: Evidence) -> list[str]:
    """Calls (or tokens, where the usage report counts no requests) missing from the logs."""
    if ev.usage_requests > ev.logged_requests:
        missing = ev.usage_requests - ev.logged_requests
        return [f"calls missing from the logs ({missing:,} of {ev.usage_requests:,})"]
    if ev.logged_requests > ev.usage_requests > 0:
        return ["more calls logged than the provider counted (test or duplicate traffic)"]
    if ev.usage_requests == 0 and ev.usage_tokens > ev.logged_tokens:
        missing = ev.usage_tokens - ev.logged_tokens
        return [f"tokens missing from the logs ({missing:,} of {ev.usage_tokens:,})"]
    if ev.usage_requests == 0 and ev.logged_tokens > ev.usage_tokens > 0:
        return ["more tokens logged than the provider counted (test or duplicate traffic)"]
    return []


def _range_filter(column: object, start: date, end: date) -> object:
    return (column >= datetime.combine(start, time(), tzinfo=UTC)) & (  # type: ignore[operator]
        column < datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)  # type: ignore[operator]
    )


def _frame(engine: Engine, query: object, columns: list[str]) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(query).all()  # type: ignore[arg-type]
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def _as_day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date if len(values) else values


def logged_frame(engine: Engine, start: date, end: date) -> pd.DataFrame:
    """Requests, tokens and computed cost of the logged calls per day, provider, canonical
    model and logged name."""
    r = ROLLUP.c
    query = (
        select(
            r.day,
            r.provider,
            r.model_id,
            r.model,
            func.sum(r.requests),
            func.sum(r.unpriced_requests),
            func.sum(r.input_tokens + r.output_tokens),
            func.sum(r.cost_pusd),
        )
        .where(r.day >= start, r.day <= end)
        .group_by(r.day, r.provider, r.model_id, r.model)
    )
    columns = ["day", "provider", "model", "logged_as", "logged_requests", "unpriced_requests"]
    frame = _frame(engine, query, [*columns, "logged_tokens", "computed_pusd"])
    frame["day"] = _as_day(frame["day"])
    for name in ("logged_requests", "unpriced_requests", "logged_tokens", "computed_pusd"):
        frame[name] = frame[name].map(int).astype("int64")
    return frame


def _names(values: pd.Series) -> str:
    """The distinct logged names of one model, sorted, as one cell."""
    return ", ".join(sorted(set(values)))


def _logged_by_model(logged: pd.DataFrame) -> pd.DataFrame:
    """Logged calls per day and canonical model, with the names the logs used."""
    logged = logged.drop(columns="provider")
    if logged.empty:  # an empty aggregate would lose the text dtype of the merge keys
        return logged
    return logged.groupby(["day", "model"], as_index=False).agg(
        logged_as=("logged_as", _names),
        logged_requests=("logged_requests", "sum"),
        unpriced_requests=("unpriced_requests", "sum"),
        logged_tokens=("logged_tokens", "sum"),
        computed_pusd=("computed_pusd", "sum"),
    )


def usage_frame(
    engine: Engine, start: date, end: date, provider: str = "openai", source: str | None = None
) -> pd.DataFrame:
    """Requests and tokens one usage report counted for `provider`, per day, model, service
    tier and batch flag (no rows when `source` is None)."""
    keys = [USAGE.c.start_time, USAGE.c.model, USAGE.c.service_tier, USAGE.c.batch]
    sums = [
        func.sum(USAGE.c[name])
        for name in (
            "requests", "input_tokens", "cached_input_tokens", "cache_write_tokens",
            "output_tokens",
        )
    ]  # fmt: skip
    query = select(*keys, *sums).where(
        _range_filter(USAGE.c.start_time, start, end),
        USAGE.c.provider == provider,
        USAGE.c.source == (source or ""),
    )
    columns = ["day", "model", "service_tier", "batch", "usage_requests", "input_tokens"]
    columns += ["cached_input_tokens", "cache_write_tokens", "output_tokens"]
    frame = _frame(engine, query.group_by(*keys), columns)
    frame["day"] = _as_day(frame["day"])
    frame["batch"] = frame["batch"].astype(bool)
    return frame


def billed_frame(engine: Engine, start: date, end: date, provider: str = "openai") -> pd.DataFrame:
    """Billed amounts of `provider` per day and line item (summed over projects)."""
    keys = [BILLED.c.start_time, BILLED.c.line_item]
    query = (
        select(*keys, func.sum(BILLED.c.amount_pusd))
        .where(_range_filter(BILLED.c.start_time, start, end), BILLED.c.provider == provider)
        .group_by(*keys)
    )
    frame = _frame(engine, query, ["day", "line_item", "billed_pusd"])
    frame["day"] = _as_day(frame["day"])
    return frame


def _priced_usage(usage: pd.DataFrame, book: PriceBook) -> pd.DataFrame:
    """Usage rows with `usage_pusd`: the report's token counts at Costdesk's prices. A row sums
    many requests, so its total never selects a long-context tier: base rates (tier input 0)."""
    if usage.empty:
        return usage.assign(usage_pusd=pd.Series(dtype="int64"))
    priced = price_frame(usage, book, tier_input=0)
    return usage.assign(usage_pusd=priced["cost_pusd"].astype("int64"))


def _tiers_of(values: pd.Series) -> tuple[str, ...]:
    return tuple(sorted({str(v) for v in values if str(v).lower() not in DEFAULT_TIERS}))


def _usage_by_model(usage: pd.DataFrame, book: PriceBook) -> pd.DataFrame:
    usage = _priced_usage(usage, book)
    usage["model"] = _canonical_models(usage["model"], book)
    usage["usage_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage.groupby(["day", "model"], as_index=False).agg(
        usage_requests=("usage_requests", "sum"),
        usage_tokens=("usage_tokens", "sum"),
        usage_pusd=("usage_pusd", "sum"),
        usage_tiers=("service_tier", _tiers_of),
        batch=("batch", "any"),
    )


def _billed_by_model(billed: pd.DataFrame, book: PriceBook) -> pd.DataFrame:
    parsed = [parse_line_item(item) for item in billed["line_item"]]
    names = pd.Series([m for _t, m in parsed], index=billed.index, dtype=object)
    billed = billed.assign(tier=[tier for tier, _m in parsed], model=_canonical_models(names, book))
    return billed.groupby(["day", "model"], as_index=False).agg(
        billed_pusd=("billed_pusd", "sum"), billed_tiers=("tier", _tiers_of)
    )


def _mine(logged: pd.DataFrame, provider: str, reported: set[str]) -> pd.DataFrame:
    """The logged calls of `provider`: its models in the price book, and any logged model its
    reports name (a model the book does not know, or one a gateway's provider name routes)."""
    return logged[(logged["provider"] == provider) | logged["model"].isin(reported)]


def _merged(
    engine: Engine, book: PriceBook, start: date, end: date, provider: str, source: str | None
) -> pd.DataFrame:
    usage = _usage_by_model(usage_frame(engine, start, end, provider, source), book)
    billed = _billed_by_model(billed_frame(engine, start, end, provider), book)
    reported = set(usage["model"]) | set(billed["model"])
    logged = _logged_by_model(_mine(logged_frame(engine, start, end), provider, reported))
    merged = logged.merge(usage, on=["day", "model"], how="outer")
    merged = merged.merge(billed, on=["day", "model"], how="outer")
    counts = ("logged_requests", "unpriced_requests", "logged_tokens", "computed_pusd")
    for name in (*counts, "usage_requests", "usage_tokens", "usage_pusd", "billed_pusd"):
        merged[name] = merged[name].fillna(0).astype("int64")
    for name in ("usage_tiers", "billed_tiers"):
        merged[name] = [v if isinstance(v, tuple) else () for v in merged[name]]
    merged["logged_as"] = merged["logged_as"].fillna("")
    merged["batch"] = merged["batch"].fillna(False).astype(bool)
    return merged


def _evidence(row: pd.Series, book: PriceBook) -> Evidence:
    return Evidence(
        logged_requests=int(row["logged_requests"]),
        usage_requests=int(row["usage_requests"]),
        unpriced_requests=int(row["unpriced_requests"]),
        computed_pusd=int(row["computed_pusd"]),
        usage_pusd=int(row["usage_pusd"]),
        billed_pusd=int(row["billed_pusd"]),
        tiers=tuple(sorted(set(row["usage_tiers"]) | set(row["billed_tiers"]))),
        batch=bool(row["batch"]),
        other_items=row["model"] == OTHER_ITEMS,
        price_change=price_change_near(book, row["model"], row["day"]),
        logged_tokens=int(row["logged_tokens"]),
        usage_tokens=int(row["usage_tokens"]),
    )


def reconcile(
    engine: Engine,
    book: PriceBook,
    start: date,
    end: date,
    *,
    provider: str = "openai",
    usage_source: str | None = None,
    tolerance_share: float = TOLERANCE_SHARE,
) -> Reconciliation:
    """Computed vs billed cost of `provider` per day and model over [start, end], differences
    explained. Usage comes from `usage_source` (default: `default_source`)."""
    source = usage_source or default_source(engine, provider)
    merged = _merged(engine, book, start, end, provider, source)
    if merged.empty:
        return Reconciliation(pd.DataFrame(columns=COLUMNS), start, end, provider, source)
    computed, billed = merged["computed_pusd"], merged["billed_pusd"]
    merged["diff_pusd"] = computed - billed
    merged["diff_share"] = [diff_share(c, b) for c, b in zip(computed, billed, strict=True)]
    merged["flagged"] = [
        is_flagged(c, b, tolerance_share) for c, b in zip(computed, billed, strict=True)
    ]
    merged["cause"] = [
        likely_cause(_evidence(row, book), tolerance_share) if row["flagged"] else ""
        for _i, row in merged.iterrows()
    ]
    rows = merged[COLUMNS].sort_values(["day", "model"], ignore_index=True)
    return Reconciliation(rows, start, end, provider, source)


def usage_sources(engine: Engine) -> dict[str, list[str]]:
    """Every provider with imported usage or billed cost -> the usage reports stored for it
    (sorted; the provider's own report first)."""
    with engine.connect() as conn:
        pairs = conn.execute(select(USAGE.c.provider, USAGE.c.source).distinct()).all()
        billed = conn.execute(select(BILLED.c.provider).distinct()).scalars().all()
    found: dict[str, list[str]] = {p: [] for p in billed}
    for provider, source in pairs:
        found.setdefault(provider, []).append(source)
    return {
        p: sorted(found[p], key=lambda s, p=p: (s != OWN_USAGE.get(p), s)) for p in sorted(found)
    }


def default_source(engine: Engine, provider: str) -> str | None:
    """The usage report a reconciliation of `provider` compares: its own, else the first
    stored one (a gateway's); None when no usage of it is stored."""
    sources = usage_sources(engine).get(provider) or []
    return sources[0] if sources else None


def provider_name(provider: str) -> str:
    """A provider's name as shown ("OpenAI"); other providers as stored."""
    return PROVIDER_NAMES.get(provider, provider)


def imported_range(engine: Engine, provider: str | None = None) -> tuple[date, date] | None:
    """First and last day of imported usage or billed cost (of `provider`, or any); None before
    any import."""
    bounds = []
    with engine.connect() as conn:
        for table in (USAGE, BILLED):
            query = select(func.min(table.c.start_time), func.max(table.c.start_time))
            if provider:
                query = query.where(table.c.provider == provider)
            bounds.append(conn.execute(query).one())
    days = [pd.Timestamp(v).date() for pair in bounds for v in pair if v is not None]
    return (min(days), max(days)) if days else None
