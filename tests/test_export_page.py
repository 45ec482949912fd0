"""The page 通报导出 through streamlit.testing: preview of the week's exports, level and scope
from the URL, generating the files with and without Chromium."""

import pytest
from streamlit.testing.v1 import AppTest

from enrollment.campaigns import demo
from enrollment.export import render

from .fixtures import ROOT
from .markup import plain

CAMPAIGN = "jincheng-2022-residents"


def page(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    at.query_params.update({"campaign": CAMPAIGN, "source": "demo", "as_of": "2021-11-19", **query})
    at.run()
    at.switch_page("pages/export.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def demo_store(store, jincheng):
    demo.generate(store, jincheng)
    return store


def texts(at: AppTest) -> str:
    """The page's text as the browser shows it (names in Markdown are escaped)."""
    return "\n".join(plain(m.value)
                     for m in [*at.markdown, *at.caption, *at.warning, *at.info, *at.error])


def generate(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "生成").click().run()
    assert not at.exception, at.exception
    return at


def downloads(at: AppTest) -> list[str]:
    return [plain(d.proto.label) for d in at.get("download_button")]


def test_page_previews_the_weeks_bulletin_table_and_charts(demo_store):
    at = page()
    shown = texts(at)
    assert "晋城市 · 各县（市、区） 6 个 · 截至2021年11月19日（第12周） · 数据来源：示例数据" in shown
    assert "示例数据" in at.warning[0].value
    assert "关于晋城市2022年度城乡居民基本医疗保险参保缴费进度的通报" in shown
    assert "完成率71.15%" in shown and "未上报的是城区" in shown
    tables = [d.value for d in at.dataframe]
    assert [list(t["单位"])[:2] for t in tables][0] == ["陵川县", "泽州县"]
    # Only levels with tasks (or the level asked for): no pages of 目标未录入 villages.
    assert len(tables) == 1 and len(tables[0]) == 6
    assert at.selectbox(key=f"export:level:{CAMPAIGN}").value == "county"


def test_level_and_scope_come_from_the_url(demo_store):
    at = page(level="township", scope="140525")
    assert "泽州县 · 各乡镇（街道） 16 个" in texts(at)
    assert at.selectbox(key=f"export:scope:{CAMPAIGN}").value == "140525"


def test_without_chromium_the_page_says_how_to_install_it_and_exports_excel_and_word(
        demo_store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_CHROMIUM", "/nonexistent/chromium")
    at = page()
    assert any("apt-get install chromium fonts-noto-cjk" in w.value for w in at.warning)
    at = generate(at)
    labels = downloads(at)
    assert labels[0] == "下载全部（ZIP，2 个文件）"
    assert "Excel 通报表" in labels and "Word 通报稿" in labels
    assert not at.error


@pytest.mark.browser
@pytest.mark.skipif(render.chromium_problem() is not None, reason="needs Chromium")
def test_generating_makes_every_file_with_one_browser(demo_store):
    at = page()
    before = render.Renderer.launches
    at = generate(at)
    assert render.Renderer.launches - before == 1
    labels = downloads(at)
    assert labels[0] == "下载全部（ZIP，15 个文件）"
    for label in ("县区排名图（PNG）", "趋势图（SVG）", "Excel 通报表", "Word 通报稿",
                  "全部张榜公示（合并打印）", "下载这个单位的张榜 PDF"):
        assert label in labels
    assert len(at.get("image")) == 2    # the exported PNGs, shown as they were made


def test_boards_for_many_units_are_left_unselected_with_the_time_they_take(demo_store):
    at = page(level="community")
    shown = texts(at)
    assert "共 1729 个" in shown and "默认不生成" in shown
