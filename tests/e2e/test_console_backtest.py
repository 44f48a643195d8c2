"""The console's Backtest page in Debian's Chromium against a real `tocsin serve` (API keys
on): a saved monitor over stored events of a range, the timeline and the alert events.
The browser helpers are test_console.py's; the screenshot lands in test-artifacts/console/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_console import ADMIN, INGEST, Session, ensure_chromium
from tests.support.processes import ServiceProcess, keyed_service

from playwright.sync_api import Browser, expect, sync_playwright  # noqa: E402  (after test_console's env)

RULES = 'monitor "Bursts" when count(login.failed) > 2 over 1m notify email "ops@example.com" severity critical\n'
EVENTS = [{"id": f"b{i}", "type": "login.failed", "time": f"2026-01-01T00:00:{s:02d}Z", "instance": {"id": "a"}}
          for i, s in enumerate((0, 10, 20))]


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[ServiceProcess]:
    with keyed_service(tmp_path_factory.mktemp("console-backtest"), RULES, EVENTS, admin=ADMIN, ingest=INGEST, env={"TZ": "UTC"}) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=ensure_chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-background-networking"])
        yield launched
        launched.close()


def test_a_backtest_of_a_saved_monitor_shows_its_timeline(browser, service):
    expect.set_options(timeout=15_000)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    try:
        session = Session(context, service.url)
        page = session.open("/#/backtest")
        expect(page.get_by_role("heading", name="Backtest", exact=True)).to_be_visible()
        page.get_by_label("Monitor", exact=True).select_option("Bursts")
        page.get_by_label("From", exact=True).fill("2026-01-01T00:00")
        page.get_by_label("To", exact=True).fill("2026-01-01T01:00")
        page.get_by_role("button", name="Run backtest").click()
        expect(page.get_by_role("heading", name="2 alert events from 3 stored events")).to_be_visible()
        bar = page.get_by_role("img", name="Bursts")
        expect(bar).to_have_attribute(
            "aria-label", "Bursts —: fired 2026-01-01T00:00:20.000Z, resolved 2026-01-01T00:01:00.000Z")
        assert bar.evaluate("b => b.style.left") == "0.556%"  # 00:00:20 of the hour: its place on the track
        rows = page.locator("table.backtest-events tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("fired")
        expect(rows.nth(1)).to_contain_text("resolved")
        session.screenshot("backtest")
        assert session.failures == [], session.failures
    finally:
        context.close()
