"""The Friday cycle on the pages (streamlit.testing): 通报导出's 月度 choice, 发布 with its
confirmation, the archive's downloads, 锁定与例外; 已发布 on the overview; the lock said on the
upload form; 催报's lists and the contacts editor."""

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from enrollment.campaigns import demo
from enrollment.cycle import contacts, publishing
from enrollment.uploads import rights

from .fixtures import ROOT, record
from .markup import plain

CAMPAIGN = "jincheng-2022-residents"
W12 = dt.date(2021, 11, 19)


def page(path: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    at.query_params.update({"campaign": CAMPAIGN, "as_of": "2021-11-19", **query})
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join(plain(m.value) for m in [*at.markdown, *at.caption, *at.warning, *at.info,
                                              *at.error, *at.success])


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if plain(b.label) == label).click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def reported(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_CHROMIUM", "/nonexistent/chromium")    # Excel and Word only
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {"140502": 140000, "140525": 290000})
    record(store, CAMPAIGN, W12, {"140502": 150000, "140525": 300000})
    return store


def test_the_month_choice_shows_the_months_figures_and_draft(store, jincheng):
    demo.generate(store, jincheng)
    at = page("pages/export.py", source="demo", period="month", month="2021-11")
    shown = texts(at)
    assert "2021年11月情况" in shown and "截至2021年11月26日" in shown
    assert "关于晋城市2022年度城乡居民基本医疗保险2021年11月参保缴费进度的通报" in shown
    assert "五、本月上报情况" in shown
    month_table = next(d.value for d in at.dataframe if "排名变化" in d.value.columns)
    assert len(month_table) == 6
    assert "示例数据不能发布" in shown


def test_publishing_from_the_page_archives_locks_and_shows_who(reported):
    at = page("pages/export.py")
    at = click(at, "发布第12周（截至2021-11-19）的通报")
    assert "发布后不能撤回或重复发布" in texts(at)
    at = click(at, "确认发布")
    shown = texts(at)
    assert "已发布第12周（截至2021-11-19）的通报（第 1 号）" in shown
    assert "已发布 · " in shown
    assert not any(plain(b.label).startswith("发布第12周") for b in at.button)
    labels = [plain(d.proto.label) for d in at.get("download_button")]
    assert "全部文件（ZIP）" in labels and "Excel 通报表" in labels
    archive = next(d.value for d in at.dataframe if "期次" in d.value.columns)
    assert list(archive["期次"]) == ["第12周（截至2021-11-19）"]
    with reported.read() as tx:
        assert rights.week_lock(tx, publishing.campaigns.get(tx, CAMPAIGN), W12).bulletin_id == 1
    overview = page("pages/overview.py")
    assert any("已发布 · " in plain(m.value) and "badge" in m.value for m in overview.markdown)
    upload = page("pages/upload.py")
    assert not any("不能再上报或撤回" in plain(w.value) for w in upload.warning)   # 12-25 is open
    upload.date_input(key=f"upload:{CAMPAIGN}:date").set_value(W12).run()
    assert any("第12周（2021-11-13 至 2021-11-19）已于" in plain(w.value)
               and "不能再上报或撤回" in plain(w.value) for w in upload.warning)


def test_an_administrator_locks_grants_an_exception_and_unlocks_on_the_page(reported):
    at = page("pages/export.py")
    at = click(at, "锁定第12周（2021-11-13 至 2021-11-19）")
    assert "已锁定第12周" in texts(at)
    at.selectbox(key="export:allow_unit").set_value("140525").run()
    at = click(at, "开放例外")
    assert "原因不能为空" in texts(at)
    at.selectbox(key="export:allow_unit").set_value("140525").run()
    at.text_input(key="export:allow_reason").input("县局申请更正").run()
    at = click(at, "开放例外")
    assert "已为「泽州县」开放第12周" in texts(at)
    with reported.read() as tx:
        assert rights.week_lock(tx, publishing.campaigns.get(tx, CAMPAIGN), W12).exceptions == {
            "140525": "县局申请更正"}
    at = click(at, "解除第12周（2021-11-13 至 2021-11-19）的锁定")
    assert "已解除第12周" in texts(at)


def test_the_remind_page_lists_the_messages_and_the_sms_download(reported):
    contacts.save(reported, CAMPAIGN, [("140521", "王五", "13800001111")], actor="管理员")
    at = page("pages/remind.py")
    shown = texts(at)
    assert "第12周（截止11月19日17:00）应报6个县（市、区）" in shown
    html = "\n".join(h.proto.body for h in at.get("html"))
    assert "沁水县：截至11月19日17:00尚未报送第12周参保进度，请于今日内报送。" in html
    assert "【催报】截至11月19日17:00，第12周参保进度尚有4个单位未报送" in html
    table = next(d.value for d in at.dataframe if "催报内容" in d.value.columns)
    assert list(table.set_index("单位").loc["沁水县", ["责任人", "联系电话"]]) == ["王五", "13800001111"]
    labels = [plain(d.proto.label) for d in at.get("download_button")]
    assert "下载短信平台导入表（CSV，1 条）" in labels


def test_names_in_the_copy_list_are_escaped(reported):
    contacts.save(reported, CAMPAIGN, [("140521", "<img src=x onerror=alert(1)>", "13800001111")],
                  actor="管理员")
    at = page("pages/remind.py")
    html = "\n".join(h.proto.body for h in at.get("html"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_contacts_editor_is_offered_and_its_edits_are_what_is_saved(reported):
    at = page("pages/remind.py")
    editor = next(d for d in at.dataframe if d.key == f"remind:{CAMPAIGN}:editor:county")
    table = editor.value
    assert list(table.columns) == ["单位代码", "单位", "层级", "责任人", "联系电话"] and len(table) == 6
    edited = table.copy()
    edited.loc[edited["单位"] == "城区", ["责任人", "联系电话"]] = ["张三", " 13800001111 "]
    rows = contacts.edited_rows(table, edited)
    assert rows == [("140502", "张三", "13800001111")]
    assert contacts.save(reported, CAMPAIGN, rows, actor="管理员") == 1
    assert contacts.edited_rows(table, table) == []
    at = page("pages/remind.py")
    table = next(d for d in at.dataframe if d.key == f"remind:{CAMPAIGN}:editor:county").value
    assert list(table.set_index("单位").loc["城区", ["责任人", "联系电话"]]) == ["张三", "13800001111"]
