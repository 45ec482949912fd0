"""What 进度总览 shows, computed by the package: headline, projection, reporting, flags."""

import datetime as dt

import pandas as pd
import pytest

from enrollment import db
from enrollment.metrics import overview, progress, quality, reporting

from .fixtures import record

D = dt.date
AS_OF = D(2021, 11, 19)


def _children(store, campaign_id, parent):
    with store.read() as con:
        return [r[0] for r in con.raw.execute(
            "SELECT code FROM units WHERE campaign_id = ? AND parent_code = ? ORDER BY code",
            [campaign_id, parent]).fetchall()]


def test_trend_is_the_unit_week_by_week(store, jincheng):
    record(store, jincheng.id, D(2021, 11, 5), {"140525": 200000})
    record(store, jincheng.id, D(2021, 11, 12), {"140525": 230000})
    record(store, jincheng.id, D(2021, 11, 19), {"140525": 260000})
    with store.read() as con:
        series = progress.trend(con, jincheng, "140525")
        city = progress.trend(con, jincheng, "1405")
    assert list(series["as_of"]) == progress.report_days(jincheng)
    assert len(series) == 18 and series["as_of"].iloc[-1] == D(2021, 12, 25)
    by_day = dict(zip(series["as_of"], series["enrolled"]))
    assert by_day[D(2021, 11, 5)] == 200000 and by_day[D(2021, 12, 24)] == 260000
    assert pd.isna(by_day[D(2021, 10, 29)])
    assert dict(zip(city["as_of"], city["enrolled"]))[D(2021, 11, 19)] == 260000
    assert series["target"].iloc[0] == 404760


def test_projection_extends_the_recent_weekly_pace(store, jincheng):
    record(store, jincheng.id, D(2021, 10, 29), {"140525": 200000})
    record(store, jincheng.id, D(2021, 11, 5), {"140525": 210000})
    record(store, jincheng.id, D(2021, 11, 12), {"140525": 220000})
    record(store, jincheng.id, D(2021, 11, 19), {"140525": 230000})
    with store.read() as con:
        series = progress.trend(con, jincheng, "140525")
    # 10,000 a week = 10,000/7 a day, for the 36 days from 19 November to 25 December.
    assert progress.projection(series, jincheng, AS_OF) == pytest.approx(230000 + 10000 / 7 * 36)
    assert progress.projection(series, jincheng, D(2021, 11, 5)) is None    # two figures only
    assert progress.projection(series, jincheng, D(2021, 12, 25)) is None   # window over


def test_headline_formats_the_unit(store, jincheng):
    record(store, jincheng.id, D(2021, 11, 5), {"140502": 150000})
    record(store, jincheng.id, D(2021, 11, 12), {"140502": 170000})
    record(store, jincheng.id, AS_OF, {"140502": 182360})
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
        series = progress.trend(con, jincheng, "140502")
    view = overview.View.at(result, "140502")
    head = overview.headline(result, view.unit, series)
    assert head.enrolled == "182,360" and head.week_delta.text == "较上周 +12,360"
    assert head.completion == "97.00%"
    assert head.gap.text == f"较序时 {(0.97 - 0.97 * 80 / 116) * 100:+.2f} 个百分点"
    assert head.time_progress == "68.97%" and head.days_left == "36 天"
    assert head.projection == "超过 100%"
    assert "任务数 **188,000**" in head.summary_markdown


def test_view_falls_back_to_the_top_for_unknown_units(store, jincheng):
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
    assert overview.View.at(result, "nope").code == "1405"
    assert overview.View.at(result, None).code == "1405"
    view = overview.View.at(result, "140525")
    assert len(view.children) == 16 and set(view.children["level"]) == {"township"}


def test_ranking_rows_keep_the_lowest_when_there_are_many(store, jincheng):
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
    villages = result.level("community")
    shown, note = overview.ranking_rows(villages)
    assert len(shown) == overview.MAX_BARS and "1729" in note
    few, none = overview.ranking_rows(result.level("county"))
    assert len(few) == 6 and none is None


def test_reporting_status_on_time_late_missing_and_via_children(store, jincheng):
    friday_afternoon = dt.datetime(2021, 11, 19, 8, 0)     # 16:00 Shanghai
    friday_evening = dt.datetime(2021, 11, 19, 10, 0)      # 18:00 Shanghai
    township = _children(store, jincheng.id, "140522")[0]
    record(store, jincheng.id, AS_OF, {"140502": 1000}, now=friday_afternoon, uploader="城区医保局")
    record(store, jincheng.id, D(2021, 11, 18), {"140525": 1000}, now=friday_evening)
    record(store, jincheng.id, AS_OF, {township: 10}, now=friday_afternoon)
    record(store, jincheng.id, D(2021, 11, 12), {"140581": 1000})
    # A correction after the deadline does not make an on-time report late.
    record(store, jincheng.id, AS_OF, {"140502": 1200}, now=friday_evening)
    codes = ["140502", "140525", "140522", "140581", "140524"]
    with store.read() as con:
        status = reporting.week_status(con, jincheng, AS_OF, "upload", codes)
    by = status.set_index("code")
    assert by.loc["140502", "status"] == reporting.ON_TIME
    assert by.loc["140502", "uploader"] == "城区医保局"
    assert by.loc["140525", "status"] == reporting.LATE          # Thursday's figure, sent Friday 18:00
    assert by.loc["140522", "status"] == reporting.VIA_CHILDREN
    assert by.loc["140581", "status"] == reporting.MISSING
    assert str(by.loc["140581", "last_date"].date()) == "2021-11-12"
    assert by.loc["140524", "status"] == reporting.MISSING and pd.isna(by.loc["140524", "last_date"])
    assert reporting.summary(status) == {reporting.ON_TIME: 1, reporting.LATE: 1,
                                         reporting.VIA_CHILDREN: 1, reporting.MISSING: 2}
    table = overview.reporting_table(status)
    assert list(table["本周上报"])[:2] == [reporting.MISSING, reporting.MISSING]
    assert table.set_index("单位").loc["城区", "上报时间"] == "11-19 16:00"


def test_quality_flags(store, jincheng):
    a, b = _children(store, jincheng.id, "140522")[:2]
    record(store, jincheng.id, D(2021, 11, 12), {"140525": 250000, "140581": 100000})
    record(store, jincheng.id, AS_OF, {"140525": 240000, "140581": 200000, "140502": 190000,
                                       "140522": 5000, a: 1000, b: 2000})
    with store.read() as con:
        flags = quality.flags(con, jincheng, AS_OF, "upload")
    found = {(r.code, r.flag): r.detail for r in flags.itertuples()}
    assert found[("140525", quality.DECREASE)] == "11月12日 250,000 → 11月19日 240,000"
    assert found[("140581", quality.JUMP)] == "11月19日较11月12日增加 100,000 人，占任务数 26.8%"
    assert found[("140502", quality.ABOVE_TARGET)] == "累计 190,000，任务数 188,000"
    assert found[("140522", quality.MISMATCH)] == "11月19日上报 5,000，下级合计 3,000（2 个单位）"
    assert len(found) == 4
    with store.read() as con:
        subtree = db.units.descendants(con, jincheng.id, ["140522"])
        result = progress.compute(con, jincheng, AS_OF)
    assert subtree == overview.descendants(result, "140522") and len(subtree) == 1 + 15 + 341
    inside = overview.flags_in_view(flags, subtree)
    assert list(inside["问题"]) == [quality.MISMATCH]


def test_a_view_holds_the_totals_the_unit_and_its_children_as_in_the_whole(store, jincheng):
    a, b = _children(store, jincheng.id, "140522")[:2]
    record(store, jincheng.id, AS_OF, {"140525": 270000, a: 1000, b: 2500})
    with store.read() as con:
        whole = progress.compute(con, jincheng, AS_OF)
        view = progress.compute(con, jincheng, AS_OF, view="140522")
    assert set(view.units["code"]) == {"140522"} | set(whole.children("140522")["code"])
    columns = ["code", "target", "enrolled", "completion", "status", "week_delta"]
    expected = whole.units[whole.units["code"].isin(view.units["code"])][columns]
    pd.testing.assert_frame_equal(view.units[columns].sort_values("code").reset_index(drop=True),
                                  expected.sort_values("code").reset_index(drop=True))
    county = whole.units[whole.units["code"] == "140522"].iloc[0].to_dict()
    pd.testing.assert_series_equal(pd.Series(view.total), pd.Series(county))
    with store.read() as con:
        top = progress.compute(con, jincheng, AS_OF, view="1405")
    assert set(top.units["code"]) == {"1405"} | set(whole.children("1405")["code"])
    pd.testing.assert_series_equal(pd.Series(top.total), pd.Series(whole.total))


def test_low_income_rows_against_100_percent(store):
    from enrollment import campaigns
    from enrollment.targets import tables as targets
    from enrollment.targets.tables import TargetRow, TargetTable

    wanzhou = campaigns.load(store, "wanzhou-zhoujiaba-2022-residents")
    codes = [f"500101021{i:03d}" for i in range(1, 12)]
    table = TargetTable(rows=[TargetRow(0, c, c, 1000, low_income=50) for c in codes],
                        level="community", scope_code="500101021")
    with store.write() as con:
        targets.save(con, wanzhou.id, table, source="test")
    csv = "单位代码,累计参保人数,低收入人口参保人数\r\n" + "".join(
        f"{c},{900},{50 if i % 2 else 45}\r\n" for i, c in enumerate(codes))
    from enrollment.uploads import ingest
    ingest.commit(store, wanzhou.id, csv.encode(), "w.csv", report_date=D(2022, 1, 14),
                  today=D(2022, 3, 1))
    with store.read() as con:
        result = progress.compute(con, wanzhou, D(2022, 1, 14))
    view = overview.View.at(result, None)
    low = overview.low_income_rows(result, view)
    assert len(low) == 11
    assert int((low["低收入人口参保率"] < 100).sum()) == 6
    assert low["低收入人口参保率"].iloc[0] == pytest.approx(90.0)
    assert result.total["low_income_target"] == 550
    assert result.total["low_income_enrolled"] == 5 * 50 + 6 * 45


def test_compare_weeks(store, jincheng):
    record(store, jincheng.id, D(2021, 11, 12), {"140525": 250000})
    record(store, jincheng.id, AS_OF, {"140525": 270000})
    with store.read() as con:
        now = progress.compute(con, jincheng, AS_OF)
        before = progress.compute(con, jincheng, D(2021, 11, 12))
    table = overview.compare_weeks(now, before, "1405").set_index("单位")
    assert table.loc["泽州县", "新增参保"] == 20000
    assert table.loc["泽州县", "完成率变化（百分点）"] == pytest.approx(20000 / 404760 * 100)
