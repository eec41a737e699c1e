"""The what-if simulation: baseline vs scenario cost of grouped traffic under ordered rules.

Rows are assigned to their first matching rule, summed per price key (rule, model, batch,
tiers, whether the prompt fits the target) and every key is priced at once, as logged and
after its rule, on its own model and on the rule's target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd

from core.costs import picos_to_usd
from core.identity import canonical
from core.pricing import PriceBook, Rates
from core.routing.ledger import Ledger, Simulation
from core.routing.matching import assign_rules
from core.routing.pricing import own_tiers, price_groups, tier_index, usage_arrays
from core.routing.rules import Rule, check_rules
from core.routing.traffic import TOKEN_COLUMNS, prepare_traffic
from core.routing.units import DAYS_PER_MONTH, ONE, PREC, ZERO


@dataclass(frozen=True)
class _Target:
    """A rule's target model: its rates and its price-book name."""

    rates: Rates
    name: str


def _mixed(realtime_pusd: int, batch_pusd: int, batch: bool, batch_share: Decimal) -> Decimal:
    """Cost when `batch_share` of real-time traffic moves to the Batch API."""
    if batch:
        return picos_to_usd(batch_pusd)
    realtime = picos_to_usd(realtime_pusd)
    if batch_share == 0:
        return realtime
    return realtime + batch_share * (picos_to_usd(batch_pusd) - realtime)


def _fits(frame: pd.DataFrame, window: int | None) -> np.ndarray:
    """Rows whose prompts fit a context window (by bucket bounds, else the mean)."""
    if not window:
        return np.ones(len(frame), bool)
    in_min, in_max = frame["in_min"].to_numpy(), frame["in_max"].to_numpy()
    return (in_max <= window) | ((in_min <= window) & (frame["in_mean"].to_numpy() <= window))


def _uplifted_cached(frame: pd.DataFrame, points: np.ndarray) -> np.ndarray:
    """Cached input tokens after raising the cache-hit share by `points` (whole tokens)."""
    inputs = frame["input_tokens"].to_numpy(np.int64)
    cached = frame["cached_input_tokens"].to_numpy(np.int64)
    ceiling = inputs - frame["cache_write_tokens"].to_numpy(np.int64)
    extra = (points * inputs + 5000) // 10000  # points held in hundredths of a point
    return np.where(points > 0, np.minimum(ceiling, cached + extra), cached)


def _annotate(
    frame: pd.DataFrame,
    rules: Sequence[Rule],
    rates: dict[str, Rates],
    book: PriceBook,
    when: date | datetime | None,
) -> pd.DataFrame:
    """Per row: rule index, own tier, whether it fits the target, target tier, uplifted cache."""
    frame["rule"] = assign_rules(frame, rules, book)
    frame["tier"] = own_tiers(frame, rates)
    frame["fits"] = True
    frame["target_tier"] = 0
    points = np.zeros(len(frame), np.int64)
    for index, rule in enumerate(rules):
        rows = (frame["rule"] == index).to_numpy()
        points[rows] = int(rule.cache_uplift_points * 100)
        if rule.routes:
            target = book.price_at(rule.target, when)
            frame.loc[rows, "fits"] = _fits(frame[rows], target.context_window)
            frame.loc[rows, "target_tier"] = tier_index(
                target, frame.loc[rows, "in_mean"].to_numpy()
            )
    frame["cached_up"] = _uplifted_cached(frame, points)
    frame["io_tokens"] = frame["input_tokens"] + frame["output_tokens"]
    return frame


_KEY = ["rule", "model", "canonical", "batch", "tier", "fits", "target_tier"]
_SUMS = ["requests", *TOKEN_COLUMNS, "cached_up", "io_tokens"]


def _key_prices(
    keys: pd.DataFrame, rules: Sequence[Rule], rates: dict[str, Rates], targets: dict[str, _Target]
) -> dict[str, np.ndarray]:
    """Pico-dollar prices of each key: as logged, and after its rule on its own and target model."""
    models = keys["model"].to_numpy(object)
    tiers = keys["tier"].to_numpy(np.int64)
    batch = keys["batch"].to_numpy(bool)
    after = usage_arrays(keys, "cached_up")
    prices = {
        "base_pusd": price_groups(
            usage_arrays(keys, "cached_input_tokens"), models, rates, tiers, batch
        ),
        "own_rt_pusd": price_groups(after, models, rates, tiers, np.zeros_like(batch)),
        "own_batch_pusd": price_groups(after, models, rates, tiers, np.ones_like(batch)),
        "target_rt_pusd": np.zeros(len(keys), dtype=object),
        "target_batch_pusd": np.zeros(len(keys), dtype=object),
    }
    rule_index, fits = keys["rule"].to_numpy(), keys["fits"].to_numpy(bool)
    target_tiers = keys["target_tier"].to_numpy(np.int64)
    for index, rule in enumerate(rules):
        rows = (rule_index == index) & fits
        if not (rule.routes and rows.any()):
            continue
        target = {rule.target: targets[rule.target].rates}
        named = np.full(int(rows.sum()), rule.target, dtype=object)
        sub = {name: values[rows] for name, values in after.items()}
        for column, mode in (("target_rt_pusd", False), ("target_batch_pusd", True)):
            flags = np.full(len(named), mode)
            prices[column][rows] = price_groups(sub, named, target, target_tiers[rows], flags)
    return prices


def _after(key: pd.Series, price: dict[str, int], rule: Rule) -> tuple:
    """Cost on the own model, cost on the target, routed share and batch share of one key."""
    batch = bool(key["batch"])
    batch_share = ZERO if batch else rule.batch_share
    on_own = _mixed(price["own_rt_pusd"], price["own_batch_pusd"], batch, batch_share)
    if not (rule.routes and bool(key["fits"])):
        return on_own, ZERO, ZERO, batch_share
    on_target = _mixed(price["target_rt_pusd"], price["target_batch_pusd"], batch, batch_share)
    return on_own, on_target, rule.share, batch_share


def _apply(
    ledger: Ledger,
    key: pd.Series,
    price: dict[str, int],
    rules: Sequence[Rule],
    targets: dict[str, _Target],
) -> None:
    """Book one aggregated key before and after its rule, from its kernel prices (pico-dollars)."""
    requests = int(key["requests"])
    base = picos_to_usd(price["base_pusd"])
    ledger.baseline += base
    ledger.requests += requests
    if key["rule"] < 0:
        ledger.scenario += base
        ledger.model(key["canonical"], Decimal(requests), Decimal(requests), base, base)
        return
    rule = rules[int(key["rule"])]
    on_own, on_target, share, batch_share = _after(key, price, rule)
    scenario = (ONE - share) * on_own + share * (on_target + rule.escalation * on_own)
    ledger.scenario += scenario
    moved = share * requests
    result = ledger.rules[int(key["rule"])]
    result.matched_requests += requests
    result.baseline_usd += base
    result.scenario_usd += scenario
    result.escalation_cost_usd += share * on_own
    result.requests_moved += moved
    result.requests_blocked += requests if rule.routes and share == 0 else 0
    result.requests_escalated += moved * rule.escalation
    result.requests_to_batch += batch_share * requests
    result.tokens_moved += share * int(key["io_tokens"])
    stay = requests - moved + moved * rule.escalation
    ledger.model(key["canonical"], Decimal(requests), stay, base, scenario - share * on_target)
    if share:
        ledger.model(targets[rule.target].name, ZERO, moved, ZERO, share * on_target)


def simulate(
    traffic: pd.DataFrame,
    rules: Sequence[Rule],
    book: PriceBook,
    *,
    when: date | datetime | None = None,
    period_days: int = DAYS_PER_MONTH,
) -> Simulation:
    """Baseline vs scenario cost of grouped `traffic` under ordered `rules` (first match wins)."""
    check_rules(rules, book, when)
    targets = {
        r.target: _Target(book.price_at(r.target, when), canonical(book, r.target))
        for r in rules
        if r.target
    }
    with localcontext(prec=PREC):
        frame, rates, unpriced = prepare_traffic(traffic, book, when)
        ledger = Ledger(rules)
        if len(frame):
            frame = _annotate(frame, rules, rates, book, when)
            keys = frame.groupby(_KEY, sort=False, as_index=False)[_SUMS].sum()
            prices = _key_prices(keys, rules, rates, targets)
            for i, (_, key) in enumerate(keys.iterrows()):
                _apply(ledger, key, {name: v[i] for name, v in prices.items()}, rules, targets)
    return Simulation(
        baseline_usd=ledger.baseline,
        scenario_usd=ledger.scenario,
        period_days=period_days,
        requests=ledger.requests,
        rules=ledger.rules,
        models=ledger.frame(),
        unpriced=unpriced,
    )
