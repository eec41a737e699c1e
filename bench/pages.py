"""Every dashboard page in a real browser: time until Streamlit is idle, fresh and after a click.

For each database (the demo data of `cli.py demo`, then the stored databases of
`bench/store.py`, by default 1M requests) it starts `streamlit run app.py` and Debian's Chromium
through Playwright (`tests/e2e/server.py`, as the browser tests do) and times every page the
sidebar lists, twice each way:

- fresh: a new tab opens the page's URL (a new Streamlit session); from navigation start;
- click: in an open session, a click on the page's sidebar link; from the click.

The time ends at the last change to the page once Streamlit is idle: the script run is over,
charts and tables have drawn and the page stayed still for 400 ms (`tests/e2e/helpers.py`).
"cold" is the first visit of a page on a new server (its cached loaders empty; each way has a
server of its own), "warm" the median of `--runs` visits after it. Targets on the 1M database:
idle in under 1.5 s after a click and under 3 s fresh (cold).

    .venv/bin/python bench/pages.py [--sizes 1000000] [--backends sqlite postgresql] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store import ROOT, add_arguments, backend_urls, sizes_for, stored_url

from tests.e2e.helpers import errors_on_page, wait_idle
from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app

CLICK_TARGET_MS = 1500.0
FRESH_TARGET_MS = 3000.0
# The helpers' quiet-DOM observer, installed when the document starts so that it sees every
# change from navigation start; a capture listener notes when a click happened.
WATCH = """
window.__cdLast = performance.now();
window.__cdObserver = new MutationObserver(() => { window.__cdLast = performance.now(); });
window.__cdObserver.observe(document, {subtree: true, childList: true, attributes: true,
                                       characterData: true});
document.addEventListener('click', () => { window.__cdClick = performance.now(); }, true);
"""
LINKS = """() => [...document.querySelectorAll('[data-testid="stSidebarNavLink"]')]
  .map(a => [a.getAttribute('href'), a.innerText.split('\\n').pop().trim()])"""


@contextmanager
def app(db_url: str, log: Path) -> Iterator[str]:
    """A Streamlit server on `db_url` while in use; yields its base URL."""
    proc, base_url = start_app(db_url, log)
    try:
        yield base_url
    finally:
        stop_app(proc)


def settled_ms(page, since: str) -> float:
    """Wait until idle; ms from `since` (a JS expression) to the page's last change."""
    wait_idle(page)
    problems = errors_on_page(page)
    if problems:
        print(f"  ! {page.url}: {problems[0][:200]}", file=sys.stderr)
    return page.evaluate(f"() => window.__cdLast - ({since})")


def fresh_ms(context, url: str) -> float:
    """Open `url` in a new tab; ms from navigation start until idle."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit")
        return settled_ms(page, "0")
    finally:
        page.close()


def click_ms(page, href: str) -> float:
    """Click the sidebar link to `href`; ms from the click until idle."""
    page.locator(f'[data-testid="stSidebarNavLink"][href="{href}"]').click()
    page.wait_for_function("(href) => location.pathname === new URL(href).pathname", arg=href)
    return settled_ms(page, "window.__cdClick")


def time_fresh(browser, db_url: str, log: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Per page: (cold, warm) ms of a fresh load, on a server of its own."""
    with app(db_url, log) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(WATCH)
        links = sidebar_links(context, base)
        found = {}
        for href, title in links:
            cold = fresh_ms(context, href)
            found[title] = (cold, statistics.median(fresh_ms(context, href) for _ in range(runs)))
        context.close()
    return found


def time_clicks(browser, db_url: str, log: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Per page: (cold, warm) ms after a sidebar click, on a server of its own; the session
    starts on the price book (no stored traffic read), then visits every page in turn."""
    with app(db_url, log) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(f"{base}/prices", wait_until="commit")
        wait_idle(page)
        links = page.evaluate(LINKS)
        order = [link for link in links if not link[0].endswith("/prices")] + [
            link for link in links if link[0].endswith("/prices")
        ]
        cold = {title: click_ms(page, href) for href, title in order}
        warm: dict[str, list[float]] = {title: [] for _, title in order}
        for _ in range(runs):
            for href, title in order:
                warm[title].append(click_ms(page, href))
        context.close()
    return {title: (cold[title], statistics.median(warm[title])) for _, title in links}


def sidebar_links(context, base: str) -> list[tuple[str, str]]:
    """(href, title) of every page the sidebar lists."""
    page = context.new_page()
    page.goto(f"{base}/prices", wait_until="commit")
    wait_idle(page)
    links = [tuple(link) for link in page.evaluate(LINKS)]
    page.close()
    return links


def demo_url(cache: Path) -> str:
    """A SQLite file of `cli.py demo` data, made anew (its days end today)."""
    path = cache / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    subprocess.run([sys.executable, "cli.py", "demo", "--db", url], cwd=ROOT, check=True)
    return url


def print_table(label: str, fresh: dict, click: dict) -> int:
    """One Markdown table of a database's pages; returns how many cold times miss a target."""
    print(f"\nPages on {label}: ms until idle (targets: click < {CLICK_TARGET_MS:.0f}, "
          f"fresh < {FRESH_TARGET_MS:.0f})\n")  # fmt: skip
    print("| page | fresh, cold | fresh, warm | click, cold | click, warm |")
    print("|---|---:|---:|---:|---:|")
    missed = 0
    for title in fresh:
        over_fresh = fresh[title][0] >= FRESH_TARGET_MS
        over_click = click[title][0] >= CLICK_TARGET_MS
        missed += over_fresh + over_click
        cells = [
            f"{fresh[title][0]:.0f}" + (" (over)" if over_fresh else ""),
            f"{fresh[title][1]:.0f}",
            f"{click[title][0]:.0f}" + (" (over)" if over_click else ""),
            f"{click[title][1]:.0f}",
        ]
        print(f"| {title} | {' | '.join(cells)} |")
    return missed


def main() -> None:
    """Time every page on the demo data and on each stored database."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(sizes=[1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-demo", action="store_true", help="skip the demo data")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    missed = {}
    with backend_urls(args.backends, args.pg_url, args.cache) as bases, sync_playwright() as pw:
        databases = {} if args.no_demo else {"demo data (sqlite)": demo_url(args.cache)}
        for backend in args.backends:
            for size in sizes_for(backend, args):
                url = stored_url(size, bases[backend], seed=args.seed, cache=args.cache)
                databases[f"{size:,} requests ({backend})"] = url
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for label, url in databases.items():
            log = args.cache / "streamlit.log"
            click = time_clicks(browser, url, log, args.runs)
            fresh = time_fresh(browser, url, log, args.runs)
            missed[label] = print_table(label, fresh, click)
        browser.close()
    print("\n" + ", ".join(f"{label}: {n} over target" for label, n in missed.items()))


if __name__ == "__main__":
    main()
