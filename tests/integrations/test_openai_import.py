"""Import from the organization Usage and Costs APIs: pagination, idempotence, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx2
import pytest
from sqlalchemy import Engine, func, select, text

from db.imports import BilledCost, UsageBucket
from integrations.openai_import import (
    ImportFailed,
    NoAdminKey,
    admin_key,
    day_range,
    import_days,
    import_range,
)
from tests.actors import ADMIN
from tests.integrations.fake_openai import (
    FakeOpenAI,
    Reply,
    bucket,
    cost_result,
    error_body,
    usage_result,
)

ADMIN_KEY = "sk-admin-TEST-never-stored-71c2"
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
DAYS = [date(2026, 11, 21) + timedelta(days=n) for n in range(5)]  # 21..25 Nov, --days 5
MINI = "gpt-4o-mini-2024-07-18"


def usage_pages() -> list[list[dict]]:
    """Five daily buckets over three pages (2 + 2 + 1), one empty bucket."""
    buckets = [
        bucket(DAYS[0], [usage_result(MINI, 10, 10_000, 5_000, cached=2_048)]),
        bucket(DAYS[1], [usage_result(MINI, 4, 4_000, 800), usage_result("gpt-4o-2024-08-06", 2, 900, 90)]),
        bucket(DAYS[2], []),
        bucket(DAYS[3], [usage_result(MINI, 7, 7_000, 700, project="proj_other")]),
        bucket(DAYS[4], [usage_result(MINI, 1, 100, 10, service_tier="flex", batch=False)]),
    ]  # fmt: skip
    return [buckets[0:2], buckets[2:4], buckets[4:5]]


def cost_pages() -> list[list[dict]]:
    """Costs over two pages; amounts as numbers and as a long decimal string."""
    return [
        [
            bucket(DAYS[0], [cost_result(f"{MINI}, input", 0.0012), cost_result(f"{MINI}, output", 0.003)]),
            bucket(DAYS[1], [cost_result("web search tool calls", 0.025)]),
        ],
        [bucket(DAYS[3], [cost_result(f"{MINI}, input", "0.001050000000000000000000000000")])],
    ]  # fmt: skip


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """One backend is enough where the HTTP side is under test (storage runs on both above)."""
    from db.engine import make_engine

    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()
    make_engine.cache_clear()


@pytest.fixture
def api() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.url = fake.start()  # type: ignore[attr-defined]
    fake.pages["/organization/usage/completions"] = usage_pages()
    fake.pages["/organization/costs"] = cost_pages()
    yield fake
    fake.stop()


def config_with(values: dict[str, str]) -> Callable[[str], str | None]:
    return lambda name: values.get(name)


def _counts(engine: Engine) -> tuple[int, int, Decimal]:
    with engine.connect() as conn:
        usage = conn.execute(select(func.count()).select_from(UsageBucket)).scalar_one()
        costs = conn.execute(select(func.count()).select_from(BilledCost)).scalar_one()
        picos = conn.execute(select(func.sum(BilledCost.amount_pusd))).scalar_one()
    return usage, costs, Decimal(picos or 0) / 10**12


def _snapshot(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        usage = conn.execute(text("SELECT * FROM usage_bucket ORDER BY id")).all()
        costs = conn.execute(text("SELECT * FROM billed_cost ORDER BY id")).all()
    return [tuple(r) for r in usage] + [tuple(r) for r in costs]


def test_follows_pagination_of_both_apis(api: FakeOpenAI, engine: Engine) -> None:
    config = config_with({"OPENAI_ADMIN_KEY": ADMIN_KEY, "COSTDESK_OPENAI_BASE_URL": api.url})
    progress: list[tuple[float, str]] = []
    report = import_days(
        engine,
        5,
        config=config,
        now=NOW,
        progress=lambda s, m: progress.append((s, m)),
        actor=ADMIN,
    )
    assert (report.usage_pages, report.usage_rows, report.usage_changed) == (3, 5, 5)
    assert (report.cost_pages, report.cost_rows, report.cost_changed) == (2, 4, 4)
    usage_calls = [r for r in api.requests if r.path.endswith("/usage/completions")]
    assert [r.query.get("page") for r in usage_calls] == [None, ["page_1"], ["page_2"]]
    first = usage_calls[0].query
    assert first["start_time"] == [str(int(datetime(2026, 11, 21, tzinfo=UTC).timestamp()))]
    assert first["end_time"] == [str(int(datetime(2026, 11, 26, tzinfo=UTC).timestamp()))]
    assert first["bucket_width"] == ["1d"] and first["limit"] == ["5"]
    assert {"model", "project_id"} <= set(first["group_by[]"])
    cost_calls = [r for r in api.requests if r.path.endswith("/organization/costs")]
    assert [r.query.get("page") for r in cost_calls] == [None, ["page_1"]]
    assert set(cost_calls[0].query["group_by[]"]) == {"line_item", "project_id"}
    assert all(r.headers["Authorization"] == f"Bearer {ADMIN_KEY}" for r in api.requests)
    # 0.0012 + 0.003 + 0.025 + 0.00105 = 0.03025
    assert _counts(engine) == (5, 4, Decimal("0.03025"))
    assert progress[-1] == (1.0, "Import finished")
    assert [s for s, _m in progress] == sorted(s for s, _m in progress)


def test_reimport_changes_nothing(api: FakeOpenAI, engine: Engine) -> None:
    config = config_with({"OPENAI_ADMIN_KEY": ADMIN_KEY, "COSTDESK_OPENAI_BASE_URL": api.url})
    import_days(engine, 5, config=config, now=NOW, actor=ADMIN)
    before = _snapshot(engine)
    again = import_days(engine, 5, config=config, now=NOW, actor=ADMIN)
    assert (again.usage_rows, again.usage_changed, again.cost_rows, again.cost_changed) == (
        5,
        0,
        4,
        0,
    )
    assert _snapshot(engine) == before


def test_a_later_import_updates_a_bucket_in_place(api: FakeOpenAI, sqlite_engine: Engine) -> None:
    config = config_with({"OPENAI_ADMIN_KEY": ADMIN_KEY, "COSTDESK_OPENAI_BASE_URL": api.url})
    import_days(sqlite_engine, 5, config=config, now=NOW, actor=ADMIN)
    api.pages["/organization/costs"][1] = [
        bucket(DAYS[3], [cost_result(f"{MINI}, input", "0.00205")])  # the day grew
    ]
    report = import_days(sqlite_engine, 5, config=config, now=NOW, actor=ADMIN)
    assert report.cost_changed == 1
    assert _counts(sqlite_engine) == (5, 4, Decimal("0.03125"))


def test_mock_transport_and_explicit_range(sqlite_engine: Engine) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path.endswith("/usage/completions"):
            data = [bucket(DAYS[0], [usage_result(MINI, 3, 300, 30)])]
        else:
            data = [bucket(DAYS[0], [cost_result(f"{MINI}, input", 0.00005)])]
        body = {"object": "page", "data": data, "has_more": False, "next_page": None}
        return httpx2.Response(200, json=body)

    start = datetime(2026, 11, 21, tzinfo=UTC)
    report = import_range(
        sqlite_engine,
        start,
        start + timedelta(days=1),
        api_key=ADMIN_KEY,
        url="https://api.example.test/v1",
        transport=httpx2.MockTransport(handler),
        actor=ADMIN,
    )
    assert (report.usage_rows, report.cost_rows) == (1, 1)
    assert [r.url.path for r in seen] == [
        "/v1/organization/usage/completions",
        "/v1/organization/costs",
    ]


def test_no_key_is_a_clear_error(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    with pytest.raises(NoAdminKey, match="OPENAI_ADMIN_KEY"):
        import_days(sqlite_engine, 30, config=config_with({}), actor=ADMIN)
    assert admin_key(config_with({"OPENAI_ADMIN_KEY": "  "})) is None
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-env")
    assert admin_key(None) == "sk-admin-env"
    assert admin_key(config_with({"OPENAI_ADMIN_KEY": "sk-admin-secrets"})) == "sk-admin-secrets"


def test_rejected_key_and_server_errors(api: FakeOpenAI, sqlite_engine: Engine) -> None:
    start = datetime(2026, 11, 21, tzinfo=UTC)
    end = start + timedelta(days=5)
    kwargs = {"api_key": ADMIN_KEY, "url": api.url, "sleep": lambda _s: None, "actor": ADMIN}
    api.script(
        Reply(
            status=401,
            body=error_body(
                "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
            ),
        )
    )
    with pytest.raises(ImportFailed, match="rejected the admin key"):
        import_range(sqlite_engine, start, end, **kwargs)
    # A 429 with retry-after and a 503 are retried; the import then completes.
    api.script(
        Reply(
            status=429,
            body=error_body("Rate limit", "requests", "rate_limit_exceeded"),
            headers={"retry-after": "1"},
        ),
        Reply(status=503, body=error_body("The server had an error", "server_error", None)),
    )
    slept: list[float] = []
    report = import_range(sqlite_engine, start, end, **{**kwargs, "sleep": slept.append})
    assert slept == [1.0, 2.0] and report.usage_rows == 5
    api.script(*[Reply(status=500, body=error_body("down", "server_error", None))] * 4)
    with pytest.raises(ImportFailed, match="OpenAI answered 500: down"):
        import_range(sqlite_engine, start, end, **kwargs)


def test_unreachable_host_and_bad_days(sqlite_engine: Engine) -> None:
    with pytest.raises(ImportFailed, match="could not reach"):
        import_range(
            sqlite_engine,
            NOW,
            NOW + timedelta(days=1),
            api_key=ADMIN_KEY,
            url="http://127.0.0.1:9/v1",
            actor=ADMIN,
        )
    with pytest.raises(ImportFailed, match="at least 1"):
        day_range(0)


def test_key_never_reaches_the_database(api: FakeOpenAI, sqlite_engine: Engine) -> None:
    config = config_with({"OPENAI_ADMIN_KEY": ADMIN_KEY, "COSTDESK_OPENAI_BASE_URL": api.url})
    import_days(sqlite_engine, 5, config=config, now=NOW, actor=ADMIN)
    assert ADMIN_KEY not in json.dumps(_snapshot(sqlite_engine), default=str)
