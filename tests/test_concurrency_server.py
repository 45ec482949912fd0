"""The app server and the CLI share one database file: both work at the same time.

A real `streamlit run` serves the overview (a browser reloads it again and again, so the server
keeps opening the file) while the CLI ingests three reports into the same file. Every ingest must
succeed (waiting a bounded time for the file), the page must never show an error, and afterwards
it shows the ingested figures.
"""

import subprocess
import sys
import threading

import pytest
from playwright.sync_api import sync_playwright

from .fixtures import ROOT, csv_bytes
from .server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_exception,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser

FIGURES = [("2021-11-05", 250000), ("2021-11-12", 260000), ("2021-11-19", 270123)]


def test_cli_ingest_while_the_app_is_serving(store, tmp_path):
    files = []
    for day, value in FIGURES:
        path = tmp_path / f"{day}.csv"
        path.write_bytes(csv_bytes([["单位", "累计参保人数"], ["泽州县", value], ["城区", value // 2]]))
        files.append((day, path))
    results: list[subprocess.CompletedProcess] = []

    def ingest_all():
        for day, path in files:
            results.append(subprocess.run(
                [sys.executable, "-m", "enrollment", "--db", store.target, "ingest", str(path),
                 "--campaign", "jincheng-2022-residents", "--report-date", day,
                 "--uploader", "并发测试"],
                cwd=ROOT, capture_output=True, text=True, timeout=120))

    with streamlit_server(store.target) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url}/?campaign=jincheng-2022-residents&as_of=2021-11-19")
        wait_for_app(page)
        worker = threading.Thread(target=ingest_all)
        worker.start()
        reloads = 0
        while worker.is_alive() or reloads < 3:
            page.reload()
            wait_for_app(page)
            assert_no_exception(page)
            reloads += 1
        worker.join()
        for result in results:
            assert result.returncode == 0, result.stderr
            assert "已接收" in result.stdout
        page.reload()
        wait_for_app(page)
        assert_no_exception(page)
        page.locator("[data-testid=stMetric]").first.wait_for()
        text = page.inner_text("body")
        browser.close()
    assert "进度总览" in text
    assert "数据来源：各单位每周上报" in text
    assert f"{270123 + 270123 // 2:,}" in text      # the headline total includes the last ingest
    assert len(results) == 3 and reloads >= 3
