"""A county clerk's Friday upload in a real browser against `streamlit run`: open the page from a
bookmark, download the template, fill it, upload, confirm, read the receipt, then see the figures
on 进度总览 — on a desktop and on a phone-width screen. Screenshots go to /tmp/upload-*.png."""

import json

import pytest
from click.testing import CliRunner

from enrollment.cli import cli

from .server import settle, streamlit_server
from .test_template import fill

pytestmark = pytest.mark.browser

CAMPAIGN = "jincheng-2022-residents"
FIGURES = {"140502": 182360, "140521": 150000, "140522": 280000, "140524": 200000,
           "140525": 270000, "140581": 360000}
TOTAL = sum(FIGURES.values())
SHOTS = "/tmp/upload-{}.png"


def cells(page, index: int = 0) -> list[str]:
    """The cells of the index-th table (st.dataframe draws on a canvas; its grid cells follow)."""
    grid = page.locator("[data-testid=stDataFrame]").nth(index)
    grid.locator("[role=gridcell]").first.wait_for(state="attached", timeout=60_000)
    return grid.locator("[role=gridcell]").all_inner_texts()


@pytest.fixture(scope="module")
def served(module_store):
    """One server for the module: the first test's bookmark is the first request it sees."""
    with streamlit_server(module_store.target) as url:
        yield module_store, url


def test_template_fill_upload_confirm_receipt_then_overview(served, chromium, tmp_path):
    store, url = served
    page = chromium.new_page(viewport={"width": 1366, "height": 2000}, accept_downloads=True)
    # A bookmark to the page, the first request the fresh server sees.
    page.goto(f"{url}/upload?campaign={CAMPAIGN}")
    settle(page, "① 填报人和上报日期")
    page.get_by_label("填报人", exact=True).fill("泽州县医保局 张三")
    page.get_by_label("填报人", exact=True).press("Enter")
    # The date field has year/month/day segments: type over month and day.
    for part, value in (("month", "11"), ("day", "19")):
        page.get_by_role("spinbutton", name=f"{part}, 上报日期（数字截至哪天）").click()
        page.keyboard.type(value)
    page.get_by_role("heading", name="数据上报").click()    # leaving the field commits it
    settle(page, "第12周")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载模板（.xlsx）").click()
    blank = tmp_path / download.value.suggested_filename
    download.value.save_as(blank)
    assert blank.name == "晋城市2022年度城乡居民基本医疗保险参保缴费_上报模板_晋城市_县区.xlsx"
    filled = tmp_path / "晋城市第12周.xlsx"
    filled.write_bytes(fill(blank.read_bytes(), FIGURES))

    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(filled))
    settle(page, "累计参保人数合计")
    page.screenshot(path=SHOTS.format("1-preview"))
    body = page.inner_text("body")
    assert f"{TOTAL:,}" in body and "上报日期 2021-11-19" in body
    preview = cells(page, 0)
    assert preview.count("通过") == 6 and "错误" not in preview
    for code, value in FIGURES.items():
        assert code in preview and f"{value:,}" in preview
    assert "泽州县" in preview and "高平市" in preview

    page.get_by_role("button", name="确认上报 6 个单位的数字").click()
    settle(page, "上报回执")
    page.screenshot(path=SHOTS.format("2-receipt"))
    receipt = page.inner_text("body")
    for text in ("上报成功：第 1 号上报已保存", "文件名：晋城市第12周.xlsx", "数据行数：6 行",
                 "单位数：6 个", f"累计参保人数合计：{TOTAL:,}", "填报人：泽州县医保局 张三",
                 "逾期上报（截止时间 2021-11-19 17:00）"):
        assert text in receipt
    log = cells(page, 0)
    assert "已接收" in log and "泽州县医保局 张三" in log and "晋城市第12周.xlsx" in log

    page.get_by_role("link", name="到「进度总览」查看").click()
    settle(page, "进度总览")
    page.get_by_text(f"{TOTAL:,}").first.wait_for(timeout=60_000)
    page.screenshot(path=SHOTS.format("3-overview"))
    overview = page.inner_text("body")
    page.close()
    assert f"{TOTAL:,}" in overview
    data = json.loads(CliRunner().invoke(cli, [
        "--db", store.target, "progress", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
        "--format", "json"]).output)
    assert data["total"]["enrolled"] == TOTAL
    assert {u["code"]: u["enrolled"] for u in data["units"]} == FIGURES


def test_the_page_fits_a_phone_and_explains_errors_there(served, chromium, tmp_path):
    _, url = served
    bad = tmp_path / "手机上报.csv"
    bad.write_bytes("县区,累计参保人数\r\n城区,\"182,360\"\r\n泽洲,270000\r\n".encode("gbk"))
    page = chromium.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                             is_mobile=True, has_touch=True)
    page.goto(f"{url}/?campaign={CAMPAIGN}")
    settle(page)
    page.goto(f"{url}/upload?campaign={CAMPAIGN}")
    settle(page, "① 填报人和上报日期")
    page.get_by_label("填报人", exact=True).fill("城区医保局")
    page.get_by_label("填报人", exact=True).press("Enter")
    settle(page)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bad))
    settle(page, "本次不能上报")
    preview = cells(page, 0)
    widths = page.evaluate("""() => [document.documentElement.scrollWidth,
        document.querySelector('[data-testid=stMain]').scrollWidth]""")
    page.set_viewport_size({"width": 390, "height": 2400})
    settle(page)
    page.screenshot(path=SHOTS.format("4-phone-errors"))
    text = page.inner_text("body")
    page.close()
    assert max(widths) <= 390, widths
    assert "文件有 1 处错误，本次不能上报" in text
    # The grid shows the first columns on a phone; the errors are also listed below it.
    assert preview[:5] == ["2", "城区", "城区", "182,360", "通过"]
    assert "第 3 行：未知单位「泽洲」。您是否要填：泽州县" in text
