"""Windows that move: Zhoujiaba's extension 「为防控疫情风险」 to 2022-02-28, a campaign window
changed with a reason (history, audit log, weeks, 序时进度, status), and Jilin's three cities on
2021-10-08 – 12-31 「因系统切换原因」 inside a province window from 10-01."""

import datetime as dt
import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from enrollment import campaigns, db
from enrollment.campaigns import details, regions, windows
from enrollment.cli import cli
from enrollment.identity import audit
from enrollment.metrics import progress
from enrollment.targets import tables as targets
from enrollment.targets.tables import TargetRow, TargetTable
from enrollment.uploads import ingest

from .fixtures import TODAY, dump, record, report_csv

D = dt.date
JINCHENG = "jincheng-2022-residents"
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
JILIN = "jilin-2022-residents"
CITIES = {"2201": "长春市", "2202": "吉林市", "2207": "松原市"}


def run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


def test_zhoujiaba_ships_its_extension_with_the_notice_s_reason(store):
    with store.read() as con:
        c = campaigns.get(con, WANZHOU)
        shown = details.details(con, c)
        extended = windows.extension(con, c)
    assert (c.start, c.end) == (D(2021, 12, 1), D(2022, 2, 28))
    # The notice gives the new end and the reason, not the end it replaced: nothing invented.
    assert extended == {"end": D(2022, 2, 28), "previous_end": None,
                        "reason": "为防控疫情风险（万州周办发〔2022〕1号）"}
    row = shown.history.iloc[0]
    assert (row["调整前"], row["调整后"]) == ("2021-12-01 至 （未载明）", "2021-12-01 至 2022-02-28")
    assert dict(shown.definition)["集中参保期"] == (
        "2021-12-01 至 2022-02-28（90 天）；为防控疫情风险（万州周办发〔2022〕1号），已延长至 2022-02-28")


def _set_targets(store, campaign_id, tasks, level, scope):
    table = TargetTable(rows=[TargetRow(0, code, code, task) for code, task in tasks.items()],
                        level=level, scope_code=scope)
    with store.write() as con:
        targets.save(con, campaign_id, table, source="test")


def test_extending_jincheng_moves_weeks_pace_and_status(store, jincheng):
    _set_targets(store, JINCHENG, {"140525": 404760}, "county", "1405")
    record(store, JINCHENG, D(2021, 11, 19), {"140525": 270000})
    with store.read() as con:
        before = progress.compute(con, jincheng, D(2021, 11, 19)).units.set_index("code")
    assert before.loc["140525", "status"] == "behind"          # 0.667 < 0.97 × 80/116
    change = campaigns.change_window(store, JINCHENG, end=D(2022, 1, 15), reason="测试：延长到1月15日",
                                     actor="admin", address="test")
    assert "推迟 21 天" in change.summary()
    with store.read() as con:
        c = campaigns.get(con, JINCHENG)
        after = progress.compute(con, c, D(2021, 11, 19))
        logged = audit.query(con, actions=["campaign_changed"])
        history = db.windows.history(con, JINCHENG)
    assert c.end == D(2022, 1, 15) and c.window_days == 137
    assert after.time_progress == Fraction(80, 137)
    assert after.units.set_index("code").loc["140525", "status"] == "on_track"  # 0.667 ≥ 0.566
    assert c.week_count == 21 and c.week_ends()[-2:] == [D(2022, 1, 14), D(2022, 1, 15)]
    assert progress.report_days(c)[-1] == D(2022, 1, 15)      # a Saturday: the window's last day
    assert "2021-09-01 至 2021-12-25 → 2021-09-01 至 2022-01-15" in logged["detail"].iloc[0]
    latest = history.iloc[0]
    assert (latest["previous_end"].date(), latest["end_date"].date(), latest["reason"],
            latest["changed_by"]) == (D(2021, 12, 25), D(2022, 1, 15), "测试：延长到1月15日", "admin")
    # Reports may now be dated in the extension, and the bulletin says so (test_money_export).
    receipt = ingest.commit(store, JINCHENG, report_csv({"140525": 300000}), "x.csv",
                            report_date=D(2022, 1, 14), accept_warnings=True,
                            today=D(2022, 1, 14))
    assert receipt.units == 1


@pytest.mark.parametrize("change, message", [
    (dict(end=D(2021, 11, 1), reason="缩短"), "已有 1 条上报数字（2021-11-19 至 2021-11-19）"),
    (dict(end=D(2021, 8, 1), reason="倒置"), "早于开始日期"),
    (dict(end=D(2021, 12, 25), reason="不变"), "没有变化"),
    (dict(end=D(2022, 1, 15), reason="  "), "请填写调整集中参保期的原因"),
    (dict(end=D(2022, 1, 15), reason="换行\n原因"), "换行"),
    (dict(end=D(2022, 1, 15), reason="x", unit="不存在的县"), "不是本活动的单位"),
    (dict(end=D(2022, 1, 15), reason="x", unit="泽州", inherit=True), "没有单独设置"),
])
def test_refused_changes_change_nothing(store, change, message):
    record(store, JINCHENG, D(2021, 11, 19), {"140525": 270000})
    before = dump(store, audit=True)
    with pytest.raises(campaigns.WindowError, match=message):
        campaigns.change_window(store, JINCHENG, **change)
    assert dump(store, audit=True) == before


def test_cli_campaign_window_and_show(store):
    result = run(store, "campaign", "window", "--campaign", JINCHENG, "--end", "2022-01-15",
                 "--reason", "为防控疫情风险")
    assert result.exit_code == 0, result.output
    assert "调整为 2021-09-01 至 2022-01-15" in result.output
    shown = json.loads(run(store, "campaign", "show", "--campaign", JINCHENG, "--format",
                           "json").output)
    assert shown["end"] == "2022-01-15"
    assert shown["window_changes"][0]["原因"] == "为防控疫情风险"
    assert shown["payment_days"] == {"first": 1, "last": 25}
    assert shown["tiers"] == [{"key": "standard", "name": "统一标准", "yuan": 320.0}]
    text = run(store, "campaign", "show", "--campaign", JINCHENG).output
    assert "缴费时间：每月 1-25 日可办理缴费" in text and "缴费标准：统一标准 320 元/人·年" in text
    refused = run(store, "campaign", "window", "--campaign", JINCHENG, "--end", "2021-08-01",
                  "--reason", "x")
    assert refused.exit_code == 1 and "早于开始日期" in refused.output
    assert run(store, "campaign", "window", "--campaign", JINCHENG,
               "--reason", "x").exit_code == 1


@pytest.fixture
def jilin(store):
    """吉林省 by city and county, window 2021-10-01 – 12-31, each city with a task of 1,000."""
    definition = regions.define(id=JILIN, name="吉林省2022年度城乡居民医保参保缴费", region_code="22",
                                levels="city,county", start=D(2021, 10, 1), end=D(2021, 12, 31))
    regions.create(store, definition)
    with store.read() as con:
        cities = [u.code for u in db.units.children(con, JILIN, "22")]
    _set_targets(store, JILIN, {code: 1000 for code in cities}, "city", "22")
    for code in CITIES:
        campaigns.change_window(store, JILIN, unit=CITIES[code], start=D(2021, 10, 8),
                                reason="因系统切换原因（吉医保联〔2021〕23号）")
    with store.read() as con:
        return campaigns.get(con, JILIN)


def test_jilin_s_three_cities_keep_their_own_window(store, jilin):
    assert sorted(w.code for w in jilin.unit_windows) == sorted(CITIES)
    assert {(w.start, w.end) for w in jilin.unit_windows} == {(D(2021, 10, 8), D(2021, 12, 31))}
    # 500 of 1,000 on 19 November: behind the province's pace 0.97 × 50/92 = 52.7%, on track
    # for the cities that started on 8 October: 0.97 × 43/85 = 49.1%.
    record(store, JILIN, D(2021, 11, 19), {"2201": 500, "2208": 500})
    with store.read() as con:
        result = progress.compute(con, jilin, D(2021, 11, 19))
    units = result.units.set_index("code")
    assert result.time_progress == Fraction(50, 92)
    assert units.loc["2201", "pace"] == pytest.approx(0.97 * 43 / 85)
    assert units.loc["2208", "pace"] == pytest.approx(0.97 * 50 / 92)
    assert (units.loc["2201", "status"], units.loc["2208", "status"]) == ("on_track", "behind")
    assert units.loc["2201", "time_progress"] == pytest.approx(43 / 85)
    assert units.loc["2201", "window_start"] == D(2021, 10, 8)
    # The counties of 长春 inherit its window; the province and 白城 keep the province's.
    assert units.loc["220102", "pace"] == pytest.approx(0.97 * 43 / 85)
    assert units.loc["220102", "window_start"] == D(2021, 10, 8)
    assert units.loc["22", "window_start"] == D(2021, 10, 1) and pd_isna(units.loc["22", "window_id"])
    # Looking at 长春 itself: the headline's 序时进度 is its own; its trend follows its window.
    with store.read() as con:
        own = progress.compute(con, jilin, D(2021, 11, 19), view="2201")
        trend = progress.trend(con, jilin, "2201")
    assert own.time_progress == Fraction(43, 85)
    assert own.total["status"] == "on_track"
    at = trend.set_index("as_of").loc[D(2021, 11, 19)]
    assert at["pace"] == pytest.approx(0.97 * 43 / 85)
    # A report of 长春 before its window starts is refused, naming the reason; 白城's is fine.
    early = ingest.preview(store, JILIN, report_csv({"2201": 10, "2208": 10}), "early.csv",
                           report_date=D(2021, 10, 5), today=TODAY)
    assert [p.message for p in early.errors] == [
        "「长春市」的集中参保期为 2021-10-08 至 2021-12-31（因系统切换原因（吉医保联〔2021〕23号）），"
        "上报日期 2021-10-05 不在其内"]


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_a_unit_goes_back_to_the_campaign_window(store, jilin):
    change = campaigns.change_window(store, JILIN, unit="2207", inherit=True, reason="系统已切换")
    assert "改为按全活动的参保期计算" in change.summary()
    with store.read() as con:
        c = campaigns.get(con, JILIN)
        result = progress.compute(con, c, D(2021, 11, 19))
        history = db.windows.history(con, JILIN)
    assert sorted(w.code for w in c.unit_windows) == ["2201", "2202"]
    assert result.units.set_index("code").loc["2207", "pace"] == pytest.approx(0.97 * 50 / 92)
    assert len(history) == 4 and history.iloc[0]["reason"] == "系统已切换"


def test_cli_sets_a_unit_window_by_name(store, jilin):
    result = run(store, "campaign", "window", "--campaign", JILIN, "--unit", "白城市",
                 "--start", "2021-10-08", "--reason", "因系统切换原因")
    assert result.exit_code == 0, result.output
    assert "「白城市」的集中参保期由 全活动的参保期 调整为 2021-10-08 至 2021-12-31" in result.output
    payload = json.loads(run(store, "progress", "--campaign", JILIN, "--as-of", "2021-11-19",
                             "--format", "json").output)
    by_code = {u["code"]: u for u in payload["units"]}
    assert by_code["2208"]["window_start"] == "2021-10-08"
    assert by_code["2208"]["time_progress"] == pytest.approx(43 / 85)
    assert by_code["2205"]["window_start"] == "2021-10-01"
    assert payload["windows_differ"] is True


def test_the_ranking_says_where_windows_differ(store, jilin):
    from enrollment.export import bulletin, charts
    from enrollment.export import model as exports
    from enrollment.metrics import overview

    record(store, JILIN, D(2021, 11, 19), {"2201": 500, "2208": 500})
    with store.read() as con:
        result = progress.compute(con, jilin, D(2021, 11, 19), view="22")
        data = exports.gather(con, jilin, D(2021, 11, 19), "upload")
    children = result.children("22")
    note = overview.window_note(result, children)
    assert note == ("长春市、吉林市、松原市的集中参保期为2021年10月8日至2021年12月31日"
                    "（因系统切换原因（吉医保联〔2021〕23号）），与2021年10月1日至2021年12月31日不同，"
                    "其序时目标按各自的参保期计算")
    figure = charts.ranking_chart(children, goal=0.97, pace=float(result.pace))
    marks = [t for t in figure.data if t.name == "本单位序时目标（参保期不同）"]
    assert len(marks) == 1 and sorted(marks[0].y) == sorted(["长春市", "吉林市", "松原市"])
    assert all(x == pytest.approx(97 * 43 / 85) for x in marks[0].x)
    assert any(note in paragraph for paragraph in bulletin.ranking(data))
    # Looking at 长春 alone, its counties share its window: nothing to say.
    with store.read() as con:
        own = progress.compute(con, jilin, D(2021, 11, 19), view="2201")
    assert overview.window_note(own, own.children("2201")) is None
