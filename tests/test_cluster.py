"""Several app servers on one PostgreSQL database behind nginx: scripts/serve-cluster.sh with two
real `streamlit run` servers, real nginx and a PostgreSQL server of this module's own (started
with scripts/pg-temp.sh, so that restarting it disturbs no other test).

(a) an upload on server A is seen by a view on server B at its next run (the data version is
a row of the shared database); (b) 20 uploads at once through nginx, spread over both servers,
while 20 sessions browse: every upload once, no session error, latencies printed;
(d) PostgreSQL restarted during a view: the page says in Chinese that the database is briefly
unavailable and comes back by itself; (c) one server killed with SIGKILL during the load: the
other keeps serving and nothing committed is lost.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from enrollment.db import Store, postgres
from enrollment.uploads import log as uploads

from .fixtures import ROOT
from .server import CHROMIUM, CHROMIUM_ARGS, free_port
from .streamlit_client import ScriptError, Session
from .test_load import CAMPAIGN, _distribution, _files, _friday

pytestmark = pytest.mark.browser
PG_TEMP = ROOT / "scripts" / "pg-temp.sh"


@dataclass
class Cluster:
    url: str                       # nginx
    servers: list[tuple[str, int]]   # (direct URL, pid) of each app server
    database: str
    pg_folder: Path
    work: Path
    process: subprocess.Popen

    def upstreams(self) -> Counter:
        """Requests nginx sent to each app server so far (from its access log)."""
        log = (self.work / "nginx-access.log").read_text(errors="replace")
        return Counter(re.findall(r"upstream=(127\.0\.0\.1:\d+)", log))


def _two_free_ports() -> int:
    for _ in range(50):
        first = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first
    raise RuntimeError("no two free ports")


def _healthy(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Cluster:
    folder = tmp_path_factory.mktemp("cluster")
    # The server runs as the postgres user: its folder in /tmp, not under pytest's private one.
    pg_folder = Path(tempfile.mkdtemp(prefix="enrollment-cluster-pg-")) / "server"
    admin = subprocess.run([str(PG_TEMP), "start", str(pg_folder)], check=True, text=True,
                           capture_output=True).stdout.strip()
    database = urlsplit(admin)._replace(path="/enrollment").geturl()
    import psycopg

    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("CREATE DATABASE enrollment")
    port, first = free_port(), _two_free_ports()
    env = {**os.environ, "ENROLLMENT_DB": database, "PORT": str(port), "ADDRESS": "127.0.0.1",
           "FIRST_PORT": str(first), "WORK": str(folder / "work"), "SERVERS": "2"}
    env.pop("ENROLLMENT_SECRET_FILE", None)
    log = open(folder / "cluster.log", "wb")
    process = subprocess.Popen([str(ROOT / "scripts" / "serve-cluster.sh")], env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _healthy(url)
        lines = (folder / "work" / "servers").read_text().split("\n")
        servers = [(f"http://127.0.0.1:{p}", int(pid))
                   for p, pid in (line.split() for line in lines if line.strip())]
        for server, _ in servers:
            _healthy(server)
        yield Cluster(url, servers, database, pg_folder, folder / "work", process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        postgres.close_pool(database)
        subprocess.run([str(PG_TEMP), "stop", str(pg_folder)])
        shutil.rmtree(pg_folder.parent, ignore_errors=True)


async def _upload(url: str, uploader: str, name: str, content: bytes, units: int) -> str:
    async with await Session.open(url, f"campaign={CAMPAIGN}", "upload") as s:
        await s.type("填报人", uploader)
        await s.upload("选择文件", name, content)
        await s.click(f"确认上报 {units} 个单位")
        return next(line for line in s.text.splitlines() if "上报成功" in line)


def test_an_upload_on_one_server_is_seen_by_a_view_on_the_other(cluster):
    (server_a, _), (server_b, _) = cluster.servers
    [(uploader, name, content, figures)] = _files(Store(cluster.database), clerks=1,
                                                  prefix="甲服务器填报员")
    total = f"{sum(figures.values()):,}"

    async def scenario() -> tuple[str, str, float]:
        view = await Session.open(server_b, f"campaign={CAMPAIGN}&as_of=2021-12-25")   # uploads default to the last day
        try:
            before = view.text
            await _upload(server_a, uploader, name, content, len(figures))
            uploaded = time.perf_counter()
            while True:                         # the leader's next page run on server B
                await view.run()
                if total in view.text or time.perf_counter() - uploaded > 5:
                    return before, view.text, time.perf_counter() - uploaded
                await asyncio.sleep(0.2)
        finally:
            await view.close()

    before, after, seconds = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert total not in before
    assert total in after, after
    print(f"\nserver B showed server A's upload {seconds:.2f} s after its receipt")


def test_twenty_uploads_over_two_servers_while_twenty_sessions_browse(cluster, capsys,
                                                                      record_property):
    store = Store(cluster.database)
    files = _files(store, clerks=20, prefix="集群")
    before = cluster.upstreams()
    started = time.perf_counter()
    outcome = asyncio.run(asyncio.wait_for(_friday(cluster.url, files, leaders=20), timeout=600))
    elapsed = time.perf_counter() - started
    spread = cluster.upstreams() - before
    lines = [f"20 uploads at once through nginx over two servers, 20 sessions browsing; "
             f"{elapsed:.1f} s in all; requests per server: "
             + ", ".join(f"{k} {v}" for k, v in sorted(spread.items()))]
    lines += [_distribution(k, v) for k, v in outcome["latencies"].items()]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    record_property("latency", "\n".join(lines))

    assert len(spread) == 2, spread                # both servers served sessions
    assert sorted(outcome["receipts"]) == sorted(f[0] for f in files)
    with store.read() as con:
        log = uploads.history(con, CAMPAIGN)
        stored = con.tuples("""
            SELECT u.uploader, r.unit_code, r.enrolled, r.revision FROM reports r
            JOIN uploads u ON u.id = r.upload_id
            WHERE r.campaign_id = :c AND r.source = 'upload' AND u.uploader LIKE '集群%'""",
            {"c": CAMPAIGN})
    mine = log[log["uploader"].str.startswith("集群")]
    assert sorted(mine["uploader"]) == sorted(f[0] for f in files)
    assert set(mine["status"]) == {"accepted"}
    expected = {(who, code, value) for who, _, _, figures in files for code, value in figures.items()}
    assert {(who, code, value) for who, code, value, _ in stored} == expected
    assert len(stored) == len(expected)


def test_a_database_restart_during_a_view_is_explained_and_the_page_recovers(cluster, shots):
    from playwright.sync_api import expect, sync_playwright

    from .server import wait_for_app

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{cluster.url}/?campaign={CAMPAIGN}&as_of=2021-11-19")
        wait_for_app(page)
        expect(page.get_by_text("进度总览").first).to_be_visible(timeout=60_000)
        subprocess.run([str(PG_TEMP), "stop", str(cluster.pg_folder)], check=True)
        try:
            page.get_by_role("tab", name="明细表").click()    # the view runs again: no server
            expect(page.get_by_text("数据库暂时无法连接，正在重试").first).to_be_visible(timeout=30_000)
            page.screenshot(path=shots / "cluster-database-away.png")
        finally:
            subprocess.run([str(PG_TEMP), "start", str(cluster.pg_folder)], check=True,
                           capture_output=True)
        # Nobody touches the page: it runs again by itself until the server is back.
        expect(page.get_by_text("数据库暂时无法连接，正在重试")).to_have_count(0, timeout=60_000)
        expect(page.get_by_text("进度总览").first).to_be_visible(timeout=30_000)
        page.screenshot(path=shots / "cluster-database-back.png")
        browser.close()


def test_a_killed_server_leaves_the_other_serving_and_loses_nothing(cluster):
    (server_a, _), (server_b, pid_b) = cluster.servers
    store = Store(cluster.database)
    files = _files(store, clerks=10, prefix="断电", base=5000)
    outcomes: dict[str, object] = {}

    async def clerk(url: str, uploader: str, name: str, content: bytes, figures: dict) -> None:
        try:
            outcomes[uploader] = await _upload(url, uploader, name, content, len(figures))
        except (ScriptError, OSError, asyncio.TimeoutError, Exception) as exc:   # B's sessions
            outcomes[uploader] = exc

    async def scenario() -> None:
        tasks = [asyncio.create_task(clerk(server_a if i % 2 == 0 else server_b, *f))
                 for i, f in enumerate(files)]
        await asyncio.sleep(1.5)
        os.kill(pid_b, signal.SIGKILL)                    # server B dies mid-load
        await asyncio.gather(*tasks)

    asyncio.run(asyncio.wait_for(scenario(), 300))
    on_a = [f[0] for i, f in enumerate(files) if i % 2 == 0]
    # Server A served every one of its clerks to the end.
    assert all(isinstance(outcomes[who], str) and "上报成功" in outcomes[who] for who in on_a), \
        {who: outcomes[who] for who in on_a}
    # nginx sends new sessions to the server that is left.
    async def fresh_view() -> str:
        async with await Session.open(cluster.url, f"campaign={CAMPAIGN}&as_of=2021-11-19") as s:
            return s.text
    assert "进度总览" in asyncio.run(asyncio.wait_for(fresh_view(), 120))
    # Nothing committed is lost and nothing is half-written: every upload that got a receipt
    # is stored with all its figures; every stored upload of these clerks is whole.
    by_name = {f[0]: f[3] for f in files}
    with store.read() as con:
        stored = con.tuples("""
            SELECT u.uploader, r.unit_code, r.enrolled FROM reports r
            JOIN uploads u ON u.id = r.upload_id
            WHERE r.campaign_id = :c AND u.uploader LIKE '断电%'""", {"c": CAMPAIGN})
    landed: dict[str, dict[str, int]] = {}
    for who, code, value in stored:
        landed.setdefault(who, {})[code] = value
    for who, figures in by_name.items():
        if isinstance(outcomes[who], str):
            assert landed.get(who) == figures, who
        if who in landed:
            assert landed[who] == figures, who
