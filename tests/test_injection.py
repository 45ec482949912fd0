"""Hostile text everywhere a user can type or send it: unit names in files, file names, login
names, account names, unit scopes, filters. Values are SQL parameters and file names are labels,
so each is refused (or stored) as plain text and nothing else changes."""

import datetime as dt
import os

import pytest
from click.testing import CliRunner

from enrollment.cli import cli
from enrollment.identity import accounts, audit, logins
from enrollment.uploads import ingest, withdrawals
from enrollment.uploads import log as uploads

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
    result = logins.authenticate(store, name, "whatever-pass")
    assert result.user is None and result.message == logins.BAD_LOGIN
    after = dump(store)
    throttle = ("meta", "login_addresses", "login_locks")     # the failure is counted, nothing else
    assert {t: v for t, v in after.items() if t not in throttle} == \
        {t: v for t, v in before.items() if t not in throttle}
    # The typed name is kept only as its SHA-256 (it may be a password typed in the wrong field).
    assert [row[0] for row in after["login_locks"]] == [accounts.name_hash(name)]
    assert name not in repr(after["login_locks"])
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
    result = CliRunner().invoke(cli, ["--db", store.target, "users", "add", "zezhou", "--role",
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
        assert withdrawals.withdrawable(con, CAMPAIGN, text) is None
    with pytest.raises(withdrawals.WithdrawError, match="没有可以撤回的上报"):
        withdrawals.withdraw(store, CAMPAIGN, text)
    runner = CliRunner()
    for args in (["history", "--campaign", CAMPAIGN, "--unit", text],
                 ["audit", "--actor", text], ["users", "disable", text]):
        result = runner.invoke(cli, ["--db", store.target, *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), args
    assert dump(store, audit=True) == before


# --- finding 4: stored Markdown injection ---------------------------------------------------

IMAGE_HOST = "http://127.0.0.1:9"


def image(tag: str) -> str:
    """Markdown that makes a browser fetch IMAGE_HOST/<tag>.png when rendered."""
    return f"![{tag}]({IMAGE_HOST}/{tag}.png)"


def hostile_campaign(store, name: str) -> str:
    """阳城县's townships under a hostile name, with a target table whose file name is hostile."""
    from enrollment.campaigns import regions
    from enrollment.targets import tables as targets

    definition = regions.define(id="hostile-2022-residents", name=name, region_code="140522",
                                levels="township", start=dt.date(2021, 9, 1),
                                end=dt.date(2021, 12, 25))
    regions.create(store, definition, actor="测试")
    with store.read() as con:
        codes = [r[0] for r in con.raw.execute(
            "SELECT code FROM units WHERE campaign_id = ? AND level = 'township'",
            [definition.id]).fetchall()]
    table = csv_bytes([["单位代码", "任务数"], *([c, 10000] for c in codes)])
    targets.commit(store, definition.id, table, "![t](evil.png).csv", created_by=image("by"),
                   note=image("note"))
    return definition.id


def app_as(token: str | None, campaign: str, page: str):
    from streamlit.testing.v1 import AppTest

    from enrollment.identity import websession

    from .fixtures import ROOT

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = campaign
    if token:
        at.session_state[websession.STATE] = {"token": token}
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_hostile_names_are_text_on_every_page(store):
    """A campaign name, a full name, a rejected file's unit cell and file name, a target table's
    file name, 录入人 and note, all Markdown images: each page shows them as text."""
    from .markup import assert_inert

    campaign = hostile_campaign(store, image("campaign"))
    accounts.create(store, "admin", "admin", "admin-pass-12", full_name=image("fullname"))
    token = logins.authenticate(store, "admin", "admin-pass-12").token
    rejected = csv_bytes([["单位", "累计参保人数"], [image("unit"), 1000]])
    with pytest.raises(ingest.UploadRejected):
        ingest.commit(store, campaign, rejected, "![file](evil.png).csv",
                      report_date=dt.date(2021, 11, 19), uploader="admin", now=NOW, today=TODAY)

    overview = app_as(token, campaign, "pages/overview.py")
    assert_inert(overview, image("campaign"), image("fullname"))

    upload = app_as(token, campaign, "pages/upload.py")
    upload.selectbox(key=f"upload:{campaign}:detail").select_index(0).run()
    assert not upload.exception
    assert_inert(upload, image("campaign"), image("fullname"), image("unit"))
    assert "![file](evil.png).csv" in upload.selectbox(key=f"upload:{campaign}:detail").format_func(
        upload.selectbox(key=f"upload:{campaign}:detail").value)        # a plain-text widget

    page = app_as(token, campaign, "pages/targets.py")
    assert_inert(page, image("campaign"), "下载原始文件：![t](evil.png).csv")

    export = app_as(token, campaign, "pages/export.py")
    assert_inert(export, image("fullname"))


def test_open_mode_uploader_name_is_text_and_invisible_characters_are_refused(store):
    from .markup import assert_inert, plain

    at = app_as(None, CAMPAIGN, "pages/upload.py")
    key = f"upload:{CAMPAIGN}:"
    at.text_input(key="upload:uploader").set_value("rep1\u200b").run()
    assert "零宽空格（U+200B）" in "".join(plain(e.value) for e in at.error)
    at.text_input(key="upload:uploader").set_value(image("uploader")).run()
    at.date_input(key=key + "date").set_value(DAY).run()
    at.file_uploader[0].set_value(("周报.csv", report_csv({"140525": 270000}), "text/csv")).run()
    next(b for b in at.button if b.key == key + "commit").click().run()
    assert not at.exception, at.exception
    assert_inert(at, f"填报人：{image('uploader')}")              # the receipt
    next(b for b in at.button if b.label == "继续上报其他文件").click().run()
    assert_inert(at, f"{image('uploader')} 最近一次上报")
    with store.read() as con:
        assert con.raw.execute("SELECT uploader FROM uploads").fetchall() == [(image("uploader"),)]


# --- finding 5: CSV and Excel formula injection -----------------------------------------------

FORMULA = '=HYPERLINK("http://127.0.0.1:9/x","点我")'
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def csv_cells(content: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(content.lstrip("\ufeff"))) for cell in row]


def assert_no_formula_cells(cells: list[str], hostile: str = FORMULA) -> None:
    from enrollment import text

    live = [c for c in cells if c.startswith(DANGEROUS) and text.cell(c) != c]
    assert live == [], live
    assert "'" + hostile in cells                    # the text is there, as text


def test_cli_csv_outputs_neutralise_formulas(store, tmp_path):
    runner = CliRunner()
    report = tmp_path / "周报.csv"
    report.write_bytes(report_csv({"140525": 270000}))
    db = ["--db", store.target]
    # Open mode: the uploader is free text; the upload log and the audit log repeat it.
    done = runner.invoke(cli, [*db, "ingest", str(report), "--campaign", CAMPAIGN,
                               "--report-date", "2021-11-19", "--uploader", FORMULA])
    assert done.exit_code == 0, done.output
    accounts.create(store, "admin", "admin", "admin-pass-12", full_name=FORMULA)
    for args in (["users", "list"], ["uploads", "--campaign", CAMPAIGN], ["audit"]):
        result = runner.invoke(cli, [*db, *args, "--format", "csv"])
        assert result.exit_code == 0, result.output
        assert_no_formula_cells(csv_cells(result.output))
    # Negative numbers stay numbers.
    shown = runner.invoke(cli, [*db, "progress", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
                                "--format", "csv"]).output
    assert any(c.startswith("-") and c[1:2].isdigit() for c in csv_cells(shown))


def test_the_audit_page_download_neutralises_formulas(store, monkeypatch):
    import streamlit

    audit.log(store, FORMULA, "export", FORMULA)
    accounts.create(store, "admin", "admin", "admin-pass-12")
    token = logins.authenticate(store, "admin", "admin-pass-12").token
    sent = {}
    original = streamlit.download_button

    def capture(label, data, *args, **kwargs):
        sent[label] = data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", capture)
    app_as(token, CAMPAIGN, "pages/audit.py")
    content = sent["下载筛选结果（CSV）"].decode("utf-8-sig")
    assert_no_formula_cells(csv_cells(content))


def formula_cells(content: bytes) -> list[tuple[str, str]]:
    """(what the formula's row is called, formula) of every formula cell of an .xlsx."""
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(content))
    return [(next((v.value for v in row if v.value == "合计"), f"{ws.title}!{c.coordinate}"),
             c.value)
            for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_excel_outputs_write_formula_like_text_as_text(store):
    import pandas as pd

    from enrollment import campaigns
    from enrollment.export import model as exports
    from enrollment.export import tables, workbook
    from enrollment.targets import tables as targets
    from enrollment.uploads import template

    frame = pd.DataFrame({"单位": [FORMULA, "@SUM(A1)", "泽州县"], "累计参保人数": [-5, 3, 7]})
    assert formula_cells(tables.to_xlsx_bytes(frame)) == []
    campaign_id = hostile_campaign(store, FORMULA)           # the name is in the titles
    with store.read() as con:
        campaign = campaigns.get(con, campaign_id)
        upload_template = template.build(con, campaign, None, "township", None).content
        target_template = targets.template(con, campaign_id, "township")
        data = exports.gather(con, campaign, dt.date(2021, 11, 19), "upload", None, None)
    assert formula_cells(upload_template) == []
    assert formula_cells(target_template) == []
    bulletin = formula_cells(workbook.build(data))
    # Only the 合计 row's sums of the 通报表 are formulas.
    assert bulletin and all(row == "合计" for row, _ in bulletin), bulletin


def test_allocation_results_neutralise_unit_names_from_the_base_file(tmp_path):
    from enrollment.targets import allocation

    base = allocation.read_base(csv_bytes([["单位", "上年参保人数"], [FORMULA, 100], ["泽州县", 300]]))
    result = allocation.allocate(base, 1000, [allocation.Weight("上年参保人数", 1)], 10)
    assert_no_formula_cells(csv_cells(result.to_csv().decode("utf-8-sig")))


# --- finding 8: identity, not spelling ---------------------------------------------------------

def test_a_look_alike_uploader_does_not_walk_past_a_disabled_account(store, tmp_path):
    accounts.create(store, "admin", "admin", "admin-pass-12")
    accounts.create(store, "rep1", "reporter", "rep1-pass-123", units=["140525"])
    accounts.set_active(store, "rep1", False)
    outside = tmp_path / "高平.csv"
    outside.write_bytes(csv_bytes([["单位", "累计参保人数"], ["高平市", 360000]]))
    before = dump(store, audit=True)
    runner = CliRunner()
    for name, message in [("rep1\u200b", "零宽空格（U+200B）"), ("rep1\u202e", "方向控制符（U+202E）"),
                          ("ｒｅｐ１", "账号「rep1」已停用"), (" rep1 ", "账号「rep1」已停用"),
                          ("rep1x", "账号「rep1x」不存在"), ("реp1", "不存在")]:   # Cyrillic р, е
        for args in (["ingest", str(outside), "--campaign", CAMPAIGN, "--report-date",
                      "2021-11-19"], ["withdraw", "--campaign", CAMPAIGN],
                     ["targets", "load", str(outside), "--campaign", CAMPAIGN]):
            result = runner.invoke(cli, ["--db", store.target, *args, "--uploader", name])
            assert result.exit_code == 1 and message in result.output, (name, args, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit)
    assert dump(store, audit=True) == before


def test_full_width_names_find_the_account_and_its_scope(store, tmp_path):
    accounts.create(store, "rep1", "reporter", "rep1-pass-123", units=["140525"])
    outside = tmp_path / "高平.csv"
    outside.write_bytes(csv_bytes([["单位", "累计参保人数"], ["高平市", 360000]]))
    own = tmp_path / "泽州.csv"
    own.write_bytes(csv_bytes([["单位", "累计参保人数"], ["泽州县", 270000]]))
    runner = CliRunner()
    common = ["--campaign", CAMPAIGN, "--report-date", "2021-11-19", "--uploader", "ｒｅｐ１"]
    refused = runner.invoke(cli, ["--db", store.target, "ingest", str(outside), *common])
    assert refused.exit_code == 1 and "不在您负责的单位范围内" in refused.output
    done = runner.invoke(cli, ["--db", store.target, "ingest", str(own), *common])
    assert done.exit_code == 0, done.output
    with store.read() as con:
        assert con.raw.execute("SELECT DISTINCT uploader FROM uploads").fetchall() == [("rep1",)]
    with pytest.raises(accounts.AccountError, match="已存在"):
        accounts.create(store, "ＲＥＰ1".lower(), "reporter", "rep1-pass-123", units=["140525"])


def test_a_leader_cannot_load_targets_from_the_command_line(store, tmp_path):
    accounts.create(store, "boss", "leader", "leader-pass-1")
    table = tmp_path / "任务.csv"
    table.write_bytes(csv_bytes([["县区", "任务数"], ["泽州县", 404760]]))
    result = CliRunner().invoke(cli, ["--db", store.target, "targets", "load", str(table),
                                      "--campaign", CAMPAIGN, "--uploader", "boss"])
    assert result.exit_code == 1 and "没有修改目标任务的权限" in result.output


# --- finding 9: limits on names --------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("阳城\n2022", "换行（U+000A）"), ("阳城\x1b[31m2022", "ESC 控制符（U+001B）"),
    ("名" * 5000, "太长（5,000 个字符），最多 100 个字符"), ("阳城\u200b2022", "零宽空格")])
def test_campaign_create_refuses_bad_names(store, name, message):
    before = dump(store, audit=True)
    result = CliRunner().invoke(cli, [
        "--db", store.target, "campaign", "create", "--id", "yangcheng-2022-residents",
        "--name", name, "--region", "140522", "--levels", "township", "--start", "2021-09-01",
        "--end", "2021-12-25"])
    assert result.exit_code == 1 and message in result.output, result.output
    assert dump(store, audit=True) == before


def test_the_campaign_page_refuses_a_name_with_a_newline(store):
    from .markup import plain

    at = app_as(None, CAMPAIGN, "pages/campaign_setup.py")
    at.text_input(key="setup:search").input("140522").run()
    form_name = next(t for t in at.text_input if t.label == "活动名称")
    form_name.input("阳城\u202e2022")
    next(b for b in at.button if "创建活动" in b.label).click().run()
    assert not at.exception
    assert any("方向控制符（U+202E）" in plain(e.value) for e in at.error)
    with store.read() as con:
        assert con.raw.execute("SELECT count(*) FROM campaigns WHERE region_code = '140522'"
                           ).fetchone()[0] == 0


@pytest.mark.parametrize("name", ["..\\..\\x\x07\x1b.csv", "..&#47;..&#47;x.csv", "a/b\\c\u202e.csv"])
def test_target_tables_keep_only_a_clean_file_name(store, name):
    from enrollment.targets import tables as targets

    table = csv_bytes([["县区", "任务数"], *([n, 1000] for n in
                                            ("城区", "泽州县", "高平市", "阳城县", "陵川县", "沁水县"))])
    saved = targets.commit(store, CAMPAIGN, table, name, created_by="测试", accept_warnings=True)
    with store.read() as con:
        stored = con.raw.execute("SELECT file_name FROM target_sets WHERE id = ?",
                             [saved.set_id]).fetchone()[0]
        kept = con.raw.execute("SELECT file_name FROM uploads WHERE id = ?",
                           [saved.upload_id]).fetchone()[0]
    assert stored == kept == saved.file_name
    assert not any(ch in stored for ch in "/\\\x07\x1b\u202e") and stored.endswith(".csv")


def test_the_targets_page_stores_a_clean_file_name(store):
    from .test_targets import WANZHOU, zhoujiaba_table

    at = app_as(None, WANZHOU, "pages/targets.py")
    at.text_input(key="targets:by").input("周家坝街道 张三")
    at.file_uploader(key="targets:file:0").upload("..\\..\\任务\x07\x1b[31m\u202e.xlsx",
                                                   zhoujiaba_table()).run()
    at.button(key="targets:load:save").click().run()
    assert not at.exception, at.exception
    with store.read() as con:
        stored = con.raw.execute("SELECT file_name FROM target_sets WHERE campaign_id = ?",
                             [WANZHOU]).fetchall()
    assert stored == [("任务 [31m.xlsx",)]
