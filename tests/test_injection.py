"""Hostile text everywhere a user can type or send it: unit names in files, file names, login
names, account names, unit scopes, filters. Values are SQL parameters and file names are labels,
so each is refused (or stored) as plain text and nothing else changes."""

import datetime as dt
import os

import pytest
from click.testing import CliRunner

from enrollment import accounts, audit, ingest, uploads
from enrollment.cli import cli

from .fixtures import NOW, TODAY, csv_bytes, dump, report_csv, xlsx_bytes

CAMPAIGN = "jincheng-2022-residents"
DAY = dt.date(2021, 11, 19)
HOSTILE = [
    "泽州县'; DROP TABLE reports; --",
    'x" OR "1"="1',
    "Robert'); DELETE FROM users; --",
    "../../etc/passwd",
    "..\\..\\windows\\system32\\cmd.exe",
    "名" * 5000,
    "ctl\x07\x1b[31m\r\nFAKE",
    "100%_*?[]",
]
IDS = ["quote-drop", "double-quote", "paren-delete", "dotdot-slash", "dotdot-backslash",
       "very-long", "control-chars", "wildcards"]


def tables(store) -> set[str]:
    with store.read() as con:
        return {r[0] for r in con.raw.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_unit_names_in_a_file_are_unknown_units(store, name, fmt):
    rows = [["单位", "累计参保人数"], ["泽州县", 270000], [name, 1000]]
    content = csv_bytes(rows) if fmt == "csv" else xlsx_bytes(rows)
    before, names = dump(store), tables(store)
    with pytest.raises(ingest.UploadRejected) as caught:
        ingest.commit(store, CAMPAIGN, content, "hostile." + fmt, report_date=DAY, uploader="测试",
                      now=NOW, today=TODAY)
    assert any(p.row == 3 and "未知单位" in p.message for p in caught.value.preview.problems), \
        caught.value.preview.problems
    after = dump(store)
    assert tables(store) == names
    assert {t: v for t, v in after.items() if t not in ("uploads", "meta")} == \
        {t: v for t, v in before.items() if t not in ("uploads", "meta")}


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_file_names_are_labels_not_paths(store, name, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    receipt = ingest.commit(store, CAMPAIGN, report_csv({"140525": 270000}), name, report_date=DAY,
                            uploader="测试", now=NOW, today=TODAY)
    assert os.listdir(work) == []
    with store.read() as con:
        stored = con.raw.execute("SELECT file_name FROM uploads WHERE id = ?",
                             [receipt.upload_id]).fetchone()[0]
        assert con.raw.execute("SELECT count(*) FROM reports").fetchone()[0] == 1
    assert stored == receipt.file_name
    assert "/" not in stored and "\\" not in stored and len(stored) <= 200
    assert not any(ord(ch) < 32 for ch in stored)
    with store.read() as con:
        raw = uploads.raw_file(con, CAMPAIGN, receipt.upload_id)
    assert raw[0] == stored


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_login_names_fail_like_any_unknown_name(store, name):
    accounts.create(store, "admin", "admin", "admin-pass-12")
    before = dump(store)
    result = accounts.authenticate(store, name, "whatever-pass")
    assert result.user is None and result.message == accounts.BAD_LOGIN
    after = dump(store)
    assert {t: v for t, v in after.items() if t != "meta"} == \
        {t: v for t, v in before.items() if t != "meta"}
    with store.read() as con:
        entry = audit.query(con, actions=["login_failed"]).iloc[0]
    assert entry["actor"] is None and len(entry["detail"]) < 30       # masked, never whole
    assert not any(ord(ch) < 32 for ch in entry["detail"])


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_account_names_and_scopes_are_refused(store, name):
    with pytest.raises(accounts.AccountError, match="用户名只能包含|用户名太长"):
        accounts.create(store, name, "admin", "admin-pass-12")
    with pytest.raises(accounts.AccountError, match="不存在"):
        accounts.create(store, "zezhou", "reporter", "zezhou-pass-1", units=[name])
    result = CliRunner().invoke(cli, ["--db", str(store.path), "users", "add", "zezhou", "--role",
                                      "reporter", "--units", name], input="zezhou-pass-1\n")
    assert result.exit_code == 1 and "不存在" in result.output
    with store.read() as con:
        assert not accounts.any_account(con)


@pytest.mark.parametrize("text", HOSTILE, ids=IDS)
def test_hostile_filters_and_names_find_nothing(store, text):
    audit.log(store, "admin", "export", "导出进度表")
    before = dump(store, audit=True)
    with store.read() as con:
        assert audit.query(con, actor=text).empty
        assert audit.query(con, text=text).empty
        assert uploads.history(con, CAMPAIGN, uploader=text).empty
        assert ingest.withdrawable(con, CAMPAIGN, text) is None
    with pytest.raises(ingest.WithdrawError, match="没有可以撤回的上报"):
        ingest.withdraw(store, CAMPAIGN, text)
    runner = CliRunner()
    for args in (["history", "--campaign", CAMPAIGN, "--unit", text],
                 ["audit", "--actor", text], ["users", "disable", text]):
        result = runner.invoke(cli, ["--db", str(store.path), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), args
    assert dump(store, audit=True) == before
