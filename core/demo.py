"""Deterministic demo traffic: 90 days of realistic request logs in the flat log schema.

Five projects, models from three providers, a daily and weekly rhythm, steady growth, one cost
spike, ~3 % errors with bursts of 429s, per-model latency, cached and reasoning tokens where the
models have them. The same seed and end day always give the same records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np


@dataclass(frozen=True)
class DemoModel:
    """How one model behaves in the demo: size of calls, speed, caching, reasoning."""

    name: str
    provider: str
    input_mean: float
    output_mean: float
    latency_median_ms: float
    caches: bool = True
    reasons: bool = False
    embeds: bool = False


MODELS = (
    DemoModel("gpt-4o-2024-08-06", "openai", 1800, 420, 2400),
    DemoModel("gpt-4o-mini-2024-07-18", "openai", 1100, 260, 900),
    DemoModel("gpt-4.1-2025-04-14", "openai", 6000, 700, 3100),
    DemoModel("o3-mini-2025-01-31", "openai", 1500, 1600, 7500, reasons=True),
    DemoModel("claude-sonnet-4-5-20250929", "anthropic", 2600, 550, 3900),
    DemoModel("gemini-2.5-flash", "google", 2200, 380, 1300, caches=False),
    DemoModel("text-embedding-3-small", "openai", 350, 0, 180, caches=False, embeds=True),
)

# project -> (share of traffic, {model index: weight}, features)
PROJECTS = {
    "support-bot": (0.34, {0: 3, 1: 6, 4: 1}, ("chat", "triage", "summaries")),
    "search": (0.22, {6: 7, 1: 3}, ("embed", "rerank")),
    "copilot": (0.18, {2: 4, 3: 2, 0: 2}, ("codegen", "review")),
    "analytics": (0.14, {5: 5, 1: 3, 0: 1}, ("reports", "extraction")),
    "marketing": (0.12, {0: 3, 4: 3, 1: 2}, ("copy", "translation")),
}

BASE_REQUESTS_PER_DAY = 2400
WEEKLY_GROWTH = 0.012
HOUR_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 10, 11, 11, 10, 8, 6, 5, 4, 4, 3, 2], dtype=float
)


def _day_volume(day_index: int, day: date, rng: np.random.Generator) -> int:
    weekday_factor = 0.45 if day.weekday() >= 5 else 1.0
    growth = (1 + WEEKLY_GROWTH) ** (day_index / 7)
    noise = rng.normal(1.0, 0.06)
    return max(50, int(BASE_REQUESTS_PER_DAY * weekday_factor * growth * noise))


def _day_records(
    day: date, day_index: int, spike: bool, rng: np.random.Generator
) -> Iterator[dict]:
    names = list(PROJECTS)
    shares = np.array([PROJECTS[p][0] for p in names])
    volume = _day_volume(day_index, day, rng)
    project = rng.choice(len(names), size=volume, p=shares / shares.sum())
    if spike:  # a runaway job: the copilot project re-reviews a whole repository on gpt-4o
        project = np.concatenate([project, np.full(volume * 2, names.index("copilot"))])
    n = len(project)
    model = _pick_models(project, names, rng)
    if spike:
        model[volume:] = np.where(rng.random(n - volume) < 0.7, 0, model[volume:])
    seconds = _seconds_of_day(n, rng)
    burst_hour = int(rng.integers(9, 17)) if rng.random() < 0.35 else -1
    status, error = _statuses(seconds // 3600 == burst_hour, rng)
    columns = _token_columns(model, status, rng)
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    features = [PROJECTS[names[p]][2] for p in project]
    feature_pick = rng.integers(0, 1000, size=n)
    users = rng.integers(1, 400, size=n)
    batch = (project == names.index("analytics")) & (rng.random(n) < 0.3)
    columns = {
        k: [_num(x) for x in v.tolist()] if v.dtype != object else list(v)
        for k, v in columns.items()
    }
    project, model, seconds = project.tolist(), model.tolist(), seconds.tolist()
    for i in range(n):
        m = MODELS[model[i]]
        ts = midnight + timedelta(seconds=seconds[i])
        yield {
            "timestamp": ts.isoformat().replace("+00:00", "Z"),
            "request_id": f"req_demo_{day:%Y%m%d}_{i:06d}",
            "model": m.name,
            "provider": m.provider,
            "project": names[project[i]],
            "feature": features[i][feature_pick[i] % len(features[i])],
            "user": f"user_{users[i]:04d}",
            "status": int(status[i]),
            "error_type": error[i],
            "batch": bool(batch[i]),
            **{k: v[i] for k, v in columns.items()},
        }


def _num(value: int) -> int | None:
    return None if value < 0 else value


def _pick_models(project: np.ndarray, names: list[str], rng: np.random.Generator) -> np.ndarray:
    model = np.zeros(len(project), dtype=np.int64)
    for p_i, name in enumerate(names):
        weights = PROJECTS[name][1]
        mask = project == p_i
        w = np.array(list(weights.values()), dtype=float)
        model[mask] = rng.choice(list(weights), size=int(mask.sum()), p=w / w.sum())
    return model


def _seconds_of_day(size: int, rng: np.random.Generator) -> np.ndarray:
    hours = rng.choice(24, size=size, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return np.sort(hours * 3600 + rng.integers(0, 3600, size=size))


def _statuses(in_burst: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    roll = rng.random(len(in_burst))
    status = np.select(
        [in_burst & (roll < 0.12), roll < 0.012, roll < 0.022, roll < 0.027],
        [429, 429, 500, 400],
        default=200,
    )
    names = {200: "", 429: "rate_limit_exceeded", 500: "server_error", 400: "invalid_request_error"}
    return status, [names[int(s)] for s in status]


def _token_columns(model: np.ndarray, status: np.ndarray, rng: np.random.Generator) -> dict:
    n = len(model)
    spec = [MODELS[i] for i in range(len(MODELS))]
    mean_in = np.array([m.input_mean for m in spec])[model]
    mean_out = np.array([m.output_mean for m in spec])[model]
    caches = np.array([m.caches for m in spec])[model]
    reasons = np.array([m.reasons for m in spec])[model]
    embeds = np.array([m.embeds for m in spec])[model]
    median_ms = np.array([m.latency_median_ms for m in spec])[model]
    input_tokens = np.maximum(1, rng.lognormal(np.log(mean_in) - 0.18, 0.6)).astype(np.int64)
    wanted = np.maximum(1, rng.lognormal(np.log(np.maximum(mean_out, 1)) - 0.18, 0.6))
    max_tokens = np.where(embeds, -1, rng.choice([512, 1024, 2048, 4096], size=n))
    cut = (max_tokens > 0) & (wanted >= max_tokens)
    output = np.where(embeds, 0, np.where(cut, max_tokens, wanted)).astype(np.int64)
    finish = np.where(embeds, "", np.where(cut, "length", "stop")).astype(object)
    hit = caches & (input_tokens >= 1024) & (rng.random(n) >= 0.45)
    cached = np.where(hit, 128 * ((input_tokens * rng.uniform(0.3, 0.8, n)).astype(int) // 128), 0)
    reasoning = np.where(reasons, (output * rng.uniform(0.4, 0.8, n)).astype(np.int64), 0)
    latency = rng.lognormal(np.log(median_ms), 0.45)
    failed = status != 200
    return {
        "input_tokens": np.where(failed & (status < 500), 0, input_tokens),
        "cached_input_tokens": np.where(failed, 0, cached),
        "output_tokens": np.where(failed, 0, output),
        "reasoning_tokens": np.where(failed, 0, reasoning),
        "latency_ms": np.where(failed, np.minimum(latency, 1500), latency).astype(np.int64),
        "finish_reason": np.where(failed, "", finish).astype(object),
        "max_tokens": max_tokens,
    }


def generate(days: int = 90, end_day: date | None = None, seed: int = 7) -> Iterator[dict]:
    """Yield the demo requests of `days` days ending on `end_day` (default: yesterday, UTC)."""
    end_day = end_day or (datetime.now(UTC).date() - timedelta(days=1))
    start = end_day - timedelta(days=days - 1)
    spike_index = int(days * 0.7)
    for day_index in range(days):
        day = start + timedelta(days=day_index)
        rng = np.random.default_rng([seed, day.toordinal()])
        yield from _day_records(day, day_index, day_index == spike_index, rng)
