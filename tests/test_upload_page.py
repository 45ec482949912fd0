"""The page 数据上报 through streamlit.testing: preview, errors, warnings, the date question,
confirm, receipt, withdraw, history."""

import datetime as dt

from streamlit.testing.v1 import AppTest

from enrollment.uploads import ingest
from enrollment.uploads import log as uploads

from . import files
from .fixtures import ROOT, csv_bytes, dump, record
from .markup import plain

CAMPAIGN = "jincheng-2022-residents"
P = f"upload:{CAMPAIGN}:"


def page(who: str | None = "泽州县医保局 张三") -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = CAMPAIGN
    at.run()
    at.switch_page("pages/upload.py").run()
    assert not at.exception
    if who:
        at.text_input(key="upload:uploader").set_value(who).run()
    return at


def upload(at: AppTest, content: bytes, name: str = "上报.xlsx", day=dt.date(2021, 11, 19)) -> AppTest:
    at.date_input(key=P + "date").set_value(day).run()
    at.file_uploader[0].set_value((name, content, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str):
    """The shown table that has this column (preview: 检查结果, log: 状态, revisions: 版本)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def commit_button(at: AppTest):
    return next(b for b in at.button if b.key == P + "commit")


def test_page_shows_title_date_and_template_controls(store):
    at = page(who=None)
    assert at.title[0].value == "数据上报"
    assert at.date_input(key=P + "date").value == ingest.default_report_date(
        ingest.campaigns.load(store, CAMPAIGN))
    assert at.selectbox(key=P + "tpl_level").value == "county"
    assert at.selectbox(key=P + "tpl_scope").value == "1405"
    assert at.download_button(key=P + "tpl_download")


def test_good_file_preview_confirm_receipt_and_history(store):
    at = upload(page(), files.xlsx([["县区", "累计参保人数"], ["城区", "182,360"], ["泽州", 270000]]))
    assert [m.value for m in at.metric] == ["2", "2", "452,360"]
    preview = frame_with(at, "检查结果")
    assert list(preview["对应单位"]) == ["城区", "泽州县"] and set(preview["检查结果"]) == {"通过"}
    commit_button(at).click().run()
    assert not at.exception
    assert at.success[0].value == "上报成功：第 1 号上报已保存。"
    receipt = "\n".join(plain(m.value) for m in at.markdown)       # as the browser shows it
    for text in ("文件名：上报.xlsx", "数据行数：2 行", "单位数：2 个",
                 "累计参保人数合计：452,360", "填报人：泽州县医保局 张三", "是否按时："):
        assert text in receipt
    log = frame_with(at, "填报人")
    assert list(log["状态"]) == ["已接收"] and list(log["填报人"]) == ["泽州县医保局 张三"]
    with store.read() as con:
        assert len(uploads.unit_history(con, CAMPAIGN, "140502")) == 1


def test_file_with_errors_shows_them_beside_rows_and_cannot_be_committed(store):
    before = dump(store)
    at = upload(page(), files.xlsx([["单位", "累计参保人数"], ["城区", 5], ["火星县", 7], ["高平", -1]]))
    preview = frame_with(at, "检查结果").set_index("行号")
    assert preview.loc[3, "检查结果"] == "错误" and preview.loc[3, "说明"].startswith("未知单位「火星县」")
    assert "不能为负数" in preview.loc[4, "说明"]
    assert any("文件有 2 处错误，本次不能上报" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == P + "commit"]
    after = dump(store)
    assert after["reports"] == before["reports"]
    rejected = [r for r in after["uploads"] if r not in before["uploads"]]
    assert len(rejected) == 1 and "rejected" in rejected[0]
    at.run()     # a rerun does not archive the same file again
    assert len(dump(store)["uploads"]) == len(after["uploads"])


def test_warnings_must_be_confirmed_before_commit(store):
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {"140502": 1000})
    at = upload(page(), csv_bytes([["单位", "累计参保人数"], ["城区", 900]]))
    assert commit_button(at).disabled
    assert any("低于上次上报的 1,000" in plain(m.value) for m in at.markdown)
    next(c for c in at.checkbox if "确认上报" in c.label).check().run()
    assert not commit_button(at).disabled
    commit_button(at).click().run()
    assert at.success and "第 2 号上报已保存" in at.success[0].value


def test_uploader_is_required(store):
    at = upload(page(who=None), csv_bytes([["单位", "累计参保人数"], ["城区", 900]]))
    assert commit_button(at).disabled
    assert any("请在上面填写填报人" in i.value for i in at.info)


def test_date_in_the_file_differs_and_the_page_asks(store):
    content = csv_bytes([["填报日期：2021年11月12日"], ["单位", "累计参保人数"], ["城区", 900]])
    at = upload(page(), content)
    question = at.radio[0]
    assert "文件中写的日期是 2021-11-12，与上面选择的上报日期 2021-11-19 不一致" in question.label
    assert not [b for b in at.button if b.key == P + "commit"]
    question.set_value(dt.date(2021, 11, 12)).run()
    assert not commit_button(at).disabled
    commit_button(at).click().run()
    assert "上报日期：2021-11-12" in "\n".join(plain(m.value) for m in at.markdown)


def test_withdraw_from_the_receipt_restores_and_is_logged(store):
    record(store, CAMPAIGN, dt.date(2021, 11, 19), {"140502": 1000}, uploader="泽州县医保局 张三")
    at = upload(page(), csv_bytes([["单位", "累计参保人数"], ["城区", 1100]]))
    commit_button(at).click().run()
    next(b for b in at.button if b.key == P + "undo_receipt:ask").click().run()
    next(b for b in at.button if b.key == P + "undo_receipt:yes").click().run()
    assert not at.exception
    assert any("已撤回第 2 号上报" in s.value for s in at.success)
    log = frame_with(at, "填报人")
    assert list(log["类型"])[:2] == ["撤回", "上报"] and list(log["状态"])[1] == "已撤回"
    at.selectbox(key=P + "unit").set_value("140502").run()
    revisions = frame_with(at, "版本")
    assert list(revisions["累计参保人数"]) == [1000, 1100, 1000]


def test_the_uploader_name_survives_a_visit_to_another_page(store):
    at = page()
    at.switch_page("pages/overview.py").run()
    at.switch_page("pages/upload.py").run()
    assert at.text_input(key="upload:uploader").value == "泽州县医保局 张三"


def test_the_last_week_s_deadline_is_the_window_s_last_day(store):
    at = page(who=None)
    at.date_input(key=P + "date").set_value(dt.date(2021, 12, 25)).run()
    captions = [c.value for c in at.caption]
    assert any("第18周（2021年12月25日），截止时间 2021-12-25 17:00" in c for c in captions), captions
