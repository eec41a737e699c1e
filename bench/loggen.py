"""Realistic flat JSON-lines request logs for benchmarks, deterministic for a given seed.

    .venv/bin/python bench/loggen.py OUT.jsonl [--lines 100000] [--seed 7] [--days 90]
    from loggen import generate; generate(path, lines, seed=7)

One JSON object per line, as an application's LLM request logger writes it; the file streams to
disk in bounded memory (a few MB whatever the size). The shape follows production logs:

- **Four loggers** write into the same file, each with its own stable key order and encoding:
  `gateway` (a Python service, ~62 % of lines: `json.dumps` with its default `", "`/`": "`
  separators, `2025-06-01T12:00:00.123456Z`), `proxy` (a Node proxy, ~25 %: compact JSON,
  millisecond `...T12:00:00.123Z`), `jobs` (a Go worker in Europe/Berlin, ~13 %: compact,
  nanosecond fractions with trailing zeros trimmed and a `+02:00` (summer) offset, float
  `latency_ms`, its own uuid4 request ids) and `legacy` (a script, ~0.1 %: lower-case `t`,
  whole seconds, `2025-06-01t12:00:00Z`).
- **Time**: 90 days (`--days`: a team's traffic per day is the lines over the days) from
  2025-06-01 UTC with a daily and weekly rhythm and ~40 % growth; lines are in roughly
  increasing order, with a few seconds of jitter (so neighbours may swap).
- **Request ids** in each provider's shape: OpenAI `chatcmpl-` + 29 [A-Za-z0-9] or (Responses
  API, ~30 % of OpenAI chat calls) `resp_` + 48 hex, Anthropic `msg_01` + 22 [A-Za-z0-9], Gemini
  20-30 [A-Za-z0-9_-], Mistral 32 hex, DeepSeek uuid4, vLLM `chatcmpl-` + 32 hex; embeddings and
  every `jobs` line carry an internal uuid4. Ids are unique.
- **Models**, dated and bare names mixed, skewed (gpt-4o-mini ~36 %, the five commonest names
  ~60 %): see `MODELS`. All resolve to a priced model except `llama-3.1-70b-instruct` (self-hosted,
  ~0.1 % of lines). `text-embedding-3-small` has output 0 and no cache or finish keys.
- **Keys**: `timestamp`, `request_id`, `model`, `input_tokens`, `output_tokens` on every line;
  the rest on some lines only: `cached_input_tokens` ~40 % (OpenAI caches whole 128-token
  blocks from 1,024 on; often 0), `cache_write_tokens` on ~70 % of Anthropic lines only,
  `reasoning_tokens` on o-series lines, `latency_ms` ~95 %, `status` ~70 % (always on failures;
  missing means 200), `error_type` only on failures, `project` ~90 %, `feature` ~60 % or else a
  `tags` list ~5 %, `user` ~50 %, `finish_reason` ~80 % (on successful chat calls only, in each
  provider's words: `stop`, `end_turn`, `STOP`, `tool_calls`, `max_tokens`, `MAX_TOKENS`...),
  `max_tokens` ~35 %, `batch` ~5 % (true on 60 % of those), `service_tier` ~20 %,
  `provider` ~30 % (LiteLLM's names: `openai`, `anthropic`, `gemini`, `hosted_vllm`...).
- **Counts** are consistent: cached + cache write <= input, reasoning <= output <= max_tokens
  (a capped answer finishes with the provider's length reason). Input is log-normal (median
  ~1,500, a few lines above 100k, capped by the model's context window), output log-normal
  (median ~200; o-series add reasoning, median ~700); latency grows with output, long-tailed.
- **Failures** ~3 %: 429 rate-limit bursts (one model failing on most of tens of lines), 5xx
  (Anthropic's 529 `overloaded_error`, Gemini's `UNAVAILABLE`) and a few 400s; failed calls have
  output 0, and rate-limited and invalid ones input 0 too.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Record = dict[str, Any]
Failure = tuple[int, str]  # (status, error_type)

START = datetime(2025, 6, 1, tzinfo=UTC)
DAYS = 90
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
URLSAFE = ALNUM + "-_"
UNPRICED_MODEL = "llama-3.1-70b-instruct"

# Every key a line can carry, in no particular order (each logger has its own).
FIELDS = (
    "timestamp", "request_id", "model", "provider", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "latency_ms", "status",
    "error_type", "project", "feature", "tags", "user", "finish_reason", "max_tokens", "batch",
    "service_tier",
)  # fmt: skip


@dataclass(frozen=True)
class Model:
    """A logged model name with the traits that shape its lines."""

    name: str
    family: str  # openai, anthropic, google, mistral, deepseek, vllm
    share: float
    context_tokens: int
    kind: str = "chat"  # chat, reasoning, embedding


MODELS = (
    Model("gpt-4o-mini", "openai", 0.275, 128_000),
    Model("gpt-4o-mini-2024-07-18", "openai", 0.085, 128_000),
    Model("text-embedding-3-small", "openai", 0.09, 8_191, "embedding"),
    Model("gpt-4o", "openai", 0.09, 128_000),
    Model("gpt-4o-2024-08-06", "openai", 0.06, 128_000),
    Model("gpt-4.1-mini-2025-04-14", "openai", 0.075, 1_000_000),
    Model("claude-3-5-haiku-latest", "anthropic", 0.055, 200_000),
    Model("gpt-4.1", "openai", 0.035, 1_000_000),
    Model("claude-sonnet-4-20250514", "anthropic", 0.04, 200_000),
    Model("claude-3-5-sonnet-20241022", "anthropic", 0.035, 200_000),
    Model("gemini-2.0-flash", "google", 0.04, 1_000_000),
    Model("openai/gpt-4.1-nano", "openai", 0.03, 1_000_000),
    Model("o3-mini", "openai", 0.02, 200_000, "reasoning"),
    Model("deepseek-chat", "deepseek", 0.019, 64_000),
    Model("gemini-1.5-pro-002", "google", 0.01, 2_000_000),
    Model("mistral-large-latest", "mistral", 0.01, 128_000),
    Model("ft:gpt-4o-mini-2024-07-18:acme::9xQ2bT7c", "openai", 0.004, 128_000),
    Model(UNPRICED_MODEL, "vllm", 0.001, 128_000),
)
PROVIDER_LABELS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gemini",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "vllm": "hosted_vllm",
}
# (status, error_type) per family: rate limit, server-side failure, invalid request.
ERRORS = {
    "openai": ((429, "rate_limit_exceeded"), (500, "server_error"), (400, "invalid_request_error")),
    "anthropic": (
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (400, "invalid_request_error"),
    ),
    "google": ((429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (400, "INVALID_ARGUMENT")),
    "mistral": ((429, "rate_limit_exceeded"), (500, "internal_server_error"), (400, "bad_request")),
    "deepseek": ((429, "rate_limit_reached"), (500, "server_error"), (400, "invalid_request")),
    "vllm": ((429, "rate_limit_exceeded"), (500, "InternalServerError"), (400, "BadRequestError")),
}
# (usual, tool call, capped by max_tokens) finish reasons per family.
FINISH = {
    "openai": ("stop", "tool_calls", "length"),
    "anthropic": ("end_turn", "tool_use", "max_tokens"),
    "google": ("STOP", "STOP", "MAX_TOKENS"),
    "mistral": ("stop", "tool_calls", "length"),
    "deepseek": ("stop", "tool_calls", "length"),
    "vllm": ("stop", "tool_calls", "length"),
}
PROJECTS = (
    ("support-bot", 30), ("search", 22), ("agents", 14), ("summarizer", 10), ("data-pipeline", 8),
    ("internal-tools", 6), ("sales-assist", 5), ("eval", 3), ("playground", 2),
)  # fmt: skip
FEATURES = (
    ("chat", 30), ("summarize", 15), ("classify", 12), ("extract", 10), ("rag-answer", 9),
    ("embed-docs", 7), ("translate", 5), ("autocomplete", 4), ("sql-gen", 3), ("triage", 3),
    ("title", 2),
)  # fmt: skip
TAGS = ("prod", "staging", "team:search", "team:support", "exp:ranker-v2", "exp:prompt-b", "canary")
MAX_TOKENS = (256, 512, 1024, 1024, 2048, 4096, 4096, 8192)
USERS = 5_000


@dataclass(frozen=True)
class Logger:
    """One application writing into the log: its share, key order, JSON and time formats."""

    name: str
    share: float
    keys: tuple[str, ...]
    separators: tuple[str, str]
    stamp: Callable[[datetime, Random], str]
    float_latency: bool = False
    own_ids: bool = False


def _stamp_python(moment: datetime, rnd: Random) -> str:
    """`datetime.isoformat()` with `Z`: microseconds, or none when they are zero."""
    return moment.replace(tzinfo=None).isoformat() + "Z"


def _stamp_node(moment: datetime, rnd: Random) -> str:
    """`Date.prototype.toISOString()`: always milliseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _berlin_offset_hours(moment: datetime) -> int:
    """Central European (summer) time: +2 from the last Sunday of March to that of October."""
    march = _last_sunday(moment.year, 3)
    october = _last_sunday(moment.year, 10)
    return 2 if march <= moment < october else 1


def _last_sunday(year: int, month: int) -> datetime:
    """01:00 UTC on the month's last Sunday, when Europe changes its clocks."""
    last = datetime(year, month + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _stamp_go(moment: datetime, rnd: Random) -> str:
    """Go's `time.RFC3339Nano` in local time: nanoseconds, trailing zeros trimmed, an offset."""
    hours = _berlin_offset_hours(moment)
    local = moment + timedelta(hours=hours)
    nanos = f"{local.microsecond * 1000 + rnd.randrange(1000):09d}".rstrip("0")
    fraction = f".{nanos}" if nanos else ""
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{fraction}+{hours:02d}:00"


def _stamp_legacy(moment: datetime, rnd: Random) -> str:
    """A script's own format: whole seconds and a lower-case `t`."""
    return moment.strftime("%Y-%m-%dt%H:%M:%SZ")


LOGGERS = (
    Logger(
        "gateway",
        0.62,
        (
            "timestamp", "request_id", "model", "provider", "project", "feature", "tags", "user",
            "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens",
            "reasoning_tokens", "max_tokens", "finish_reason", "status", "error_type",
            "latency_ms", "batch", "service_tier",
        ),
        (", ", ": "),
        _stamp_python,
    ),
    Logger(
        "proxy",
        0.249,
        (
            "request_id", "timestamp", "provider", "model", "status", "error_type", "latency_ms",
            "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
            "reasoning_tokens", "finish_reason", "max_tokens", "service_tier", "batch", "user",
            "project", "feature", "tags",
        ),
        (",", ":"),
        _stamp_node,
    ),
    Logger(
        "jobs",
        0.13,
        (
            "timestamp", "project", "feature", "tags", "batch", "model", "provider", "request_id",
            "status", "error_type", "input_tokens", "output_tokens", "cached_input_tokens",
            "cache_write_tokens", "reasoning_tokens", "max_tokens", "finish_reason",
            "service_tier", "latency_ms", "user",
        ),
        (",", ":"),
        _stamp_go,
        float_latency=True,
        own_ids=True,
    ),
    Logger(
        "legacy",
        0.001,
        (
            "timestamp", "model", "input_tokens", "output_tokens", "cached_input_tokens",
            "cache_write_tokens", "reasoning_tokens", "request_id", "status", "error_type",
            "latency_ms", "finish_reason", "max_tokens", "project", "feature", "tags", "user",
            "batch", "service_tier", "provider",
        ),
        (", ", ": "),
        _stamp_legacy,
    ),
)  # fmt: skip


class _Picker(Generic[T]):
    """Weighted choice by bisecting cumulative weights (one `random()` per pick)."""

    def __init__(self, items: tuple[T, ...], weights: tuple[float, ...]) -> None:
        self.items = items
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def __call__(self, rnd: Random) -> T:
        index = bisect.bisect(self.cumulative, rnd.random() * self.total)
        return self.items[min(index, len(self.items) - 1)]


def _hourly_counts(lines: int, days: int = DAYS) -> list[int]:
    """Lines per hour over the days: a daily and weekly rhythm on a growing trend."""
    weights = []
    for hour in range(days * 24):
        day, hour_of_day = divmod(hour, 24)
        daily = 0.35 + math.exp(-(((hour_of_day - 14.5) / 4.5) ** 2))  # peak at 14:30 UTC
        weekly = 0.45 if (START + timedelta(days=day)).weekday() >= 5 else 1.0
        weights.append(daily * weekly * (1 + 0.4 * day / days))
    total = sum(weights)
    bounds = [round(lines * w / total) for w in accumulate(weights)]
    bounds[-1] = lines
    return [b - a for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def _moments(lines: int, rnd: Random, days: int = DAYS) -> Iterator[datetime]:
    """One instant per line, in hourly order, spread within the hour, with a few seconds' jitter."""
    for hour, count in enumerate(_hourly_counts(lines, days)):
        start = START + timedelta(hours=hour)
        for k in range(count):
            offset = (k + rnd.random()) * 3600 / count + rnd.gauss(0, 2.0)
            yield max(START, start + timedelta(seconds=offset))


class _Writer:
    """Turns an instant into one log record; keeps the state bursts and ids need."""

    def __init__(self, rnd: Random) -> None:
        self.rnd = rnd
        self.model = _Picker(MODELS, tuple(m.share for m in MODELS))
        self.logger = _Picker(LOGGERS, tuple(g.share for g in LOGGERS))
        self.project = _Picker(*zip(*PROJECTS, strict=True))
        self.feature = _Picker(*zip(*FEATURES, strict=True))
        self.users = [f"usr_{rnd.getrandbits(48):012x}" for _ in range(USERS)]
        self.burst_model = MODELS[0]
        self.burst_left = 0

    def line(self, moment: datetime) -> str:
        """One JSON line (with its newline) for a request at `moment`."""
        rnd = self.rnd
        logger = self.logger(rnd)
        model, failure = self._model_and_failure()
        record = self._usage(model, failure)
        record["timestamp"] = logger.stamp(moment, rnd)
        record["request_id"] = self._uuid() if logger.own_ids else self._request_id(model)
        record["model"] = model.name
        self._labels(record, model)
        self._latency(record, model, failure, logger.float_latency)
        ordered = {key: record[key] for key in logger.keys if key in record}
        return json.dumps(ordered, separators=logger.separators) + "\n"

    def _model_and_failure(self) -> tuple[Model, Failure | None]:
        """The model called and, for a failed call, its (status, error_type)."""
        rnd = self.rnd
        if self.burst_left:
            self.burst_left -= 1
            if rnd.random() < 0.6:
                return self.burst_model, ERRORS[self.burst_model.family][0]
        elif rnd.random() < 0.0009:  # a rate-limit burst starts: tens of lines of one model
            self.burst_model = self.model(rnd)
            self.burst_left = rnd.randint(10, 70)
        model = self.model(rnd)
        draw = rnd.random()
        if draw < 0.007:
            return model, ERRORS[model.family][1]
        if draw < 0.009:
            return model, ERRORS[model.family][2]
        if draw < 0.0095:
            return model, ERRORS[model.family][0]
        return model, None

    def _usage(self, model: Model, failure: Failure | None) -> Record:
        """Token counts (and status, finish reason, limits) for one call, consistent."""
        rnd = self.rnd
        record: Record = {}
        input_tokens = self._input_tokens(model)
        if model.kind != "embedding" and rnd.random() < 0.385:
            record["max_tokens"] = rnd.choice(MAX_TOKENS) * (4 if model.kind == "reasoning" else 1)
        if failure:
            status, error_type = failure
            record.update(status=status, error_type=error_type)
            record["input_tokens"] = input_tokens if status >= 500 else 0
            record["output_tokens"] = 0
        elif rnd.random() < 0.69:
            record["status"] = 200
        if not failure:
            record["input_tokens"] = input_tokens
            self._output(record, model)
        self._cache(record, model, failure is not None)
        if model.kind == "reasoning" and "reasoning_tokens" not in record:
            record["reasoning_tokens"] = 0
        return record

    def _input_tokens(self, model: Model) -> int:
        """Prompt size: log-normal, long-tailed, within the model's context window."""
        median = 300 if model.kind == "embedding" else 1700
        tokens = int(self.rnd.lognormvariate(math.log(median), 1.25))
        return max(1, min(tokens, model.context_tokens - 1_000))

    def _output(self, record: Record, model: Model) -> None:
        """Output (reasoning included), max_tokens and finish_reason of a successful call."""
        rnd = self.rnd
        if model.kind == "embedding":
            record["output_tokens"] = 0
            return
        usual, tool, capped = FINISH[model.family]
        visible = int(rnd.lognormvariate(math.log(200), 1.0)) + 1
        reasoning = int(rnd.lognormvariate(math.log(700), 1.1)) if model.kind == "reasoning" else 0
        output = visible + reasoning
        finish = tool if rnd.random() < 0.1 else usual
        limit = record.get("max_tokens")
        if limit is not None and output >= limit:
            output, finish = limit, capped
            reasoning = min(reasoning, limit)
        record["output_tokens"] = output
        if model.kind == "reasoning":
            record["reasoning_tokens"] = reasoning
        if rnd.random() < 0.905:
            record["finish_reason"] = finish

    def _cache(self, record: Record, model: Model, failed: bool) -> None:
        """Prompt-cache reads (~40 % of lines) and Anthropic's cache writes."""
        rnd = self.rnd
        input_tokens = record["input_tokens"]
        if model.kind != "embedding" and rnd.random() < 0.44:
            cached = 0
            if not failed and input_tokens >= 1024 and rnd.random() < 0.55:
                share = rnd.random() * (input_tokens - 1024)
                cached = 1024 + (128 * int(share / 128) if model.family == "openai" else int(share))
            record["cached_input_tokens"] = cached
        if model.family == "anthropic" and rnd.random() < 0.7:
            room = input_tokens - record.get("cached_input_tokens", 0)
            written = int(room * rnd.random()) if not failed and rnd.random() < 0.25 else 0
            record["cache_write_tokens"] = written

    def _labels(self, record: Record, model: Model) -> None:
        """Project, feature or tags, user, batch, service tier and provider, each on some lines."""
        rnd = self.rnd
        if rnd.random() < 0.9:
            record["project"] = self.project(rnd)
        draw = rnd.random()
        if draw < 0.6:
            record["feature"] = "embed-docs" if model.kind == "embedding" else self.feature(rnd)
        elif draw < 0.65:
            record["tags"] = rnd.sample(TAGS, rnd.randint(1, 3))
        if rnd.random() < 0.5:
            record["user"] = self.users[int(USERS * rnd.random() ** 3)]
        if rnd.random() < 0.05:
            record["batch"] = rnd.random() < 0.6
        if model.family in ("openai", "anthropic") and rnd.random() < 0.235:
            record["service_tier"] = self._tier(model)
        if rnd.random() < 0.3:
            record["provider"] = PROVIDER_LABELS[model.family]

    def _tier(self, model: Model) -> str:
        """The service tier a response reports."""
        draw = self.rnd.random()
        if model.family == "anthropic":
            return "priority" if draw < 0.05 else "standard"
        if model.kind == "reasoning" and draw < 0.3:
            return "flex"
        return "priority" if draw < 0.04 else "default"

    def _latency(
        self, record: Record, model: Model, failure: Failure | None, as_float: bool
    ) -> None:
        """Milliseconds on ~95 % of lines: first-token wait plus output time, long-tailed."""
        rnd = self.rnd
        if rnd.random() >= 0.95:
            return
        if failure and failure[0] in (429, 400):
            ms = rnd.lognormvariate(math.log(120), 0.6)
        elif model.kind == "embedding":
            ms = rnd.lognormvariate(math.log(150), 0.5)
        else:
            per_token = rnd.lognormvariate(math.log(12), 0.4)
            ms = rnd.lognormvariate(math.log(450), 0.7) + record["output_tokens"] * per_token
        record["latency_ms"] = round(ms, 3) if as_float else int(ms)

    def _request_id(self, model: Model) -> str:
        """An id in the shape the model's provider gives it."""
        rnd = self.rnd
        family = model.family
        if model.kind == "embedding":
            return self._uuid()
        if family == "openai":
            if rnd.random() < 0.3:
                return f"resp_{rnd.getrandbits(192):048x}"
            return "chatcmpl-" + "".join(rnd.choices(ALNUM, k=29))
        if family == "anthropic":
            return "msg_01" + "".join(rnd.choices(ALNUM, k=22))
        if family == "google":
            return "".join(rnd.choices(URLSAFE, k=rnd.randint(20, 30)))
        if family == "mistral":
            return f"{rnd.getrandbits(128):032x}"
        if family == "vllm":
            return f"chatcmpl-{rnd.getrandbits(128):032x}"
        return self._uuid()

    def _uuid(self) -> str:
        """A random (version 4) UUID from this generator's stream."""
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))


def iter_lines(lines: int, seed: int = 7, days: int = DAYS) -> Iterator[str]:
    """The `lines` lines of a log over `days` days one after another (each with its newline),
    in bounded memory."""
    rnd = Random(seed)
    writer = _Writer(rnd)
    for moment in _moments(lines, rnd, days):
        yield writer.line(moment)


def generate(path: Path | str, lines: int, seed: int = 7, days: int = DAYS) -> None:
    """Write `lines` realistic request-log lines over `days` days to `path`; the same seed and
    days give the same bytes."""
    buffer: list[str] = []
    with Path(path).open("w", encoding="utf-8", newline="\n") as out:
        for line in iter_lines(lines, seed, days):
            buffer.append(line)
            if len(buffer) == 10_000:
                out.write("".join(buffer))
                buffer.clear()
        out.write("".join(buffer))


def generate_parts(
    folder: Path, lines: int, seed: int = 7, part_lines: int = 1_000_000
) -> Iterator[Path]:
    """The log of `generate`, cut into files of `part_lines` lines written one at a time into
    `folder`: each is yielded, then deleted once the caller asks for the next, so a 10M-line
    log never sits on disk whole."""
    produced = iter_lines(lines, seed)
    for number in range(0, lines, part_lines):
        path = Path(folder) / f"part-{number // part_lines:04d}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for _ in range(min(part_lines, lines - number)):
                out.write(next(produced))
        yield path
        path.unlink(missing_ok=True)


def main() -> None:
    """Command line: write a log of `--lines` lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the JSON-lines file to write")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=DAYS, help="the days the lines spread over")
    args = parser.parse_args()
    generate(args.out, args.lines, seed=args.seed, days=args.days)


if __name__ == "__main__":
    main()
