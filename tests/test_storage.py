"""The database: migrations, the data version, and (DuckDB only, marked) sharing the file
between processes."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from enrollment import db
from enrollment.db import DatabaseBusy, Migration, Store


def test_fresh_file_reaches_latest_schema(empty_store):
    assert db.migrate(empty_store) == [m.version for m in db.MIGRATIONS]
    assert empty_store.schema_version() == db.LATEST_VERSION
    assert db.migrate(empty_store) == []


def test_later_release_migrates_an_older_file_without_losing_data(empty_store):
    db.migrate(empty_store)
    with empty_store.write() as con:
        con.raw.execute("INSERT INTO meta VALUES ('kept', 'yes')")
    newer = db.MIGRATIONS + (
        Migration(db.LATEST_VERSION + 1, "add a note column",
                  ("ALTER TABLE uploads ADD COLUMN note VARCHAR",)),)
    assert db.migrate(empty_store, newer) == [db.LATEST_VERSION + 1]
    with empty_store.read() as con:
        assert con.raw.execute("SELECT value FROM meta WHERE key = 'kept'").fetchone() == ("yes",)
        columns = con.column("SELECT column_name FROM information_schema.columns "
                             "WHERE table_name = 'uploads'")
    assert "note" in columns


def test_failed_migration_leaves_the_file_as_it_was(empty_store):
    db.migrate(empty_store)
    broken = db.MIGRATIONS + (
        Migration(db.LATEST_VERSION + 1, "broken",
                  ("CREATE TABLE extra (a INTEGER)", "SELECT * FROM no_such_table")),)
    with pytest.raises(db.EngineError):
        db.migrate(empty_store, broken)
    assert empty_store.schema_version() == db.LATEST_VERSION
    with empty_store.read() as con:
        assert con.raw.execute("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = 'extra'").fetchone()[0] == 0


def test_newer_file_is_refused(empty_store):
    db.migrate(empty_store)
    with empty_store.write() as con:
        con.raw.execute("INSERT INTO schema_version VALUES (999, 'future', now()::TIMESTAMP)")
    with pytest.raises(db.StorageError, match="高于本程序支持"):
        db.migrate(empty_store)


def test_uninitialised_file_says_run_init(empty_store):
    with pytest.raises(db.NotInitialized, match="python -m enrollment init"):
        db.require_schema(empty_store)


def test_every_write_bumps_the_data_version(store):
    before = store.data_version()
    with store.write() as con:
        con.raw.execute("INSERT INTO meta VALUES ('x', '1')")
    assert store.data_version() == before + 1


def test_a_failed_write_changes_nothing(store):
    before = store.data_version()
    with pytest.raises(RuntimeError):
        with store.write() as con:
            con.raw.execute("INSERT INTO meta VALUES ('x', '1')")
            raise RuntimeError("crash in the middle")
    assert store.data_version() == before
    with store.read() as con:
        assert con.raw.execute("SELECT count(*) FROM meta WHERE key = 'x'").fetchone()[0] == 0


def test_threads_write_concurrently_without_losing_any(store):
    def work(i):
        for j in range(5):
            with store.write() as con:
                con.raw.execute("INSERT INTO meta VALUES (?, 'v')", [f"t{i}-{j}"])
            with store.read() as con:
                con.raw.execute("SELECT count(*) FROM units").fetchone()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as con:
        assert con.raw.execute("SELECT count(*) FROM meta WHERE key LIKE 't%'").fetchone()[0] == 30


HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def _hold(path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


@pytest.mark.duckdb_only
def test_another_process_holding_the_file_makes_us_wait_then_succeed(store):
    holder = _hold(store.path, 1.5)
    started = time.monotonic()
    with Store(store.path, lock_timeout=30).read() as con:
        con.raw.execute("SELECT 1").fetchone()
    waited = time.monotonic() - started
    holder.wait()
    assert waited >= 0.5


@pytest.mark.duckdb_only
def test_waiting_is_bounded_and_says_so_in_chinese(store):
    holder = _hold(store.path, 10)
    try:
        with pytest.raises(DatabaseBusy, match="正被另一个程序占用"):
            with Store(store.path, lock_timeout=0.5).read():
                pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.duckdb_only
def test_the_engine_memory_is_bounded_by_the_setting(store, monkeypatch):
    db.engine.release(store.path)       # the setting applies when the file is opened
    monkeypatch.setenv("ENROLLMENT_DB_MEMORY", "256MB")
    with store.read() as con:
        limit = con.raw.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in ("256.0MB", "244.1MiB", "256MB", "244MiB"), limit
    db.engine.release(store.path)
    monkeypatch.setenv("ENROLLMENT_DB_MEMORY", "lots")
    with pytest.raises(db.StorageError, match="ENROLLMENT_DB_MEMORY 的值「lots」无效"):
        with store.read():
            pass


@pytest.mark.duckdb_only
def test_a_process_keeps_the_file_open_between_units_of_work(store, monkeypatch):
    db.engine.release(store.path)
    opened = []
    connect = db.engine.DuckStore.connect
    monkeypatch.setattr(db.engine.DuckStore, "connect", lambda self: opened.append(1) or connect(self))
    for _ in range(5):
        with store.read() as tx:
            tx.value("SELECT count(*) FROM units")
    with store.write(bump=False) as tx:
        tx.run("INSERT INTO meta VALUES ('kept', 'open')")
    assert len(opened) == 1


@pytest.mark.duckdb_only
def test_the_file_is_closed_after_every_unit_of_work_without_a_hold(store, monkeypatch):
    db.engine.release(store.path)
    monkeypatch.setenv("ENROLLMENT_DB_HOLD", "0")
    for _ in range(2):
        with store.read() as tx:
            tx.value("SELECT 1")
        # Closed: another process could open the file now.
        assert _open_from_another_process(store.path, timeout=0).returncode == 0


def _open_from_another_process(path, timeout: float) -> subprocess.CompletedProcess:
    script = ("import sys; sys.path.insert(0, %r); from enrollment.db import Store; "
              "Store(sys.argv[1], lock_timeout=float(sys.argv[2])).read().__enter__()"
              % str(db.__file__.rsplit("/enrollment/", 1)[0]))
    return subprocess.run([sys.executable, "-c", script, str(path), str(timeout)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.duckdb_only
def test_a_process_holding_the_file_lets_a_waiting_one_have_it_without_waiting_out_the_hold(
        store, monkeypatch):
    """This process holds the file idle for up to an hour; another asks for it and gets it."""
    db.engine.release(store.path)
    monkeypatch.setenv("ENROLLMENT_DB_HOLD", "3600")
    with store.read() as tx:
        tx.value("SELECT 1")
    other = _open_from_another_process(store.path, timeout=60)
    assert other.returncode == 0, other.stderr
    with store.read() as tx:               # and this process gets it back afterwards
        assert tx.value("SELECT count(*) FROM campaigns") > 0


@pytest.mark.duckdb_only
def test_a_read_inside_a_write_does_not_wait_for_the_file_when_another_process_waits(store):
    """A thread that already holds the file never waits for itself to let go of it."""
    db.engine.release(store.path)
    marker = db.holding.marker(store.path)
    with store.write(bump=False) as outer:
        outer.run("INSERT INTO meta VALUES ('nested', 'yes')")
        marker.touch()                     # another process says it waits
        try:
            with store.read() as inner:
                assert inner.value("SELECT count(*) FROM campaigns") > 0
        finally:
            marker.unlink()
    with store.read() as tx:
        assert tx.value("SELECT value FROM meta WHERE key = 'nested'") == "yes"
