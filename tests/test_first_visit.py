"""What a new user meets first, without a browser: the headline's changes judged by sign, the
week and campaign a page opens at, an honest ranking axis, readable trend labels, formatted
downloads, a dated template and no English or raw values where Chinese words belong."""

import ast
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from enrollment import db
from enrollment.campaigns import choice, demo
from enrollment.export import charts, tables
from enrollment.files.problems import ERROR, WARNING, Problem
from enrollment.identity import accounts
from enrollment.labels import zone_label
from enrollment.metrics import overview, progress, reporting
from enrollment.uploads import ingest, template

from .fixtures import ROOT, TODAY, csv_bytes, record

CAMPAIGN = "jincheng-2022-residents"
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
AS_OF = dt.date(2021, 11, 19)


# --- 1. the headline's changes ---------------------------------------------------------------

@pytest.mark.parametrize("value, spec, text, sign, color, arrow", [
    (-7.6, "+.2f", "较序时 -7.60 个百分点", -1, "red", "down"),
    (15.49, "+.2f", "较序时 +15.49 个百分点", 1, "green", "up"),
    (-0.004, "+.2f", "较序时 0.00 个百分点", 0, "gray", "off"),       # zero as shown
    (0, "+.2f", "较序时 0.00 个百分点", 0, "gray", "off"),
])
def test_a_change_is_coloured_by_the_sign_it_shows(value, spec, text, sign, color, arrow):
    change = overview.Change.of("较序时", value, spec, " 个百分点")
    assert (change.text, change.sign, change.color, change.arrow) == (text, sign, color, arrow)


def test_the_headline_of_a_unit_behind_the_calendar_is_bad_news(store, jincheng):
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {"140525": 210475})
    record(store, CAMPAIGN, AS_OF, {"140525": 210475})            # nobody new this week
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
        series = progress.trend(con, jincheng, "140525")
    head = overview.headline(result, overview.View.at(result, "140525").unit, series)
    assert head.gap.text == "较序时 -14.90 个百分点" and head.gap.arrow == "down"
    assert head.gap.color == "red"
    assert head.week_delta.text == "较上周 0" and head.week_delta.color == "gray"


# --- 2. the week a page opens at --------------------------------------------------------------

def test_the_default_week_is_the_latest_one_with_reports(store, jincheng):
    # Nothing reported: the current week (the window's last day, long after it).
    with store.read() as con:
        assert reporting.default_week(con, jincheng, "upload", TODAY) == jincheng.end
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {"140502": 150000})
    with store.read() as con:
        # On Monday of week 12 nobody has reported for it yet: week 11, not a grey week 12.
        assert reporting.default_week(con, jincheng, "upload",
                                      dt.date(2021, 11, 15)) == dt.date(2021, 11, 12)
    record(store, CAMPAIGN, dt.date(2021, 11, 17), {"140525": 250000})    # a Wednesday
    with store.read() as con:
        # Within the window, the current week once it has a report …
        assert reporting.default_week(con, jincheng, "upload", dt.date(2021, 11, 18)) == AS_OF
        # … the week before while the current one has none yet …
        assert reporting.default_week(con, jincheng, "upload", dt.date(2021, 11, 23)) == AS_OF
        # … and after the window the week of the latest report, not week 18 that nobody reported.
        assert reporting.default_week(con, jincheng, "upload", TODAY) == AS_OF


# --- 3. the campaign a person opens at --------------------------------------------------------

def test_each_account_opens_its_own_campaign(store, jincheng):
    from enrollment.targets import tables as targets

    from .test_targets import zhoujiaba_table

    targets.commit(store, WANZHOU, zhoujiaba_table(), "周家坝.xlsx", accept_warnings=True)
    accounts.create(store, "zezhou", "reporter", "zezhou-pass-1", units=["140525"])
    accounts.create(store, "zjb", "reporter", "zhoujiaba-pass", units=["500101021"])
    accounts.create(store, "boss", "leader", "leader-pass-1")
    with store.read() as con:
        # With Zhoujiaba's targets loaded it heads the list; nobody has uploaded anything yet.
        assert db.campaigns.all_rows(con)[0]["id"] == WANZHOU
        assert choice.default_for(con, "zezhou", ["140525"]) == CAMPAIGN
        assert choice.default_for(con, "zjb", ["500101021"]) == WANZHOU
        assert choice.default_for(con, "boss") == WANZHOU
    record(store, CAMPAIGN, AS_OF, {"140502": 150000})
    with store.read() as con:
        # The campaign with the latest real upload for anyone without a unit or a habit.
        assert choice.default_for(con, "boss") == CAMPAIGN
        assert choice.default_for(con, None) == CAMPAIGN
    choice.remember(store, "boss", WANZHOU)
    choice.remember(store, "zezhou", "jincheng-2021-employees")   # 泽州县 is in both
    with store.read() as con:
        assert choice.default_for(con, "boss") == WANZHOU
        assert choice.default_for(con, "zezhou", ["140525"]) == "jincheng-2021-employees"
    choice.remember(store, "zezhou", WANZHOU)                     # not one of 泽州县's
    with store.read() as con:
        assert choice.default_for(con, "zezhou", ["140525"]) == CAMPAIGN


def test_unit_forms_find_units_of_every_campaign(store):
    with store.read() as con:
        units = db.units.across_campaigns(con)
        assert db.units.campaigns_of(con, ["140525"]) == {CAMPAIGN, "jincheng-2021-employees"}
    assert units["code"].is_unique
    assert {"140525", "500101021", "500101021001", "L140500"} <= set(units["code"])


def test_a_reporters_template_offers_their_own_unit_at_its_level(store, jincheng):
    with store.read() as con:
        own = template.scopes(con, CAMPAIGN, "county", ["140525"])
        townships = template.scopes(con, CAMPAIGN, "township", ["140525"])
        elsewhere = template.scopes(con, WANZHOU, "community", ["140525"])
    assert [u.name for u in own] == [u.name for u in townships] == ["泽州县"]
    assert elsewhere == []


# --- 4. and 5. the charts -----------------------------------------------------------------

def test_the_ranking_axis_starts_at_zero_and_every_bar_holds_its_label(store, jincheng):
    demo.generate(store, jincheng)
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF, "demo")
    for frame in (result.children("1405"), result.level("township").head(20)):
        frame = frame.assign(status=frame["status"].replace("no_target", "on_track"),
                             completion=frame["completion"].fillna(0.5))
        fig = charts.ranking_chart(frame, goal=0.97, pace=float(result.pace))
        low, high = fig.layout.xaxis.range
        assert low == 0 and high >= 97
        for bar in fig.data:
            assert len(bar.text) == len(bar.x) and all(t for t in bar.text)
            assert set(bar.textposition) <= {"inside", "outside"}
            # Long bars hold their label inside, short ones beside the bar: nothing off the chart.
            for x, where in zip(bar.x, bar.textposition):
                assert (where == "inside") == (x >= charts.INSIDE_FROM * high)


def test_the_trend_has_few_upright_week_labels(store, jincheng):
    demo.generate(store, jincheng)
    with store.read() as con:
        series = progress.trend(con, jincheng, "1405", "demo")
    fig = charts.trend_chart(series[series["as_of"] <= AS_OF], jincheng)
    ticks = fig.layout.xaxis.tickvals
    assert 3 <= len(ticks) <= charts.TREND_TICKS and fig.layout.xaxis.tickangle == 0
    assert ticks[0] == jincheng.first_week_end() and max(ticks) <= jincheng.end
    # Spread over the whole window (a phone shows all 17 weeks in about 250 pixels).
    assert (max(ticks) - ticks[0]).days >= 90


# --- 7. words and numbers on screen -----------------------------------------------------------

def test_messages_on_a_page_carry_no_bracketed_tags():
    problem = Problem(4, "未知单位「火星县」", WARNING)
    assert problem.text == "第 4 行：未知单位「火星县」"
    assert str(problem) == "[提醒] 第 4 行：未知单位「火星县」"        # the CLI keeps its tags
    assert Problem(None, "文件是空的", ERROR).text == "文件是空的"


def test_deadlines_name_the_zone_in_chinese(demo_data):
    assert zone_label("Asia/Shanghai") == "北京时间" and zone_label("Europe/Paris") == "Europe/Paris"
    from enrollment.export import workbook

    book = openpyxl.load_workbook(io.BytesIO(workbook.build(demo_data)))
    line = book["上报情况"]["A2"].value
    assert "（北京时间）" in line and "CST" not in line


def test_every_table_on_a_page_shows_a_dash_for_an_empty_cell():
    # st.dataframe's own word for a missing value is 「None」; the browser test looks at two.
    calls = []
    for path in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "dashboard.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("dataframe", "data_editor")):
                calls.append((path.name, node.lineno, {k.arg for k in node.keywords}))
    assert len(calls) >= 10
    assert [c[:2] for c in calls if "placeholder" not in c[2]] == []


def test_a_csv_preview_names_no_worksheet(store):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = CAMPAIGN
    at.run()
    at.switch_page("pages/upload.py").run()
    at.file_uploader[0].set_value(
        ("上报.csv", csv_bytes([["县区", "累计参保人数"], ["泽州县", 270000]]), "text/csv")).run()
    assert not at.exception, at.exception
    caption = " ".join(c.value for c in at.caption)
    assert "表头在第 1 行" in caption and "工作表" not in caption      # not 工作表「CSV」


def test_a_rejected_rows_count_has_its_separators(store):
    content = csv_bytes([["县区", "累计参保人数"], ["火星县", 241000], ["泽州县", "1234567"]])
    preview = ingest.preview(store, CAMPAIGN, content, "a.csv", AS_OF, today=TODAY)
    frame = preview.frame()
    assert list(frame["累计参保人数"]) == ["241,000", "1,234,567"]


# --- 9. downloads ------------------------------------------------------------------------------

def test_table_downloads_are_formatted(demo_data):
    frame = demo_data.result.children("1405")
    table = tables.unit_table(frame, float(demo_data.result.time_progress))
    csv = pd.read_csv(io.BytesIO(tables.to_csv_bytes(table)), encoding="utf-8-sig",
                      dtype={"单位代码": str})
    assert "完成率（%）" in csv.columns and "完成率" not in csv.columns
    first = frame.iloc[0]
    assert csv.loc[0, "完成率（%）"] == round(first["completion"] * 100, 2)
    raw = tables.to_csv_bytes(table).decode("utf-8-sig")
    assert not any(len(part.split(".")[-1]) > 2 for part in raw.replace("\r\n", ",").split(",")
                   if part.replace(".", "").replace("-", "").isdigit() and "." in part)
    sheet = openpyxl.load_workbook(io.BytesIO(tables.to_xlsx_bytes(table, "晋城市"))).active
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2])}
    assert row["完成率"].number_format == "0.00%"
    assert row["完成率"].value == pytest.approx(first["completion"])
    assert row["累计参保人数"].number_format == "#,##0"
    assert isinstance(row["累计参保人数"].value, int)
    assert row["与序时目标差距（百分点）"].number_format == "+0.00;-0.00;0.00"
    assert row["最近上报日期"].number_format == "yyyy-mm-dd"


# --- 13. the template's date -----------------------------------------------------------------

def test_the_template_carries_the_chosen_date(store, jincheng):
    with store.read() as con:
        made = template.build(con, jincheng, "140525", "township", AS_OF)
        blank = template.build(con, jincheng, "140525", "township")
    line = openpyxl.load_workbook(io.BytesIO(made.content)).active
    assert line.cell(template.LINE_ROW + 1, 6).value == "填报日期：2021年11月19日"
    assert "填报单位：泽州县" in line.cell(template.LINE_ROW + 1, 1).value
    empty = openpyxl.load_workbook(io.BytesIO(blank.content)).active
    assert empty.cell(template.LINE_ROW + 1, 6).value == "填报日期：　　　　年　　月　　日"
    # The reader takes the date back: uploading for that day asks nothing.
    preview = ingest.preview(store, CAMPAIGN, made.content, made.file_name, AS_OF, today=TODAY)
    assert (AS_OF in [d for _, d in preview.file_dates]) and preview.date_question is None
