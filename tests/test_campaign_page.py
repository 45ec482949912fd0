"""The page 活动设置 through streamlit.testing: the seeds' terms shown, a window extended with a
reason (history and audit log), a unit given its own window, a change without a reason refused."""

import datetime as dt

from streamlit.testing.v1 import AppTest

from enrollment import campaigns, db
from enrollment.identity import audit

from .fixtures import ROOT, dump
from .markup import plain

JINCHENG = "jincheng-2022-residents"
WANZHOU = "wanzhou-zhoujiaba-2022-residents"


def page(campaign: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = campaign
    at.run()
    at.switch_page("pages/campaign.py").run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(plain(e.value) for e in elements)


def test_zhoujiaba_shows_its_tiers_subsidies_and_extension(store):
    at = page(WANZHOU)
    shown = texts(at.markdown)
    assert "缴费标准：一档 320 元/人·年；二档 695 元/人·年" in shown
    assert "低保对象：参保率目标 100%" in shown and "90% 资助（288 元/人）" in shown
    assert "在渝高校大学生：参保率目标 未规定；缴费标准 一档 280 元、二档 655 元" in shown
    assert "已延长至 2022-02-28" in shown
    history = next(d.value for d in at.dataframe if "原因" in d.value.columns)
    assert list(history["原因"]) == ["为防控疫情风险（万州周办发〔2022〕1号）"]


def test_jincheng_shows_its_payment_days(store):
    shown = texts(page(JINCHENG).markdown)
    assert "缴费时间：每月 1-25 日可办理缴费" in shown and "统一标准 320 元/人·年" in shown


def test_extending_the_window_on_the_page(store):
    at = page(JINCHENG)
    at.date_input[1].set_value(dt.date(2022, 1, 15))
    at.text_input[0].input("为防控疫情风险")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert "调整为 2021-09-01 至 2022-01-15（结束日期推迟 21 天）" in texts(at.success)
    with store.read() as con:
        assert campaigns.get(con, JINCHENG).end == dt.date(2022, 1, 15)
        logged = audit.query(con, actions=["campaign_changed"])
    assert "原因：为防控疫情风险" in logged["detail"].iloc[0]
    # The sidebar's campaign follows at once: the week picker reaches the new end.
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    assert at.selectbox(key=f"overview:as_of:{JINCHENG}").options[-1] == "第21周（2022年01月15日）"


def test_a_unit_gets_its_own_window_on_the_page(store):
    at = page(JINCHENG)
    at.selectbox(key=f"campaign:scope:{JINCHENG}").set_value("140525").run()
    at.date_input[0].set_value(dt.date(2021, 9, 15))
    at.text_input[0].input("因系统切换原因")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert "「泽州县」的集中参保期由 全活动的参保期 调整为 2021-09-15 至 2021-12-25" in texts(at.success)
    table = next(d.value for d in at.dataframe if "集中参保期" in d.value.columns)
    assert list(table["单位"]) == ["泽州县"] and list(table["原因"]) == ["因系统切换原因"]
    with store.read() as con:
        assert [w.code for w in campaigns.get(con, JINCHENG).unit_windows] == ["140525"]


def test_a_change_without_a_reason_is_refused(store):
    before = dump(store)
    at = page(JINCHENG)
    at.date_input[1].set_value(dt.date(2022, 1, 15))
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert "请填写调整集中参保期的原因" in texts(at.error)
    assert dump(store) == before
    with store.read() as con:
        assert db.windows.history(con, JINCHENG).empty
