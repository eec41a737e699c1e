"""Import from Anthropic's Admin API usage and cost reports: headers, pagination, retries,
idempotence, exact cents, clear errors; against a local server speaking the documented pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from integrations import usage_import
from integrations.anthropic_import import ADMIN_KEY_ENV, ANTHROPIC, BASE_URL_ENV
from integrations.usage_import import ImportFailed, NoAdminKey
from tests.actors import ADMIN
from tests.integrations.fake_anthropic import (
    COST_PATH,
    USAGE_PATH,
    FakeAnthropic,
    Reply,
    bucket,
    cost_result,
    error_body,
    usage_result,
)

ADMIN_KEY = "sk-ant-admin01-TEST-never-stored-9f3e"
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
DAYS = [date(2026, 11, 21) + timedelta(days=n) for n in range(5)]  # 21..25 Nov, --days 5
HAIKU, SONNET = "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"


def usage_pages() -> list[list[dict]]:
    """Five daily buckets over three pages (2 + 2 + 1), one empty; 6 results, 5 stored keys."""
    return [
        [
            bucket(DAYS[0], [usage_result(HAIKU, 10_000, 2_000, read=4_000, write_5m=1_000, write_1h=500)]),
            bucket(DAYS[1], [usage_result(HAIKU, 3_000, 300), usage_result(HAIKU, 6_000, 1_000, tier="batch")]),
        ],
        [
            bucket(DAYS[2], []),
            # One model in two context windows: one stored key, summed.
            bucket(DAYS[3], [usage_result(HAIKU, 1_000, 100, window="0-200k"),
                             usage_result(HAIKU, 2_000, 200, window="200k-1M")]),
        ],
        [bucket(DAYS[4], [usage_result(SONNET, 500, 50, workspace="wrkspc_a")])],
    ]  # fmt: skip


def cost_pages() -> list[list[dict]]:
    """Costs in cents over two pages. Haiku 4.5: $1 in, $5 out, $0.10 cache read, $1.25 5-minute
    and $2 1-hour cache writes per 1M tokens. Day 1: 10,000 in = 1.0c, 2,000 out = 1.0c,
    4,000 read = 0.04c, 1,000 5m writes = 0.125c, 500 1h writes = 0.1c."""
    return [
        [
            bucket(DAYS[0], [
                cost_result("1.0", model=HAIKU, token_type="uncached_input_tokens"),
                cost_result("1.0", model=HAIKU, token_type="output_tokens"),
                cost_result("0.04", model=HAIKU, token_type="cache_read_input_tokens"),
                cost_result("0.125", model=HAIKU, token_type="cache_creation.ephemeral_5m_input_tokens"),
                cost_result("0.1", model=HAIKU, token_type="cache_creation.ephemeral_1h_input_tokens"),
            ]),
            bucket(DAYS[1], [cost_result("1.00", cost_type="web_search", description="Web search")]),
        ],
        [bucket(DAYS[3], [cost_result("0.15", model=HAIKU, token_type="output_tokens")])],
    ]  # fmt: skip


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(ADMIN_KEY)
    fake.url = fake.start()  # type: ignore[attr-defined]
    fake.pages[USAGE_PATH] = usage_pages()
    fake.pages[COST_PATH] = cost_pages()
    yield fake
    fake.stop()


def import_days(engine: Engine, days: int, **options: object) -> usage_import.ImportReport:
    return usage_import.import_days(ANTHROPIC, engine, days, **options)  # type: ignore[arg-type]


def config_for(api: FakeAnthropic, key: str = ADMIN_KEY) -> Callable[[str], str | None]:
    values = {ADMIN_KEY_ENV: key, BASE_URL_ENV: api.url}  # type: ignore[attr-defined]
    return values.get


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_follows_pagination_and_stores_exact_cents(api: FakeAnthropic, engine: Engine) -> None:
    progress: list[tuple[float, str]] = []
    report = import_days(
        engine,
        5,
        config=config_for(api),
        now=NOW,
        progress=lambda s, m: progress.append((s, m)),
        actor=ADMIN,
    )
    # 6 results received; the two context windows of day 4 are one stored bucket.
    assert (report.usage_pages, report.usage_rows, report.usage_changed) == (3, 6, 5)
    assert (report.cost_pages, report.cost_rows, report.cost_changed) == (2, 7, 7)  # 5 + 1 + 1
    usage_calls = [r for r in api.requests if r.path == USAGE_PATH]
    assert [r.query.get("page") for r in usage_calls] == [None, ["page_1"], ["page_2"]]
    first = usage_calls[0].query
    assert first["starting_at"] == ["2026-11-21T00:00:00Z"]
    assert first["ending_at"] == ["2026-11-26T00:00:00Z"]
    assert first["bucket_width"] == ["1d"] and first["limit"] == ["5"]
    assert set(first["group_by[]"]) == {"model", "workspace_id", "service_tier"}
    cost_calls = [r for r in api.requests if r.path == COST_PATH]
    assert [r.query.get("page") for r in cost_calls] == [None, ["page_1"]]
    assert set(cost_calls[0].query["group_by[]"]) == {"workspace_id", "description"}
    assert all(r.headers["x-api-key"] == ADMIN_KEY for r in api.requests)
    assert all(r.headers["anthropic-version"] == "2023-06-01" for r in api.requests)
    # cents: 1.0 + 1.0 + 0.04 + 0.125 + 0.1 + 1.00 + 0.15 = 3.415 -> $0.03415
    (total,) = _rows(
        engine, "SELECT sum(amount_pusd) FROM billed_cost WHERE provider = 'anthropic'"
    )
    assert Decimal(total[0]) / 10**12 == Decimal("0.03415")
    assert progress[-1] == (1.0, "Import finished")
    assert [s for s, _m in progress] == sorted(s for s, _m in progress)


def test_counts_follow_costdesks_convention(api: FakeAnthropic, engine: Engine) -> None:
    import_days(engine, 5, config=config_for(api), now=NOW, actor=ADMIN)
    stored = _rows(
        engine,
        "SELECT provider, source, model, service_tier, batch, project_id, requests, input_tokens,"
        " cached_input_tokens, cache_write_tokens, output_tokens FROM usage_bucket"
        " ORDER BY start_time, service_tier",
    )
    assert [tuple(r[:6]) for r in stored][:2] == [
        ("anthropic", "anthropic-usage", HAIKU, "standard", False, ""),
        ("anthropic", "anthropic-usage", HAIKU, "batch", True, ""),
    ]
    # Day 1: input = 10,000 uncached + 4,000 read + 1,000 + 500 written = 15,500.
    assert stored[0][6:] == (0, 15_500, 4_000, 1_500, 2_000)
    # Day 4: 1,000 + 2,000 in and 100 + 200 out over two context windows, summed.
    assert stored[3][7:] == (3_000, 0, 0, 300)
    assert stored[4][5] == "wrkspc_a"
    lines = dict(_rows(engine, "SELECT line_item, model FROM billed_cost"))
    assert lines[f"standard | {HAIKU}, output_tokens, 0-200k"] == HAIKU
    assert lines["Web search"] == ""


def test_reimport_changes_nothing(api: FakeAnthropic, engine: Engine) -> None:
    import_days(engine, 5, config=config_for(api), now=NOW, actor=ADMIN)
    before = _rows(engine, "SELECT * FROM usage_bucket ORDER BY id")
    before += _rows(engine, "SELECT * FROM billed_cost ORDER BY id")
    again = import_days(engine, 5, config=config_for(api), now=NOW, actor=ADMIN)
    assert (again.usage_changed, again.cost_changed) == (0, 0)
    after = _rows(engine, "SELECT * FROM usage_bucket ORDER BY id")
    after += _rows(engine, "SELECT * FROM billed_cost ORDER BY id")
    assert after == before
    assert ADMIN_KEY not in json.dumps(after, default=str)


def test_429_and_529_are_retried(api: FakeAnthropic, sqlite_url: str) -> None:
    from db.engine import make_engine

    engine = make_engine(sqlite_url)
    slept: list[float] = []
    api.script(
        Reply(429, error_body("rate_limit_error", "slow down"), headers={"retry-after": "2"}),
        Reply(529, error_body("overloaded_error", "Overloaded")),
    )
    start = datetime(2026, 11, 21, tzinfo=UTC)
    report = usage_import.import_range(
        ANTHROPIC,
        engine, start, start + timedelta(days=5), api_key=ADMIN_KEY, url=api.url,  # type: ignore[attr-defined]
        sleep=slept.append, actor=ADMIN,
    )  # fmt: skip
    assert slept == [2.0, 2.0]  # retry-after, then 2**1 s backoff
    assert report.usage_pages == 3


def test_rejected_key_unreachable_host_and_no_key(
    api: FakeAnthropic, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.engine import make_engine

    engine = make_engine(sqlite_url)
    with pytest.raises(ImportFailed, match="Anthropic rejected the admin key \\(401\\)"):
        import_days(
            engine, 5, config=config_for(api, key="sk-ant-admin01-wrong"), now=NOW, actor=ADMIN
        )
    config = {ADMIN_KEY_ENV: ADMIN_KEY, BASE_URL_ENV: "http://127.0.0.1:9/v1"}.get
    with pytest.raises(ImportFailed, match="could not reach"):
        import_days(engine, 5, config=config, now=NOW, actor=ADMIN)
    monkeypatch.delenv(ADMIN_KEY_ENV, raising=False)
    with pytest.raises(NoAdminKey, match=ADMIN_KEY_ENV):
        import_days(engine, 5, config={}.get, now=NOW, actor=ADMIN)
    assert usage_import.admin_key(ANTHROPIC, {ADMIN_KEY_ENV: "  "}.get) is None


def test_a_page_it_cannot_read_is_one_clear_error(api: FakeAnthropic, sqlite_url: str) -> None:
    from db.engine import make_engine

    api.pages[USAGE_PATH] = [[bucket(DAYS[0], [usage_result(HAIKU, -5, 1)])]]
    with pytest.raises(ImportFailed, match="cannot read: uncached_input_tokens"):
        import_days(make_engine(sqlite_url), 5, config=config_for(api), now=NOW, actor=ADMIN)
    api.script(Reply(200, {"type": "message"}))
    with pytest.raises(ImportFailed, match="not a page of buckets"):
        import_days(make_engine(sqlite_url), 5, config=config_for(api), now=NOW, actor=ADMIN)
