"""催报: who has not reported the week (or reported late), with 责任人 and phone, a message in the
bureau's words for each and for the group, and a formula-safe CSV for an SMS platform; contacts
edited or loaded from a table through the sandboxed reader and the one unit matcher."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from enrollment import text
from enrollment.cli import cli
from enrollment.cycle import contacts, reminders
from enrollment.identity import audit

from .fixtures import csv_bytes, dump, record, xlsx_bytes

CAMPAIGN = "jincheng-2022-residents"
W12 = dt.date(2021, 11, 19)


def utc(*parts):
    """A Shanghai wall-clock time as the UTC the app stores."""
    return dt.datetime(*parts) - dt.timedelta(hours=8)


@pytest.fixture
def week(store):
    # 城区 on time, 泽州 late (Friday 18:30), the other four counties missing.
    record(store, CAMPAIGN, W12, {"140502": 150000}, now=utc(2021, 11, 19, 15, 0))
    record(store, CAMPAIGN, W12, {"140525": 300000}, now=utc(2021, 11, 19, 18, 30))
    contacts.save(store, CAMPAIGN, [("140521", "王五", "13800001111"),
                                    ("140525", "李四", "0356-2221234")], actor="管理员")
    return store


def due(store, jincheng, now, **kwargs):
    with store.read() as tx:
        return reminders.due(tx, jincheng, W12, now=now, **kwargs)


def test_after_the_deadline_each_missing_unit_gets_the_bureaus_wording(week, jincheng):
    found = due(week, jincheng, utc(2021, 11, 22, 9, 0))
    assert found.headline() == "第12周（截止11月19日17:00）应报6个县（市、区）：按时上报1个，逾期上报1个，未上报4个"
    by_name = {r.name: r for r in found.due}
    assert set(by_name) == {"沁水县", "阳城县", "陵川县", "高平市", "泽州县"}
    assert by_name["沁水县"].message == "沁水县：截至11月19日17:00尚未报送第12周参保进度，请于今日内报送。"
    assert (by_name["沁水县"].person, by_name["沁水县"].phone) == ("王五", "13800001111")
    assert by_name["泽州县"].message == ("泽州县：第12周参保进度于11月19日18:30报送，晚于截止时间11月19日17:00，"
                                        "请今后每周五17:00前按时报送。")
    assert found.group_message == ("【催报】截至11月19日17:00，第12周参保进度尚有4个单位未报送：沁水县、阳城县、"
                                   "陵川县、高平市，请于今日内报送。逾期报送1个：泽州县，请今后每周五17:00前按时报送。")


def test_before_the_deadline_the_message_says_the_time_and_asks_by_the_deadline(store, jincheng):
    found = due(store, jincheng, utc(2021, 11, 19, 15, 20))
    assert found.due[0].message == "城区：截至11月19日15:20尚未报送第12周参保进度，请于今日17:00前报送。"
    earlier = due(store, jincheng, utc(2021, 11, 17, 10, 0))
    assert earlier.due[0].message == "城区：截至11月17日10:00尚未报送第12周参保进度，请于11月19日17:00前报送。"
    assert "请于11月19日17:00前报送" in earlier.group_message


def test_a_week_everyone_reported_has_nothing_to_chase(store, jincheng):
    record(store, CAMPAIGN, W12, {c: 100000 for c in ("140502", "140521", "140522", "140524",
                                                     "140525", "140581")}, now=utc(2021, 11, 19, 9, 0))
    found = due(store, jincheng, utc(2021, 11, 22, 9, 0))
    assert found.due == []
    assert found.group_message == "【催报】第12周参保进度应报6个单位，截至11月19日17:00均已按时报送。"


def test_the_sms_list_holds_mobiles_only_and_is_formula_safe(week, jincheng):
    contacts.save(week, CAMPAIGN, [("140522", "=HYPERLINK(\"http://x\")", "+86 139 0000 2222")],
                  actor="管理员")
    found = due(week, jincheng, utc(2021, 11, 22, 9, 0))
    sms = found.sms_frame()
    assert list(sms["单位"]) == ["沁水县", "阳城县"]          # 泽州's landline cannot take a text
    assert list(sms["手机号码"]) == ["13800001111", "+8613900002222"]
    data = text.csv_bytes(sms).decode("utf-8-sig")
    assert "'=HYPERLINK" in data and "\n=HYPERLINK" not in data and ",=HYPERLINK" not in data
    assert {r.name for r in found.without_mobile} == {"陵川县", "高平市", "泽州县"}


def test_the_cli_prints_the_table_json_csv_and_text(week):
    runner = CliRunner()
    base = ["--db", week.target, "remind", "--campaign", CAMPAIGN, "--as-of", "2021-11-17"]
    table = runner.invoke(cli, base)
    assert table.exit_code == 0, table.output
    assert "应报6个县（市、区）" in table.output and "群消息：【催报】" in table.output
    assert "王五" in table.output and "未列入短信表" in table.output
    parsed = json.loads(runner.invoke(cli, base + ["--format", "json"]).output)
    assert parsed["week"] == 12 and parsed["as_of"] == "2021-11-19"
    assert {u["name"] for u in parsed["units"]} == {"沁水县", "阳城县", "陵川县", "高平市", "泽州县"}
    assert parsed["group_message"].startswith("【催报】")
    csv_out = runner.invoke(cli, base + ["--format", "csv"]).output
    assert csv_out.splitlines()[0] == "手机号码,姓名,单位,短信内容"
    lines = runner.invoke(cli, base + ["--format", "text"]).output.splitlines()
    assert len(lines) == 6 and lines[-1].startswith("【催报】")


# --- contacts ---------------------------------------------------------------------------------

def test_a_contacts_table_is_read_matched_and_saved(store):
    table = xlsx_bytes([["晋城市各县区催报联系人"], [],
                        ["县（市、区）", "责任人", "手机号码"],
                        ["城区", "张三", 13800001111.0],
                        ["泽州", "李四", "０３５６－２２２１２３４"],
                        ["高平市", "", ""]])
    checked = contacts.load(store, CAMPAIGN, table, "联系人.xlsx", actor="管理员")
    assert [(r[1], r[3], r[4]) for r in checked.rows] == [
        ("140502", "张三", "13800001111"), ("140525", "李四", "0356-2221234"), ("140581", None, None)]
    with store.read() as tx:
        listed = contacts.listing(tx, CAMPAIGN, "county").set_index("code")
        entry = audit.query(tx, actions=["contacts_changed"]).iloc[0]
    assert listed.loc["140525", "phone"] == "0356-2221234"
    assert "载入联系人表「联系人.xlsx」：2 个单位" in entry["detail"]


def test_a_contacts_table_with_errors_changes_nothing(store):
    contacts.save(store, CAMPAIGN, [("140502", "原来的人", "13800000000")], actor="管理员")
    before = dump(store, audit=True)
    table = csv_bytes([["单位", "联系人", "联系电话"], ["城区", "张三", "13800001111"],
                       ["火星县", "李四", "13800002222"], ["泽州县", "王五", "请打办公室"],
                       ["城区", "赵六", "13800003333"], ["阳城县", "钱\u200b七", "13800004444"]])
    with pytest.raises(contacts.ContactError) as refused:
        contacts.load(store, CAMPAIGN, table, "c.csv", actor="管理员")
    message = str(refused.value)
    assert "第 3 行：未知单位「火星县」" in message
    assert "第 4 行：「泽州县」的联系电话「请打办公室」不是电话号码" in message
    assert "第 5 行：「城区」重复出现（第 2 行已填写）" in message
    assert "第 6 行：「阳城县」的责任人中有零宽空格" in message
    assert dump(store, audit=True) == before


@pytest.mark.parametrize("content, reason", [
    (b"", "文件是空的"),
    (csv_bytes([["单位", "任务数"], ["城区", "1"]]), "没有找到表头"),
])
def test_a_file_that_is_no_contacts_table_says_why(store, content, reason):
    with pytest.raises(contacts.ContactError, match=reason):
        contacts.load(store, CAMPAIGN, content, "x.csv", actor="管理员")


def test_the_contacts_cli_sets_loads_lists_and_writes_a_template(store, tmp_path):
    runner = CliRunner()
    db = ["--db", store.target]
    done = runner.invoke(cli, db + ["contacts", "set", "--campaign", CAMPAIGN, "--unit", "城区",
                                    "--person", "张三", "--phone", "13800001111"])
    assert done.exit_code == 0 and "已保存「城区」的联系人" in done.output
    bad = runner.invoke(cli, db + ["contacts", "set", "--campaign", CAMPAIGN, "--unit", "城区",
                                   "--phone", "abc"])
    assert bad.exit_code == 1 and "不是电话号码" in bad.output
    template = tmp_path / "联系人.xlsx"
    done = runner.invoke(cli, db + ["contacts", "template", "--campaign", CAMPAIGN, "--out", str(template)])
    assert done.exit_code == 0, done.output
    import openpyxl
    sheet = openpyxl.load_workbook(template).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["单位代码", "单位", "责任人", "联系电话"]
    assert ["140502", "城区", "张三", "13800001111"] in rows
    sheet.cell(row=[r[1] for r in rows].index("泽州县") + 1, column=4, value="13900002222")
    sheet.parent.save(template)
    dry = runner.invoke(cli, db + ["contacts", "load", str(template), "--campaign", CAMPAIGN, "--dry-run"])
    assert dry.exit_code == 0 and "检查通过（未保存）" in dry.output
    done = runner.invoke(cli, db + ["contacts", "load", str(template), "--campaign", CAMPAIGN])
    assert done.exit_code == 0, done.output
    listed = json.loads(runner.invoke(cli, db + ["contacts", "list", "--campaign", CAMPAIGN,
                                                 "--level", "county", "--format", "json"]).output)
    assert {r["name"]: r["phone"] for r in listed}["泽州县"] == "13900002222"
