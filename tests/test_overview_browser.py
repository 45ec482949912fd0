"""进度总览 in a real browser against `streamlit run`: the projector, a phone, drill-down to a
Wanzhou community, a past week and the data-source switch. Screenshots go to
$ENROLLMENT_SCREENSHOTS (or the test's temporary folder) to be looked at."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from enrollment import campaigns
from enrollment.campaigns import demo
from enrollment.targets import tables as targets
from enrollment.targets.tables import TargetRow, TargetTable
from enrollment.uploads import ingest

from .server import assert_no_exception, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
COMMUNITIES = [f"500101021{i:03d}" for i in range(1, 12)]


@pytest.fixture(scope="module")
def served(module_store, chromium):
    """Jincheng with demo data; Wanzhou with test-made targets and two weeks of uploads; one
    server for the module's tests (none of them changes data)."""
    store = module_store
    demo.generate(store, campaigns.load(store, "jincheng-2022-residents"))
    wanzhou = campaigns.load(store, WANZHOU)
    table = TargetTable(rows=[TargetRow(0, c, c, 2000 + 100 * i, low_income=40)
                              for i, c in enumerate(COMMUNITIES)],
                        level="community", scope_code="500101021")
    with store.write() as con:
        targets.save(con, wanzhou.id, table, source="test")
    for day, share in ((dt.date(2022, 1, 7), 0.40), (dt.date(2022, 1, 14), 0.55)):
        rows = "".join(f"{c},{int((2000 + 100 * i) * (share + 0.03 * (i % 4)))}\r\n"
                       for i, c in enumerate(COMMUNITIES))
        ingest.commit(store, WANZHOU, ("区划代码,累计参保人数\r\n" + rows).encode(), f"{day}.csv",
                      report_date=day, uploader="周家坝街道", today=dt.date(2022, 3, 1),
                      now=dt.datetime.combine(day, dt.time(8, 0)))
    with streamlit_server(store.target) as url:
        yield url, chromium


def open_page(browser, url, query, width=1366, height=768):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{url}/?{query}")
    wait_for_app(page)
    assert_no_exception(page)
    return page


def test_projector_answers_who_is_behind_without_scrolling(served, shots):
    url, browser = served
    page = open_page(browser, url, "campaign=jincheng-2022-residents&as_of=2021-11-19")
    page.screenshot(path=shots / "overview-1366x768.png")
    chart = page.locator(".js-plotly-plot").first
    box = chart.bounding_box()
    assert box and box["y"] + box["height"] <= 768, box     # the whole ranking is on screen
    text = page.inner_text("body")
    assert "示例数据" in text and "进度总览 · 晋城市" in text
    assert "截至 2021年11月19日（第12周）" in text
    assert "进度落后" in text and "序时" in text and "目标 97%" in text
    for county in ("城区", "沁水县", "阳城县", "陵川县", "泽州县", "高平市"):
        assert county in chart.inner_text()


def test_phone_is_readable(served, shots):
    url, browser = served
    page = open_page(browser, url, "campaign=jincheng-2022-residents&as_of=2021-11-19",
                     width=390, height=844)
    page.screenshot(path=shots / "overview-390.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    assert chart.bounding_box()["width"] <= 390
    page.screenshot(path=shots / "overview-390-chart.png")


def test_drill_down_to_a_wanzhou_community_by_clicking_its_bar(served, shots):
    url, browser = served
    page = open_page(browser, url, f"campaign={WANZHOU}&as_of=2022-01-14")
    assert "目标任务未录入" not in page.inner_text("body")
    page.screenshot(path=shots / "wanzhou-street.png")
    bars = page.locator(".js-plotly-plot .barlayer .point path")
    assert bars.count() == 11
    # Plotly's drag layer takes the click and finds the bar under it; the bar's path starts at
    # 0% (left of the visible axis range), so click near its visible right end.
    box = bars.first.bounding_box()
    x, y = box["x"] + box["width"] - 15, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_function("/unit=500101021[0-9]{3}/.test(location.search)")
    page.wait_for_function("document.querySelector('h3')?.innerText.endsWith('委员会')")
    wait_for_app(page)
    assert_no_exception(page)
    heading = page.locator("h3").first.inner_text()
    assert heading.startswith("进度总览 · ") and heading.endswith("社区居民委员会")
    assert "周家坝街道" in page.inner_text("body")          # the breadcrumb back up
    page.screenshot(path=shots / "wanzhou-community.png")
    page.get_by_role("button", name="周家坝街道").click()
    page.wait_for_function("document.querySelector('h3')?.innerText.endsWith('周家坝街道')")
    assert page.locator("h3").first.inner_text() == "进度总览 · 周家坝街道"


def test_a_past_week_from_the_picker_beside_the_title_and_the_url(served, shots):
    url, browser = served
    page = open_page(browser, url, "campaign=jincheng-2022-residents&as_of=2021-11-19")
    # Beside the title, not in the sidebar: a phone reaches it without opening the sidebar.
    page.locator("[data-testid=stMain]").get_by_role("combobox", name="截至").click()
    page.get_by_role("option", name="第8周（2021年10月22日）").click()
    wait_for_app(page)
    assert "as_of=2021-10-22" in page.url
    assert "截至 2021年10月22日（第8周）" in page.inner_text("body")
    page.screenshot(path=shots / "overview-week8.png")
    shared = open_page(browser, url, page.url.split("?", 1)[1])
    assert "截至 2021年10月22日（第8周）" in shared.inner_text("body")


def test_switching_between_demo_and_uploads(served):
    url, browser = served
    page = open_page(browser, url, "campaign=jincheng-2022-residents&as_of=2021-11-19")
    assert "数据来源：示例数据（模拟）" in page.inner_text("body")
    page.get_by_text("各单位上报").click()
    expect(page.locator("[data-testid=stCaptionContainer]").first).to_contain_text("各单位每周上报")
    wait_for_app(page)
    text = page.inner_text("body")
    assert "数据来源：各单位每周上报" in text and "本页显示的是模拟" not in text
    assert "source=upload" in page.url
    assert page.locator("[data-testid=stSidebar]").get_by_text("参保活动").count() == 1
