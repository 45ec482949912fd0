"""The 目标任务 and 新建活动 pages through streamlit.testing: every path, no exception."""

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from enrollment import campaigns, db
from enrollment.targets import tables as targets

from .fixtures import ROOT, csv_bytes, dump
from .markup import plain
from .test_targets import WANZHOU, community_rows, zhoujiaba_table

JINCHENG = "jincheng-2022-residents"


def page(path: str, campaign: str | None = None) -> AppTest:
    """The entry file picks the campaign (from ?campaign=), then shows the page."""
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    if campaign:
        at.query_params["campaign"] = campaign
    at.run()
    at.switch_page(path).run()
    assert not at.exception
    return at


def texts(elements) -> str:
    """The elements' text as the browser shows it (names in Markdown are escaped)."""
    return "\n".join(plain(e.value) for e in elements)


def test_wanzhou_says_targets_are_missing_and_offers_the_template(store):
    at = page("pages/targets.py", WANZHOU)
    assert at.title[0].value == "目标任务"
    assert "目标任务未录入" in texts(at.error)
    labels = [b.label for b in at.get("download_button")]
    assert "下载村（社区）任务分解表模板（Excel）" in labels


def test_loading_a_table_on_the_page_previews_then_saves(store):
    at = page("pages/targets.py", WANZHOU)
    at.text_input(key="targets:by").input("周家坝街道 张三")
    at.file_uploader(key="targets:file:0").upload("周家坝任务.xlsx", zhoujiaba_table()).run()
    assert not at.exception and not at.warning
    assert [e.value for e in at.error if "目标任务未录入" not in e.value] == []
    preview = next(d.value for d in at.dataframe if "行号" in d.value.columns)
    assert len(preview) == 11 and list(preview["任务数"]) == [r[4] for r in community_rows()]
    at.button(key="targets:load:save").click().run()
    assert not at.exception
    assert "已保存目标任务表第" in texts(at.success) and "录入人 周家坝街道 张三" in texts(at.success)
    assert "目标任务未录入" not in texts(at.error)
    with store.read() as con:
        assert len(db.targets.current(con, WANZHOU)) == 11


def test_a_bad_table_on_the_page_shows_row_messages_and_cannot_be_saved(store):
    rows = community_rows()
    rows[3][4] = "待定"
    at = page("pages/targets.py", WANZHOU)
    before = dump(store)
    at.file_uploader(key="targets:file:0").upload("坏表.xlsx", zhoujiaba_table(rows[:10])).run()
    assert not at.exception
    errors = texts(at.error)
    assert "第 7 行：「2022年任务数」「待定」不是数字" in errors
    assert "缺少以下单位的任务数" in errors and "狮子社区居民委员会" in errors
    assert "未保存任何数据" in errors
    assert not [b for b in at.button if b.key == "targets:load:save"]
    assert dump(store) == before


def yangcheng_baselines(store, campaign_id: str) -> bytes:
    """A base-data file for 阳城县's townships (made-up baselines, for the test only)."""
    with store.read() as con:
        towns = db.units.children(con, campaign_id, "140522")
    base = [17000 + 300 * i for i in range(len(towns))]      # 286,500 in all
    return csv_bytes([["乡镇", "2021年参保人数"], *([t.name, b] for t, b in zip(towns, base))])


def allocating_yangcheng(store) -> AppTest:
    """目标任务 with 阳城县's townships and their baselines loaded into the allocation form."""
    at = page("pages/targets.py", JINCHENG)
    at.selectbox(key="targets:scope").set_value("140522").run()
    at.radio(key="targets:source").set_value("上传文件").run()
    content = yangcheng_baselines(store, JINCHENG)
    at.file_uploader(key="targets:base:0").upload("阳城基数.csv", content).run()
    return at


def test_allocating_a_county_task_over_its_townships_on_the_page(store):
    at = allocating_yangcheng(store)
    assert not at.exception and not at.error and not at.warning
    assert at.number_input(key="targets:total:140522").value == 292300    # 阳城县's task
    result = next(d.value for d in at.dataframe if "增加人数" in d.value.columns)
    assert len(result) == 15 and result["任务数"].sum() == 292300
    assert (result["任务数"] % 10 == 0).all()
    assert "各单位之和" in [m.label for m in at.metric]
    at.text_input(key="targets:by-allocate").input("阳城县医保局")
    at.button(key="targets:allocate:save").click().run()
    assert not at.exception
    assert "阳城县下属 15 个乡镇（街道），任务数合计 292,300" in texts(at.success)
    with store.read() as con:
        current = db.targets.current(con, JINCHENG, "township")
        history = targets.history(con, JINCHENG)
    assert len(current) == 15 and current["task"].sum() == 292300
    assert history.iloc[0]["source"] == "allocation" and history.iloc[0]["created_by"] == "阳城县医保局"


def test_allocation_problems_are_shown_not_raised(store):
    at = allocating_yangcheng(store)
    at.number_input(key="targets:total:140522").set_value(292305).run()
    assert not at.exception
    assert "不是取整单位 10 的整数倍" in texts(at.error)
    at.segmented_control(key="targets:step").set_value(1).run()
    assert not at.error
    at.selectbox(key="targets:floor").set_value("2021年参保人数").run()
    at.number_input(key="targets:total:140522").set_value(1000).run()
    assert "下限之和" in texts(at.error)


def test_history_lists_versions_and_restores_one(store):
    first = targets.commit(store, WANZHOU, zhoujiaba_table(community_rows(0)), "第一版.xlsx")
    targets.commit(store, WANZHOU, zhoujiaba_table(community_rows(500)), "第二版.xlsx")
    at = page("pages/targets.py", WANZHOU)
    versions = next(d.value for d in at.dataframe if "版本" in d.value.columns and "状态" in d.value.columns)
    assert list(versions["状态"]) == ["当前使用", "已被替换"]
    assert list(versions["文件"]) == ["第二版.xlsx", "第一版.xlsx"]
    at.selectbox(key="targets:version").set_value(first.set_id).run()
    assert "下载原始文件：第一版.xlsx" in [plain(b.label) for b in at.get("download_button")]
    at.button(key="targets:restore").click().run()
    assert not at.exception
    assert "已保存目标任务表第" in texts(at.success)
    with store.read() as con:
        assert sorted(db.targets.current(con, WANZHOU)["task"]) == sorted(
            r[4] for r in community_rows(0))


def test_every_level_of_the_current_tables_renders(store):
    at = page("pages/targets.py", JINCHENG)
    for level in ("county", "township", "community"):
        at.segmented_control(key="targets:level").set_value(level).run()
        assert not at.exception
    assert "尚未录入任务数" in texts(at.info)


@pytest.mark.parametrize("search, code", [("阳城", "140522"), ("140522", "140522")])
def test_setting_up_a_campaign_on_the_page(store, search, code):
    at = page("pages/campaign_setup.py", JINCHENG)
    assert at.title[0].value == "新建参保活动"
    at.text_input(key="setup:search").input(search).run()
    at.selectbox(key="setup:region").set_value(code).run()
    assert "15 个乡镇（街道）、341 个村（社区）" in texts(at.info)
    form_inputs = at.text_input
    form_inputs[1].input("yangcheng-2022-residents")
    form_inputs[2].input("阳城县2022年度城乡居民基本医疗保险参保缴费")
    at.date_input[0].set_value(dt.date(2021, 9, 1))
    at.date_input[1].set_value(dt.date(2021, 12, 25))
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    with store.read() as con:
        created = campaigns.get(con, "yangcheng-2022-residents")
        counts = db.units.level_counts(con, created.id)
    assert counts == {"county": 1, "township": 15, "community": 341}
    assert float(created.low_income_goal) == 1.0
    assert "已创建参保活动 yangcheng-2022-residents" in texts(at.success)
    assert at.query_params["campaign"] == "yangcheng-2022-residents"
    # Back through the entry file: the sidebar picker now shows the new campaign.
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    assert at.selectbox(key="campaign").value == "yangcheng-2022-residents"
    assert "目标任务未录入" in texts(at.error)


def test_a_bad_set_up_on_the_page_is_explained(store):
    at = page("pages/campaign_setup.py", JINCHENG)
    at.text_input(key="setup:search").input("晋城").run()
    at.selectbox(key="setup:region").set_value("1405").run()
    at.text_input[1].input("jincheng-2022-residents")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert "已存在" in texts(at.error)


def test_the_editor_is_prefilled_and_reproduces_attachment_2(store):
    # Jincheng's counties carry their 2021 figures: re-splitting 1,630,000 by them, rounded to 10,
    # lands within 10 of every published task.
    at = page("pages/targets.py", JINCHENG)
    assert at.selectbox(key="targets:scope").value == "1405"
    assert at.number_input(key="targets:total:1405").value == 1630000
    result = next(d.value for d in at.dataframe if "增加人数" in d.value.columns)
    published = {"城区": 188000, "泽州县": 404760, "高平市": 373650, "阳城县": 292300,
                 "陵川县": 213360, "沁水县": 157930}
    computed = dict(zip(result["单位名称"], result["任务数"]))
    assert sum(computed.values()) == 1630000
    assert all(abs(computed[k] - v) <= 10 for k, v in published.items())
    assert list(result["现行任务数"]) == [published[n] for n in result["单位名称"]]


def test_warnings_must_be_confirmed_before_saving_on_the_page(store):
    rows = community_rows()
    rows[0][4] = rows[0][3] - 100                  # below last year's enrolment
    at = page("pages/targets.py", WANZHOU)
    at.file_uploader(key="targets:file:0").upload("w.xlsx", zhoujiaba_table(rows)).run()
    assert "低于上年参保人数" in texts(at.warning)
    assert at.button(key="targets:load:save").disabled
    at.checkbox(key="targets:load:accept").check().run()
    at.button(key="targets:load:save").click().run()
    assert not at.exception
    assert "已保存目标任务表第" in texts(at.success)
