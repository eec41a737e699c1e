"""Team mode in a real browser: sign-in through a real OpenID Connect provider (the
`oidc-provider-mock` package), then what each role sees and may change.

Seeded traffic (gpt-4o at $2.50 / $10 per million input / output tokens):
apollo-search 300 requests of 1,200 in / 300 out ($1.80), zephyr-support 200 requests of
2,000 in / 450 out ($1.90), both yesterday, and a scratch upload of apollo-search 90 days ago
(outside the default 30 days) for the administrator to delete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from db.engine import make_engine
from tests.actors import ADMIN
from tests.e2e.helpers import assert_no_errors, goto, shot, wait_idle
from tests.e2e.server import ServerError, start_app, stop_app
from tests.pgcluster import free_port

INPUT_USD_PER_MTOK = Decimal("2.50")  # gpt-4o
OUTPUT_USD_PER_MTOK = Decimal("10")
# project: (requests, input tokens, output tokens) per request
TRAFFIC = {"apollo-search": (300, 1_200, 300), "zephyr-support": (200, 2_000, 450)}
SCRATCH = "scratch.jsonl"
ADMIN_EMAIL, EDITOR_EMAIL = "admin@example.com", "editor@example.com"
VIEWER_EMAIL, SCOPED_EMAIL = "viewer@example.com", "scoped@example.com"
STRANGER_EMAIL = "stranger@elsewhere.org"
MONEY = re.compile(r"\$\s?\d")
CDN = "https://cdn.jsdelivr.net/**"
MONEY_BYTES = re.compile(rb"\$\d[\d,]*\.\d\d")  # a dollar figure inside protobuf bytes


def spend_usd(project: str) -> Decimal:
    """A project's seeded spend, by hand from its token counts and gpt-4o's prices."""
    requests, input_tokens, output_tokens = TRAFFIC[project]
    per_request = (
        input_tokens * INPUT_USD_PER_MTOK + output_tokens * OUTPUT_USD_PER_MTOK
    ) / 1_000_000
    return requests * per_request


def dollars(amount: Decimal) -> str:
    """`amount` as the dashboard prints whole cents."""
    return f"${amount:,.2f}"


def _records(project: str, day: datetime, count: int, inp: int, out: int) -> list[dict]:
    return [
        {"timestamp": (day + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
         "request_id": f"{project}-{day:%j}-{i}", "model": "gpt-4o", "input_tokens": inp,
         "output_tokens": out, "latency_ms": 500, "project": project}
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def team_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database with two projects' traffic and a scratch upload."""
    from db.ingest import ingest_records

    url = f"sqlite:///{tmp_path_factory.mktemp('team') / 'team.db'}"
    engine = make_engine(url)
    yesterday = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    for project, (count, inp, out) in TRAFFIC.items():
        records = _records(project, yesterday, count, inp, out)
        report = ingest_records(
            engine, records, source="seed", file_name=f"{project}.jsonl", actor=ADMIN
        )
        assert report.accepted == count
    old = _records("apollo-search", yesterday - timedelta(days=90), 5, 100, 10)
    assert ingest_records(engine, old, source="seed", file_name=SCRATCH, actor=ADMIN).accepted
    engine.dispose()
    make_engine.cache_clear()
    return url


@pytest.fixture(scope="module")
def provider_port() -> Iterator[int]:
    """A real OpenID Connect provider on loopback; any e-mail typed in its form signs in."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=0) as server:
        yield server.server_port


@pytest.fixture(scope="module")
def team_app(
    team_db: str, provider_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`streamlit run app.py` with sign-in and roles in its secrets file; its base URL."""
    port, folder = free_port(), tmp_path_factory.mktemp("team-app")
    secrets = folder / "secrets.toml"
    # The provider is reached as localhost, the app as 127.0.0.1: their cookies stay apart.
    secrets.write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "e2e-cookie-secret-0123456789abcdef"
client_id = "costdesk"
client_secret = "costdesk-e2e-secret"
server_metadata_url = "http://localhost:{provider_port}/.well-known/openid-configuration"

[costdesk.roles]
admins = ["{ADMIN_EMAIL}"]
editors = ["{EDITOR_EMAIL}"]
viewers = ["*@example.com"]

[costdesk.roles.projects]
"{SCOPED_EMAIL}" = ["zephyr-support"]
""")
    try:
        proc, base_url = start_app(
            team_db,
            folder / "streamlit.log",
            port=port,
            extra_args=["--secrets.files", str(secrets)],
        )
    except ServerError as exc:
        pytest.fail(str(exc))
    yield base_url
    stop_app(proc)


def record_frames(page: Page) -> list[bytes]:
    """Every websocket frame the page receives from now on (Streamlit's protobuf bytes)."""
    frames: list[bytes] = []

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda payload: frames.append(
            payload if isinstance(payload, bytes) else payload.encode()))  # fmt: skip

    page.on("websocket", on_socket)
    return frames


def leaks(frames: list[bytes]) -> list[str]:
    """Seeded project names or dollar figures found in `frames`."""
    joined = b"\n".join(frames)
    words = [*TRAFFIC, *(dollars(spend_usd(p)) for p in TRAFFIC)]
    words.append(dollars(spend_usd("apollo-search") + spend_usd("zephyr-support")))
    found = [w for w in words if w.encode() in joined]
    # "$" then digits alone also starts any 36-character string (a UUID) in protobuf
    return found + [m.group().decode() for m in MONEY_BYTES.finditer(joined)]


def sign_in(page: Page, base_url: str, email: str) -> None:
    """Log in through the provider's form as `email` and wait for the dashboard."""
    if not getattr(page, "offline_cdn", False):  # the provider's form links a CDN stylesheet
        page.route(CDN, lambda route: route.fulfill(status=200, content_type="text/css", body=""))
        page.offline_cdn = True
    goto(page, base_url)
    page.get_by_role("button", name="Log in").click()
    page.locator("input[name=sub]").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base_url}/**", wait_until="domcontentloaded")
    wait_idle(page)


def open_page(page: Page, title: str) -> None:
    """Go to a page through the sidebar (same session: no second sign-in)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    wait_idle(page)
    expect(page.locator("h1").first).to_have_text(title)


def spend_metric(page: Page):
    """The Usage page's Spend card."""
    return page.locator('[data-testid="stMetric"]').filter(has_text="Spend").first


def main_text(page: Page) -> str:
    """Everything the app shows as text, sidebar included."""
    return page.locator('[data-testid="stApp"]').inner_text()


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_a_signed_out_visitor_sees_only_log_in_and_no_figure(page: Page, team_app: str) -> None:
    frames = record_frames(page)
    for path in ("", "/usage"):  # a deep link shows the same
        goto(page, f"{team_app}{path}")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        text = main_text(page)
        assert not MONEY.search(text) and not any(p in text for p in TRAFFIC), text
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert_no_errors(page)
    assert any(b"Log in" in f for f in frames)  # the frames are read, and hold the page
    assert leaks(frames) == []
    shot(page, "sign_in_signed_out")


def test_a_viewer_reads_usage_and_cannot_change_anything(page: Page, team_app: str) -> None:
    sign_in(page, team_app, VIEWER_EMAIL)
    expect(page.get_by_text(f"Signed in as {VIEWER_EMAIL} (viewer)")).to_be_visible()
    total = spend_usd("apollo-search") + spend_usd("zephyr-support")
    expect(spend_metric(page)).to_contain_text(dollars(total), timeout=30_000)
    assert "Audit trail" not in page.locator('[data-testid="stSidebarNav"]').inner_text()

    open_page(page, "Upload logs")
    expect(page.locator('[data-testid="stFileUploader"] input[type=file]')).to_be_disabled()
    expect(page.get_by_role("button", name="Re-price all")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete upload")).to_be_disabled()
    expect(page.get_by_text("can view this page").first).to_be_visible()

    open_page(page, "Budgets & alerts")
    expect(page.get_by_text("an editor can make this change").first).to_be_visible()
    expect(page.get_by_role("button", name="Save budget")).to_have_count(0)
    assert_no_errors(page)
    shot(page, "sign_in_viewer_budgets")


def test_an_editor_saves_a_budget_and_the_admin_sees_it_in_the_audit_trail(
    page: Page, team_app: str, team_db: str
) -> None:
    from db.audit import list_events
    from db.budgets import get_budget
    from db.ingest import list_uploads

    sign_in(page, team_app, EDITOR_EMAIL)
    open_page(page, "Budgets & alerts")
    page.get_by_label("Name").fill("Editor cap")
    page.get_by_label("Monthly amount").fill("250")
    page.get_by_role("button", name="Save budget").click()
    wait_idle(page)
    assert_no_errors(page)
    engine = make_engine(team_db)
    saved = get_budget(engine, "Editor cap")
    assert saved is not None and saved.amount_usd == Decimal("250")

    open_page(page, "Upload logs")
    expect(page.locator('[data-testid="stFileUploader"] input[type=file]')).to_be_enabled()
    expect(page.get_by_role("button", name="Re-price all")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete upload")).to_be_disabled()
    expect(page.get_by_role("checkbox").first).to_be_disabled()

    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="End session").click()  # the provider's logout form
    page.wait_for_url(f"{team_app}/**", wait_until="domcontentloaded")
    wait_idle(page)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    sign_in(page, team_app, ADMIN_EMAIL)
    expect(page.get_by_text(f"Signed in as {ADMIN_EMAIL} (admin)")).to_be_visible()
    open_page(page, "Upload logs")
    page.get_by_role("button", name="Re-price all").click()
    wait_idle(page)
    expect(page.get_by_text("Re-priced 505 requests").first).to_be_visible()
    scratch = list_uploads(engine).set_index("file_name").loc[SCRATCH, "id"]
    choose(page, "Upload to delete", f"#{scratch} {SCRATCH} (5 requests)")
    page.get_by_text("Also delete its 5 requests").click()
    page.get_by_role("button", name="Delete upload").click()
    wait_idle(page)
    assert_no_errors(page)
    assert SCRATCH not in set(list_uploads(engine)["file_name"])

    open_page(page, "Audit trail")
    choose(page, "Who", EDITOR_EMAIL)
    grid = page.locator('[data-testid="stDataFrame"]').first
    saved_row = grid.locator("tr").filter(has_text="budget.save")
    expect(saved_row).to_have_count(1)
    expect(saved_row).to_contain_text(EDITOR_EMAIL)
    expect(saved_row).to_contain_text("Editor cap")
    expect(grid.locator("tr").filter(has_text="sign_in").first).to_contain_text(EDITOR_EMAIL)
    assert_no_errors(page)
    shot(page, "sign_in_audit_trail")
    trail = list_events(engine, ADMIN)
    mine = trail[trail["actor"] == ADMIN_EMAIL]
    assert {"sign_in", "reprice", "upload.delete"} <= set(mine["action"])
    (saved_after,) = trail[trail["action"] == "budget.save"]["after"]
    assert json.loads(saved_after)["amount_usd"] == "250"  # dollars, as people read them
    engine.dispose()
    make_engine.cache_clear()


def test_a_signed_in_stranger_is_not_authorised_and_sees_no_figure(
    page: Page, team_app: str
) -> None:
    frames = record_frames(page)
    sign_in(page, team_app, STRANGER_EMAIL)
    expect(page.get_by_role("heading", name="Not authorised")).to_be_visible()
    text = main_text(page)
    assert STRANGER_EMAIL in text
    assert not MONEY.search(text) and not any(p in text for p in TRAFFIC), text
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert leaks(frames) == []
    assert_no_errors(page, allow_error_boxes=True)


def test_a_project_scoped_viewer_sees_only_their_projects_spend(page: Page, team_app: str) -> None:
    frames = record_frames(page)
    sign_in(page, team_app, SCOPED_EMAIL)
    expect(page.get_by_text("You see the projects zephyr-support only.")).to_be_visible()
    expect(spend_metric(page)).to_contain_text(dollars(spend_usd("zephyr-support")), timeout=30_000)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Cost calculator" in nav and "Usage" in nav
    for hidden in ("Reconciliation", "Budgets & alerts", "Chargeback", "Upload logs",
                   "Audit trail", "Price book"):  # fmt: skip
        assert hidden not in nav
    assert "apollo-search" not in main_text(page)
    # the frames hold this project's figures (so the search works) and nothing of the other
    assert {"zephyr-support", dollars(spend_usd("zephyr-support"))} <= set(leaks(frames))
    total = spend_usd("apollo-search") + spend_usd("zephyr-support")
    assert not {"apollo-search", dollars(spend_usd("apollo-search")), dollars(total)} & set(
        leaks(frames)
    )
    assert_no_errors(page)
    shot(page, "sign_in_scoped_usage")
