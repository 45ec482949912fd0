"""What only the PostgreSQL engine has: its spelling of parameters, frames with DuckDB's dtypes,
a server that is away, writers that do not wait for each other (except on one campaign's
figures), and migrate-storage from a DuckDB file into an empty database."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from urllib.parse import urlsplit

import pandas as pd
import pytest
from click.testing import CliRunner

from enrollment import db
from enrollment.cli import cli
from enrollment.db import Store, postgres, transfer
from enrollment.uploads import ingest

from .fixtures import dump, record

CAMPAIGN = "jincheng-2022-residents"
D = dt.date


@pytest.fixture
def server_store(store):
    if store.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    return store


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_parameters_literal_percent_and_colons_in_strings(server_store):
    with server_store.read() as tx:
        assert tx.value("SELECT :a || '%' || ':not_a_parameter' || '::text'", {"a": "x"}) == \
            "x%:not_a_parameter::text"
        assert tx.value("SELECT '100%'") == "100%"
        assert tx.column("SELECT code FROM units WHERE campaign_id = :c AND name LIKE :n",
                         {"c": CAMPAIGN, "n": "%城区%"}) == ["140502"]


def test_frames_have_the_dtypes_of_duckdb(store, initialized_db, tmp_path):
    """The same query on both engines gives the same columns, dtypes and values."""
    sql = """
        SELECT code, name, depth, parent_code, is_division,
               CAST(NULL AS BIGINT) AS nothing, CAST(NULL AS VARCHAR) AS no_text,
               CAST(depth AS BIGINT) AS wide, sum(CAST(depth AS BIGINT)) OVER () AS total,
               DATE '2021-11-19' AS day, CAST(0.97 AS DECIMAL(6, 4)) AS goal
        FROM units WHERE campaign_id = :c AND depth <= 1 ORDER BY code"""
    path = tmp_path / "same.duckdb"
    shutil.copy(initialized_db, path)
    with Store(path).read() as tx:
        expected = tx.frame(sql, {"c": CAMPAIGN})
    with store.read() as tx:
        got = tx.frame(sql, {"c": CAMPAIGN})
        empty = tx.frame(sql.replace("depth <= 1", "false"), {"c": CAMPAIGN})
    assert list(got.dtypes.astype(str)) == list(expected.dtypes.astype(str))
    pd.testing.assert_frame_equal(got, expected)
    assert list(empty.columns) == list(expected.columns) and empty.empty


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_server_that_is_away_is_explained_in_chinese(server_store, tmp_path):
    # A server that refuses connections: nothing listens on that socket.
    away = f"postgresql://postgres@/nothing?host={tmp_path}&port=1"
    result = CliRunner().invoke(cli, ["--db", away, "campaigns"])
    assert result.exit_code == 1
    assert "数据库暂时无法连接，正在重试" in result.output and "Traceback" not in result.output
    # A database that does not exist is not a passing fault.
    missing = urlsplit(server_store.target)._replace(path="/no_such_database").geturl()
    result = CliRunner().invoke(cli, ["--db", missing, "campaigns"])
    assert result.exit_code == 1 and "不存在" in result.output and "createdb" in result.output
    postgres.close_pool(away)
    postgres.close_pool(missing)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_uploads_go_on_side_by_side_and_only_a_withdrawal_or_the_same_file_waits(server_store):
    holding, release, done = threading.Event(), threading.Event(), {}

    def first():
        with server_store.write() as tx:
            db.reports.lock_for_upload(tx, CAMPAIGN, "file-a")
            holding.set()
            release.wait(30)

    def writer(name, take):
        def work():
            with server_store.write() as tx:
                take(tx)
                done[name] = True
        thread = threading.Thread(target=work)
        thread.start()
        return thread

    holder = threading.Thread(target=first)
    holder.start()
    assert holding.wait(30)
    going = [writer("another upload", lambda tx: db.reports.lock_for_upload(tx, CAMPAIGN, "file-b")),
             writer("another campaign's withdrawal",
                    lambda tx: db.reports.lock_for_withdrawal(tx, "jincheng-2021-employees"))]
    for thread in going:
        thread.join(30)
    assert set(done) == {"another upload", "another campaign's withdrawal"}
    waiting = [writer("the same file", lambda tx: db.reports.lock_for_upload(tx, CAMPAIGN, "file-a")),
               writer("a withdrawal", lambda tx: db.reports.lock_for_withdrawal(tx, CAMPAIGN))]
    for thread in waiting:
        thread.join(0.5)
    assert "the same file" not in done and "a withdrawal" not in done
    release.set()
    for thread in [holder, *waiting]:
        thread.join(30)
    assert set(done) == {"another upload", "another campaign's withdrawal", "the same file",
                         "a withdrawal"}


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_uploads_at_once_on_the_same_units_number_their_revisions_in_turn(server_store):
    """Ten uploads of the same two units at the same moment: revisions 1 … 10, none twice."""
    errors = []

    def upload(n):
        try:
            record(server_store, CAMPAIGN, D(2021, 11, 19), {"140525": 250000 + n,
                                                            "140502": 150000 + n},
                   uploader=f"填报员{n}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with server_store.read() as tx:
        revisions = tx.tuples("SELECT unit_code, revision FROM reports WHERE source = 'upload' "
                              "ORDER BY unit_code, revision")
    assert revisions == [(code, r) for code in ("140502", "140525") for r in range(1, 11)]


def test_migrate_storage_copies_every_table_into_an_empty_database(initialized_db, tmp_path,
                                                                    postgres_server):
    source = Store(tmp_path / "source.duckdb")
    shutil.copy(initialized_db, source.path)
    first = record(source, CAMPAIGN, D(2021, 11, 19), {"140525": 250000, "140502": 150000})
    with pytest.raises(ingest.UploadRejected):
        record(source, CAMPAIGN, D(2021, 11, 19), {"不存在": 1})      # a rejected upload too
    url = postgres_server.create()
    try:
        result = CliRunner().invoke(cli, ["--db", str(source.path), "migrate-storage", "--to", url])
        assert result.exit_code == 0, result.output
        assert "逐表核对行数和校验和一致" in result.output
        copied = Store(url)
        assert dump(copied, audit=True) == dump(source, audit=True)
        with copied.read() as tx:        # raw bytes of the upload, exactly
            original = db.uploads.content(tx, CAMPAIGN, first.upload_id)
        with source.read() as tx:
            assert db.uploads.content(tx, CAMPAIGN, first.upload_id) == original
        assert original[1].startswith("单位代码".encode())
        # Sequences go on where the file's stopped; the copy works as a database.
        receipt = record(copied, CAMPAIGN, D(2021, 11, 26), {"140581": 1})
        with source.read() as tx:
            assert receipt.upload_id == tx.value("SELECT max(id) FROM uploads") + 1
        # A database that is not empty is refused, and left as it was.
        before = dump(copied, audit=True)
        again = CliRunner().invoke(cli, ["--db", str(source.path), "migrate-storage", "--to", url])
        assert again.exit_code == 1 and "不是空的" in again.output
        assert dump(copied, audit=True) == before
    finally:
        postgres_server.drop(url)


def test_the_checksum_does_not_depend_on_the_order_of_rows():
    rows = [(1, "a", b"\x00"), (2, None, dt.date(2021, 11, 19)), (2, None, dt.date(2021, 11, 19))]
    assert transfer.checksum(rows) == transfer.checksum(list(reversed(rows)))
    assert transfer.checksum(rows) != transfer.checksum(rows[:2])
