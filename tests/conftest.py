"""Fixtures: every test gets its own temporary database; data/'s file is never touched.

The database fixtures (`store`, `empty_store`, `module_store` and what builds on them) run each
test on both engines: `[duckdb]` a file in the test's folder, `[postgresql]` a database of its
own on a throwaway PostgreSQL server, created from a template that holds the initialised schema
(CREATE DATABASE … TEMPLATE is a file copy). The server is the one scripts/test.sh started
(ENROLLMENT_TEST_POSTGRES, its maintenance database's URL); without it the first worker starts
one with scripts/pg-temp.sh, stopped at the end. Tests about the DuckDB file itself (its
write-ahead log, file locks, backups as file copies) carry `pytest.mark.duckdb_only`.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

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
ENGINES = ("duckdb", "postgresql")
POSTGRES = "ENROLLMENT_TEST_POSTGRES"


def _start_postgres() -> None:
    """Start a throwaway server for this run when none was given (and PostgreSQL is installed):
    in the controlling process, before xdist starts its workers, which inherit the URL."""
    if os.environ.get(POSTGRES) or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    folder = Path(tempfile.mkdtemp(prefix="enrollment-pg-")) / "server"
    script = ROOT / "scripts" / "pg-temp.sh"
    try:
        url = subprocess.run([str(script), "start", str(folder)], check=True, text=True,
                             capture_output=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        os.environ[POSTGRES + "_MISSING"] = str(getattr(exc, "stderr", exc)).strip()
        return
    os.environ[POSTGRES] = url
    atexit.register(lambda: (subprocess.run([str(script), "stop", str(folder)]),
                             shutil.rmtree(folder.parent, ignore_errors=True)))


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real streamlit server with Chromium")
    config.addinivalue_line("markers", "duckdb_only: about the DuckDB file itself (its log, file "
                                       "locks, file copies); not run on PostgreSQL")
    config.addinivalue_line("markers", "postgresql: the test's run on PostgreSQL (set by the "
                                       "engine fixtures; -m 'not postgresql' runs DuckDB only)")
    _start_postgres()


def _engine(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    return callspec.params.get("engine") or callspec.params.get("module_engine")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """A browser module's tests share one server and one Chromium (module fixtures), so under
    `--dist loadgroup` they run on one worker; every other test goes wherever there is room.
    A test's PostgreSQL run is marked `postgresql`; DuckDB-only tests have none."""
    kept, dropped = [], []
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        if _engine(item) == "postgresql":
            if item.get_closest_marker("duckdb_only"):
                dropped.append(item)
                continue
            item.add_marker(pytest.mark.postgresql)
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


class PostgresServer:
    """The throwaway server of this run: databases made and dropped by name."""

    def __init__(self, url: str):
        self.url = url
        self.prefix = f"t_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
        self.numbers = itertools.count(1)

    def database_url(self, name: str) -> str:
        return urlsplit(self.url)._replace(path="/" + name).geturl()

    def admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(statement)

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, or empty); returns its URL."""
        name = f"{self.prefix}_{next(self.numbers)}"
        self.admin(f'CREATE DATABASE "{name}"'
                   + (f' TEMPLATE "{template}"' if template else ""))
        return self.database_url(name)

    def drop(self, url: str) -> None:
        from enrollment.db import postgres

        postgres.close_pool(url)
        self.admin(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    url = os.environ.get(POSTGRES)
    if not url:
        pytest.skip("no PostgreSQL server for the tests: scripts/test.sh starts one "
                    f"({os.environ.get(POSTGRES + '_MISSING', 'set ' + POSTGRES)})")
    return PostgresServer(url)


@pytest.fixture(scope="session")
def postgres_template(postgres_server) -> str:
    """A database after `init`, the template of every test's own."""
    from enrollment.db import postgres

    url = postgres_server.create()
    bootstrap.init(Store(url))
    postgres.close_pool(url)           # a template must have no connections
    yield urlsplit(url).path[1:]
    postgres_server.drop(url)


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """The engine a database fixture builds on: each test runs once on each."""
    return request.param


@pytest.fixture
def store(engine, request, tmp_path, monkeypatch) -> Store:
    """A fresh initialised database of this test's own, also set as ENROLLMENT_DB."""
    if engine == "duckdb":
        target = tmp_path / "enrollment.duckdb"
        shutil.copy(request.getfixturevalue("initialized_db"), target)
    else:
        server = request.getfixturevalue("postgres_server")
        target = server.create(request.getfixturevalue("postgres_template"))
        request.addfinalizer(lambda: server.drop(target))
    monkeypatch.setenv("ENROLLMENT_DB", str(target))
    return Store(target)


@pytest.fixture
def empty_store(engine, request, tmp_path, monkeypatch) -> Store:
    """A database without any schema yet (DuckDB: a path where no file exists yet)."""
    if engine == "duckdb":
        target = tmp_path / "empty.duckdb"
    else:
        server = request.getfixturevalue("postgres_server")
        target = server.create()
        request.addfinalizer(lambda: server.drop(target))
    monkeypatch.setenv("ENROLLMENT_DB", str(target))
    return Store(target)


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

@pytest.fixture(scope="module", params=ENGINES)
def module_engine(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def module_store(module_engine, request, tmp_path_factory) -> Store:
    """A fresh initialised database shared by one test module (for its one server)."""
    if module_engine == "duckdb":
        target = tmp_path_factory.mktemp("module") / "enrollment.duckdb"
        shutil.copy(request.getfixturevalue("initialized_db"), target)
    else:
        server = request.getfixturevalue("postgres_server")
        target = server.create(request.getfixturevalue("postgres_template"))
        request.addfinalizer(lambda: server.drop(target))
    return Store(target)


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


def pytest_terminal_summary(terminalreporter):
    """One line per engine before pytest's closing line: how many runs each engine had."""
    tally: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            ids = report.nodeid.partition("[")[2].rstrip("]").split("-")
            engine = next((e for e in ENGINES if e in ids), None)
            if engine:
                tally.setdefault(engine, {}).setdefault(outcome, 0)
                tally[engine][outcome] += 1
    if tally:
        terminalreporter.write_line("engines: " + "; ".join(
            f"{engine} " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            for engine, counts in sorted(tally.items())))
