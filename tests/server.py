"""A real `streamlit run` server on a free loopback port, for browser and concurrency tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .fixtures import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_process(db: Path | str, env: dict[str, str] | None = None, log: Path | None = None,
                      start_timeout: float = 60, script: Path | None = None,
                      ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve dashboard.py (or `script`) against the database (a file or a URL); yields (base URL,
    process); stops it after."""
    port = free_port()
    if log is None:
        log = (Path(db).with_suffix(".server.log") if not str(db).startswith("postgresql://")
               else Path(tempfile.mkdtemp(prefix="enrollment-server-")) / "server.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script or ROOT / "dashboard.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "ENROLLMENT_DB": str(db), **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def streamlit_server(db: Path | str, env: dict[str, str] | None = None,
                     log: Path | None = None) -> Iterator[str]:
    """Serve dashboard.py against the database; yields the base URL; stops the server after."""
    with streamlit_process(db, env, log) as (url, _):
        yield url


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Until the script run has finished and no skeleton or spinner is left.

    After a click the rerun starts a moment later: give it that moment before looking.
    """
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid=stApp]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid=stSkeleton]')
                && !document.querySelector('[data-testid=stSpinner]');
        }""", timeout=timeout)
    page.wait_for_timeout(300)


def assert_no_exception(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()


def settle(page, text: str | None = None) -> None:
    """Until `text` (if given) shows and the run is over; then no exception may be on the page."""
    if text:
        page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert_no_exception(page)
