"""As a new administrator would, in a real browser against `streamlit run`: set up 阳城县 as a new
campaign down to its villages, split the county task over its townships by a baseline column,
save it, and see the campaign on 进度总览. Screenshots go to the test's temporary folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from enrollment import db

from .fixtures import ROOT, csv_bytes
from .server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_exception,
    streamlit_server,
    wait_for_app,
)

pytestmark = pytest.mark.browser

CAMPAIGN = "yangcheng-2022-residents"
NAME = "阳城县2022年度城乡居民基本医疗保险参保缴费"
TOTAL = 292300          # 阳城's 2022 task in 晋市医保发〔2021〕20号, attachment 2


def townships() -> list[str]:
    """阳城县's 15 townships from the shipped division file (read alike for either engine)."""
    [found] = db.divisions.with_prefix([ROOT / "data" / "divisions" / "china-townships.csv.gz"],
                                       "140522")
    return [name for _, name in found]


def test_set_up_yangcheng_allocate_its_task_and_see_it_on_the_overview(store, tmp_path):
    names = townships()
    assert len(names) == 15
    # Made-up 2021 figures for the test (286,500 in all): the file a county clerk would bring.
    base = tmp_path / "阳城县各乡镇2021年参保人数.csv"
    base.write_bytes(csv_bytes([["乡镇", "2021年参保人数"],
                                *([n, 17000 + 300 * i] for i, n in enumerate(names))]))
    shots = Path(os.environ.get("ENROLLMENT_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)

    with streamlit_server(store.target) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 1400})

        def settle(name: str) -> None:
            wait_for_app(page)
            assert_no_exception(page)
            page.screenshot(path=shots / f"{name}.png")

        page.goto(url)
        settle("0-start")
        sidebar = page.get_by_test_id("stSidebar")

        # 1. 新建活动: find the county, keep both levels below it, fill in the window.
        sidebar.get_by_role("link", name="新建活动").click()
        settle("1-setup")
        page.get_by_role("textbox", name="查找区划（名称或代码）").fill("阳城")
        page.get_by_role("textbox", name="查找区划（名称或代码）").press("Enter")
        wait_for_app(page)
        expect(page.get_by_text("将建立：阳城县（140522）：15 个乡镇（街道）、341 个村（社区）")).to_be_visible()
        page.get_by_role("textbox", name="活动编号").fill(CAMPAIGN)
        page.get_by_role("textbox", name="活动名称").fill(NAME)
        for label, day in (("集中参保期开始", "2021-09-01"), ("集中参保期结束", "2021-12-25")):
            field = page.get_by_test_id("stDateInput").filter(has_text=label).locator("input")
            field.fill(day)
            field.press("Enter")
        page.keyboard.press("Escape")
        settle("2-setup-filled")
        page.get_by_role("button", name="创建活动").click()
        wait_for_app(page)
        expect(page.get_by_text("已创建参保活动 yangcheng-2022-residents")).to_be_visible()
        settle("3-created")
        expect(sidebar.get_by_role("combobox", name="参保活动")).to_have_value(NAME)            # picked in the sidebar

        # 2. 目标任务: nothing yet; split the county total by the baseline column.
        page.get_by_role("link", name="下一步：载入或测算目标任务").click()
        settle("4-targets-missing")
        expect(page.get_by_text("目标任务未录入").first).to_be_visible()
        page.get_by_role("tab", name="测算分解").click()
        wait_for_app(page)
        panel = page.locator("[role=tabpanel]:visible")
        expect(panel.get_by_role("combobox", name="分解对象（上级单位）")).to_have_value(
            "阳城县 → 15 个乡镇（街道）")
        panel.get_by_text("上传文件", exact=True).click()
        wait_for_app(page)
        panel.locator("[data-testid=stFileUploader]").locator("input[type=file]").set_input_files(str(base))
        wait_for_app(page)
        total = panel.get_by_role("spinbutton", name="总任务数（阳城县）")
        total.fill(str(TOTAL))
        total.press("Enter")
        wait_for_app(page)
        expect(panel.get_by_role("heading", name="测算结果")).to_be_visible()
        expect(panel.get_by_text("与总任务一致")).to_be_visible()
        settle("5-allocated")
        panel.get_by_role("textbox", name="录入人").fill("阳城县医保局")
        panel.get_by_role("textbox", name="录入人").press("Enter")
        wait_for_app(page)
        panel.get_by_role("button", name="保存为当前任务表").click()
        wait_for_app(page)
        saved = page.get_by_text("已保存目标任务表第")
        expect(saved).to_be_visible()
        saved_text = saved.inner_text()
        settle("6-saved")

        # 3. 进度总览: the campaign is there, with its targets.
        sidebar.get_by_role("link", name="进度总览").click()
        settle("7-overview")
        expect(page.get_by_role("heading").filter(has_text="进度总览").first).to_be_visible()
        expect(sidebar.get_by_role("combobox", name="参保活动")).to_have_value(NAME)
        overview = page.inner_text("[data-testid=stMain]")
        browser.close()

    assert "阳城县下属 15 个乡镇（街道），任务数合计 292,300" in saved_text
    assert "录入人 阳城县医保局" in saved_text
    assert "目标任务未录入" not in overview
    assert "292,300" in overview
    proc = subprocess.run([sys.executable, "-m", "enrollment", "--db", store.target, "progress",
                           "--campaign", CAMPAIGN, "--as-of", "2021-11-19", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["campaign_name"] == NAME and data["targets_missing"] is False
    assert data["total"]["target"] == TOTAL
    assert [u["name"] for u in data["units"]] and len(data["units"]) == 15
    targets_ = [u["target"] for u in data["units"]]
    assert sum(targets_) == TOTAL and all(t % 10 == 0 for t in targets_)
    assert all(u["level"] == "township" for u in data["units"])
