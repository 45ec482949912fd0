"""Groups (分类人群) at Zhoujiaba's figures (万州周办发〔2022〕1号): the low-income groups at
100%, subsidies of 100% / 90% / 70% of the 一档 320 元, students at 280 / 655 元; their columns
in target tables, uploads and templates, the checks, the roll-up, the page, the command and
the exports. The community populations are test figures: the notice's attachment is not in
the seeds."""

import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from click.testing import CliRunner
from docx import Document
from streamlit.testing.v1 import AppTest

from enrollment import campaigns, db
from enrollment.cli import cli
from enrollment.export import bulletin, workbook
from enrollment.export import model as exports
from enrollment.files import reader
from enrollment.files.problems import ERROR, WARNING
from enrollment.metrics import groups, progress
from enrollment.targets import tables as targets
from enrollment.uploads import ingest, template, withdrawals

from .fixtures import ROOT, csv_bytes, xlsx_bytes

D = dt.date
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
STREET, TIANZIHU, TIANSHENGCHENG = "500101021", "500101021001", "500101021002"
DAY = D(2022, 1, 7)
LOW = ["特困人员", "低保对象", "返贫致贫人口", "脱贫不稳定户", "边缘易致贫户", "突发严重困难户",
       "低保边缘户", "稳定脱贫人口"]
OTHERS = ["流水", "周家坝", "救兵城", "天子路", "映水坪", "双堰塘", "长生河", "集中", "狮子"]


def target_csv(tianzihu=(20, 50, 5, 5, 5, 5, 10, 30), low_income=None) -> bytes:
    header = ["单位", "任务数", "低收入人口数"] + [f"{name}数" for name in LOW]
    rows = [["天子湖", 10000, low_income, *tianzihu],
            ["天生城", 8000, 100, 10, 40, 5, 5, 5, 5, 10, 20]]
    rows += [[name, 5000, None] + [None] * len(LOW) for name in OTHERS]
    return csv_bytes([header, *rows])


def report_csv(rows, extra=()) -> bytes:
    header = ["单位", "累计参保人数", "缴费金额"] + [f"{name}参保人数" for name in LOW] + list(extra)
    return csv_bytes([header, *rows])


TIANZIHU_ROW = ["天子湖", 9000, 2_880_000, 19, 50, 5, 5, 5, 5, 10, 30]
TIANSHENGCHENG_ROW = ["天生城", 7000, 2_240_000, 10, 38, 5, 5, 5, 5, 10, 20]


@pytest.fixture
def wanzhou(store):
    saved = targets.commit(store, WANZHOU, target_csv(), "任务.csv", accept_warnings=True)
    assert saved.units == 11
    return campaigns.load(store, WANZHOU)


def commit(store, content, day=DAY, **kwargs):
    return ingest.commit(store, WANZHOU, content, f"{day}.csv", report_date=day,
                         accept_warnings=True, today=day, **kwargs)


def preview(store, content, day=DAY, campaign=WANZHOU):
    return ingest.preview(store, campaign, content, "x.csv", report_date=day, today=day)


def test_the_shipped_definitions_carry_the_seeds_figures(store):
    w = campaigns.load(store, WANZHOU)
    assert [(t.name, t.yuan) for t in w.terms.tiers] == [("一档", 320), ("二档", 695)]
    assert [g.name for g in w.terms.low_income_groups] == LOW
    assert all(g.goal == 1 for g in w.terms.low_income_groups)
    per_person = {g.name: [s.per_person(Decimal(320)) for s in g.subsidies] for g in w.terms.groups}
    assert per_person["特困人员"] == [320, 320]
    assert per_person["低保对象"] == [288, 320]
    assert per_person["返贫致贫人口"] == per_person["低保边缘户"] == [224, 320]
    assert per_person["稳定脱贫人口"] == [100, 100]
    assert per_person["计生奖扶对象"] == [256]
    students = w.terms.group("students")
    assert students.name == "在渝高校大学生" and students.goal is None
    assert [t.yuan for t in students.contribution] == [280, 655]
    j = campaigns.load(store, "jincheng-2022-residents")
    assert (j.terms.base.yuan, j.terms.payment_days.first, j.terms.payment_days.last) == (320, 1, 25)
    assert j.terms.groups == () and j.low_income_goal is None


def test_target_tables_carry_a_population_per_group(store, wanzhou):
    with store.read() as con:
        populations = db.groups.current_targets(con, WANZHOU)
        current = db.targets.current(con, WANZHOU).set_index("code")
    assert populations[(TIANZIHU, "tekun")] == 20 and populations[(TIANZIHU, "wending_tuopin")] == 30
    # The low-income total, left empty, is the sum of the eight groups (one identity each).
    assert current.loc[TIANZIHU, "low_income"] == 130 and current.loc[TIANSHENGCHENG, "low_income"] == 100
    shown = json.loads(CliRunner().invoke(cli, ["--db", store.target, "targets", "show",
                                                "--campaign", WANZHOU, "--format", "json"]).output)
    row = next(r for r in shown if r["code"] == TIANZIHU)
    assert row["特困人员人数"] == 20 and row["稳定脱贫人口人数"] == 30
    # Restoring an earlier version brings its populations back with it.
    targets.commit(store, WANZHOU, target_csv(tianzihu=(21, 50, 5, 5, 5, 5, 10, 30)), "新.csv",
                   accept_warnings=True)
    with store.read() as con:
        assert db.groups.current_targets(con, WANZHOU)[(TIANZIHU, "tekun")] == 21
        first = int(targets.history(con, WANZHOU)["number"].min())
    targets.restore(store, WANZHOU, first)
    with store.read() as con:
        assert db.groups.current_targets(con, WANZHOU)[(TIANZIHU, "tekun")] == 20


def test_target_group_checks(store):
    found = targets.check_file(store, WANZHOU, target_csv(tianzihu=(20000, 50, 5, 5, 5, 5, 10, 30)))
    mismatch = targets.check_file(store, WANZHOU, target_csv(low_income=100))
    assert any(p.severity == WARNING and "特困人员人数 20,000 大于任务数 10,000" in p.message
               for p in found.problems)
    assert [p.message for p in mismatch.problems if "不一致" in p.message] == [
        "「天子湖社区居民委员会」各类低收入人口数之和 130 与低收入人口数 100 不一致，请确认"]


def test_the_target_template_has_a_column_per_group(store, wanzhou):
    with store.read() as con:
        content = targets.template(con, WANZHOU, "community")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    header = [c.value for c in sheet[3]]
    assert header[-8:] == [f"{name}人数" for name in LOW]
    assert sheet.cell(4, header.index("特困人员人数") + 1).value == 20


def test_uploaded_groups_roll_up_against_their_goal(store, wanzhou):
    commit(store, report_csv([TIANZIHU_ROW, TIANSHENGCHENG_ROW]))
    with store.read() as con:
        figures = groups.figures(con, wanzhou, DAY, view=True)
        result = progress.compute(con, wanzhou, DAY)
    street = figures[figures["code"] == STREET].set_index("group_key")
    assert (street.loc["tekun", "enrolled"], street.loc["tekun", "population"]) == (29, 30)
    assert (street.loc["tekun", "missing"], street.loc["tekun", "status"]) == (1, groups.BELOW)
    assert street.loc["dibao", "missing"] == 2 and street.loc["fanpin", "status"] == groups.ACHIEVED
    # Subsidies at 一档: 29 × 320, 88 × 288 (90%), 10 × 224 (70%), 50 × 100 (定额).
    assert street.loc["tekun", "subsidy"] == 29 * 320 and street.loc["dibao", "subsidy"] == 88 * 288
    assert street.loc["fanpin", "subsidy"] == 10 * 224 and street.loc["wending_tuopin", "subsidy"] == 5000
    # The low-income total is the groups' sum, stored as the existing column.
    units = result.units.set_index("code")
    assert units.loc[TIANZIHU, "low_income_enrolled"] == 129
    assert units.loc[STREET, "low_income_enrolled"] == 129 + 98
    summary = groups.summary(figures, STREET).set_index("分类人群")
    assert summary.loc["特困人员", "未达标下级单位数"] == 1
    worst = groups.by_unit(figures, STREET, "tekun")
    assert list(worst.dropna(subset=["参保率"])["单位"]) == ["天子湖社区居民委员会", "天生城社区居民委员会"]


def _messages(found, severity):
    return [p.message for p in found.problems if p.severity == severity]


def test_a_group_larger_than_the_total_is_an_error(store, wanzhou):
    found = preview(store, report_csv([["天子湖", 10, 3200, 19, 50, 5, 5, 5, 5, 10, 30]]))
    assert "「天子湖社区居民委员会」特困人员参保人数 19 大于累计参保人数 10，分类人群是参保人的一部分，请核对" in \
        _messages(found, ERROR)
    assert "「天子湖社区居民委员会」各类低收入人口参保人数之和 129 大于累计参保人数 10，请核对" in \
        _messages(found, ERROR)


def test_999999_low_income_with_310000_enrolled_is_an_error(store):
    content = csv_bytes([["单位", "累计参保人数", "低收入人口参保人数"], ["泽州", 310000, 999999]])
    found = preview(store, content, D(2021, 11, 19), "jincheng-2022-residents")
    assert _messages(found, ERROR) == [
        "「泽州县」低收入人口参保人数 999,999 大于累计参保人数 310,000，低收入人口是参保人的一部分，请核对"]
    fine = csv_bytes([["单位", "累计参保人数", "低收入人口参保人数"], ["泽州", 310000, 9999]])
    assert preview(store, fine, D(2021, 11, 19), "jincheng-2022-residents").ok


def test_groups_above_their_population_and_empty_columns_warn(store, wanzhou):
    found = preview(store, report_csv([["天子湖", 9000, 2_880_000, 25, 50, 5, 5, 5, 5, 10, None]]))
    warnings = _messages(found, WARNING)
    assert "「天子湖社区居民委员会」特困人员参保人数 25 超过该单位特困人员目标人数 20，请确认" in warnings
    assert "「稳定脱贫人口参保人数」列全部为空，而其他分类人群列已填写。如该类人群确无参保人，请填 0；" \
           "留空则本次不上报该类人群" in warnings
    assert found.ok
    # A file without any group figure asks nothing about groups.
    plain = preview(store, csv_bytes([["单位", "累计参保人数", "特困人员参保人数"], ["天子湖", 9000, None]]))
    assert not any("列全部为空" in m for m in _messages(plain, WARNING))


def test_low_income_groups_against_the_total_column(store, wanzhou):
    rows = [TIANZIHU_ROW + [120]]
    found = preview(store, report_csv(rows, extra=["低收入人口参保人数"]))
    assert any("参保人数之和 129 与低收入人口参保人数 120 不一致" in m for m in _messages(found, WARNING))
    assert preview(store, report_csv([TIANZIHU_ROW + [129]], extra=["低收入人口参保人数"])).warnings == []


def test_merged_headers_name_the_group(store, wanzhou):
    rows = [["单位", "累计参保人数", "特困人员", None, "低保对象", None],
            [None, None, "参保人数", "缴费金额", "参保人数", "缴费金额"],
            ["天子湖", 9000, 19, 0, 50, 1600]]
    merges = [(0, 0, 1, 0, "单位"), (0, 1, 1, 1, "累计参保人数"), (0, 2, 0, 3, "特困人员"),
              (0, 4, 0, 5, "低保对象")]
    found = preview(store, xlsx_bytes(rows, merges=merges))
    assert found.ok and found.rows[0].groups == {"tekun": (19, 0.0), "dibao": (50, 1600.0)}


def test_corrections_and_withdrawals_move_group_figures(store, wanzhou):
    commit(store, report_csv([TIANZIHU_ROW]), uploader="甲")
    corrected = list(TIANZIHU_ROW)
    corrected[3] = 20
    commit(store, report_csv([corrected]), uploader="乙")
    with store.read() as con:
        assert groups.figures(con, wanzhou, DAY).set_index(["code", "group_key"]).loc[
            (TIANZIHU, "tekun"), "enrolled"] == 20
    withdrawals.withdraw(store, WANZHOU, "乙")
    with store.read() as con:
        back = groups.figures(con, wanzhou, DAY).set_index(["code", "group_key"])
    assert back.loc[(TIANZIHU, "tekun"), "enrolled"] == 19
    assert back.loc[(TIANZIHU, "wending_tuopin"), "enrolled"] == 30
    withdrawals.withdraw(store, WANZHOU, "甲")
    with store.read() as con:
        gone = groups.figures(con, wanzhou, DAY)
    assert gone["enrolled"].isna().all()


def test_the_upload_template_has_a_column_per_group_and_reads_back(store, wanzhou):
    with store.read() as con:
        made = template.build(con, wanzhou, report_date=DAY)
    book = openpyxl.load_workbook(io.BytesIO(made.content))
    sheet = book.active
    header = [c.value for c in sheet[4]]
    assert header[9:17] == [f"{name}参保人数" for name in LOW] and header[-1] == "备注"
    assert "在渝高校大学生参保人数" not in header         # students enrol through universities
    first = 5
    assert sheet.cell(first, 3).value == "天子湖社区居民委员会"
    sheet.cell(first, 7).value = 9000
    for k, value in enumerate([19, 50, 5, 5, 5, 5, 10, 30]):
        sheet.cell(first, 10 + k).value = value
    buffer = io.BytesIO()
    book.save(buffer)
    found = preview(store, buffer.getvalue())
    assert found.ok, found.problems
    assert found.rows[0].groups["tekun"] == (19, None) and found.rows[0].low_income_enrolled == 129


def test_students_are_owed_their_own_contribution(store, wanzhou):
    commit(store, report_csv([TIANZIHU_ROW + [100, 28_000]],
                             extra=["在渝高校大学生参保人数", "在渝高校大学生缴费金额"]))
    with store.read() as con:
        result = progress.compute(con, wanzhou, DAY)
    row = result.units.set_index("code").loc[TIANZIHU]
    assert row["expected_amount"] == 8900 * 320 + 100 * 280
    wrong = preview(store, report_csv([TIANZIHU_ROW + [100, 5]],
                                      extra=["在渝高校大学生参保人数", "在渝高校大学生缴费金额"]))
    assert any(m.startswith("「天子湖社区居民委员会」在渝高校大学生缴费金额 5.00 元，按 100 人测算应在 "
                            "28,000.00 元（一档 280 元）至 65,500.00 元（二档 655 元）之间")
               for m in _messages(wrong, WARNING))


def test_the_groups_command(store, wanzhou):
    commit(store, report_csv([TIANZIHU_ROW, TIANSHENGCHENG_ROW]))
    run = lambda *args: CliRunner().invoke(cli, ["--db", store.target, "groups", "--campaign",
                                                 WANZHOU, "--as-of", "2022-01-07", *args])
    payload = json.loads(run("--format", "json").output)
    tekun = next(r for r in payload["groups"] if r["code"] == STREET and r["group_key"] == "tekun")
    assert (tekun["population"], tekun["enrolled"], tekun["missing"], tekun["status"]) == (
        30, 29, 1, "未达标")
    table = run().output
    assert "特困人员" in table and "未达标" in table
    one = run("--group", "特困人员", "--format", "json")
    codes = [r["code"] for r in json.loads(one.output)["groups"]]
    assert STREET not in codes and TIANZIHU in codes and len(codes) == 11
    assert run("--group", "不存在").exit_code == 1
    no_groups = CliRunner().invoke(cli, ["--db", store.target, "groups", "--campaign",
                                         "jincheng-2022-residents"])
    assert no_groups.exit_code == 1 and "没有分类人群" in no_groups.output


def test_exports_name_the_units_below_100_and_how_many_are_missing(store, wanzhou):
    commit(store, report_csv([TIANZIHU_ROW, TIANSHENGCHENG_ROW]))
    with store.read() as con:
        data = exports.gather(con, wanzhou, DAY, "upload")
    lines = bulletin.group_lines(data)
    assert "特困人员参保率要求达到100%，未达到的村（社区）有1个，共还差1人：天子湖社区居民委员会（95.00%，还差1人）。" in lines
    assert "低保对象参保率要求达到100%，未达到的村（社区）有1个，共还差2人：天生城社区居民委员会（95.00%，还差2人）。" in lines
    assert "返贫致贫人口参保率要求达到100%，已上报的2个村（社区）均已达到。" in lines
    doc = Document(io.BytesIO(bulletin.build(data)))
    assert any("特困人员参保率要求达到100%" in p.text for p in doc.paragraphs)
    assert any("特困人员、低保对象参保率未达到要求的单位要对照名单逐人核实" in p.text
               for p in doc.paragraphs)
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.build(data)))["分类人群"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=4) if row[0].value]
    tekun = [r for r in rows if r[0] == "特困人员" and r[3] is not None]
    assert tekun[0][:4] == ["特困人员", "天子湖社区居民委员会", 20, 19] and tekun[0][7] == "未达标"
    assert sheet.cell(4 + rows.index(tekun[0]), 1).fill.fgColor.rgb == "FFFDE2E1"


def test_the_overview_has_a_groups_tab(store, wanzhou):
    commit(store, report_csv([TIANZIHU_ROW, TIANSHENGCHENG_ROW]))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params.update({"campaign": WANZHOU, "as_of": "2022-01-07", "tab": "分类人群"})
    at.run()
    assert not at.exception, at.exception
    frames = [d.value for d in at.dataframe]
    summary = next(f for f in frames if "分类人群" in f.columns)
    tekun = summary.set_index("分类人群").loc["特困人员"]
    assert (tekun["目标人数"], tekun["已参保人数"], tekun["还差人数"]) == (30, 29, 1)
    assert any("特困人员参保率要求 **100%**" in m.value for m in at.markdown)
    at.selectbox(key="overview:group").set_value("dibao").run()
    units = next(d.value for d in at.dataframe if "单位" in d.value.columns and "还差人数" in d.value.columns)
    assert units.set_index("单位").loc["天生城社区居民委员会", "还差人数"] == 2


def test_reader_roles_claim_only_their_own_group(store):
    w = campaigns.load(store, WANZHOU)
    roles = reader.REPORT_ROLES + reader.group_roles(
        [(g.key, g.names, g.target_column) for g in w.terms.groups])
    assert reader.match_role("低保边缘户参保人数", roles).key == "group:dibao_bianyuan"
    assert reader.match_role("低保对象", roles).key == "group:dibao"
    assert reader.match_role("其中：特困人员", roles).key == "group:tekun"
    assert reader.match_role("在渝高校大学生缴费金额（元）", roles).key == "group_amount:students"
    assert reader.match_role("累计参保人数", roles).key == "enrolled"
