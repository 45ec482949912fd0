"""Friday afternoon on one server: 10 county clerks upload at the same moment from their own
sessions while 20 leaders browse 进度总览, all against one real `streamlit run` on loopback.

Every session is a real Streamlit session driven over the server's websocket protocol
(tests/streamlit_client.py: the frontend's own messages, uploads through the HTTP upload
endpoint), not a browser: thirty Chromium tabs on two cores would measure Chromium rather than
the server, and the server does the same work for both. The clerks fill in their name, choose
their file, wait for the preview, and then all press 确认上报 together; the leaders open the
overview and move between counties, tabs and weeks, a bounded number of times each. Every upload
must land exactly once, no session may see an exception, and the test prints how long the
server took to answer (per kind of step: min, median, 90th percentile, max).
"""

import asyncio
import datetime as dt
import statistics

import pytest

from enrollment import db
from enrollment.uploads import log as uploads

from .fixtures import csv_bytes
from .server import streamlit_server
from .streamlit_client import Session

pytestmark = pytest.mark.browser

CAMPAIGN = "jincheng-2022-residents"
CLERKS = 10
LEADERS = 20
VIEWS_PER_LEADER = 6
COUNTIES = ["140502", "140521", "140522", "140524", "140525", "140581"]


def _files(store, clerks: int = CLERKS, prefix: str = "县区填报员",
           base: int = 1000) -> list[tuple[str, str, bytes, dict[str, int]]]:
    """(uploader, file name, content, figures): each clerk reports a share of the townships."""
    with store.read() as con:
        towns = [t for county in COUNTIES for t in db.units.children(con, CAMPAIGN, county)]
    out = []
    for i in range(clerks):
        mine = towns[i::clerks]
        figures = {t.code: base + 37 * i + k for k, t in enumerate(mine)}
        rows = [["单位代码", "单位名称", "累计参保人数"]] + [[t.code, t.name, figures[t.code]]
                                                      for t in mine]
        out.append((f"{prefix}{i + 1:02d}", f"第{i + 1:02d}组乡镇.csv", csv_bytes(rows), figures))
    return out


def _distribution(name: str, seconds: list[float]) -> str:
    q = statistics.quantiles(seconds, n=10) if len(seconds) > 1 else seconds * 9
    return (f"{name:26} n={len(seconds):3d}  min {min(seconds):6.2f}s  median "
            f"{statistics.median(seconds):6.2f}s  p90 {q[8]:6.2f}s  max {max(seconds):6.2f}s")


async def _friday(url: str, files, leaders: int = LEADERS) -> dict:
    ready = asyncio.Event()
    waiting = []
    latencies: dict[str, list[float]] = {"upload: open page": [], "upload: name": [],
                                         "upload: file → preview": [], "upload: confirm": [],
                                         "overview: open": [], "overview: view": []}
    receipts: dict[str, str] = {}

    async def clerk(uploader: str, name: str, content: bytes, figures: dict) -> None:
        s = await Session.open(url, f"campaign={CAMPAIGN}", "upload")
        try:
            latencies["upload: open page"].append(s.runs[-1])
            latencies["upload: name"].append(await s.type("填报人", uploader))
            latencies["upload: file → preview"].append(await s.upload("选择文件", name, content))
            assert f"累计参保人数合计 {sum(figures.values()):,}" in s.text, s.text
            waiting.append(uploader)
            if len(waiting) == len(files):
                ready.set()
            await ready.wait()                       # everybody presses the button together
            latencies["upload: confirm"].append(await s.click(f"确认上报 {len(figures)} 个单位"))
            receipts[uploader] = next(line for line in s.text.splitlines() if "上报成功" in line)
        finally:
            await s.close()

    async def leader(i: int) -> None:
        county = COUNTIES[i % len(COUNTIES)]
        views = [f"&unit={county}", "&tab=明细表", f"&unit={county}&tab=上报情况", "&tab=趋势",
                 "&as_of=2021-12-17", f"&unit={county}&tab=数据质量"]
        base = f"campaign={CAMPAIGN}&as_of=2021-12-24"
        s = await Session.open(url, base)
        try:
            latencies["overview: open"].append(s.runs[-1])
            assert "进度总览" in s.text
            for k in range(VIEWS_PER_LEADER):
                s.query = base + views[(i + k) % len(views)]
                latencies["overview: view"].append(await s.run())
                assert "进度总览" in s.text
        finally:
            await s.close()

    await asyncio.gather(*(clerk(*f) for f in files), *(leader(i) for i in range(leaders)))
    return {"latencies": latencies, "receipts": receipts}


async def _one_view(url: str) -> None:
    async with await Session.open(url, f"campaign={CAMPAIGN}") as s:
        assert "进度总览" in s.text


def test_ten_uploads_at_once_while_twenty_sessions_browse(store, capsys, record_property):
    files = _files(store)
    with streamlit_server(store.target) as url:
        # A server that has served a page before, as on any Friday: a fresh one runs its first
        # sessions through Streamlit's pages-folder mode, which hid a client bug (a page hash
        # taken from the wrong message sent the clerks to the overview on a served server).
        asyncio.run(_one_view(url))
        started = dt.datetime.now()
        outcome = asyncio.run(asyncio.wait_for(_friday(url, files), timeout=300))
        elapsed = (dt.datetime.now() - started).total_seconds()
    lines = [f"{CLERKS} uploads at once, {LEADERS} sessions browsing; {elapsed:.1f} s in all"]
    lines += [_distribution(k, v) for k, v in outcome["latencies"].items()]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    record_property("latency", "\n".join(lines))

    # Every clerk got a receipt, for an upload of their own.
    assert sorted(outcome["receipts"]) == sorted(f[0] for f in files)
    numbers = {int(text.split("第 ")[1].split(" 号")[0]) for text in outcome["receipts"].values()}
    assert len(numbers) == CLERKS
    with store.read() as con:
        log = uploads.history(con, CAMPAIGN)
        stored = con.tuples("""
            SELECT u.uploader, r.unit_code, r.enrolled, r.revision FROM reports r
            JOIN uploads u ON u.id = r.upload_id WHERE r.campaign_id = :c AND r.source = 'upload'""",
            {"c": CAMPAIGN})
    # Each upload landed exactly once: one accepted upload per clerk, nothing rejected, and
    # every figure stored once, as the first revision.
    assert sorted(log["uploader"]) == sorted(f[0] for f in files)
    assert set(log["status"]) == {"accepted"} and set(log["id"]) == numbers
    expected = {(who, code, value) for who, _, _, figures in files for code, value in figures.items()}
    assert {(who, code, value) for who, code, value, _ in stored} == expected
    assert len(stored) == len(expected) and {rev for *_, rev in stored} == {1}
    assert all(len(v) for v in outcome["latencies"].values())

