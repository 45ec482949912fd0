"""Uploads and target tables are numbered within their campaign (第 1 号, 第 1 版), whatever
the other campaigns and the demo data hold; the global ids stay the keys. Older files get their
numbers from migration 8."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from enrollment import db
from enrollment.campaigns import demo
from enrollment.cli import cli
from enrollment.identity import audit
from enrollment.targets import tables as targets
from enrollment.uploads import ingest, withdrawals
from enrollment.uploads import log as uploads

from .fixtures import csv_bytes, record
from .test_targets import WANZHOU, community_rows, zhoujiaba_table

CAMPAIGN = "jincheng-2022-residents"
WEEK = dt.date(2021, 11, 19)


def cli_run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


def test_the_first_real_upload_after_demo_data_is_number_one(store, jincheng):
    demo.generate(store, jincheng)                      # a stand-in upload per unit and week
    with store.read() as con:
        demo_ids = con.raw.execute("SELECT max(id) FROM uploads").fetchone()[0]
    assert demo_ids > 50
    first = record(store, CAMPAIGN, WEEK, {"140502": 150000}, uploader="张三")
    assert first.upload_id > demo_ids and first.number == 1
    assert "已接收第 1 号上报" in first.summary()
    assert ("上报编号", "第 1 号") in first.details()
    second = record(store, CAMPAIGN, WEEK, {"140525": 270000}, uploader="李四")
    assert second.number == 2
    with store.read() as con:
        log = uploads.history(con, CAMPAIGN)
        entries = audit.query(con, actions=["upload"])
    assert list(log["number"]) == [2, 1]
    assert list(uploads.history_table(log)["编号"]) == [2, 1]
    assert "第 2 号上报" in entries["detail"].iloc[0] and "第 1 号上报" in entries["detail"].iloc[1]


def test_each_campaign_counts_its_own_and_the_cli_speaks_in_numbers(store, jincheng, tmp_path):
    record(store, CAMPAIGN, WEEK, {"140502": 150000}, uploader="张三")
    table = targets.commit(store, WANZHOU, zhoujiaba_table(community_rows(0)), "周家坝.xlsx",
                           created_by="周家坝街道", accept_warnings=True)
    assert table.number == 1 and table.set_id > 1       # Jincheng's shipped tables came first
    assert "已保存目标任务表第 1 版" in table.summary()
    day = dt.date(2022, 1, 7)
    content = csv_bytes([["区划代码", "累计参保人数"], ["500101021001", 1000]])
    receipt = ingest.commit(store, WANZHOU, content, "周家坝.csv", report_date=day,
                            uploader="周家坝街道", today=dt.date(2022, 3, 1),
                            now=dt.datetime(2022, 1, 7, 8))
    # Its own series: the target table's file does not take a report number.
    assert receipt.number == 1
    listed = json.loads(cli_run(store, "uploads", "--campaign", WANZHOU, "--format", "json").output)
    assert [(u["number"], u["kind"]) for u in listed] == [(1, "report")]
    shown = cli_run(store, "uploads", "--campaign", WANZHOU)
    assert shown.exit_code == 0 and shown.output.splitlines()[1].split()[0] == "1"
    out = tmp_path / "raw.csv"
    written = cli_run(store, "upload-file", "1", "--campaign", WANZHOU, "--out", str(out))
    assert written.exit_code == 0 and "已写出第 1 号上报" in written.output
    assert out.read_bytes() == content
    missing = cli_run(store, "upload-file", "2", "--campaign", WANZHOU, "--out", str(tmp_path / "x"))
    assert missing.exit_code == 1 and "第 2 号上报不存在" in missing.output
    versions = json.loads(cli_run(store, "targets", "history", "--campaign", WANZHOU,
                                  "--format", "json").output)
    assert [v["number"] for v in versions] == [1]
    assert json.loads(cli_run(store, "targets", "show", "--campaign", WANZHOU, "--format",
                              "json").output)[0]["number"] == 1


def test_a_withdrawal_takes_the_next_number_and_names_the_ones_it_undid(store, jincheng):
    record(store, CAMPAIGN, WEEK, {"140502": 150000}, uploader="张三")
    record(store, CAMPAIGN, WEEK, {"140502": 151000}, uploader="张三")
    with pytest.raises(withdrawals.WithdrawError, match="最近的一次上报（第 2 号.*不能撤回第 1 号"):
        withdrawals.withdraw(store, CAMPAIGN, "张三", number=1)
    done = withdrawals.withdraw(store, CAMPAIGN, "张三", number=2)
    assert (done.withdrawn_number, done.number) == (2, 3)
    assert "已撤回第 2 号上报" in done.summary() and "撤回记录为第 3 号" in done.summary()
    with store.read() as con:
        table = uploads.history_table(uploads.history(con, CAMPAIGN))
    assert list(table["编号"]) == [3, 2, 1]
    assert table["说明"].iloc[0] == "撤回第 2 号上报" and table["说明"].iloc[1] == "已由第 3 号撤回"
    with store.read() as con:
        revisions = uploads.revision_table(uploads.unit_history(con, CAMPAIGN, "140502"))
    assert list(revisions["上报编号"]) == [3, 2, 1]
    assert revisions["类型"].iloc[0] == "撤回第 2 号"


def test_migration_numbers_the_uploads_and_tables_of_an_older_file(empty_store):
    """A file at schema version 4 (before numbers): migration 8 numbers what it holds, per
    campaign and source, reports with withdrawals, target-table files apart, in id order."""
    older = tuple(m for m in db.MIGRATIONS if m.version <= 4)
    db.migrate(empty_store, older)
    insert = ("INSERT INTO uploads (id, campaign_id, kind, source, uploaded_at, status) "
              "VALUES (:id, :c, :kind, :source, CAST(now() AS TIMESTAMP), 'accepted')")
    rows = [(1, "a", "report", "demo"), (2, "a", "report", "demo"), (3, "a", "targets", "upload"),
            (4, "b", "report", "upload"), (5, "a", "report", "upload"),
            (6, "a", "withdrawal", "upload"), (7, "b", "report", "upload")]
    with empty_store.write() as con:
        for row in rows:
            con.run(insert, dict(zip(("id", "c", "kind", "source"), row)))
        for set_id, campaign in ((1, "a"), (2, "b"), (3, "a")):
            con.run("INSERT INTO target_sets (id, campaign_id, level, scope_code, source, "
                    "created_at) VALUES (:id, :c, 'county', 'x', 'shipped', "
                    "CAST(now() AS TIMESTAMP))", {"id": set_id, "c": campaign})
    assert db.migrate(empty_store) == [m.version for m in db.MIGRATIONS if m.version > 4]
    with empty_store.read() as con:
        numbers = dict(con.tuples("SELECT id, number FROM uploads"))
        sets = dict(con.tuples("SELECT id, number FROM target_sets"))
        columns = set(con.column("SELECT column_name FROM information_schema.columns "
                                 "WHERE table_name = 'users'"))
    assert numbers == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2}
    assert sets == {1: 1, 2: 1, 3: 2}
    assert "last_campaign" in columns
    # New rows continue each series.
    with empty_store.write() as con:
        assert db.uploads.insert(con, id=8, campaign_id="a", kind="report", source="upload",
                                 uploaded_at=dt.datetime(2022, 1, 1), status="accepted") == 3
        assert db.uploads.insert(con, id=9, campaign_id="a", kind="targets", source="upload",
                                 uploaded_at=dt.datetime(2022, 1, 1), status="accepted") == 2


def test_an_initialised_file_starts_every_series_at_one(store):
    with store.read() as con:
        shipped = con.raw.execute("SELECT campaign_id, number FROM target_sets ORDER BY id").fetchall()
    assert shipped == [(c, 1) for c, _ in shipped]
