"""The app through streamlit.testing: 进度总览 on temporary databases, every widget path."""

import datetime as dt
import json

import pytest
from streamlit.testing.v1 import AppTest

from enrollment.campaigns import demo

from .fixtures import ROOT, record

JINCHENG = "jincheng-2022-residents"


def app(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def qp(at, key: str) -> str:
    """A query parameter's value (AppTest keeps the ones it sent as lists, new ones as text)."""
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at):
    """The 明细表 (open it with tab="明细表": only the open tab is rendered)."""
    return next(d.value for d in at.dataframe if "单位代码" in d.value.columns)


@pytest.fixture
def uploaded(store, jincheng):
    record(store, jincheng.id, dt.date(2021, 11, 12), {"140525": 250000})
    record(store, jincheng.id, dt.date(2021, 11, 19), {"140502": 182360, "140525": 270000})
    return store


def test_overview_headline_and_table_at_jincheng_week_12(uploaded):
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="明细表")
    assert not at.exception
    assert at.subheader[0].value == "进度总览 · 晋城市"
    shown = metrics(at)
    assert shown["累计参保人数"] == f"{182360 + 270000:,}"
    assert shown["完成率"] == f"{(182360 + 270000) / 1630000:.2%}"
    assert shown["序时进度"] == "68.97%"
    assert shown["剩余天数"] == "36 天"
    by_name = table(at).set_index("单位")
    assert by_name.loc["泽州县", "状态"] == "进度落后"
    assert by_name.loc["城区", "状态"] == "已达标"
    assert by_name.loc["高平市", "状态"] == "未上报"
    assert by_name.loc["城区", "完成率"] == pytest.approx(97.0)
    assert by_name.loc["泽州县", "较上周增加"] == 20000
    assert "截至 2021年11月19日（第12周）" in at.caption[0].value
    assert "数据来源：各单位每周上报" in at.caption[0].value
    assert not [w for w in at.warning if "示例数据" in w.value]
    assert any("进度落后 **1**" in m.value for m in at.markdown)


def test_demo_data_carries_the_banner_and_the_source_switch(store, jincheng):
    demo.generate(store, jincheng)
    at = app(campaign=JINCHENG, as_of="2021-11-19")
    assert not at.exception
    assert any("示例数据" in w.value for w in at.warning)
    assert "数据来源：示例数据（模拟）" in at.caption[0].value
    assert qp(at, "source") == "demo"
    # AppTest drops the entry file's sidebar widgets from its element tree after a rerun (a
    # browser does not: the browser test switches the radio), so open the other URL instead.
    at = app(campaign=JINCHENG, as_of="2021-11-19", source="upload")
    assert not at.exception
    assert "各单位每周上报" in at.caption[0].value
    assert not [w for w in at.warning if "示例数据" in w.value]


def test_wanzhou_says_targets_are_missing(store):
    at = app(campaign="wanzhou-zhoujiaba-2022-residents", tab="明细表")
    assert not at.exception
    assert any("目标任务未录入" in e.value for e in at.error)
    assert len(table(at)) == 11
    assert any("无法按完成率排名" in i.value for i in at.info)


def test_a_trend_without_any_report_says_so(store):
    at = app(campaign="wanzhou-zhoujiaba-2022-residents")
    assert not at.exception
    assert any("周家坝街道截至2022年02月28日还没有上报数据" in i.value for i in at.info)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["暂无上报数据"]
    assert figure["layout"]["yaxis"]["dtick"] == 1          # no 0, 0, 1, 1 … ticks
    assert figure["layout"]["xaxis"]["type"] == "date"      # week ticks without any dated trace


def test_week_picker_goes_to_a_past_week(uploaded):
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="明细表")
    at.selectbox(key=f"overview:as_of:{JINCHENG}").set_value(dt.date(2021, 11, 12)).run()
    assert not at.exception
    assert qp(at, "as_of") == "2021-11-12"
    by_name = table(at).set_index("单位")
    assert by_name.loc["泽州县", "累计参保人数"] == 250000
    assert "第11周" in at.caption[0].value


def test_drill_down_breadcrumb_and_back(uploaded):
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="明细表")
    at.selectbox(key="overview:drill").set_value("140525").run()
    assert not at.exception
    assert at.subheader[0].value == "进度总览 · 泽州县"
    assert qp(at, "unit") == "140525"
    assert len(table(at)) == 16                       # its townships
    assert any("无法按完成率排名" in i.value for i in at.info)
    at.selectbox(key="overview:drill").set_value(table(at)["单位代码"].iloc[0]).run()
    assert not at.exception
    assert at.subheader[0].value.startswith("进度总览 · ")
    # A township has no task of its own, but the campaign has tasks: no "targets missing" alarm.
    assert not [e for e in at.error if "目标任务未录入" in e.value]
    assert {b.label for b in at.button if b.key and b.key.startswith("crumb:")} == {"晋城市", "泽州县"}
    at.button(key="crumb:1405").click().run()
    assert at.subheader[0].value == "进度总览 · 晋城市"
    assert qp(at, "unit") == "1405"


def test_unknown_unit_in_the_url_shows_the_top(uploaded):
    at = app(campaign=JINCHENG, as_of="2021-11-19", unit="999999")
    assert not at.exception
    assert at.subheader[0].value == "进度总览 · 晋城市"


def test_trend_unit_and_week_comparison(uploaded):
    at = app(campaign=JINCHENG, as_of="2021-11-19")
    at.selectbox(key="overview:trend_unit").set_value("140525").run()
    assert not at.exception
    assert not at.dataframe                                # only the open tab is rendered
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="两周对比")
    compare = at.selectbox(key="overview:compare")
    assert compare.value == dt.date(2021, 11, 12)
    compared = [d.value for d in at.dataframe if "新增参保" in d.value.columns][0]
    row = compared.set_index("单位").loc["泽州县"]
    assert row["新增参保"] == 20000
    compare.set_value(dt.date(2021, 10, 29)).run()
    assert not at.exception


def test_reporting_and_quality_tabs(uploaded, jincheng, store):
    record(store, jincheng.id, dt.date(2021, 11, 12), {"140524": 5000})
    record(store, jincheng.id, dt.date(2021, 11, 19), {"140524": 100})   # 陵川: a drop
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="上报情况")
    reporting = [d.value for d in at.dataframe if "本周上报" in d.value.columns][0]
    status = dict(zip(reporting["单位"], reporting["本周上报"]))
    assert status["高平市"] == "未上报" and status["泽州县"] == "按时上报"
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="数据质量")
    flags = [d.value for d in at.dataframe if "问题" in d.value.columns][0]
    assert list(zip(flags["单位"], flags["问题"])) == [("陵川县", "累计数下降")]
    at = app(campaign=JINCHENG, as_of="2021-11-19", tab="低收入人口")
    assert any("尚未录入低收入人口" in i.value for i in at.info)


def test_every_campaign_renders(store):
    at = app()
    assert at.selectbox(key="campaign").value == JINCHENG      # campaigns with targets first
    for campaign_id in ("jincheng-2021-employees", "wanzhou-zhoujiaba-2022-residents", JINCHENG):
        at = app(campaign=campaign_id)
        assert not at.exception, campaign_id
        assert qp(at, "campaign") == campaign_id
