"""The app through streamlit.testing: the overview page renders from a temporary database."""

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from enrollment import campaigns, demo

from .fixtures import ROOT, record


def app(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_overview_shows_jincheng_counties_with_statuses(store, jincheng):
    record(store, jincheng.id, dt.date(2021, 11, 19), {"140502": 182360, "140525": 270000})
    at = app(campaign=jincheng.id, as_of="2021-11-19")
    assert not at.exception
    assert at.title[0].value == "进度总览"
    table = at.dataframe[0].value
    assert list(table["单位"])[-1] == "城区"          # sorted by completion, highest last
    by_name = table.set_index("单位")
    assert by_name.loc["泽州县", "状态"] == "进度落后"
    assert by_name.loc["城区", "状态"] == "已达标"
    assert by_name.loc["高平市", "状态"] == "未上报"
    assert by_name.loc["城区", "累计参保人数"] == 182360
    assert by_name.loc["城区", "完成率"] == pytest.approx(97.0)
    assert not [w for w in at.warning if "示例数据" in w.value]


def test_demo_data_carries_the_banner(store, jincheng):
    demo.generate(store, jincheng)
    at = app(campaign=jincheng.id, as_of="2021-11-19")
    assert not at.exception
    assert any("示例数据" in w.value for w in at.warning)
    assert any("示例数据" in c.value for c in at.caption)


def test_wanzhou_says_targets_are_missing(store):
    at = app(campaign="wanzhou-zhoujiaba-2022-residents")
    assert not at.exception
    assert any("目标任务未录入" in e.value for e in at.error)
    assert len(at.dataframe[0].value) == 11


def test_every_level_renders(store, jincheng):
    demo.generate(store, jincheng)
    at = app(campaign=jincheng.id, as_of="2021-11-19")
    sizes = {}
    for level in ("county", "township", "community"):
        at.segmented_control(key="overview:level").set_value(level).run()
        assert not at.exception
        sizes[level] = len(at.dataframe[0].value)
    assert sizes == {"county": 6, "township": 77, "community": 1729}
