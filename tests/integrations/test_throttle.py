"""The client-side throttle: token buckets, retry-after, backoff with jitter, threads and tasks."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx2
import pytest

from integrations.throttle import Throttle, is_retryable, retry_after_s, throttle_from_config


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, *, advance: bool = False) -> None:
        self.advance = advance  # single-threaded tests: sleeping moves time on
        self.now_s = 1000.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(seconds)
            if self.advance:
                self.now_s += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class ApiFailure(Exception):
    """Shaped like openai.APIStatusError: status_code, code, response.headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None, code: str = "") -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.code = code or None
        self.response = httpx2.Response(status, headers=headers or {})


def make(clock: FakeClock, **kwargs: object) -> Throttle:
    return Throttle(
        clock=clock,
        sleep=clock.sleep,
        async_sleep=clock.async_sleep,
        rng=lambda: 0.0,
        token_counter=lambda text, _model: len(text.split()),
        **kwargs,
    )


def test_request_bucket_makes_callers_wait_for_refill() -> None:
    clock = FakeClock()
    # 60 RPM = 1 request/s; burst of 1 s = capacity 1 request.
    throttle = make(clock, requests_per_min=60, burst_s=1)
    assert [throttle.reserve(0) for _ in range(3)] == [0.0, 1.0, 2.0]
    clock.now_s += 10  # debt of 2 repaid after 3 s; the bucket refills to its capacity of 1
    assert throttle.reserve(0) == 0.0
    assert throttle.reserve(0) == 1.0


def test_token_bucket_waits_for_the_token_debt() -> None:
    clock = FakeClock()
    # 6000 TPM = 100 tokens/s, capacity one minute = 6000 tokens.
    throttle = make(clock, tokens_per_min=6000)
    assert throttle.reserve(5000) == 0.0
    # 1000 left; 2000 more leaves a debt of 1000 tokens = 10 s at 100 tokens/s.
    assert throttle.reserve(2000) == pytest.approx(10.0)


def test_estimate_counts_prompt_overhead_and_max_tokens() -> None:
    throttle = make(FakeClock())
    kwargs = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "three little words"}]},
        ],
        "max_tokens": 100,
    }
    # words: 2 + 3 = 5 (roles and types are not text); 2 messages x 4 overhead = 8; + 100
    assert throttle.estimate_tokens(kwargs) == 113
    assert throttle.estimate_tokens({"model": "o3", "input": "a b", "max_output_tokens": 7}) == 9


def test_estimate_uses_tiktoken_offline() -> None:
    throttle = Throttle()
    assert throttle.estimate_tokens({"model": "gpt-4o", "input": "hello world"}) == 2


def test_retry_after_is_honoured() -> None:
    clock = FakeClock(advance=True)
    throttle = make(clock, requests_per_min=6000)
    outcomes = [ApiFailure(429, {"retry-after": "2"}), ApiFailure(429, {"retry-after-ms": "1500"})]

    def flaky() -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "ok"

    assert throttle.call(flaky) == "ok"
    assert clock.slept == [2.0, 1.5]
    assert throttle.retries == 2


def test_retry_after_pauses_every_caller() -> None:
    clock = FakeClock()
    throttle = make(clock)
    assert throttle.backoff_s(0, ApiFailure(429, {"retry-after": "3"})) == 0.0
    # Any caller at this instant, in any thread or task, now waits the server's 3 s first.
    assert throttle.reserve(0) == 3.0
    clock.now_s += 3
    assert throttle.reserve(0) == 0.0


def test_5xx_backs_off_exponentially_with_jitter() -> None:
    clock = FakeClock(advance=True)
    throttle = make(clock, base_delay_s=0.5, max_delay_s=1.5, max_retries=4)
    failures = [ApiFailure(500), ApiFailure(502), ApiFailure(503), ApiFailure(500)]

    def flaky() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    assert throttle.call(flaky) == "ok"
    # rng() = 0 -> half of min(1.5, 0.5 * 2**n): 0.25, 0.5, 0.75 (capped), 0.75
    assert clock.slept == [0.25, 0.5, 0.75, 0.75]


def test_jitter_spreads_delays_between_half_and_full() -> None:
    throttle = Throttle(rng=lambda: 1.0, base_delay_s=1.0)
    assert throttle.backoff_s(2, ApiFailure(500)) == 4.0  # 1.0 * 2**2 * (0.5 + 0.5 * 1.0)


def test_gives_up_after_max_retries_and_never_retries_client_errors() -> None:
    clock = FakeClock()
    throttle = make(clock, max_retries=2)
    calls = []

    def always(status: int, code: str = "") -> None:
        calls.append(status)
        raise ApiFailure(status, code=code)

    with pytest.raises(ApiFailure):
        throttle.call(always, 500)
    assert calls == [500, 500, 500]
    for status, code in ((400, ""), (401, ""), (429, "insufficient_quota")):
        calls.clear()
        with pytest.raises(ApiFailure):
            throttle.call(always, status, code)
        assert calls == [status]


def test_retryable_and_retry_after_helpers() -> None:
    assert is_retryable(ApiFailure(429)) and is_retryable(ApiFailure(503))
    assert not is_retryable(ApiFailure(404)) and not is_retryable(ValueError())
    assert retry_after_s(ApiFailure(429, {"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after_s(ApiFailure(429, {"retry-after": "soon"})) is None


def test_threads_share_one_budget() -> None:
    clock = FakeClock()
    throttle = make(clock, requests_per_min=60, burst_s=1)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            wait = throttle.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 40 requests at 1/s from a bucket of 1: whatever the interleaving, waits are 0, 1, ..., 39 s.
    assert sorted(waits) == [float(n) for n in range(40)]
    assert sorted(clock.slept) == [float(n) for n in range(1, 40)]


def test_asyncio_tasks_share_one_budget() -> None:
    clock = FakeClock()
    throttle = make(clock, tokens_per_min=600, burst_s=1)  # 10 tokens/s, capacity 10

    async def main() -> list[float]:
        return await asyncio.gather(*(throttle.acquire_async(10) for _ in range(6)))

    waits = asyncio.run(main())
    assert sorted(waits) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_threads_and_tasks_together_in_real_time() -> None:
    # 1200 RPM = 20 requests/s, capacity 1: six calls need at least 5 x 50 ms.
    throttle = Throttle(requests_per_min=1200, burst_s=0.05)
    started = time.monotonic()

    async def tasks() -> None:
        await asyncio.gather(*(throttle.call_async(asyncio.sleep, 0) for _ in range(3)))

    threads = [threading.Thread(target=throttle.call, args=(lambda: None,)) for _ in range(3)]
    for t in threads:
        t.start()
    asyncio.run(tasks())
    for t in threads:
        t.join()
    elapsed_s = time.monotonic() - started
    assert 0.24 <= elapsed_s < 5


def test_wrap_keeps_sync_and_async_nature() -> None:
    clock = FakeClock()
    throttle = make(clock)

    async def fetch(x: int) -> int:
        return x * 2

    wrapped_async = throttle.wrap(fetch)
    assert asyncio.run(wrapped_async(x=4)) == 8
    assert throttle.wrap(lambda x: x + 1)(x=1) == 2


def test_throttle_is_opt_in_from_config() -> None:
    assert throttle_from_config(lambda _name: None) is None
    values = {"COSTDESK_THROTTLE_RPM": "500", "COSTDESK_THROTTLE_TPM": "30000"}
    throttle = throttle_from_config(values.get)
    assert throttle is not None and throttle.max_retries == 5
    assert throttle.requests.per_s == pytest.approx(500 / 60)
    assert throttle.tokens.capacity == 30000
