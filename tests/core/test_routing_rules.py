"""What a routing rule may do: a source model to route from, a chat model to route to, never
the source itself under another spelling. One rule set for the CLI, the page and saved rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.identity import canonical
from core.pricing import PriceBook
from core.routing import RuleError, check_rules, parse_rule, routing_problem, rule_from_form

BOOK = PriceBook.from_snapshot()
DAY = date(2026, 1, 1)
PROPERTY = settings(max_examples=150, deadline=None)
SAME = "the target is the source model itself"
BASES = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4-5", "o3-mini")
NOT_CHAT = sorted(e.model for e in BOOK.entries if not e.chat and e.provider == "openai")


@st.composite
def spellings(draw: st.DrawFn, base: str) -> str:
    """A name logs use for `base`: dated, provider-prefixed, upper case, padded."""
    dated = draw(
        st.one_of(
            st.just(""),
            st.dates(date(2023, 1, 1), date(2026, 12, 31)).map(lambda d: f"-{d.isoformat()}"),
            st.dates(date(2023, 1, 1), date(2026, 12, 31)).map(lambda d: f"-{d:%Y%m%d}"),
        )
    )
    provider = BOOK.resolve(base).provider
    name = draw(st.sampled_from(["", f"{provider}/"])) + base + dated
    return draw(st.sampled_from([name, name.upper(), f" {name} "]))


@PROPERTY
@given(data=st.data(), source=st.sampled_from(BASES), target=st.sampled_from(BASES))
def test_a_target_is_refused_exactly_when_it_is_the_source(
    data: st.DataObject, source: str, target: str
) -> None:
    a, b = data.draw(spellings(source)), data.draw(spellings(target))
    rule = parse_rule(f"model={a},target={b},share=0.5")
    problem = routing_problem(rule, BOOK, DAY) or ""
    assert (SAME in problem) == (canonical(BOOK, a) == canonical(BOOK, b))
    if SAME in problem:
        with pytest.raises(RuleError, match=f"rule 1: {SAME}"):
            check_rules([rule], BOOK, DAY)


@PROPERTY
@given(
    data=st.data(),
    base=st.sampled_from(BASES),
    conditions=st.fixed_dictionaries(
        {},
        optional={
            "project": st.sampled_from(["bot", "search"]),
            "max_input_tokens": st.integers(1, 100_000).map(str),
            "status": st.sampled_from(["ok", "error", "429"]),
        },
    ),
)
def test_a_rule_that_routes_needs_a_source_model(
    data: st.DataObject, base: str, conditions: dict[str, str]
) -> None:
    fields = ",".join(f"{k}={v}" for k, v in conditions.items())
    target = data.draw(spellings(base)).strip()
    with pytest.raises(RuleError, match="needs the model it takes traffic from"):
        parse_rule(",".join(filter(None, [fields, f"target={target}"])))


@PROPERTY
@given(target=st.sampled_from(NOT_CHAT), source=st.sampled_from(BASES))
def test_only_chat_models_are_targets(target: str, source: str) -> None:
    problem = routing_problem(parse_rule(f"model={source},target={target}"), BOOK, DAY)
    assert problem is not None and "cannot answer chat requests" in problem


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("model=gpt-4o-2024-08-06,target=openai/gpt-4o", f"{SAME} (gpt-4o)"),
        ("model=gpt-4o,target=text-embedding-3-small", "is an embedding model"),
        ("model=gpt-4o,target=babbage-002", "is a legacy completion model"),
        ("model=gpt-4o,target=gpt-image-1", "is an image model"),
        ("model=text-embedding-3-small,target=gpt-4o-mini", "its requests cannot move"),
    ],
)
def test_rules_that_cannot_route_say_why(spec: str, reason: str) -> None:
    assert reason in (routing_problem(parse_rule(spec), BOOK, DAY) or "")


def test_rules_that_do_not_route_need_no_source_model() -> None:
    rule = parse_rule("project=bot,batch_share=0.5")
    assert routing_problem(rule, BOOK, DAY) is None
    assert parse_rule("model=text-embedding-3-small,batch_share=1").batch_share == 1
    with pytest.raises(RuleError, match="choose the model it takes traffic from"):
        rule_from_form(tokens=(0, 2000, 0, 0), share_pct=67.0)  # the form's untouched defaults
