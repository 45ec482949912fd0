"""The Friday cycle in a real browser against `streamlit run`: the clerk publishes the week, a
county's correction for that week is refused (and archived), an administrator grants the county
an exception, the same correction is accepted; 催报's 复制 buttons put the exact message on the
clipboard, through the Clipboard API and through the fallback an intranet on plain http needs.
Screenshots go to $ENROLLMENT_SCREENSHOTS (or the test's temporary folder)."""

import datetime as dt

import pytest

from enrollment.cycle import contacts, publishing
from enrollment.export import render
from enrollment.uploads import rights

from .fixtures import record, report_csv
from .server import settle, streamlit_server

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(render.chromium_problem() is not None, reason="needs Chromium")]

CAMPAIGN = "jincheng-2022-residents"
W12 = dt.date(2021, 11, 19)
FIGURES = {"140502": 150000, "140521": 110000, "140525": 300000}


@pytest.fixture(scope="module")
def served(module_store):
    record(module_store, CAMPAIGN, dt.date(2021, 11, 12), {k: v - 9000 for k, v in FIGURES.items()})
    record(module_store, CAMPAIGN, W12, FIGURES, now=dt.datetime(2021, 11, 19, 6, 0))
    contacts.save(module_store, CAMPAIGN, [("140522", "王五<b>", "13800001111")], actor="管理员")
    with streamlit_server(module_store.target) as url:
        yield module_store, url


def choose_friday(page) -> None:
    """The upload form's date: 2021-11-19 (year/month/day segments, typed over)."""
    for part, value in (("month", "11"), ("day", "19")):
        page.get_by_role("spinbutton", name=f"{part}, 上报日期（数字截至哪天）").click()
        page.keyboard.type(value)
    page.get_by_role("heading", name="数据上报").click()      # leaving the field commits it
    settle(page, "第12周")


def upload(page, url: str, path) -> str:
    page.goto(f"{url}/upload?campaign={CAMPAIGN}")
    settle(page, "① 填报人和上报日期")
    page.get_by_label("填报人", exact=True).fill("城区医保局 李四")
    page.get_by_label("填报人", exact=True).press("Enter")
    settle(page)
    choose_friday(page)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    settle(page, "累计参保人数合计")
    return page.inner_text("body")


def test_publish_then_a_locked_upload_is_refused_until_an_exception(served, chromium, shots, tmp_path):
    store, url = served
    page = chromium.new_page(viewport={"width": 1366, "height": 2400}, accept_downloads=True)
    page.goto(f"{url}/export?campaign={CAMPAIGN}&as_of=2021-11-19")
    settle(page, "通报导出")
    page.get_by_role("button", name="发布第12周（截至2021-11-19）的通报").click()
    settle(page, "发布后不能撤回或重复发布")
    page.get_by_role("button", name="确认发布").click()
    page.get_by_text("已发布第12周（截至2021-11-19）的通报（第 1 号）").wait_for(timeout=180_000)
    settle(page)
    page.screenshot(path=shots / "cycle-1-published.png", full_page=True)
    body = page.inner_text("body")
    assert "通报归档" in body and "全部文件（ZIP）" in body
    # Playwright's default 30 s ran out once for this download in a full run on a loaded
    # machine (the same test passed alone on both engines).
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="全部文件（ZIP）").click()
    with store.read() as tx:
        listed = publishing.files(tx, 1)
        position = int(listed[listed["kind"] == "zip"]["position"].iloc[0])
        stored = publishing.file(tx, 1, position)
    assert download.value.suggested_filename == stored[0]
    assert open(download.value.path(), "rb").read() == stored[1]

    # A county's correction for the published week: refused in Chinese, the file archived.
    correction = tmp_path / "城区更正.csv"
    correction.write_bytes(report_csv({"140502": 152000}))
    text = upload(page, url, correction)
    page.screenshot(path=shots / "cycle-2-refused.png", full_page=True)
    assert "第12周（2021-11-13 至 2021-11-19）已于" in text and "发布通报并锁定" in text
    assert "不能再上报或撤回该周" in text and "开放例外" in text
    assert "这次未通过的上传已记录为第" in text

    # The administrator grants 城区 an exception on 通报导出 → 锁定与例外.
    page.goto(f"{url}/export?campaign={CAMPAIGN}&as_of=2021-11-19")
    settle(page, "通报导出")
    page.get_by_text("锁定与例外", exact=True).click()
    settle(page, "发布通报并锁定")
    page.get_by_label("开放例外的单位（含下属单位）").click()
    page.get_by_role("option", name="城区", exact=True).click()
    settle(page)
    page.get_by_label("原因", exact=True).fill("城区医保局申请更正录入错误")
    page.get_by_label("原因", exact=True).press("Enter")
    settle(page)
    page.get_by_role("button", name="开放例外").click()
    settle(page, "已为「城区」开放第12周")
    page.screenshot(path=shots / "cycle-3-exception.png", full_page=True)

    # The same correction is now accepted.
    text = upload(page, url, correction)
    assert "本次不能上报" not in text
    page.get_by_role("button", name="确认上报 1 个单位的数字").click()
    settle(page, "上报回执")
    page.screenshot(path=shots / "cycle-4-accepted.png", full_page=True)
    assert "上报成功" in page.inner_text("body")
    page.close()
    with store.read() as tx:
        campaign = publishing.campaigns.get(tx, CAMPAIGN)
        assert rights.week_lock(tx, campaign, W12).exceptions == {"140502": "城区医保局申请更正录入错误"}
        figures = publishing.stored_figures(publishing.bulletin(tx, CAMPAIGN, 1))
    # What was circulated still shows the figure before the correction.
    assert {u["code"]: u["enrolled"] for u in figures["units"]}["140502"] == 150000


def test_remind_copy_buttons_put_the_exact_message_on_the_clipboard(served, chromium, shots):
    _, url = served
    context = chromium.new_context(viewport={"width": 1366, "height": 1600},
                                   permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{url}/remind?campaign={CAMPAIGN}&as_of=2021-11-19")
    settle(page, "应报6个县（市、区）")
    page.screenshot(path=shots / "cycle-5-remind.png", full_page=True)
    group = page.locator("#remind-group button[data-copy]")
    group.click()
    page.wait_for_function("document.querySelector('#remind-group button').textContent === '已复制'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("【催报】截至11月19日17:00，第12周参保进度尚有3个单位未报送：阳城县、陵川县、高平市")
    item = page.locator("[data-testid=copy-item]", has_text="阳城县 · 未上报").locator("button")
    assert "王五<b>" in page.locator("#remind-units").inner_text()      # escaped, shown as typed
    item.click()
    assert page.evaluate("navigator.clipboard.readText()") == \
        "阳城县：截至11月19日17:00尚未报送第12周参保进度，请于今日内报送。"

    # An intranet on plain http has no Clipboard API: the fallback copies all the same.
    plain = context.new_page()
    plain.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    plain.goto(f"{url}/remind?campaign={CAMPAIGN}&as_of=2021-11-19")
    settle(plain, "应报6个县（市、区）")
    plain.locator("[data-testid=copy-item]", has_text="陵川县 · 未上报").locator("button").click()
    plain.wait_for_timeout(300)
    assert plain.locator("[data-testid=copy-item]", has_text="陵川县 · 未上报").locator("button").inner_text() == "已复制"
    assert page.evaluate("navigator.clipboard.readText()") == \
        "陵川县：截至11月19日17:00尚未报送第12周参保进度，请于今日内报送。"
    context.close()
