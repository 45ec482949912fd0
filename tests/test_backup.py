"""`backup` and `restore`: a consistent copy of the database, also while someone else is using the
file (DuckDB) or writing (PostgreSQL, pg_dump), that restores to exactly the same tables;
restore checks the file first and does not replace data unless told to."""

import datetime as dt
import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest
from click.testing import CliRunner

from enrollment import db
from enrollment.campaigns import demo
from enrollment.cli import cli
from enrollment.db import backup
from enrollment.metrics import progress
from enrollment.uploads import ingest, withdrawals

from .fixtures import ROOT, csv_bytes, dump, record

CAMPAIGN = "jincheng-2022-residents"
D = dt.date


def run(store, *args, **kwargs):
    return CliRunner().invoke(cli, ["--db", store.target, *args], **kwargs)


@pytest.fixture
def busy(store, jincheng):
    """A database with every kind of row: uploads accepted, rejected and withdrawn, demo data."""
    record(store, CAMPAIGN, D(2021, 11, 12), {"140525": 250000, "140502": 150000})
    record(store, CAMPAIGN, D(2021, 11, 19), {"140525": 270000}, uploader="泽州县")
    withdrawals.withdraw(store, CAMPAIGN, "泽州县")
    with pytest.raises(ingest.UploadRejected):
        ingest.commit(store, CAMPAIGN, csv_bytes([["单位", "累计参保人数"], ["不存在", 1]]),
                      "bad.csv", report_date=D(2021, 11, 19), today=D(2021, 12, 31))
    demo.generate(store, jincheng)
    return store


def _without_version(tables: dict) -> dict:
    return {name: rows if name != "meta" else [r for r in rows if r[0] != "data_version"]
            for name, rows in tables.items()}


def test_backup_then_restore_round_trips_every_table(busy, empty_store, tmp_path):
    before = dump(busy)
    out = tmp_path / "backup.duckdb"
    made = run(busy, "backup", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert "已备份到" in made.output
    assert f"上报记录 {len(before['uploads'])} 条，上报数字 {len(before['reports']):,} 条" in made.output
    target = empty_store
    restored = run(target, "restore", str(out))
    assert restored.exit_code == 0, restored.output
    after = dump(target)
    assert set(after) == set(before) and _without_version(after) == _without_version(before)
    assert target.data_version() > busy.data_version()
    # The restored database carries on: sequences continue, figures are the same.
    receipt = record(target, CAMPAIGN, D(2021, 11, 26), {"140581": 1})
    assert receipt.upload_id == max(r[0] for r in before["uploads"]) + 1
    with busy.read() as con, target.read() as con2:
        campaign = ingest.campaigns.get(con, CAMPAIGN)
        a = progress.compute(con, campaign, D(2021, 11, 19)).units
        b = progress.compute(con2, campaign, D(2021, 11, 19)).units
    assert a.equals(b)


@pytest.mark.duckdb_only          # the file lock; PostgreSQL's pg_dump reads one snapshot
def test_backup_waits_for_another_process_and_copies_one_instant(busy, tmp_path):
    """While another process holds the file (the app in the middle of a write), the backup
    waits for it and then copies the file as of one moment: the other process's upload is
    entirely in the copy or entirely not."""
    version = busy.data_version()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import datetime as dt, sys, time
        from enrollment.uploads import ingest
        from enrollment.db import Store
        store = Store({str(busy.path)!r})
        with store.write() as con:
            print("holding", flush=True)
            time.sleep(1.5)
            campaign = ingest.campaigns.get(con, "{CAMPAIGN}")
        ingest.commit(store, "{CAMPAIGN}", "单位,累计参保人数\\r\\n陵川,424242\\r\\n".encode(), "x.csv",
                      report_date=dt.date(2021, 11, 26), uploader="app", today=dt.date(2021, 12, 31),
                      accept_warnings=True)
        """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    out = tmp_path / "during.duckdb"
    result = backup.backup(busy, out)
    holder.wait(timeout=60)
    assert holder.returncode == 0
    # It waited for the holder's transaction: the copy has that write's data version.
    assert result.snapshot.data_version >= version + 1
    copy = duckdb.connect(str(out), read_only=True)
    try:
        uploads = copy.execute("SELECT row_count FROM uploads WHERE uploader = 'app'").fetchall()
        figures = copy.execute("SELECT enrolled FROM reports WHERE enrolled = 424242").fetchall()
    finally:
        copy.close()
    assert (uploads, figures) in (([], []), ([(1,)], [(424242,)]))


def test_backup_while_uploads_keep_coming_is_always_whole(busy, empty_store, tmp_path):
    """Threads of the same process committing uploads during repeated backups: every copy has
    each upload with all of its figures or none of it (checked by restoring each copy)."""
    stop = threading.Event()
    errors = []

    def uploading():
        n = 0
        while not stop.is_set():
            n += 1
            try:
                ingest.commit(busy, CAMPAIGN, csv_bytes(
                    [["单位代码", "累计参保人数"]] + [[c, 1000 + n] for c in
                                                 ("140502", "140521", "140522", "140524")]),
                    f"{n}.csv", report_date=D(2021, 11, 26), uploader="线程",
                    accept_warnings=True, today=D(2021, 12, 31))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
    thread = threading.Thread(target=uploading)
    thread.start()
    try:
        copies = [backup.backup(busy, tmp_path / f"b{i}.backup") for i in range(4)]
    finally:
        stop.set()
        thread.join()
    assert errors == []
    for made in copies:
        backup.restore(empty_store, made.snapshot.path, replace=True)
        with empty_store.read() as con:
            broken = con.tuples("""
                SELECT u.id FROM uploads u LEFT JOIN reports r ON r.upload_id = u.id
                WHERE u.status = 'accepted' AND u.kind = 'report'
                GROUP BY u.id, u.row_count HAVING count(r.upload_id) <> u.row_count""")
        assert broken == []


def test_restore_refuses_to_replace_data_without_confirmation(busy, tmp_path):
    out = tmp_path / "b.duckdb"
    backup.backup(busy, out)
    record(busy, CAMPAIGN, D(2021, 11, 26), {"140581": 99})
    before = dump(busy)
    refused = run(busy, "restore", str(out), input="n\n")
    assert refused.exit_code == 1
    assert "未恢复" in refused.output
    assert f"上报记录 {len(before['uploads'])} 条" in refused.output
    assert dump(busy) == before
    confirmed = run(busy, "restore", str(out), input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    with busy.read() as con:
        assert con.raw.execute("SELECT count(*) FROM reports WHERE enrolled = 99").fetchone()[0] == 0
    again = run(busy, "restore", str(out), "--yes")
    assert again.exit_code == 0 and "已被替换" in again.output


def _backup_from_the_future(store, out) -> None:
    """A backup whose schema is newer than this program's (made by hand: `backup` refuses)."""
    future = "INSERT INTO schema_version VALUES (:v, 'from the future', now()::TIMESTAMP)"
    if store.dialect == "duckdb":
        backup.backup(store, out)
        con = duckdb.connect(str(out))
        con.execute(future.replace(":v", str(db.LATEST_VERSION + 1)))
        con.close()
        return
    with store.write(bump=False) as tx:
        tx.run(future, {"v": db.LATEST_VERSION + 1})
    try:
        subprocess.run([db.dumps.tool("pg_dump"), "--format=custom", f"--file={out}",
                        f"--dbname={store.target}"], check=True)
    finally:
        with store.write(bump=False) as tx:
            tx.run("DELETE FROM schema_version WHERE version = :v", {"v": db.LATEST_VERSION + 1})


def test_restore_checks_the_file_first(store, tmp_path):
    before = dump(store)
    text = tmp_path / "notes.duckdb"
    text.write_text("这不是数据库")
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    newer = tmp_path / "newer.backup"
    _backup_from_the_future(store, newer)
    for path, message in ((tmp_path / "missing.duckdb", "找不到备份文件"),
                          (text, "不是本系统的数据库备份文件"), (other, "不是本系统的数据库"),
                          (newer, "高于本程序支持的")):
        result = run(store, "restore", str(path), "--yes")
        assert result.exit_code == 1 and message in result.output, (path, result.output)
    assert dump(store) == before


def test_backup_does_not_overwrite_a_file(store, tmp_path):
    out = tmp_path / "b.duckdb"
    out.write_bytes(b"keep me")
    result = run(store, "backup", "--out", str(out))
    assert result.exit_code == 1 and "不会覆盖" in result.output
    assert out.read_bytes() == b"keep me"


def test_restore_into_a_new_path_needs_no_confirmation_and_migrates(store, empty_store, tmp_path):
    out = tmp_path / "b.duckdb"
    backup.backup(store, out)
    fresh = empty_store
    result = run(fresh, "restore", str(out))
    assert result.exit_code == 0, result.output
    assert fresh.schema_version() == db.LATEST_VERSION
    assert _without_version(dump(fresh)) == _without_version(dump(store))
