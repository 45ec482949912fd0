"""通报导出 in a real browser against `streamlit run`: preview, generate, download the ZIP and
open what is in it. Screenshots go to $ENROLLMENT_SCREENSHOTS (or the test's temporary folder)."""

import io
import os
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from enrollment.campaigns import demo
from enrollment.export import render

from .server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_exception,
    streamlit_server,
    wait_for_app,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(render.chromium_problem() is not None, reason="needs Chromium")]


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ENROLLMENT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_clerk_previews_generates_and_downloads_the_weeks_zip(store, jincheng, shots):
    demo.generate(store, jincheng)
    with streamlit_server(store.target) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        page.goto(f"{url}/export?campaign=jincheng-2022-residents&as_of=2021-11-19&source=demo")
        wait_for_app(page)
        assert_no_exception(page)
        expect(page.locator("h3").first).to_contain_text("通报导出")
        expect(page.locator("[data-testid=stMain]")).to_contain_text("各县（市、区） 6 个",
                                                                      timeout=60_000)
        wait_for_app(page)
        text = page.inner_text("body")
        assert "各县（市、区） 6 个" in text and "示例数据" in text
        page.screenshot(path=shots / "export-preview.png")
        page.get_by_role("tab", name="张榜公示").click()
        frame = page.frame_locator("iframe").first
        expect(frame.locator("h1")).to_contain_text("参保进度公示")
        page.screenshot(path=shots / "export-board-preview.png", full_page=True)

        page.get_by_role("button", name="生成").click()
        zip_button = page.get_by_role("button", name="下载全部（ZIP，15 个文件）")
        expect(zip_button).to_be_visible(timeout=120_000)
        wait_for_app(page)
        assert_no_exception(page)
        page.screenshot(path=shots / "export-generated.png", full_page=True)
        with page.expect_download() as download:
            zip_button.click()
        content = Path(download.value.path()).read_bytes()
        suggested = download.value.suggested_filename
        browser.close()

    stem = "示例数据-晋城市-参保进度-20211119"
    assert suggested == f"{stem}.zip"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        assert f"{stem}/{stem}-县区排名.png" in names and f"{stem}/{stem}-通报稿.docx" in names
        assert len([n for n in names if "-张榜/" in n]) == 7
        png = Image.open(io.BytesIO(archive.read(f"{stem}/{stem}-县区排名.png")))
        assert png.width == 1520
        book = openpyxl.load_workbook(io.BytesIO(archive.read(f"{stem}/{stem}-通报表.xlsx")))
        assert book.sheetnames[0] == "县（市、区）"
        document = docx.Document(io.BytesIO(archive.read(f"{stem}/{stem}-通报稿.docx")))
        assert len(document.inline_shapes) == 1
