"""Model-routing what-if simulator over grouped traffic, and plan-vs-actual variance.

Traffic arrives *grouped*: one row per (model, project, feature, status, batch, input-token
bucket, output-token bucket) with a request count and token sums, so a month of 10M requests is
a few thousand rows. Rules are ordered and the first match wins. A rule's actions:

- route `share` of the matched requests to `target` (requests whose prompt is larger than the
  target's context window cannot move: they are counted, not moved);
- `escalation`: a cascade, the share of routed requests that fail on the target and are re-run
  on the original model, so both calls are paid;
- `batch_share`: move a share of the matched real-time requests to the Batch API;
- `cache_uplift_points`: raise the cache-hit share of input tokens by that many points.

Cost is linear in token sums, so groups are summed per price key and every key is priced at
once by `core.costs.price_usage`, the kernel that prices stored events, in exact integer
pico-dollars. Long-context tiers are chosen per group from the mean input tokens per request
(exact when the group's bucket lies on one side of the tier edge) and handed to the kernel as
its `tier_input`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation, localcontext

import numpy as np
import pandas as pd

from core.costs import PRICED_TOKENS, picos_to_usd, price_usage, rate_arrays
from core.identity import canonical
from core.pricing import PriceBook, Rates, Unpriced

DAYS_PER_MONTH = 30
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
PICO = Decimal("1e-12")
SHARE_QUANTUM = Decimal("1e-9")  # shares (0..1) are shown, never summed
PREC = 60  # Decimal digits: shares times costs of billions of tokens stay exact

TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
TRAFFIC_COLUMNS = (
    "model",
    "project",
    "feature",
    "status",
    "batch",
    "requests",
    *TOKEN_COLUMNS,
    "in_min",
    "in_max",
    "out_min",
    "out_max",
)
# Default token-size cut points (a bucket holds lo < tokens <= cut); rule thresholds are added.
INPUT_CUTS = (256, 512, 1000, 2000, 4000, 8000, 16000, 32000, 128000)
OUTPUT_CUTS = (100, 250, 500, 1000, 2000, 4000)

_INT_KEYS = ("min_input_tokens", "max_input_tokens", "min_output_tokens", "max_output_tokens")
_SHARE_KEYS = ("share", "escalation", "batch_share")
_TEXT_KEYS = ("model", "project", "feature", "status", "target", "name")
_ALIASES = {
    "tag": "feature",
    "batch": "batch_share",
    "cache": "cache_uplift_points",
    "cache_uplift": "cache_uplift_points",
    "cache_points": "cache_uplift_points",
    "escalation_rate": "escalation",
}


class RuleError(ValueError):
    """A rule that cannot be applied; the message says why in one line."""


@dataclass(frozen=True)
class Rule:
    """One routing rule: what it matches (empty = any) and what it does to the matched traffic."""

    model: str = ""
    project: str = ""
    feature: str = ""
    status: str = ""  # "", "ok" (< 400), "error" (>= 400) or an HTTP code such as "429"
    min_input_tokens: int | None = None
    max_input_tokens: int | None = None
    min_output_tokens: int | None = None
    max_output_tokens: int | None = None
    target: str = ""
    share: Decimal = ZERO
    escalation: Decimal = ZERO
    batch_share: Decimal = ZERO
    cache_uplift_points: Decimal = ZERO
    name: str = ""

    def label(self) -> str:
        """A short human description: `gpt-4o, input ≤ 2,000 → gpt-4o-mini 67 %`."""
        if self.name:
            return self.name
        where = [v for v in (self.model, self.project, self.feature) if v]
        where += [f"status {self.status}"] if self.status else []
        where += _range_text("input", self.min_input_tokens, self.max_input_tokens)
        where += _range_text("output", self.min_output_tokens, self.max_output_tokens)
        acts = [f"→ {self.target} {_pct(self.share)}"] if self.target else []
        acts += [f"escalate {_pct(self.escalation)}"] if self.escalation else []
        acts += [f"batch {_pct(self.batch_share)}"] if self.batch_share else []
        acts += [f"cache +{self.cache_uplift_points} pts"] if self.cache_uplift_points else []
        return f"{', '.join(where) or 'all traffic'} {' '.join(acts)}".strip()

    def to_dict(self) -> dict[str, object]:
        """JSON-safe fields (decimals as strings, unset fields left out)."""
        out: dict[str, object] = {}
        for key, value in asdict(self).items():
            if value in (None, "") or (isinstance(value, Decimal) and value == 0):
                continue
            out[key] = str(value) if isinstance(value, Decimal) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Rule:
        """The inverse of `to_dict`; raises `RuleError` on bad values or unknown keys."""
        return make_rule({k: str(v) for k, v in data.items() if v not in (None, "")})

    @property
    def routes(self) -> bool:
        """True when the rule moves traffic to another model."""
        return bool(self.target) and self.share > 0


def _pct(value: Decimal) -> str:
    return f"{(value * HUNDRED).normalize():f} %"


def _range_text(what: str, low: int | None, high: int | None) -> list[str]:
    if low is not None and high is not None:
        return [f"{what} {low:,}–{high:,}"]
    if low is not None:
        return [f"{what} ≥ {low:,}"]
    return [f"{what} ≤ {high:,}"] if high is not None else []


def _to_int(key: str, text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise RuleError(f"{key} must be a whole number of tokens, got {text!r}") from None
    if value < 0:
        raise RuleError(f"{key} must not be negative, got {value}")
    return value


def _to_share(key: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip().rstrip("%")) / (HUNDRED if text.strip().endswith("%") else 1)
    except InvalidOperation:
        raise RuleError(f"{key} must be a number between 0 and 1, got {text!r}") from None
    if not value.is_finite() or not ZERO <= value <= ONE:
        raise RuleError(f"{key} must be between 0 and 1 (or 0%–100%), got {text!r}")
    return value


def _to_points(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RuleError(f"cache_uplift_points must be a number, got {text!r}") from None
    if not value.is_finite() or not ZERO <= value <= HUNDRED:
        raise RuleError(f"cache_uplift_points must be between 0 and 100, got {text!r}")
    return value


def make_rule(fields: dict[str, str]) -> Rule:
    """A checked `Rule` from text fields (CLI spec, form or saved JSON)."""
    values: dict[str, object] = {}
    for raw_key, text in fields.items():
        key = _ALIASES.get(raw_key.strip().lower(), raw_key.strip().lower())
        text = text.strip()
        if key in _INT_KEYS:
            values[key] = _to_int(key, text)
        elif key in _SHARE_KEYS:
            values[key] = _to_share(key, text)
        elif key == "cache_uplift_points":
            values[key] = _to_points(text)
        elif key in _TEXT_KEYS:
            values[key] = text
        else:
            known = ", ".join((*_TEXT_KEYS, *_INT_KEYS, *_SHARE_KEYS, "cache_uplift_points"))
            raise RuleError(f"unknown rule key {raw_key!r}; known keys: {known}")
    if values.get("target") and "share" not in values:
        values["share"] = ONE
    return _checked(Rule(**values))


def _checked(rule: Rule) -> Rule:
    for low, high in (
        ("min_input_tokens", "max_input_tokens"),
        ("min_output_tokens", "max_output_tokens"),
    ):
        lo, hi = getattr(rule, low), getattr(rule, high)
        if lo is not None and hi is not None and lo > hi:
            raise RuleError(f"{low} ({lo}) is larger than {high} ({hi})")
    if rule.share > 0 and not rule.target:
        raise RuleError("share needs a target model (target=...)")
    if rule.escalation > 0 and not rule.routes:
        raise RuleError("escalation needs a target model and a share above 0")
    if not (rule.routes or rule.batch_share > 0 or rule.cache_uplift_points > 0):
        raise RuleError(
            "the rule does nothing: give target=..., batch_share=... or cache_uplift_points=..."
        )
    status = rule.status.lower()
    if status and status not in ("ok", "error") and not status.isdigit():
        raise RuleError(f"status must be ok, error or an HTTP code, got {rule.status!r}")
    return replace(rule, status=status)


def parse_rule(spec: str) -> Rule:
    """Parse `model=gpt-4o,max_input_tokens=2000,target=gpt-4o-mini,share=0.67`."""
    fields: dict[str, str] = {}
    for part in (p for p in spec.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise RuleError(f"expected key=value, got {part.strip()!r} in rule {spec!r}")
        fields[key] = value
    if not fields:
        raise RuleError("empty rule")
    return make_rule(fields)


def target_problem(rule: Rule, book: PriceBook, when: date | datetime | None) -> str | None:
    """Why a rule's target model cannot be priced, else None."""
    if rule.target and isinstance(book.price_at(rule.target, when), Unpriced):
        return f"target model {rule.target!r} is not in the price book"
    return None


def check_rules(rules: Sequence[Rule], book: PriceBook, when: date | datetime | None) -> None:
    """Raise `RuleError` when a rule's target model cannot be priced."""
    for number, rule in enumerate(rules, 1):
        problem = target_problem(rule, book, when)
        if problem is not None:
            raise RuleError(f"rule {number}: {problem}")


def cut_points(
    rules: Sequence[Rule], book: PriceBook, when: date | datetime | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Input and output cut points that make every rule threshold and context window a bucket edge."""
    inputs, outputs = set(INPUT_CUTS), set(OUTPUT_CUTS)
    for rule in rules:
        inputs |= {v for v in (rule.max_input_tokens,) if v is not None}
        inputs |= {v - 1 for v in (rule.min_input_tokens,) if v}
        outputs |= {v for v in (rule.max_output_tokens,) if v is not None}
        outputs |= {v - 1 for v in (rule.min_output_tokens,) if v}
        rates = book.price_at(rule.target, when) if rule.target else None
        if isinstance(rates, Rates) and rates.context_window:
            inputs.add(rates.context_window)
    return tuple(sorted(inputs)), tuple(sorted(outputs))


# ---------------------------------------------------------------- traffic frames


def empty_traffic() -> pd.DataFrame:
    """A grouped-traffic frame with no rows."""
    frame = pd.DataFrame({c: pd.Series(dtype="int64") for c in TRAFFIC_COLUMNS})
    for column in ("model", "project", "feature"):
        frame[column] = frame[column].astype(object)
    frame["batch"] = frame["batch"].astype(bool)
    return frame


def plan_traffic(
    model: str,
    requests: int,
    input_tokens_per_request: int,
    output_tokens_per_request: int,
    *,
    cache_hit_share: Decimal | float = 0,
    batch_share: Decimal | float = 0,
    project: str = "",
    feature: str = "",
) -> pd.DataFrame:
    """Grouped traffic for a planned workload: a real-time row and a batch row."""
    batch_requests = int(Decimal(str(batch_share)) * requests)
    rows = []
    for batch, count in ((False, requests - batch_requests), (True, batch_requests)):
        if count <= 0:
            continue
        input_sum = count * int(input_tokens_per_request)
        cached = int(Decimal(str(cache_hit_share)) * input_sum)
        rows.append(
            {
                "model": model,
                "project": project,
                "feature": feature,
                "status": 200,
                "batch": batch,
                "requests": count,
                "input_tokens": input_sum,
                "cached_input_tokens": cached,
                "cache_write_tokens": 0,
                "output_tokens": count * int(output_tokens_per_request),
                "in_min": int(input_tokens_per_request),
                "in_max": int(input_tokens_per_request),
                "out_min": int(output_tokens_per_request),
                "out_max": int(output_tokens_per_request),
            }
        )
    return pd.DataFrame(rows, columns=list(TRAFFIC_COLUMNS)) if rows else empty_traffic()


# ---------------------------------------------------------------- results


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


# ---------------------------------------------------------------- matching


def _feature_mask(features: pd.Series, wanted: str) -> np.ndarray:
    lookup = {
        value: value == wanted or wanted in (t.strip() for t in str(value).split(","))
        for value in features.unique()
    }
    return features.map(lookup).to_numpy(bool)


def _range_mask(
    low_col: np.ndarray, high_col: np.ndarray, mean: np.ndarray, low: int | None, high: int | None
) -> np.ndarray:
    lo = -1 if low is None else low
    hi = np.iinfo(np.int64).max if high is None else high
    inside = (low_col >= lo) & (high_col <= hi)
    straddles = ~inside & (high_col >= lo) & (low_col <= hi)
    return inside | (straddles & (mean >= lo) & (mean <= hi))


def _status_mask(status: np.ndarray, wanted: str) -> np.ndarray:
    if wanted == "ok":
        return status < 400
    if wanted == "error":
        return status >= 400
    return status == int(wanted)


def match_mask(frame: pd.DataFrame, rule: Rule, book: PriceBook) -> np.ndarray:
    """Which rows of a prepared frame the rule matches (ignoring earlier rules)."""
    mask = np.ones(len(frame), bool)
    if rule.model:
        mask &= frame["canonical"].to_numpy() == canonical(book, rule.model)
    if rule.project:
        mask &= frame["project"].to_numpy() == rule.project
    if rule.feature:
        mask &= _feature_mask(frame["feature"], rule.feature)
    if rule.status:
        mask &= _status_mask(frame["status"].to_numpy(np.int64), rule.status)
    if rule.min_input_tokens is not None or rule.max_input_tokens is not None:
        mask &= _range_mask(
            frame["in_min"].to_numpy(),
            frame["in_max"].to_numpy(),
            frame["in_mean"].to_numpy(),
            rule.min_input_tokens,
            rule.max_input_tokens,
        )
    if rule.min_output_tokens is not None or rule.max_output_tokens is not None:
        mask &= _range_mask(
            frame["out_min"].to_numpy(),
            frame["out_max"].to_numpy(),
            frame["out_mean"].to_numpy(),
            rule.min_output_tokens,
            rule.max_output_tokens,
        )
    return mask


def assign_rules(frame: pd.DataFrame, rules: Sequence[Rule], book: PriceBook) -> np.ndarray:
    """Index of the first rule that matches each row, -1 where none does."""
    assigned = np.full(len(frame), -1, np.int64)
    for index, rule in enumerate(rules):
        free = assigned < 0
        assigned[free & match_mask(frame, rule, book)] = index
    return assigned


# ---------------------------------------------------------------- pricing grouped traffic


def _tier_index(rates: Rates, mean_input: np.ndarray) -> np.ndarray:
    """How many long-context tier edges each row's mean prompt is above (0 = base rates)."""
    index = np.zeros(len(mean_input), np.int64)
    for tier in rates.tiers:
        index += mean_input > tier.above_tokens
    return index


def _own_tiers(frame: pd.DataFrame, rates: dict[str, Rates]) -> np.ndarray:
    """Each row's tier index on its own model, from the row's mean prompt."""
    tiers = np.zeros(len(frame), np.int64)
    for model, model_rates in rates.items():
        rows = (frame["model"] == model).to_numpy()
        tiers[rows] = _tier_index(model_rates, frame.loc[rows, "in_mean"].to_numpy())
    return tiers


def _tier_inputs(rates: dict[str, Rates], codes: np.ndarray, tiers: np.ndarray) -> np.ndarray:
    """An input count that selects each tier index on each model: one token above its edge."""
    names = list(rates)
    width = 1 + max((len(rates[n].tiers) for n in names), default=0)
    edges = np.zeros((len(names), width), np.int64)  # tier 0: base rates
    for i, name in enumerate(names):
        for k, tier in enumerate(rates[name].tiers, 1):
            edges[i, k] = tier.above_tokens + 1
    return edges[codes, tiers]


def _price_groups(
    usage: dict[str, np.ndarray],
    models: np.ndarray,
    rates: dict[str, Rates],
    tiers: np.ndarray,
    batch: np.ndarray,
) -> np.ndarray:
    """Exact pico-dollar cost of each summed usage on its model at its tier, real time or batch."""
    names = list(rates)
    table = rate_arrays([*(rates[n] for n in names), *(rates[n].for_batch() for n in names)])
    position = {name: i for i, name in enumerate(names)}
    codes = np.array([position[m] for m in models], dtype=np.int64)
    index = codes + len(names) * batch.astype(np.int64)
    tier_input = _tier_inputs(rates, codes, tiers)
    return price_usage(usage, table, tier_input=tier_input, index=index)["cost_pusd"]


def _mixed(realtime_pusd: int, batch_pusd: int, batch: bool, batch_share: Decimal) -> Decimal:
    """Cost when `batch_share` of real-time traffic moves to the Batch API."""
    if batch:
        return picos_to_usd(batch_pusd)
    realtime = picos_to_usd(realtime_pusd)
    if batch_share == 0:
        return realtime
    return realtime + batch_share * (picos_to_usd(batch_pusd) - realtime)


def _prepare(
    traffic: pd.DataFrame, book: PriceBook, when: date | datetime | None
) -> tuple[pd.DataFrame, dict[str, Rates], dict[str, int]]:
    """Attach canonical model names, means and rates; split off unpriced models."""
    frame = traffic[traffic["requests"] > 0].reset_index(drop=True)
    rates: dict[str, Rates] = {}
    unpriced: dict[str, int] = {}
    for model in frame["model"].unique():
        found = book.price_at(model, when)
        if isinstance(found, Rates):
            rates[model] = found
        else:
            unpriced[model] = int(frame.loc[frame["model"] == model, "requests"].sum())
    frame = frame[frame["model"].isin(list(rates))].reset_index(drop=True)
    ids = {m: canonical(book, m) for m in rates}
    frame["canonical"] = frame["model"].map(ids)
    requests = frame["requests"].to_numpy(np.int64)
    frame["in_mean"] = frame["input_tokens"].to_numpy(np.int64) / np.maximum(requests, 1)
    frame["out_mean"] = frame["output_tokens"].to_numpy(np.int64) / np.maximum(requests, 1)
    return frame, rates, unpriced


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
    frame["tier"] = _own_tiers(frame, rates)
    frame["fits"] = True
    frame["target_tier"] = 0
    points = np.zeros(len(frame), np.int64)
    for index, rule in enumerate(rules):
        rows = (frame["rule"] == index).to_numpy()
        points[rows] = int(rule.cache_uplift_points * 100)
        if rule.routes:
            target = book.price_at(rule.target, when)
            frame.loc[rows, "fits"] = _fits(frame[rows], target.context_window)
            frame.loc[rows, "target_tier"] = _tier_index(
                target, frame.loc[rows, "in_mean"].to_numpy()
            )
    frame["cached_up"] = _uplifted_cached(frame, points)
    frame["io_tokens"] = frame["input_tokens"] + frame["output_tokens"]
    return frame


_KEY = ["rule", "model", "canonical", "batch", "tier", "fits", "target_tier"]
_SUMS = ["requests", *TOKEN_COLUMNS, "cached_up", "io_tokens"]


def _usage_columns(cached_column: str = "cached_input_tokens") -> dict[str, str]:
    """Which traffic column holds each kernel count."""
    columns = dict(zip(PRICED_TOKENS, TOKEN_COLUMNS, strict=True))
    return columns | {"cached_input_tokens": cached_column}


def _usage(frame: pd.DataFrame, cached_column: str) -> dict[str, np.ndarray]:
    """Token sums of each row as kernel usage arrays, cached tokens from `cached_column`."""
    return {name: frame[c].to_numpy() for name, c in _usage_columns(cached_column).items()}


def _key_prices(
    keys: pd.DataFrame, rules: Sequence[Rule], rates: dict[str, Rates], targets: dict[str, _Target]
) -> dict[str, np.ndarray]:
    """Pico-dollar prices of each key: as logged, and after its rule on its own and target model."""
    models = keys["model"].to_numpy(object)
    tiers = keys["tier"].to_numpy(np.int64)
    batch = keys["batch"].to_numpy(bool)
    after = _usage(keys, "cached_up")
    prices = {
        "base_pusd": _price_groups(
            _usage(keys, "cached_input_tokens"), models, rates, tiers, batch
        ),
        "own_rt_pusd": _price_groups(after, models, rates, tiers, np.zeros_like(batch)),
        "own_batch_pusd": _price_groups(after, models, rates, tiers, np.ones_like(batch)),
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
            prices[column][rows] = _price_groups(sub, named, target, target_tiers[rows], flags)
    return prices


class _Ledger:
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


@dataclass(frozen=True)
class _Target:
    """A rule's target model: its rates and its price-book name."""

    rates: Rates
    name: str


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
    ledger: _Ledger,
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
        frame, rates, unpriced = _prepare(traffic, book, when)
        ledger = _Ledger(rules)
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


# ---------------------------------------------------------------- suggestions


@dataclass
class Suggestion:
    """Premium traffic under N input tokens and what moving it to a cheaper model would save."""

    target: str
    max_input_tokens: int
    table: pd.DataFrame  # per premium model
    premium_requests: int
    requests_under: int
    savings_usd: Decimal
    monthly_savings_usd: Decimal

    @property
    def share_under(self) -> Decimal | None:
        """Share of premium-model requests under the threshold."""
        if not self.premium_requests:
            return None
        with localcontext(prec=PREC):
            return (Decimal(self.requests_under) / self.premium_requests).quantize(SHARE_QUANTUM)


_SUGGEST_COLUMNS = (
    "model",
    "requests",
    "requests_under",
    "share_under",
    "requests_blocked",
    "savings_usd",
    "monthly_savings_usd",
)


def suggest(
    traffic: pd.DataFrame,
    book: PriceBook,
    *,
    target: str,
    max_input_tokens: int,
    when: date | datetime | None = None,
    period_days: int = DAYS_PER_MONTH,
    premium_models: Iterable[str] | None = None,
) -> Suggestion:
    """Per premium model: the share of its traffic under N input tokens and what moving it saves.

    Premium models default to every priced model in the traffic whose input price is above the
    target's. Savings assume the whole share moves (no escalation) and respect context windows.
    """
    target_rates = book.price_at(target, when)
    if isinstance(target_rates, Unpriced):
        raise RuleError(f"target model {target!r} is not in the price book")
    if premium_models is None:
        premium_models = _dearer_models(traffic, book, when, target_rates)
    ids = traffic["model"].map(lambda m: canonical(book, m))
    rows = []
    with localcontext(prec=PREC):
        for model in premium_models:
            rule = Rule(model=model, max_input_tokens=max_input_tokens, target=target, share=ONE)
            result = simulate(traffic, [rule], book, when=when, period_days=period_days)
            total = int(traffic.loc[ids == canonical(book, model), "requests"].sum())
            under = result.rules[0]
            rows.append(
                {
                    "model": canonical(book, model),
                    "requests": total,
                    "requests_under": under.matched_requests,
                    "share_under": (Decimal(under.matched_requests) / total).quantize(SHARE_QUANTUM)
                    if total
                    else ZERO,
                    "requests_blocked": under.requests_blocked,
                    "savings_usd": result.savings_usd,
                    "monthly_savings_usd": result.monthly(result.savings_usd),
                }
            )
    table = pd.DataFrame(rows, columns=list(_SUGGEST_COLUMNS))
    return Suggestion(
        target=target,
        max_input_tokens=max_input_tokens,
        table=table,
        premium_requests=int(table["requests"].sum()),
        requests_under=int(table["requests_under"].sum()),
        savings_usd=sum(table["savings_usd"], ZERO),
        monthly_savings_usd=sum(table["monthly_savings_usd"], ZERO),
    )


def _dearer_models(
    traffic: pd.DataFrame, book: PriceBook, when: date | datetime | None, target: Rates
) -> list[str]:
    """Canonical models of the traffic whose input price is above the target's."""
    found: dict[str, None] = {}
    for model in traffic["model"].unique():
        rates = book.price_at(model, when)
        if isinstance(rates, Rates) and rates.input_mtok > target.input_mtok:
            found[canonical(book, model)] = None
    return list(found)


# ---------------------------------------------------------------- plan vs actual

VARIANCE_STEPS = ("Volume", "Tokens per request", "Model mix", "Price")


@dataclass
class Variance:
    """Actual minus plan, split into effects that add up exactly to the total difference."""

    plan_usd: Decimal
    actual_usd: Decimal
    plan_requests: int
    actual_requests: int
    effects: dict[str, Decimal]
    unpriced: dict[str, int] = field(default_factory=dict)

    @property
    def difference_usd(self) -> Decimal:
        """Actual minus plan."""
        return self.actual_usd - self.plan_usd

    def table(self) -> pd.DataFrame:
        """Plan, each effect, actual: the rows of a waterfall chart (exact Decimal)."""
        rows = [("Plan", "total", self.plan_usd)]
        rows += [(name, "relative", amount) for name, amount in self.effects.items()]
        rows.append(("Actual", "total", self.actual_usd))
        return pd.DataFrame(rows, columns=["step", "measure", "amount_usd"])


def _priced_sum(frame: pd.DataFrame, rates: dict[str, Rates]) -> Decimal:
    """Each row at its own model's rates (tier from the row's mean prompt)."""
    picos = _price_groups(
        _usage(frame, "cached_input_tokens"),
        frame["model"].to_numpy(object),
        rates,
        _own_tiers(frame, rates),
        frame["batch"].to_numpy(bool),
    )
    return picos_to_usd(sum(picos.tolist(), 0))


def plan_vs_actual(
    plan: pd.DataFrame,
    actual: pd.DataFrame,
    book: PriceBook,
    *,
    plan_when: date | datetime | None = None,
    actual_usd: Decimal | None = None,
) -> Variance:
    """Chain decomposition of actual minus plan: volume, tokens per request, model mix, price.

    Each step changes one driver and keeps the ones before it, so the effects telescope and
    sum exactly to the total. Plan and mix steps price at the plan's rates (`plan_when`); the
    price step ends at what was actually charged (`actual_usd`, else the frame's `cost_pusd`).
    """
    with localcontext(prec=PREC):
        plan_frame, plan_rates, _ = _prepare(plan, book, plan_when)
        actual_frame, actual_rates, unpriced = _prepare(actual, book, plan_when)
        plan_requests = int(plan_frame["requests"].sum())
        if plan_requests == 0:
            raise ValueError("the plan has no priced requests to compare with")
        actual_requests = int(actual["requests"].sum())
        planned = _priced_sum(plan_frame, plan_rates)
        volume = (planned * actual_requests / plan_requests).quantize(PICO)
        tokens = _plan_mix_with_actual_tokens(plan_frame, plan_rates, actual_frame, plan_requests)
        mix = _priced_sum(actual_frame, actual_rates)
        if actual_usd is None:
            actual_usd = Decimal(int(actual["cost_pusd"].sum())) * PICO
        steps = (planned, volume, tokens, mix, actual_usd)
        effects = {name: steps[i + 1] - steps[i] for i, name in enumerate(VARIANCE_STEPS)}
    return Variance(planned, actual_usd, plan_requests, actual_requests, effects, unpriced)


def _plan_mix_with_actual_tokens(
    plan: pd.DataFrame, rates: dict[str, Rates], actual: pd.DataFrame, plan_requests: int
) -> Decimal:
    """All actual tokens, spread over the plan's models and batch split by planned requests."""
    if actual.empty:
        return ZERO
    usage = {name: np.array([int(actual[c].sum())]) for name, c in _usage_columns().items()}
    mean_input = np.array([usage["input_tokens"][0] / max(int(actual["requests"].sum()), 1)])
    models = plan["model"].to_numpy(object)
    tiers = np.array([_tier_index(rates[m], mean_input)[0] for m in models], np.int64)
    picos = _price_groups(usage, models, rates, tiers, plan["batch"].to_numpy(bool))
    total = ZERO
    for requests, cost_pusd in zip(plan["requests"], picos, strict=True):
        total += Decimal(int(requests)) / plan_requests * picos_to_usd(cost_pusd)
    return total.quantize(PICO)


# ---------------------------------------------------------------- adapters for pages and CLI


def traffic_from_plan(params: dict) -> tuple[pd.DataFrame, int, date | None]:
    """A saved plan (model + workload params) as one month of grouped traffic.

    Returns the traffic, the plan's days per month and its pricing date. Raises `ValueError`
    (a `PlanError`) when the parameters do not make a workload.
    """
    from core.plans import Workload

    workload = Workload.from_params(params)
    model = str(params.get("model") or "")
    if not model:
        raise ValueError("the saved plan names no model")
    frame = plan_traffic(
        model,
        int(workload.requests_per_month.to_integral_value()),
        workload.input_tokens,
        workload.billed_output_tokens,
        cache_hit_share=workload.cache_hit_share,
        batch_share=workload.batch_share,
    )
    return frame, workload.days_per_month, workload.pricing_date


def model_choices(models: Iterable[str], book: PriceBook) -> list[str]:
    """Distinct price-book names of logged models (dated snapshot ids folded), sorted."""
    return sorted({canonical(book, m) for m in models})


def export_frame(result: Simulation) -> pd.DataFrame:
    """Totals, rules and models in one flat table for a CSV download."""
    totals = pd.DataFrame(
        [
            {"section": "total", "item": name, "value": value}
            for name, value in (
                ("requests", result.requests),
                ("period_days", result.period_days),
                ("baseline_usd", result.baseline_usd),
                ("scenario_usd", result.scenario_usd),
                ("savings_usd", result.savings_usd),
                ("monthly_savings_usd", result.monthly(result.savings_usd)),
            )
        ]
    )
    rules = result.rule_table().melt(id_vars=["rule"], var_name="item")
    rules = rules.assign(section="rule " + rules.pop("rule").astype(str))
    models = result.models.melt(id_vars=["model"], var_name="item")
    models = models.assign(section="model " + models.pop("model"))
    return pd.concat([totals, rules, models], ignore_index=True)[["section", "item", "value"]]


def rule_from_form(
    *,
    model: str = "",
    project: str = "",
    feature: str = "",
    status: str = "",
    tokens: tuple[int, int, int, int] = (0, 0, 0, 0),
    target: str = "",
    share_pct: float = 0,
    escalation_pct: float = 0,
    batch_pct: float = 0,
    cache_points: float = 0,
) -> Rule:
    """A checked rule from form values: "" or 0 means no condition, shares are in percent.

    `tokens` is (min input, max input, min output, max output).
    """
    fields = {"model": model, "project": project, "feature": feature, "status": status}
    for key, value in zip(_INT_KEYS, tokens, strict=True):
        fields[key] = str(int(value)) if value else ""
    if target and share_pct:
        fields |= {"target": target, "share": f"{share_pct}%", "escalation": f"{escalation_pct}%"}
    if batch_pct:
        fields["batch_share"] = f"{batch_pct}%"
    if cache_points:
        fields["cache_uplift_points"] = str(cache_points)
    return make_rule({k: v.strip() for k, v in fields.items() if v and v.strip()})
