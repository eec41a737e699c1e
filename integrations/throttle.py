"""Client-side throttle: stay under requests-per-minute and tokens-per-minute before the 429.

Two token buckets (RPM and TPM) refill continuously. A call reserves one request and its
estimated tokens (prompt counted with tiktoken plus the `max_tokens` it may generate); when a
bucket runs dry the call waits until the debt refills. One `Throttle` is shared by every thread
and asyncio task using it: reservations are made under a lock and the waiting happens outside
it (`time.sleep` in threads, `asyncio.sleep` in tasks), so neither blocks the other.

Failed calls with status 429 or 5xx are retried with exponential backoff and full jitter; a
`retry-after-ms` / `retry-after` header wins over the backoff and pauses every caller sharing the
throttle. Clock, sleep and randomness are injectable so tests are deterministic.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

TokenCounter = Callable[[str, str], int]
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators around each chat message
# Keys whose values are not prompt text (images and files are budgeted by the API otherwise).
NOT_TEXT_KEYS = frozenset({"role", "type", "image_url", "url", "file_data", "file_id", "data"})
NO_RETRY_CODES = frozenset({"insufficient_quota"})  # a 429 that waiting does not fix


@functools.cache
def _tokenizer_ready() -> bool:
    """Seed tiktoken's offline cache once; False when that cannot be done."""
    try:
        from integrations.tiktoken_cache import seed_tiktoken_cache

        seed_tiktoken_cache()
        return True
    except Exception:  # no bundled vocabulary: estimates fall back to characters
        return False


def estimate_text_tokens(text: str, model: str) -> int:
    """Tokens in `text`: tiktoken offline (`core.tokens`), else about four characters a token."""
    if _tokenizer_ready():
        try:
            from core.tokens import count_tokens

            return count_tokens(text, model)
        except Exception:  # an estimate is enough to budget a call
            pass
    return (len(text) + 3) // 4


@dataclass
class Bucket:
    """A continuously refilling bucket; `level` may go negative (debt) after a reservation."""

    capacity: float
    per_s: float
    level: float
    at_s: float

    def reserve(self, amount: float, now_s: float) -> float:
        """Take `amount` now; seconds until the bucket is out of debt again."""
        self.level = min(self.capacity, self.level + (now_s - self.at_s) * self.per_s)
        self.at_s = now_s
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.per_s


def _bucket(limit_per_min: float | None, burst_s: float, now_s: float) -> Bucket | None:
    if not limit_per_min:
        return None
    capacity = max(1.0, limit_per_min * burst_s / 60)
    return Bucket(capacity=capacity, per_s=limit_per_min / 60, level=capacity, at_s=now_s)


def _text_of(value: Any) -> list[str]:
    """Every string inside a message / input structure (kept in memory only, never stored)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() if k not in NOT_TEXT_KEYS for t in _text_of(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _text_of(v)]
    return []


def _max_output_tokens(kwargs: dict[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = kwargs.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds asked for by `retry-after-ms` or `retry-after` on a failed response, if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            continue
    return None


def is_retryable(exc: BaseException) -> bool:
    """429 (except an exhausted quota) and 5xx responses are worth another try."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return False
    if status == 429:
        return getattr(exc, "code", None) not in NO_RETRY_CODES
    return status >= 500


class Throttle:
    """Token buckets on RPM and TPM plus retries with backoff; shared by threads and tasks."""

    def __init__(
        self,
        *,
        requests_per_min: float | None = None,
        tokens_per_min: float | None = None,
        burst_s: float = 60.0,
        max_retries: int = 5,
        base_delay_s: float = 0.5,
        max_delay_s: float = 60.0,
        token_counter: TokenCounter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        now_s = clock()
        self.requests = _bucket(requests_per_min, burst_s, now_s)
        self.tokens = _bucket(tokens_per_min, burst_s, now_s)
        self.max_retries = max_retries
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.count_tokens = token_counter or estimate_text_tokens
        self.clock, self.sleep, self.async_sleep, self.rng = clock, sleep, async_sleep, rng
        self.paused_until_s = now_s
        self.waited_s = 0.0
        self.retries = 0
        self._lock = threading.Lock()

    # -- budget

    def estimate_tokens(self, kwargs: dict[str, Any]) -> int:
        """Tokens a call may use: its prompt (tiktoken) plus the output it may generate."""
        model = kwargs.get("model") if isinstance(kwargs.get("model"), str) else "gpt-4o"
        messages = kwargs.get("messages")
        prompt = 0
        if isinstance(messages, (list, tuple)):
            prompt += MESSAGE_OVERHEAD_TOKENS * len(messages)
        for name in ("messages", "input", "instructions"):
            prompt += sum(self.count_tokens(t, model) for t in _text_of(kwargs.get(name)))
        return prompt + _max_output_tokens(kwargs)

    def reserve(self, tokens: int) -> float:
        """Reserve one request and `tokens`; seconds the caller must wait before sending."""
        with self._lock:
            now_s = self.clock()
            wait_s = max(0.0, self.paused_until_s - now_s)
            for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
                if bucket is not None:
                    wait_s = max(wait_s, bucket.reserve(amount, now_s))
            self.waited_s += wait_s
            return wait_s

    def pause(self, seconds: float) -> None:
        """Hold every caller of this throttle for `seconds` (a server's retry-after)."""
        with self._lock:
            self.paused_until_s = max(self.paused_until_s, self.clock() + seconds)

    def acquire(self, tokens: int = 0) -> float:
        """Block this thread until the call may be sent; returns the seconds waited."""
        wait_s = self.reserve(tokens)
        if wait_s > 0:
            self.sleep(wait_s)
        return wait_s

    async def acquire_async(self, tokens: int = 0) -> float:
        """Suspend this task until the call may be sent; returns the seconds waited."""
        wait_s = self.reserve(tokens)
        if wait_s > 0:
            await self.async_sleep(wait_s)
        return wait_s

    # -- retries

    def backoff_s(self, attempt: int, exc: BaseException) -> float:
        """Own delay before retry `attempt` (0-based): jittered exponential backoff.

        A server's retry-after instead pauses the whole throttle (0 is returned): the next
        `acquire` of every caller waits it out.
        """
        asked = retry_after_s(exc)
        if asked is not None:
            self.pause(asked)
            return 0.0
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        return ceiling * (0.5 + 0.5 * self.rng())

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `func(*args, **kwargs)` within budget, retrying 429 / 5xx."""
        tokens = self.estimate_tokens(kwargs)
        for attempt in range(self.max_retries + 1):
            self.acquire(tokens)
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                if attempt >= self.max_retries or not is_retryable(exc):
                    raise
                self._count_retry()
                if (delay_s := self.backoff_s(attempt, exc)) > 0:
                    self.sleep(delay_s)
        raise AssertionError("unreachable")

    async def call_async(
        self, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> Any:
        """The asyncio twin of `call`."""
        tokens = self.estimate_tokens(kwargs)
        for attempt in range(self.max_retries + 1):
            await self.acquire_async(tokens)
            try:
                return await func(*args, **kwargs)
            except Exception as exc:
                if attempt >= self.max_retries or not is_retryable(exc):
                    raise
                self._count_retry()
                if (delay_s := self.backoff_s(attempt, exc)) > 0:
                    await self.async_sleep(delay_s)
        raise AssertionError("unreachable")

    def wrap(self, func: Callable[..., Any], *, kind: str = "") -> Callable[..., Any]:
        """`func` made to go through this throttle (sync or async alike)."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def throttled_async(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(func, *args, **kwargs)

            return throttled_async

        @functools.wraps(func)
        def throttled(*args: Any, **kwargs: Any) -> Any:
            return self.call(func, *args, **kwargs)

        return throttled

    def _count_retry(self) -> None:
        with self._lock:
            self.retries += 1


def throttle_from_config(config: Callable[[str], str | None]) -> Throttle | None:
    """A throttle from `COSTDESK_THROTTLE_RPM` / `COSTDESK_THROTTLE_TPM`; None when neither is set."""
    rpm, tpm = config("COSTDESK_THROTTLE_RPM"), config("COSTDESK_THROTTLE_TPM")
    if not rpm and not tpm:
        return None
    return Throttle(
        requests_per_min=float(rpm) if rpm else None,
        tokens_per_min=float(tpm) if tpm else None,
        max_retries=int(config("COSTDESK_THROTTLE_MAX_RETRIES") or 5),
    )
