"""The monthly 通报: figures at the month's last report day, the change over the month, rank
changes since the previous month, units behind in every week, each unit's reporting record, in
the workbook and in the Word draft's prose; `export --month` and its refusals."""

import datetime as dt
import io

import docx
import openpyxl
import pytest
from click.testing import CliRunner

from enrollment.cli import cli
from enrollment.export import bulletin, monthly, workbook
from enrollment.export.model import ExportError

from .fixtures import record

CAMPAIGN = "jincheng-2022-residents"
START = {"140502": 100000, "140521": 50000, "140525": 250000, "140581": 200000, "140522": 150000,
         "140524": 120000}        # 2021-10-29, the last report day before November
END = {"140502": 140000, "140521": 70000, "140525": 310000, "140581": 270000, "140522": 230000,
       "140524": 150000}          # 2021-11-26
NOVEMBER = [dt.date(2021, 11, 5), dt.date(2021, 11, 12), dt.date(2021, 11, 19), dt.date(2021, 11, 26)]


def at(day, hour):
    """A Shanghai wall-clock time as the UTC the app stores."""
    return dt.datetime.combine(day, dt.time(hour)) - dt.timedelta(hours=8)


@pytest.fixture
def november(store):
    record(store, CAMPAIGN, dt.date(2021, 10, 29), START, now=at(dt.date(2021, 10, 29), 10))
    for k, day in enumerate(NOVEMBER, start=1):
        figures = {c: START[c] + (END[c] - START[c]) * k // 4 for c in START}
        figures.pop("140525")
        record(store, CAMPAIGN, day, figures, now=at(day, 10))
    # 泽州县: on time in week 10, nothing in week 11, late in week 12, on time in week 13.
    record(store, CAMPAIGN, NOVEMBER[0], {"140525": 265000}, now=at(NOVEMBER[0], 10))
    record(store, CAMPAIGN, NOVEMBER[2], {"140525": 295000}, now=at(NOVEMBER[2], 18))
    record(store, CAMPAIGN, NOVEMBER[3], {"140525": 310000}, now=at(NOVEMBER[3], 10))
    return store


@pytest.fixture
def data(november, jincheng):
    with november.read() as tx:
        return monthly.gather_month(tx, jincheng, "2021-11", "upload")


def test_the_month_shows_the_figures_of_its_last_report_day(data):
    assert data.as_of == dt.date(2021, 11, 26) and data.month.days == NOVEMBER
    assert data.month.previous_as_of == dt.date(2021, 10, 29)
    assert data.stem == "晋城市-参保进度-2021年11月"
    assert data.when == "2021年11月（截至2021年11月26日）"
    units = data.month.units.set_index("name")
    assert units.loc["泽州县", "enrolled"] == 310000 and units.loc["泽州县", "enrolled_start"] == 250000
    assert units.loc["泽州县", "month_delta"] == 60000
    assert data.month.change == (f"11月新增参保 {sum(END.values()) - sum(START.values()):,} 人，完成率提高 "
                                 f"{(sum(END.values()) - sum(START.values())) / 1630000 * 100:.2f} 个百分点。")


def test_ranks_then_and_now_and_the_move_between(data):
    units = data.month.units.set_index("name")
    moves = {name: (int(r["rank_start"]), int(r["rank"]), int(r["rank_change"])) for name, r in units.iterrows()}
    assert moves == {"阳城县": (5, 1, 4), "泽州县": (1, 2, -1), "城区": (4, 3, 1), "高平市": (3, 4, -1),
                     "陵川县": (2, 5, -3), "沁水县": (6, 6, 0)}


def test_units_behind_in_every_week_and_the_reporting_record(data):
    units = data.month.units.set_index("name")
    assert list(units[units["behind_every_week"]].index) == ["沁水县"]
    assert units.loc["陵川县", "weeks_behind"] == 2
    assert units.loc["泽州县", "record"] == "按时2周、逾期1周、未上报1周"
    assert units.loc["城区", "record"] == "按时4周"
    weekly = monthly.weekly_table(data).set_index("单位")
    assert list(weekly.columns) == ["第10周（11月5日）", "第11周（11月12日）", "第12周（11月19日）",
                                    "第13周（11月26日）"]
    assert list(weekly.loc["泽州县"]) == ["按时上报", "未上报", "逾期上报", "按时上报"]


def test_the_word_draft_says_it_in_prose(data):
    text = bulletin.draft(data)
    assert text.title == "关于晋城市2022年度城乡居民基本医疗保险2021年11月参保缴费进度的通报"
    assert text.subtitle == "（2021年11月，截至2021年11月26日）"
    body = "\n".join(p for _, paragraphs in text.sections for p in paragraphs)
    headings = [h for h, _ in text.sections]
    assert headings[:5] == ["一、总体进度", "二、各县（市、区）进度", "三、各县（市、区）本月进度",
                            "四、连续落后的单位", "五、本月上报情况"]
    assert "累计参保人数由上月末（10月29日）的870,000人增加到11月26日的1,170,000人，本月新增300,000人" in body
    assert "排名上升的是阳城县（由第5名升至第1名）、城区（由第4名升至第3名）" in body
    assert "排名下降的是陵川县（由第2名降至第5名）" in body
    assert "每周完成率都低于序时目标的县（市、区）有1个：沁水县" in body
    assert "有未上报的是泽州县（按时2周、逾期1周、未上报1周）" in body
    assert "本周完成率提高最多" not in body
    document = docx.Document(io.BytesIO(bulletin.build(data)))
    words = "\n".join(p.text for p in document.paragraphs)
    assert "四、连续落后的单位" in words and "沁水县" in words


def test_the_workbook_has_a_sheet_for_the_month(data):
    book = openpyxl.load_workbook(io.BytesIO(workbook.build(data)))
    sheet = book["本月情况"]
    header = [c.value for c in sheet[3]]
    assert header[:4] == ["排名", "单位", "任务数", "月初累计参保人数"] and "第12周（11月19日）" in header
    rows = {r[1]: r for r in sheet.iter_rows(min_row=4, values_only=True)}
    assert rows["泽州县"][header.index("本月新增")] == 60000
    assert rows["阳城县"][header.index("排名变化")] == 4
    assert rows["泽州县"][header.index("第11周（11月12日）")] == "未上报"


def test_the_first_month_has_no_previous_ranking(november, jincheng):
    record(november, CAMPAIGN, dt.date(2021, 9, 24), {"140502": 1000}, now=at(dt.date(2021, 9, 24), 9))
    with november.read() as tx:
        data = monthly.gather_month(tx, jincheng, "2021年9月", "upload")
    assert data.month.previous_as_of is None
    assert monthly.ranking_paragraphs(data) == ["本月为集中参保期的第一个月，没有上月排名可比。"]
    assert "由集中参保期开始时的0人增加到9月24日的1,000人" in monthly.progress_paragraph(data)


@pytest.mark.parametrize("month, message", [
    ("2021-13", "月份「2021-13」格式不对"), ("Nov", "格式不对"),
    ("2022-03", "2022年3月不在集中参保期"), ("2021-08", "2021年8月不在集中参保期"),
])
def test_a_month_outside_the_window_or_misspelt_is_refused(store, jincheng, month, message):
    with store.read() as tx, pytest.raises(ExportError, match=message):
        monthly.gather_month(tx, jincheng, month, "upload")


def test_the_cli_exports_a_month(november, tmp_path):
    runner = CliRunner()
    base = ["--db", november.target, "export", "--campaign", CAMPAIGN, "--out", str(tmp_path)]
    done = runner.invoke(cli, base + ["--month", "2021-11", "--formats", "xlsx"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "晋城市-参保进度-2021年11月-通报表.xlsx").is_file()
    assert "2021年11月（截至2021年11月26日）" in done.output
    bad = runner.invoke(cli, base + ["--month", "2021-14"])
    assert bad.exit_code == 1 and "格式不对" in bad.output
    both = runner.invoke(cli, base + ["--month", "2021-11", "--as-of", "2021-11-19"])
    assert both.exit_code == 1 and "只能指定一个" in both.output


def test_the_pushed_summary_of_a_month_names_the_month_and_its_growth(data):
    from enrollment.cycle import push

    summary = push.compose(data)
    assert summary.startswith("### 晋城市参保进度月度通报（2021年11月，截至11月26日）")
    assert "11月新增参保 300,000 人" in summary and "- 进度落后：" in summary
