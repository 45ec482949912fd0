"""Stored Markdown injection in a real browser: a campaign named `![i](http://127.0.0.1:PORT/…)`,
an account whose full name carries an image, a colour directive, LaTeX, an emoji code and
HTML, and a rejected upload whose unit cell is an image. Chromium opens the pages of a real `streamlit run` server;
a listener on PORT and Playwright's request log must see no request for the images, and the
names must read exactly as typed. Screenshot: /tmp/injection-overview.png."""

import datetime as dt
import http.server
import threading

import pytest
from playwright.sync_api import sync_playwright

from enrollment.campaigns import regions
from enrollment.identity import accounts
from enrollment.uploads import ingest

from .fixtures import NOW, TODAY, csv_bytes
from .server import CHROMIUM, CHROMIUM_ARGS, free_port, settle, streamlit_server

pytestmark = pytest.mark.browser


class Trap(http.server.BaseHTTPRequestHandler):
    """Records every request it gets (there must be none)."""
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the standard library's name
        Trap.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def trap():
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Trap)
    Trap.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def test_hostile_names_fetch_nothing_in_the_browser(store, trap, tmp_path):
    base = f"http://127.0.0.1:{trap}"
    campaign_name = f"![i]({base}/campaign.png)"
    full_name = f"![f]({base}/f) :red[红] $x$ :smile: <b>b</b>"
    unit_cell = f"![u]({base}/unit.png)"
    definition = regions.define(id="hostile-2022-residents", name=campaign_name,
                                region_code="140522", levels="township",
                                start=dt.date(2021, 9, 1), end=dt.date(2021, 12, 25))
    regions.create(store, definition, actor="测试")
    accounts.create(store, "admin", "admin", "admin-pass-12", full_name=full_name)
    with pytest.raises(ingest.UploadRejected):
        ingest.commit(store, definition.id, csv_bytes([["单位", "累计参保人数"], [unit_cell, 5]]),
                      "坏表.csv", report_date=dt.date(2021, 11, 19), uploader="admin", now=NOW,
                      today=TODAY)
    requested = []
    with streamlit_server(store.target, log=tmp_path / "server.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 1400}).new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{url}/?campaign={definition.id}")
        settle(page, "忘记密码")
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill("admin-pass-12")
        page.get_by_role("button", name="登录").click()
        settle(page, "进度总览")
        page.screenshot(path="/tmp/injection-overview.png", full_page=True)
        assert not [u for u in requested if str(trap) in u], requested
        text = page.inner_text("body")
        assert campaign_name in text                         # the caption, as typed
        assert f"{full_name}（admin）" in page.inner_text("[data-testid=stSidebar]")
        page.goto(f"{url}/upload?campaign={definition.id}")
        settle(page, "上报记录")
        page.get_by_role("combobox", name="查看某次上报的详情").click()
        page.get_by_role("option").first.click()
        detail = page.locator("[data-testid=stMarkdownContainer] li").filter(has_text="未知单位")
        detail.first.wait_for(timeout=60_000)
        settle(page)
        assert unit_cell in detail.first.inner_text()          # the stored message, as text
        images = page.eval_on_selector_all("img", "els => els.map(e => e.src)")
        browser.close()
    assert not [u for u in requested if str(trap) in u], requested
    assert not [s for s in images if str(trap) in s], images
    assert Trap.hits == []
