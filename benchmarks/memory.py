"""Peak memory of the app process: a real `streamlit run` on the benchmark database, driven by
Chromium through the pages a leader opens (the overview of the top unit, its 明细表, one
county), read from the kernel's high-water mark (VmHWM in /proc/PID/status)."""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def peak_rss(db: Path, campaign_id: str, as_of: str, county: str,
             timeout: float = 900) -> dict:
    """{'idle_mb': RSS after start-up, 'peak_mb': high-water mark after the pages, 'seconds': …}."""
    from playwright.sync_api import sync_playwright

    from tests.server import CHROMIUM, CHROMIUM_ARGS, streamlit_process, wait_for_app

    with streamlit_process(db, start_timeout=120) as (url, proc):
        idle = _kib(proc.pid, "VmRSS")
        started = time.perf_counter()
        base = f"{url}/?campaign={campaign_id}&as_of={as_of}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            for path in ("", "&tab=明细表", f"&unit={county}", f"&unit={county}&tab=明细表"):
                page.goto(base + path, timeout=timeout * 1000)
                wait_for_app(page, timeout=timeout * 1000)
                errors = page.locator("[data-testid=stException]")
                if errors.count():
                    raise RuntimeError(f"the page raised: {errors.first.inner_text()}")
            browser.close()
        return {"idle_mb": idle / 1024, "peak_mb": _kib(proc.pid, "VmHWM") / 1024,
                "seconds": time.perf_counter() - started}
