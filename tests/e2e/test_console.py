"""The operator console in Debian's Chromium (Playwright) against a real `tocsin serve`
with API keys on: alerts appear and are acknowledged, `alert.url` opens the alert,
monitors, silences, the rule editor's diagnostics, save and preview, and every request
the pages make goes to the service itself.

One service and one browser for the module; each test has a fresh browser context (a
fresh session storage, so each meets the API-key prompt) and its own data (markers).
Screenshots of each page land in `test-artifacts/console/` (ignored by git).
Chromium comes from apt (`ensure_chromium`); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO_ROOT, RecordingReceiver, ServiceProcess, new_marker, wait_for

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ADMIN, INGEST = "console-admin-key", "console-ingest-key"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
EXPECT_TIMEOUT_MS = 15_000  # an alert reaches the page: evaluation + a 3 s poll
MAIN_RULES = """\
webhook "Hook" {{
  url "{url}"
}}
monitor "Sync failed" when execution.failed on flow "Sync" notify webhook "Hook" severity critical
"""
EDITOR_RULES = 'monitor "Editor demo" when execution.failed on flow "Edit" notify webhook "Hook"\n'


def ensure_chromium() -> str:
    """Debian's Chromium, installed with apt when missing; fails (never skips) without it."""
    if not Path(CHROMIUM).exists() and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(install, env=env, capture_output=True)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the console's browser tests need Debian's Chromium at {CHROMIUM}: "
                    "`apt-get install -y chromium` (as root) did not provide it", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def receiver() -> Iterator[RecordingReceiver]:
    with RecordingReceiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def service(tmp_path_factory, receiver) -> Iterator[ServiceProcess]:
    root = tmp_path_factory.mktemp("console")
    (root / "rules").mkdir()
    (root / "rules" / "main.rules").write_text(MAIN_RULES.format(url=receiver.url))
    (root / "rules" / "editor.rules").write_text(EDITOR_RULES)
    env = {"TOCSIN_API_KEYS": f"{ADMIN}:admin,{INGEST}:ingest", "TOCSIN_RULES_DIR": str(root / "rules"),
           "TOCSIN_DATA_DIR": str(root / "data")}
    with ServiceProcess(root, env, log_dir=root) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = ensure_chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-background-networking"])
        yield launched
        launched.close()


class Session:
    """A browser context on the console, recording every request and page error."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context, self.base_url = context, base_url
        self.requests: list[str] = []
        self.failures: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("requestfailed", lambda r: self.failures.append(f"{r.url}: {r.failure}"))
        self.page = self.new_page()

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda e: self.failures.append(f"page error: {e}"))
        # Chromium logs every 4xx answer as a console error; the API's 401 and 422 are
        # expected, an asset's is caught by `response` below.
        page.on("console", lambda m: self.failures.append(f"console {m.type}: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("response", lambda r: self.failures.append(f"{r.status} {r.url}")
                if r.status >= 400 and "/v1/" not in r.url else None)
        return page

    def open(self, path: str = "/", page: Page | None = None) -> Page:
        """Go to `path` and give the API key when the console asks for it."""
        page = page or self.page
        page.goto(self.base_url + path)
        dialog = page.get_by_role("dialog", name="API key needed")
        expect(dialog).to_be_visible()
        dialog.get_by_label("API key").fill(ADMIN)
        dialog.get_by_role("button", name="Use key").click()
        expect(dialog).to_be_hidden()
        return page

    def screenshot(self, name: str, page: Page | None = None) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (page or self.page).screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def session(browser, service) -> Iterator[Session]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        opened = Session(context, service.url)
        yield opened
        assert opened.failures == [], opened.failures
    finally:
        context.close()


def post_events(service: ServiceProcess, events: list[dict]) -> None:
    r = httpx.post(f"{service.url}/v1/events", json=events, headers={"Authorization": f"Bearer {INGEST}"})
    assert r.status_code == 202, r.text


def api(service: ServiceProcess, path: str, **params: str) -> dict | str:
    r = httpx.get(f"{service.url}{path}", params=params, headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    return r.json() if "json" in r.headers["content-type"] else r.text


def fire(service: ServiceProcess) -> tuple[str, dict]:
    """A new "Sync failed" alert for an instance named by a fresh marker, once stored."""
    marker = new_marker()
    post_events(service, [{"id": marker, "type": "execution.failed", "flow": "Sync", "instance": {"name": marker}}])
    found: list[dict] = []
    wait_for(lambda: found.extend(api(service, "/v1/alerts", instance=marker)["items"]) or found,
             timeout=20, message=service.log)
    return marker, found[0]


def test_a_firing_alert_appears_with_its_deliveries_and_is_acknowledged(session, service):
    page = session.open("/")
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    marker = new_marker()
    post_events(service, [{"id": marker, "type": "execution.failed", "flow": "Sync", "instance": {"name": marker}}])

    row = page.locator("table.alerts tbody tr", has_text=f"instance={marker}")
    expect(row).to_be_visible()  # no reload: the list polls
    expect(row).to_contain_text("firing")
    expect(row).to_contain_text("critical")
    row.get_by_role("link", name="Sync failed").click()

    detail = page.locator("section.detail")
    expect(detail.get_by_role("heading", name="Sync failed")).to_be_visible()
    expect(detail.locator("tr.delivery[data-state='sent']")).to_contain_text("Hook")
    expect(detail.locator("table.context")).to_contain_text(marker)  # the stored event itself
    session.screenshot("alerts")

    detail.get_by_label("Your name").fill("ana")
    detail.get_by_label("Comment").fill(f"looking {marker}")
    detail.get_by_role("button", name="Acknowledge").click()
    expect(detail.locator("dl.summary")).to_contain_text("by ana")
    expect(detail.locator("dl.summary")).to_contain_text(f"looking {marker}")
    [alert] = api(service, "/v1/alerts", instance=marker)["items"]
    assert alert["acknowledged"] is True and alert["acknowledged_by"] == "ana"
    assert alert["comment"] == f"looking {marker}"
    session.screenshot("alert-acknowledged")

    page.get_by_label("Acknowledged").select_option("true")
    page.get_by_label("Instance").fill(marker)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.alerts tbody tr")).to_have_count(1)
    assert re.search(r"acknowledged=true", page.url) and marker in page.url


def test_alert_url_opens_the_alert_in_the_console(session, service, receiver):
    marker, alert = fire(service)
    bodies: list[dict] = []
    wait_for(lambda: bodies.extend(r.body for r in receiver.requests if marker in str(r.body)) or bodies,
             timeout=20, message=service.log)
    url = bodies[0]["url"]
    assert url == f"{service.url}/alerts/{alert['id']}"
    assert api(service, f"/v1/alerts/{alert['id']}")["id"] == alert["id"]  # the JSON stays at /v1

    page = session.open(url.removeprefix(service.url))
    assert page.url == f"{service.url}/#/alerts/{alert['id']}"
    detail = page.locator("section.detail")
    expect(detail.get_by_role("heading", name="Sync failed")).to_be_visible()
    expect(detail.locator("dl.summary")).to_contain_text(f"instance={marker}")


def test_monitors_show_state_place_trigger_targets_and_open_alerts(session, service):
    fire(service)
    page = session.open("/#/monitors")
    row = page.locator("tr[data-monitor='Sync failed']")
    expect(row.get_by_role("link", name="main.rules:4")).to_be_visible()
    expect(row).to_contain_text("execution.failed")
    expect(row).to_contain_text("webhook:Hook")
    expect(row.locator("td").first).to_have_text(re.compile(r"ok|pending|firing|error"))
    expect(row.locator("td.num a")).to_have_text(re.compile(r"[1-9]\d*"))
    expect(page.locator("tr[data-monitor='Editor demo']")).to_contain_text("editor.rules:1")
    session.screenshot("monitors")
    row.get_by_role("link", name="main.rules:4").click()
    expect(page.locator("textarea#rule-text")).to_be_focused()


def test_a_silence_is_created_listed_and_expired(session, service):
    marker = new_marker()
    page = session.open("/#/silences")
    form = page.locator("form.silence-form")
    form.get_by_label("Label").fill("monitor")
    form.get_by_label("Value").fill(f"Nothing {marker}")
    form.get_by_role("button", name="Add matcher").click()
    form.get_by_label("Label").nth(1).fill("flow")
    form.get_by_label("Value").nth(1).fill("Sync")
    form.get_by_label("Duration").fill("2h")
    form.get_by_label("Comment").fill(f"maintenance {marker}")
    form.get_by_role("button", name="Create silence").click()

    row = page.locator("table.silences tbody tr", has_text=f"maintenance {marker}")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(f"monitor=Nothing {marker}")
    expect(row).to_contain_text("flow=Sync")
    [silence] = [s for s in api(service, "/v1/silences")["items"] if s["comment"] == f"maintenance {marker}"]
    assert silence["matchers"] == {"monitor": f"Nothing {marker}", "flow": "Sync"} and silence["active"]
    session.screenshot("silences")

    row.get_by_role("button", name=re.compile("Expire")).click()
    expect(page.locator("#live")).to_contain_text(f"Silence {silence['id']} expired.")
    expect(row).to_have_count(0)  # DELETE /v1/silences/{id} removes it
    assert not [s for s in api(service, "/v1/silences", all="true")["items"] if s["id"] == silence["id"]]


def test_the_editor_marks_an_error_at_its_line_refuses_to_save_it_and_saves_the_fix(session, service):
    page = session.open("/#/rules/editor.rules")
    area = page.locator("textarea#rule-text")
    expect(area).to_have_value(EDITOR_RULES)
    expect(page.locator("#diagnostics")).to_have_text("No problems.")

    area.fill('# edited in the browser\nmonitor "Editor demo" when execution.failed on flow "Edit"\n')
    area.press("Control+End")
    area.press_sequentially('  notfy webhook "Hook"')  # typed: linted while typing, debounced

    mark = page.locator("mark.diag")
    expect(mark).to_have_count(1)
    expect(mark).to_have_attribute("data-line", "3")
    expect(mark).to_have_attribute("data-column", "3")
    expect(mark).to_have_text("notfy")
    expect(page.locator("#diagnostics li")).to_contain_text("line 3, column 3")
    expect(page.locator("#diagnostics li")).to_contain_text("E001")
    # Drawn on the third line of the text: 20 px lines below the textarea's padding.
    area_box, mark_box = area.bounding_box(), mark.bounding_box()
    line_top = area_box["y"] + 8 + 2 * 20
    assert line_top - 4 <= mark_box["y"] <= line_top + 4, (area_box, mark_box)
    session.screenshot("editor-diagnostic")

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".save-status")).to_contain_text("Not saved")
    assert api(service, "/v1/rules/editor.rules") == EDITOR_RULES

    fixed = '# edited in the browser\nmonitor "Editor demo" when execution.failed on flow "Edit"\n  notify webhook "Hook"\n'
    area.fill(fixed)
    expect(page.locator("#diagnostics")).to_have_text("No problems.")
    expect(page.locator("mark.diag")).to_have_count(0)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".save-status")).to_contain_text("Saved: rule set version")
    assert api(service, "/v1/rules/editor.rules") == fixed
    session.screenshot("editor-saved")


def test_the_editor_previews_a_monitors_notification(session, service):
    page = session.open("/#/rules/main.rules")
    preview = page.locator("form.preview")
    preview.get_by_label("Monitor").select_option("Sync failed")
    preview.get_by_label("Events (JSON array)").fill(
        '[{"type": "execution.failed", "flow": "Sync", "instance": {"name": "Preview Co"}}]')
    preview.get_by_role("button", name="Render preview").click()
    notification = preview.locator("section.notification")
    expect(notification).to_contain_text("webhook → Hook")
    expect(notification).to_contain_text('"monitor": "Sync failed"')
    expect(notification).to_contain_text('"name": "Preview Co"')
    session.screenshot("editor-preview")


def test_the_console_and_the_api_docs_load_everything_from_the_service(session, service):
    page = session.open("/")
    for name, heading in [("Monitors", "Monitors"), ("Silences", "Silences"), ("Rule editor", "Rule editor"),
                          ("Backtest", "Backtest"), ("Alerts", "Alerts")]:
        page.get_by_role("navigation", name="Console pages").get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Backtest")).to_be_visible()
    page.goto(service.url + "/#/backtest")
    expect(page.get_by_role("button", name="Run backtest")).to_be_visible()
    session.screenshot("backtest")

    page.get_by_role("link", name="API docs").click()  # same tab: the console's key rides along
    docs = page
    expect(docs.locator(".opblock").first).to_be_visible()
    expect(docs.get_by_text("/v1/alerts/{id}/context", exact=True)).to_be_visible()
    session.screenshot("docs", docs)

    assert session.requests, "no request recorded"
    foreign = [u for u in session.requests if not u.startswith(service.url + "/") and not u.startswith("data:")]
    assert foreign == [], foreign
    loaded = {u.removeprefix(service.url) for u in session.requests}
    assert {"/", "/console/app.js", "/console/console.css", "/docs", "/docs/assets/swagger-ui-bundle.js",
            "/openapi.json"} <= loaded, loaded


def test_the_page_and_its_assets_need_no_key_but_the_data_does(service):
    for path in ("/", "/console/app.js", "/console/console.css", "/docs", "/docs/assets/swagger-ui.css"):
        r = httpx.get(service.url + path)
        assert r.status_code == 200, (path, r.status_code)
    page = httpx.get(service.url + "/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(service.url + "/v1/alerts").status_code == 401
    assert httpx.get(service.url + "/openapi.json").status_code == 401
    assert httpx.get(service.url + "/console/nope.js").status_code == 404
    assert httpx.get(service.url + "/console/..%2Fapp.py").status_code == 404
    redirect = httpx.get(service.url + "/alerts/abc123")
    assert redirect.status_code == 302 and redirect.headers["location"] == "/#/alerts/abc123"
