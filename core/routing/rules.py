"""Routing rules: what a rule matches and does, parsed and checked from text, a form or JSON.

Rules are ordered and the first match wins. A rule that cannot be applied raises `RuleError`
with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from core.identity import canonical
from core.pricing import KIND_NAMES, PriceBook, Rates, Unpriced
from core.routing.units import HUNDRED, ONE, ZERO

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


_NOTHING_WITH_MODEL = (
    "the rule does nothing: give it a target model, a batch share or a cache uplift "
    "(target=..., batch_share=..., cache_uplift_points=...)"
)
_NOTHING_WITHOUT_MODEL = (
    "the rule does nothing: choose the model it takes traffic from and a target model "
    "(model=..., target=...), or give it a batch share or a cache uplift"
)


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
    status = rule.status.lower()
    if status and status not in ("ok", "error") and not (status.isascii() and status.isdigit()):
        raise RuleError(f"status must be ok, error or an HTTP code, got {rule.status!r}")
    if rule.share > 0 and not rule.target:
        raise RuleError("share needs a target model (target=...)")
    if rule.routes and not rule.model:
        raise RuleError(
            "a rule that routes needs the model it takes traffic from (model=...): "
            "without one it would move every model's traffic, embeddings included"
        )
    if rule.escalation > 0 and not rule.routes:
        raise RuleError("escalation needs a target model and a share above 0")
    if not (rule.routes or rule.batch_share > 0 or rule.cache_uplift_points > 0):
        raise RuleError(_NOTHING_WITH_MODEL if rule.model else _NOTHING_WITHOUT_MODEL)
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


def _kind_problem(rates: Rates | Unpriced) -> str | None:
    """What a priced model is when it is not a chat model ("an embedding model"), else None."""
    if isinstance(rates, Rates) and not rates.chat:
        return KIND_NAMES.get(rates.kind, f"a {rates.kind} model")
    return None


def routing_problem(rule: Rule, book: PriceBook, when: date | datetime | None) -> str | None:
    """Why a priced rule cannot route: a target or source that is not a chat model, or a
    target that is the source model under another name; else None."""
    if not rule.routes:
        return None
    target = canonical(book, rule.target)
    if rule.model and canonical(book, rule.model) == target:
        return f"the target is the source model itself ({target}); pick a different model"
    kind = _kind_problem(book.price_at(rule.target, when))
    if kind is not None:
        return f"target model {target!r} is {kind} and cannot answer chat requests"
    kind = _kind_problem(book.price_at(rule.model, when)) if rule.model else None
    if kind is not None:
        source = canonical(book, rule.model)
        return f"{source!r} is {kind}: its requests cannot move to a chat model"
    return None


def check_rules(rules: Sequence[Rule], book: PriceBook, when: date | datetime | None) -> None:
    """Raise `RuleError` when a rule's target cannot be priced or the rule cannot route."""
    for number, rule in enumerate(rules, 1):
        problem = target_problem(rule, book, when) or routing_problem(rule, book, when)
        if problem is not None:
            raise RuleError(f"rule {number}: {problem}")


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
