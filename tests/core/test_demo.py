"""The demo traffic is deterministic and has the shape the dashboards are meant to show."""

from collections import Counter, defaultdict
from datetime import date

import pytest

from core.demo import generate

END = date(2026, 11, 20)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return list(generate(days=90, end_day=END))


def test_same_seed_same_records():
    assert list(generate(days=3, end_day=END)) == list(generate(days=3, end_day=END))
    assert list(generate(days=3, end_day=END)) != list(generate(days=3, end_day=END, seed=8))


def test_projects_models_and_providers(records):
    assert len({r["project"] for r in records}) == 5
    assert len({r["model"] for r in records}) >= 6
    assert {r["provider"] for r in records} == {"openai", "anthropic", "google"}
    days = {r["timestamp"][:10] for r in records}
    assert len(days) == 90 and max(days) == "2026-11-20"
    assert len({r["request_id"] for r in records}) == len(records)


def test_about_three_percent_errors_with_429_bursts(records):
    failed = [r for r in records if r["status"] != 200]
    assert 0.02 < len(failed) / len(records) < 0.04
    per_hour = Counter(r["timestamp"][:13] for r in records if r["status"] == 429)
    assert max(per_hour.values()) >= 10 * (sum(per_hour.values()) / len(per_hour))


def test_weekly_rhythm_growth_and_one_spike(records):
    per_day = Counter(r["timestamp"][:10] for r in records)
    weekday = [n for d, n in per_day.items() if date.fromisoformat(d).weekday() < 5]
    weekend = [n for d, n in per_day.items() if date.fromisoformat(d).weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.6 * sum(weekday) / len(weekday)
    ordered = [per_day[d] for d in sorted(per_day)]
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    assert median(ordered[-28:]) > 1.05 * median(ordered[:28])  # ~1.2 % a week
    premium = Counter()  # gpt-4o tokens per day: where the cost spike shows
    for r in records:
        if r["model"].startswith("gpt-4o-2024"):
            premium[r["timestamp"][:10]] += r["input_tokens"] + r["output_tokens"]
    _day, spike = premium.most_common(1)[0]
    assert spike > 3 * median(list(premium.values()))
    assert sum(1 for v in premium.values() if v > 2 * median(list(premium.values()))) == 1


def test_cached_and_reasoning_tokens_only_where_models_have_them(records):
    by_model = defaultdict(lambda: [0, 0])
    for r in records:
        assert r["cached_input_tokens"] <= r["input_tokens"]
        assert r["reasoning_tokens"] <= r["output_tokens"]
        by_model[r["model"]][0] += r["cached_input_tokens"]
        by_model[r["model"]][1] += r["reasoning_tokens"]
    assert by_model["gpt-4o-2024-08-06"][0] > 0
    assert by_model["gemini-2.5-flash"][0] == 0
    assert by_model["o3-mini-2025-01-31"][1] > 0
    assert by_model["gpt-4o-mini-2024-07-18"][1] == 0
    assert all(r["cached_input_tokens"] % 128 == 0 for r in records)
