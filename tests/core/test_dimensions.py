"""Who spent it, in the pure core: the tag rule, each format's key label, team, environment and
tags, tag splits, scopes on every dimension and the runaway rule, with figures by hand."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.alerts import (
    RunawayRule,
    rolling_spend,
    runaway_alert,
    runaway_alerts,
)
from core.attribution import by_tag, split_tags, tag_value
from core.logs.parse import LogFile
from core.logs.rules import MAX_TAGS, Refused, accept_tags, tags_column
from core.scopes import Scope, ScopeError, parse_scope
from tests.core.gateway_samples import KEY_ALIAS, csv_file, jsonl
from tests.core.test_formats_langfuse import observation
from tests.core.test_formats_litellm import payload
from tests.core.test_formats_otlp import CHAT, events_of, span


def events(data: bytes, **options: object) -> list[dict]:
    """The accepted events of a file (nothing may be rejected)."""
    out = []
    for block in LogFile(io.BytesIO(data), **options).blocks():
        assert not block.rejected, block.rejected
        names = list(block.events)
        out += [dict(zip(names, row, strict=True))
                for row in zip(*(block.events[n].tolist() for n in names), strict=True)]  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (None, ""),
        ([], ""),
        (["b", "a", "a"], "a,b"),
        ("support, team = search", "support,team=search"),
        ('["x", "y"]', "x,y"),
        ({"team": "search", "beta": None, "pii": False}, "beta,pii=false,team=search"),
        (["ok\t", " spaced "], "ok,spaced"),
        ([7], "7"),
    ],
)
def test_tags_are_normalised(value: object, stored: str) -> None:
    assert accept_tags(value) == stored


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["team=a", "team=b"], "two values"),
        (["=x"], "no key"),
        ([f"t{i}" for i in range(MAX_TAGS + 1)], "at most 10"),
        (["x" * 201], "longer than 200"),
        ([["nested"]], "must be a string"),
        ({"a": [1]}, "text value"),
        (3.5, "list of labels"),
        ([f"{i:03d}" + "y" * 190 for i in range(3)], "500 characters"),
    ],
)
def test_bad_tags_are_refused(value: object, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        accept_tags(value)


@given(st.lists(st.one_of(st.none(), st.text(max_size=12), st.lists(st.text(max_size=8))),
                max_size=20))  # fmt: skip
def test_the_column_form_is_the_rule(values: list) -> None:
    out, ok, reasons = tags_column(values)
    for i, value in enumerate(values):
        try:
            expected = accept_tags(value)
        except Refused as refused:
            assert not ok[i] and reasons[i] == str(refused)
        else:
            assert ok[i] and out[i] == expected


def test_tag_helpers() -> None:
    assert split_tags("") == [] and split_tags("a,team=x") == ["a", "team=x"]
    assert (tag_value("a,team=x", "team"), tag_value("a", "team")) == ("x", "")
    frame = pd.DataFrame(
        {"tag": ["a,team=x", "", "a"], "requests": [1, 2, 3], "cost_pusd": [10, 20, 30]}
    ).astype({"cost_pusd": object})
    split = by_tag(frame, ["tag"], "tag", None)
    assert dict(zip(split["tag"], split["cost_pusd"], strict=True)) == {
        "": 20, "a": 40, "team=x": 10,
    }  # fmt: skip
    keyed = by_tag(frame, ["tag"], "tag", "team")
    assert dict(zip(keyed["tag"], keyed["requests"], strict=True)) == {"": 5, "x": 1}


def test_flat_log_fields_and_metadata() -> None:
    base = {"timestamp": "2026-03-02T10:00:00Z", "model": "gpt-4o", "input_tokens": 1,
            "output_tokens": 1}  # fmt: skip
    records = [
        {**base, "request_id": "1", "key_label": "k1", "team": "t1", "environment": "prod",
         "tags": ["x"]},
        {**base, "request_id": "2", "metadata": {"key_label": "k2", "team": "t2",
                                                 "environment": "dev", "tags": {"cc": "42"}}},
    ]  # fmt: skip
    got = [(e["key_label"], e["team"], e["environment"], e["tags"]) for e in events(jsonl(records))]
    assert got == [("k1", "t1", "prod", "x"), ("k2", "t2", "dev", "cc=42")]


def test_secrets_in_dimensions_are_redacted() -> None:
    record = {"timestamp": "2026-03-02T10:00:00Z", "request_id": "1", "model": "gpt-4o",
              "input_tokens": 1, "output_tokens": 1,
              "key_label": "sk-proj-abcdefghijklmnopqrstuvwx", "tags": ["Bearer abcdefghijklmnop"]}  # fmt: skip
    (event,) = events(jsonl([record]))
    assert (event["key_label"], event["tags"]) == ("[redacted]", "[redacted]")


def test_litellm_key_alias_team_and_request_tags() -> None:
    (event,) = events(jsonl([payload("ll-1", request_tags=["support", "tier=gold"])]))
    assert (event["key_label"], event["team"], event["project"]) == (KEY_ALIAS, "search", "search")
    assert (event["tags"], event["feature"]) == ("support,tier=gold", "support,tier=gold")


def test_langfuse_tags_and_environment() -> None:
    record = observation("obs-1", tags=["rag", "team=search"], environment="production")
    (event,) = events(jsonl([record]))
    assert (event["tags"], event["environment"]) == ("rag,team=search", "production")


def test_otlp_environment_team_and_tags() -> None:
    (event,) = events_of(
        span(1, {**CHAT, "tag.tags": ["beta", "team=search"]}),
        **{"deployment.environment.name": "prod", "service.namespace": "payments"},
    )
    assert (event["environment"], event["team"], event["tags"]) == (
        "prod", "payments", "beta,team=search",
    )  # fmt: skip
    (older,) = events_of(span(1, CHAT), **{"deployment.environment": "staging"})
    assert (older["environment"], older["team"], older["tags"]) == ("staging", "", "")


def test_csv_columns_by_guess_and_by_mapping() -> None:
    rows = [{"time": "2026-03-02T10:00:00Z", "id": "1", "model": "gpt-4o", "prompt_tokens": "1",
             "completion_tokens": "1", "team": "t", "env": "prod", "key_alias": "k",
             "labels": "a,b"}]  # fmt: skip
    (event,) = events(csv_file(rows), fmt="csv")
    assert (event["team"], event["environment"], event["key_label"], event["tags"]) == (
        "t", "prod", "k", "a,b",
    )  # fmt: skip
    mapping = {"timestamp": "time", "request_id": "id", "model": "model",
               "input_tokens": "prompt_tokens", "output_tokens": "completion_tokens",
               "team": "env", "tags": "team"}  # fmt: skip
    (mapped,) = events(csv_file(rows), fmt="csv", mapping=mapping)
    assert (mapped["team"], mapped["tags"]) == ("prod", "t")


@pytest.mark.parametrize(
    ("text", "scope", "column"),
    [
        ("user:cust-42", Scope("user", "cust-42"), "user"),
        ("tag:support", Scope("tag", "support"), "tags"),
        ("tag: team = search ", Scope("tag", "team=search"), "tags"),
        ("key:support-prod", Scope("key", "support-prod"), "key_label"),
        ("team:x", Scope("team", "x"), "team"),
        ("env:prod", Scope("environment", "prod"), "environment"),
    ],
)
def test_scopes_on_every_dimension(text: str, scope: Scope, column: str) -> None:
    assert (parse_scope(text), parse_scope(text).column) == (scope, column)


def test_a_tag_scope_names_one_tag() -> None:
    with pytest.raises(ScopeError, match="one tag"):
        parse_scope("tag:a,b")


SPEND = {"cust-42": Decimal("120"), "cust-7": Decimal("3"), "cust-9": Decimal("5"),
         "cust-1": Decimal("4"), "": Decimal("900")}  # fmt: skip
START = datetime(2026, 3, 2, tzinfo=UTC)


def test_runaway_above_a_dollar_limit_names_the_offender() -> None:
    alert = runaway_alert(SPEND, RunawayRule(max_usd=Decimal(100)), "all", START)
    assert alert is not None
    assert (alert.value, alert.threshold, alert.period) == (
        Decimal("120.00"), Decimal("100.00"), "2026-03-02T00:00Z",
    )  # fmt: skip
    assert "user 'cust-42' ($120.00)" in alert.message  # unallocated spend is nobody's
    assert runaway_alert(SPEND, RunawayRule(max_usd=Decimal(200)), "all", START) is None
    assert runaway_alert(SPEND, RunawayRule(), "all", START) is None  # both tests off


def test_runaway_above_a_multiple_of_the_median() -> None:
    # members 120, 5, 4, 3: median (5 + 4) / 2 = 4.5; 10 x 4.5 = $45 -> cust-42 alone
    rule = RunawayRule(median_factor=Decimal(10))
    alert = runaway_alert(SPEND, rule, "project:x", START)
    assert alert is not None and alert.threshold == Decimal("45.00")
    # 1 x the median = $4.50: cust-42 and cust-9 ($5), largest first
    both = runaway_alert(SPEND, RunawayRule(median_factor=Decimal(1)), "all", START)
    assert both is not None and both.message.index("cust-42") < both.message.index("cust-9")
    few = {"a": Decimal(100), "b": Decimal(1)}
    assert runaway_alert(few, rule, "all", START) is None  # fewer than 3 members: no median
    # two keys: median (100 + 1) / 2 = 50.5; 1.5 x 50.5 = $75.75 -> key a ($100)
    keys = RunawayRule(dimension="key", median_factor=Decimal("1.5"), min_members=2)
    alert = runaway_alert(few, keys, "all", START)
    assert alert is not None and alert.threshold == Decimal("75.75")
    assert "1 single key spent more than $75.75" in alert.message and "key 'a'" in alert.message


def test_the_tag_column_skips_records_without_tags() -> None:
    out, ok, reasons = tags_column([None, None])
    assert out.tolist() == ["", ""] and ok.all() and not reasons
    assert orjson.dumps(out.tolist()) == b'["",""]'


H = timedelta(hours=1)
NIGHT = datetime(2026, 3, 2, 23, tzinfo=UTC)


def test_a_runaway_across_midnight_is_caught_by_the_rolling_window() -> None:
    # cust-42 spends $60 at 23:00 on Mar 2 and $60 at 01:00 on Mar 3: no UTC day holds more
    # than $60, but the 24 h to 02:00 on Mar 3 hold $120, above the $100 limit.
    hourly = {NIGHT: {"cust-42": Decimal(60)}, NIGHT + 2 * H: {"cust-42": Decimal(60)}}
    rule = RunawayRule(max_usd=Decimal(100), window_hours=24)
    alerts = runaway_alerts(hourly, rule, "all", datetime(2026, 3, 1, tzinfo=UTC))
    assert len(alerts) == 1  # 23 windows in a row hold both hours: one run, one alert
    alert = alerts[0]
    assert alert.period == "2026-03-03T02:00Z"  # the end of the first window over the limit
    assert alert.value == Decimal("120.00") and alert.threshold == Decimal("100.00")
    assert "user 'cust-42' ($120.00)" in alert.message and "24 h to 2026-03-03" in alert.message
    # the same spend, checked later with more quiet hours stored: the same single alert
    later = {**hourly, NIGHT + 40 * H: {"cust-7": Decimal(1)}}
    assert runaway_alerts(later, rule, "all", datetime(2026, 3, 1, tzinfo=UTC)) == alerts
    # windows that end before the period starts are not this period's
    assert runaway_alerts(hourly, rule, "all", NIGHT + 30 * H) == []


def test_two_separate_runs_are_two_alerts() -> None:
    hourly = {NIGHT: {"a": Decimal(150)}, NIGHT + 48 * H: {"b": Decimal(200)}}
    rule = RunawayRule(max_usd=Decimal(100), window_hours=6)
    alerts = runaway_alerts(hourly, rule, "all", datetime(2026, 3, 1, tzinfo=UTC))
    assert [(a.period, a.value) for a in alerts] == [
        ("2026-03-03T00:00Z", Decimal("150.00")),
        ("2026-03-05T00:00Z", Decimal("200.00")),
    ]


hour_spend = st.dictionaries(
    st.integers(0, 60).map(lambda n: NIGHT + n * H),
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.decimals(0, 1000, places=2, allow_nan=False, allow_infinity=False),
        max_size=3,
    ),
    max_size=12,
)


@given(hourly=hour_spend, hours=st.integers(1, 30))
def test_rolling_spend_equals_summing_each_window(hourly, hours) -> None:
    """The sliding sums equal each window summed on its own, for every window with spend."""
    naive = {}
    if hourly:
        end = min(hourly) + H
        while end <= max(hourly) + hours * H:
            spend: dict[str, Decimal] = {}
            for hour, members in hourly.items():
                if end - hours * H <= hour < end:
                    for member, usd in members.items():
                        spend[member] = spend.get(member, Decimal(0)) + usd
            spend = {m: v for m, v in spend.items() if v}
            if spend:
                naive[end] = spend
            end += H
    assert dict(rolling_spend(hourly, hours)) == naive
