"""Fixtures: every test gets its own temporary database; data/'s file is never touched."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Before any test imports the package: the default database is a throw-away file.
_SAFE_DIR = Path(tempfile.mkdtemp(prefix="enrollment-tests-"))
os.environ["ENROLLMENT_DB"] = str(_SAFE_DIR / "default.duckdb")
# Login cookies are signed with a test key, never with a developer's data/secret.key.
os.environ["ENROLLMENT_SECRET"] = "test-secret-" + "0123456789abcdef" * 3
os.environ.pop("ENROLLMENT_REQUIRE_LOGIN", None)

from enrollment import campaigns  # noqa: E402
from enrollment.campaigns import bootstrap
from enrollment.db import Store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real streamlit server with Chromium")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """A browser module's tests share one server and one Chromium (module fixtures), so under
    `--dist loadgroup` they run on one worker; every other test goes wherever there is room."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(autouse=True, scope="session")
def apptest_like_a_running_server():
    """AppTest resets Streamlit's pages-folder flag before every run, so with our pages/ folder
    each run after the first would execute the page file alone (legacy multipage mode). A
    running server leaves that mode for good at the first st.navigation call; make AppTest do
    the same, so that button clicks are not lost to ui.require_entry's rerun."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    yield
    PagesManager.__init__ = original


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes():
    """Argon2id with the library's defaults costs about 0.1 s a hash, by design. Tests of the
    rules around passwords need not pay it hundreds of times; the hashes stay Argon2id (and the
    servers and commands the tests start in other processes keep the real cost)."""
    import argon2

    from enrollment.identity import accounts

    real = accounts._hasher
    accounts._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = real


@pytest.fixture(scope="session")
def initialized_db(tmp_path_factory) -> Path:
    """A database after `init` (shipped campaigns and targets), built once and copied per test."""
    path = tmp_path_factory.mktemp("template") / "initialized.duckdb"
    bootstrap.init(Store(path))
    return path


@pytest.fixture
def store(initialized_db, tmp_path, monkeypatch) -> Store:
    """A fresh initialised database of this test's own, also set as ENROLLMENT_DB."""
    path = tmp_path / "enrollment.duckdb"
    shutil.copy(initialized_db, path)
    monkeypatch.setenv("ENROLLMENT_DB", str(path))
    return Store(path)


@pytest.fixture
def empty_store(tmp_path, monkeypatch) -> Store:
    """A path where no database exists yet."""
    path = tmp_path / "empty.duckdb"
    monkeypatch.setenv("ENROLLMENT_DB", str(path))
    return Store(path)


@pytest.fixture
def jincheng(store) -> campaigns.Campaign:
    return campaigns.load(store, "jincheng-2022-residents")


@pytest.fixture
def demo_data(store, jincheng):
    """Jincheng's demo data gathered for export at Friday 19 November 2021 (week 12)."""
    import datetime as dt

    from enrollment.campaigns import demo
    from enrollment.export import model as exports

    demo.generate(store, jincheng)
    with store.read() as con:
        return exports.gather(con, jincheng, dt.date(2021, 11, 19), "demo")


# --- browser tests: one server and one Chromium per module --------------------------------

@pytest.fixture(scope="module")
def module_store(initialized_db, tmp_path_factory) -> Store:
    """A fresh initialised database shared by one test module (for its one server)."""
    path = tmp_path_factory.mktemp("module") / "enrollment.duckdb"
    shutil.copy(initialized_db, path)
    return Store(path)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for a test module; each test opens its own pages (contexts)."""
    from playwright.sync_api import sync_playwright

    from .server import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go, to be looked at: $ENROLLMENT_SCREENSHOTS or the test's folder."""
    folder = Path(os.environ.get("ENROLLMENT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
