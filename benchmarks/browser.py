"""进度总览 in a real browser against a bare Streamlit page with the same widgets.

Both are served by `streamlit run` in the same run (the app on the benchmark database,
benchmarks/bare_page.py with as many bars as the ranking has). Chromium opens each in a fresh
tab; the time is from the navigation to the first bar of the ranking chart drawn. Before each
load of the app one community's figure is corrected (a real upload from this process: the app
finds its caches stale and reopens the file, as after a county's Friday upload). Loads of the
two pages alternate, after one untimed load each.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR = ".js-plotly-plot .barlayer .point path"


def time_to_chart(db: Path, campaign_id: str, as_of: str, unit: str, bars: int, repeat: int,
                  timeout: float = 900) -> dict:
    """{'ours': [seconds …], 'bare': [seconds …]} from navigation to the ranking's first bar."""
    from playwright.sync_api import sync_playwright

    from enrollment.db import Store
    from enrollment.uploads import ingest
    from tests.server import CHROMIUM, CHROMIUM_ARGS, streamlit_process

    store, day = Store(db), dt.date.fromisoformat(as_of)
    with store.read() as tx:
        figure = tx.value(
            "SELECT enrolled FROM figures WHERE campaign_id = :c AND unit_code = :u "
            "AND source = 'upload' AND report_date <= :d ORDER BY report_date DESC LIMIT 1",
            {"c": campaign_id, "u": unit, "d": day}) or 0

    def load(browser, url: str) -> float:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        try:
            started = time.perf_counter()
            page.goto(url, timeout=timeout * 1000)
            page.wait_for_selector(BAR, timeout=timeout * 1000)
            seconds = time.perf_counter() - started
            if page.locator("[data-testid=stException]").count():
                raise RuntimeError("the page raised: "
                                   + page.locator("[data-testid=stException]").first.inner_text())
            return seconds
        finally:
            page.close()

    bare_log = db.with_suffix(".bare.log")
    with streamlit_process(db, start_timeout=120) as (ours_url, _), \
            streamlit_process(db, log=bare_log, start_timeout=120,
                              script=ROOT / "benchmarks" / "bare_page.py",
                              env={"BENCH_BARS": str(bars)}) as (bare_url, _):
        app = f"{ours_url}/?campaign={campaign_id}&as_of={as_of}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            load(browser, app), load(browser, bare_url)          # untimed: caches, imports
            ours, bare = [], []
            for n in range(repeat):
                body = f"单位代码,累计参保人数\r\n{unit},{figure + n + 1}\r\n".encode()
                ingest.commit(store, campaign_id, body, f"更正{n}.csv", report_date=day,
                              uploader="基准测试", accept_warnings=True, today=day)
                ours.append(load(browser, app))
                bare.append(load(browser, bare_url))
            browser.close()
    return {"ours": ours, "bare": bare}
