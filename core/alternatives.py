"""Which models to suggest in place of another, and in what order.

Only chat models are offered (the kind rule of `core.pricing`). The order is the one a team can
act on: models it has shortlisted (validated on its own prompts), then the same family's
smaller siblings (gpt-4o -> gpt-4o-mini, gpt-4.1 -> gpt-4.1-mini and -nano, claude sonnet ->
haiku, gemini pro -> flash), then the family's other smaller models, then models already in
the team's traffic, then the rest in the order given (the callers pass cheapest first or by
name). The calculator's "What if we switch model?" and the routing page's target pickers both
rank through `rank`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.pricing import PROVIDERS

SHORTLISTED = "shortlisted"
SIBLING = "smaller sibling"
FAMILY = "same family, smaller"
IN_TRAFFIC = "in your traffic"
CHEAPER = ""
REASONS = (SHORTLISTED, SIBLING, FAMILY, IN_TRAFFIC, CHEAPER)

# Size words a maker appends to a model's name for its smaller versions, largest first.
SMALLER_SUFFIXES = ("mini", "nano", "lite")
# A maker's tier words, largest first: a lower tier of the same version is a smaller sibling.
TIER_LADDERS = (
    ("opus", "sonnet", "haiku"),
    ("ultra", "pro", "flash"),
    ("large", "medium", "small"),
)

T = TypeVar("T")


def _plain(model: str) -> str:
    """A model id without a `provider/` prefix or a `-latest` alias, lower case."""
    name = model.strip().lower()
    head, sep, tail = name.partition("/")
    name = tail if sep and head in PROVIDERS else name
    return name.removesuffix("-latest")


def smaller_siblings(model: str) -> list[str]:
    """Names of the same version's smaller models, closest first: lower tier words in place of
    the model's own (claude-opus-4-5 -> claude-sonnet-4-5, claude-haiku-4-5), then each name
    with a smaller-size suffix (gpt-4.1 -> gpt-4.1-mini, gpt-4.1-nano; gemini-2.5-flash-lite)."""
    base = _plain(model)
    tokens = base.split("-")
    names: list[str] = []
    for ladder in TIER_LADDERS:
        for rank, word in enumerate(ladder):
            if word in tokens:
                at = tokens.index(word)
                names += [
                    "-".join([*tokens[:at], w, *tokens[at + 1 :]]) for w in ladder[rank + 1 :]
                ]
    names += [f"{name}-{suffix}" for name in (base, *names) for suffix in SMALLER_SUFFIXES]
    return [n for n in dict.fromkeys(names) if n != base]


def same_family_smaller(model: str, candidate: str) -> bool:
    """True when `candidate` is a lower tier of the model's family in another version
    (claude-sonnet-4-5 -> claude-3-5-haiku; gemini-2.5-pro -> gemini-2.0-flash)."""
    mine, theirs = _plain(model).split("-"), _plain(candidate).split("-")
    if mine[0] != theirs[0]:
        return False
    for ladder in TIER_LADDERS:
        for rank, word in enumerate(ladder):
            if word in mine and any(w in theirs for w in ladder[rank + 1 :]):
                return True
    return False


def _listed(candidate: str, maker: str | None, shortlist: Collection[str]) -> bool:
    """True when the shortlist names the candidate: `provider/model` for that provider's
    model only, a bare `model` for any provider's."""
    name = _plain(candidate)
    for entry in shortlist:
        head, sep, _ = entry.strip().lower().partition("/")
        provider = head if sep and head in PROVIDERS else None
        if _plain(entry) == name and (provider is None or maker in (None, provider)):
            return True
    return False


def reason(
    source: str,
    candidate: str,
    *,
    same_maker: bool = True,
    maker: str | None = None,
    shortlist: Collection[str] = (),
    in_traffic: Collection[str] = (),
) -> str:
    """Why `candidate` (made by `maker`, when known) is worth trying instead of `source`:
    one of `REASONS`."""
    name = _plain(candidate)
    if _listed(candidate, maker, shortlist):
        return SHORTLISTED
    if same_maker and name in smaller_siblings(source):
        return SIBLING
    if same_maker and same_family_smaller(source, candidate):
        return FAMILY
    if name in {_plain(m) for m in in_traffic}:
        return IN_TRAFFIC
    return CHEAPER


@dataclass(frozen=True)
class Ranked(Generic[T]):
    """One suggested model and why it is offered."""

    item: T
    reason: str


def rank(
    sources: Sequence[tuple[str, str | None]],
    candidates: Iterable[T],
    *,
    name: Callable[[T], str],
    maker: Callable[[T], str | None] = lambda _: None,
    shortlist: Collection[str] = (),
    in_traffic: Collection[str] = (),
) -> list[Ranked[T]]:
    """`candidates` in suggestion order for work now on `sources`: (model, maker) pairs, most
    important first; a maker of None matches any.

    Each candidate takes the best reason it has against any source; ties keep the source's
    order, siblings their closeness, and everything else the order the candidates came in.
    A candidate from another maker than the source (both known) is no sibling of it.
    """
    ranked = []
    for position, item in enumerate(candidates):
        best = (len(REASONS), 0, 0)
        for index, (source, source_maker) in enumerate(sources or [("", None)]):
            own = maker(item)
            same = bool(source) and (None in (own, source_maker) or own == source_maker)
            why = reason(
                source,
                name(item),
                same_maker=same,
                maker=own,
                shortlist=shortlist,
                in_traffic=in_traffic,
            )
            near = _closeness(source, name(item)) if why == SIBLING else 0
            best = min(best, (REASONS.index(why), index, near))
        ranked.append((best, position, Ranked(item, REASONS[best[0]])))
    return [r for *_, r in sorted(ranked, key=lambda row: (row[0], row[1]))]


def _closeness(source: str, candidate: str) -> int:
    """Position of `candidate` among the source's smaller siblings (0 = closest)."""
    return smaller_siblings(source).index(_plain(candidate))
