"""Money collected at the seeds' figures: Jincheng 320 元/人 and payment on days 1-25 of each
month (晋市医保发〔2021〕20号), Zhoujiaba 一档 320 / 二档 695 元 (万州周办发〔2022〕1号): the
upload check, progress in every format, the overview's headline and table, and the exports."""

import datetime as dt
import io
import json

import openpyxl
import pytest
from click.testing import CliRunner
from docx import Document

from enrollment import campaigns
from enrollment.cli import cli
from enrollment.export import bulletin, tables, workbook
from enrollment.export import model as exports
from enrollment.files.problems import WARNING
from enrollment.metrics import overview, progress
from enrollment.targets import tables as targets
from enrollment.targets.tables import TargetRow, TargetTable
from enrollment.uploads import ingest

from .fixtures import NOW, TODAY, csv_bytes

D = dt.date
JINCHENG = "jincheng-2022-residents"
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
TIANZIHU = "500101021001"


def money_csv(rows) -> bytes:
    return csv_bytes([["单位", "累计参保人数", "缴费金额（元）"], *rows])


def check(store, campaign_id, content, day=D(2021, 11, 19), today=TODAY):
    return ingest.preview(store, campaign_id, content, "x.csv", report_date=day, today=today)


def commit(store, campaign_id, content, day=D(2021, 11, 19), today=TODAY):
    return ingest.commit(store, campaign_id, content, f"{day}.csv", report_date=day,
                         accept_warnings=True, now=NOW, today=today)


def warnings_of(preview):
    return [p.message for p in preview.problems if p.severity == WARNING]


def test_five_yuan_for_310000_people_warns_with_both_figures(store):
    found = check(store, JINCHENG, money_csv([["泽州", 310000, 5]]))
    assert found.ok
    assert warnings_of(found) == [
        "「泽州县」缴费金额 5.00 元，按 310,000 人 × 320 元测算应为 99,200,000.00 元，相差 100.0%"
        "（超过 20%），请核对金额（单位为元）和人数"]
    # Within 20% of 320 元 a person: no question.
    assert warnings_of(check(store, JINCHENG, money_csv([["泽州", 310000, 80_000_000]]))) == []
    assert warnings_of(check(store, JINCHENG, money_csv([["泽州", 310000, 119_000_000]]))) == []
    assert len(warnings_of(check(store, JINCHENG, money_csv([["泽州", 310000, 120_000_000]])))) == 1


def test_the_margin_is_a_setting(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_AMOUNT_MARGIN", "0.5")
    assert warnings_of(check(store, JINCHENG, money_csv([["泽州", 310000, 60_000_000]]))) == []
    monkeypatch.setenv("ENROLLMENT_AMOUNT_MARGIN", "0.01")
    assert len(warnings_of(check(store, JINCHENG, money_csv([["泽州", 310000, 97_000_000]])))) == 1


def test_a_campaign_without_a_contribution_checks_no_amount(store):
    found = check(store, "jincheng-2021-employees", money_csv([["泽州", 40000, 5]]),
                  day=D(2021, 11, 19))
    assert warnings_of(found) == []


@pytest.fixture
def wanzhou_targets(store):
    table = TargetTable(rows=[TargetRow(0, TIANZIHU, "天子湖社区", 10000),
                              TargetRow(0, "500101021002", "天生城社区", 8000)],
                        level="community", scope_code="500101021")
    with store.write() as con:
        targets.save(con, WANZHOU, table, source="test")


def test_two_tiers_give_a_range_from_320_to_695_yuan(store, wanzhou_targets):
    day, today = D(2022, 1, 7), D(2022, 1, 7)
    low = check(store, WANZHOU, money_csv([["天子湖", 1000, 200_000]]), day, today)
    assert warnings_of(low) == [
        "「天子湖社区居民委员会」缴费金额 200,000.00 元，按 1,000 人测算应在 320,000.00 元（一档 320 元）"
        "至 695,000.00 元（二档 695 元）之间，相差 37.5%（超过 20%），请核对金额（单位为元）和人数"]
    for fine in (256_000, 500_000, 834_000):
        assert warnings_of(check(store, WANZHOU, money_csv([["天子湖", 1000, fine]]), day, today)) == []
    assert len(warnings_of(check(store, WANZHOU, money_csv([["天子湖", 1000, 835_000]]), day,
                                 today))) == 1


def test_a_rise_without_a_payment_day_between_warns(store):
    commit(store, JINCHENG, money_csv([["泽州", 300000, 96_000_000]]), D(2021, 11, 25))
    found = check(store, JINCHENG, money_csv([["泽州", 301000, 96_320_000]]), D(2021, 11, 30))
    assert warnings_of(found) == [
        "「泽州县」累计参保人数较 2021-11-25（300,000）增加 1,000，但 2021-11-26 至 2021-11-30 没有缴费日"
        "（每月 1-25 日可办理缴费），请核对上报日期和数字"]
    assert warnings_of(check(store, JINCHENG, money_csv([["泽州", 301000, 96_320_000]]),
                             D(2021, 12, 3))) == []
    # The same figure on a day without payment is no question.
    assert warnings_of(check(store, JINCHENG, money_csv([["泽州县", 300000, 96_000_000]]),
                             D(2021, 11, 30))) == []


@pytest.fixture
def collected(store, jincheng):
    """泽州 310,000 enrolled and 99,000,000 元, 城区 180,000 and 57,600,000 元 on 19 November."""
    commit(store, JINCHENG, money_csv([["泽州", 310000, 99_000_000], ["城区", 180000, 57_600_000]]))
    return jincheng


def run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


def test_progress_carries_the_amount_in_every_format(store, collected):
    payload = json.loads(run(store, "progress", "--campaign", JINCHENG, "--as-of", "2021-11-19",
                             "--format", "json").output)
    units = {u["code"]: u for u in payload["units"]}
    assert units["140525"]["amount"] == 99_000_000
    assert units["140525"]["expected_amount"] == 310000 * 320
    assert units["140525"]["amount_share"] == pytest.approx(99_000_000 / 99_200_000)
    assert payload["total"]["amount"] == 156_600_000
    assert payload["total"]["expected_amount"] == 490000 * 320
    assert payload["contribution_yuan"] == 320 and payload["amount_basis"] == "按320元/人测算"
    csv_text = run(store, "progress", "--campaign", JINCHENG, "--as-of", "2021-11-19",
                   "--format", "csv").output
    header, *lines = csv_text.splitlines()
    assert header.endswith("amount,expected_amount,amount_share")
    assert any(line.startswith("140525,") and ",99000000.0,99200000.0," in line for line in lines)
    text = run(store, "progress", "--campaign", JINCHENG, "--as-of", "2021-11-19").output
    assert "征缴金额 15,660.00万元，占应缴金额 15,680.00万元（按320元/人测算）的 99.87%" in text
    assert "征缴金额（元）" in text and "99,000,000.00" in text


def test_overview_headline_and_table_show_money(store, collected):
    with store.read() as con:
        result = progress.compute(con, collected, D(2021, 11, 19), view="1405")
        trend = progress.trend(con, collected, "1405")
    view = overview.View.at(result, "1405")
    head = overview.headline(result, view.unit, trend)
    assert (head.amount, head.amount_share) == ("15,660.00万元", "应缴的 99.87%")
    assert "应缴金额 15,680.00万元" in head.amount_help
    assert head.summary_markdown.splitlines()[1] == "征缴金额 **15,660.00万元**（应缴的 99.87%） · 按320元/人测算  "
    table = tables.unit_table(view.children, 0.5, money=overview.shows_money(result, view.children))
    row = table.set_index("单位").loc["泽州县"]
    assert row["征缴金额（元）"] == 99_000_000 and row["应缴金额（元）"] == 99_200_000
    assert row["征缴金额占应缴比例"] == pytest.approx(99_000_000 / 99_200_000 * 100)


def test_employees_show_no_money_when_none_is_known(store):
    c = campaigns.load(store, "jincheng-2021-employees")
    with store.read() as con:
        result = progress.compute(con, c, D(2021, 11, 19))
        trend = progress.trend(con, c, c.region_code)
    head = overview.headline(result, result.total, trend)
    assert head.amount is None and not overview.shows_money(result, result.units)


def test_exports_state_the_money(store, collected):
    with store.read() as con:
        data = exports.gather(con, collected, D(2021, 11, 19), "upload")
    book = openpyxl.load_workbook(io.BytesIO(workbook.build(data)))
    ws = book["县（市、区）"]
    header = [c.value for c in ws[3]]
    rows = {r[1].value: r for r in ws.iter_rows(min_row=4) if r[1].value}
    zezhou = rows["泽州县"]
    assert zezhou[header.index("征缴金额（元）")].value == 99_000_000
    assert zezhou[header.index("应缴金额（元）")].value == 99_200_000
    share = zezhou[header.index("征缴金额占应缴比例")]
    assert share.value == pytest.approx(99_000_000 / 99_200_000) and share.number_format == "0.00%"
    total = rows["合计"]
    assert total[header.index("征缴金额（元）")].value.startswith("=SUM(")
    assert any("应缴金额 = 累计参保人数 × 缴费标准（按320元/人测算）" in (c.value or "")
               for r in ws.iter_rows(min_row=4) for c in r if isinstance(c.value, str))
    text = bulletin.draft(data).markdown()
    assert "累计征缴金额15,660.00万元，为应缴金额15,680.00万元（按320元/人测算）的99.87%。" in \
        bulletin.overall(data)[1]
    assert "累计征缴金额15" in text
    doc = Document(io.BytesIO(bulletin.build(data)))
    assert any("累计征缴金额15,660.00万元" in p.text for p in doc.paragraphs)


def test_the_bulletin_states_an_extension(store, collected):
    campaigns.change_window(store, JINCHENG, end=D(2022, 1, 15), reason="为防控疫情风险")
    c = campaigns.load(store, JINCHENG)
    with store.read() as con:
        data = exports.gather(con, c, D(2021, 11, 19), "upload")
    first = bulletin.overall(data)[0]
    assert "为防控疫情风险，集中参保期已延长至2022年1月15日。集中参保期共137天，已过80天" in first
    assert "集中参保缴费期至2022年1月15日结束" in " ".join(bulletin.requests(data))
    line = openpyxl.load_workbook(io.BytesIO(workbook.build(data)))["县（市、区）"]["A2"].value
    assert "集中参保期 2021年9月1日至2022年1月15日（已延长）" in line


def test_zhoujiaba_s_drafted_bulletin_states_its_shipped_extension(store, wanzhou_targets):
    c = campaigns.load(store, WANZHOU)
    commit(store, WANZHOU, money_csv([["天子湖", 9000, 2_880_000], ["天生城", 7000, 2_240_000]]),
           D(2022, 2, 28), D(2022, 2, 28))
    with store.read() as con:
        data = exports.gather(con, c, D(2022, 2, 28), "upload")
    first = bulletin.overall(data)[0]
    assert "为防控疫情风险（万州周办发〔2022〕1号），集中参保期已延长至2022年2月28日。" in first
    assert "（按一档320元/人测算（在渝高校大学生280元））的100.00%" in bulletin.overall(data)[1]
    assert data.week == 14 and "第14周（截止2月28日17:00）" in bulletin.reports(data)[0]
