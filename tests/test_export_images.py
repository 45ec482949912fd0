"""通报导出 with Chromium: chart images (PNG size and pixels, SVG, PDF pages), Chinese glyphs,
the Word picture, 张榜 boards on one A4 page each, and one browser for the whole batch."""

import dataclasses
import datetime as dt
import io
import subprocess
import unicodedata

import docx
import plotly.graph_objects as go
import pytest
from click.testing import CliRunner
from PIL import Image, ImageChops

from enrollment.cli import cli
from enrollment.export import boards, bundles, charts, render
from enrollment.export import model as exports
from enrollment.targets import tables as targets
from enrollment.targets.tables import TargetRow, TargetTable

from .fixtures import record

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(render.chromium_problem() is not None,
                                 reason="needs Chromium (apt-get install chromium fonts-noto-cjk)")]
AS_OF = dt.date(2021, 11, 19)
JINCUN = "140525106"      # 金村镇, Zezhou: 61 villages, the most of any Jincheng township


@pytest.fixture(scope="module")
def renderer():
    with render.Renderer() as running:
        yield running


@pytest.fixture
def bundle(demo_data, renderer) -> bundles.Bundle:
    made = bundles.build(demo_data, renderer=renderer)
    assert made.failures == {}
    return made


def pdf_pages(data: bytes, tmp_path, name="x") -> list[Image.Image]:
    """The PDF's pages as images, rendered by poppler (pdftoppm) at 50 dpi."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(path), str(tmp_path / name)], check=True)
    return [Image.open(p).convert("RGB") for p in sorted(tmp_path.glob(f"{name}-*.png"))]


def pdf_info(data: bytes, tmp_path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def pdf_text(data: bytes, tmp_path) -> str:
    """The PDF's text; NFKC because Noto CJK maps some glyphs to Kangxi radicals (⽰ for 示)."""
    path = tmp_path / "text.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return unicodedata.normalize("NFKC", text)


def share_of(image: Image.Image, color: str, tolerance: int = 24) -> float:
    """Share of the pixels within `tolerance` of the colour on every channel."""
    target = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    pixels = list(image.convert("RGB").get_flattened_data())
    near = sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, target)))
    return near / len(pixels)


def test_png_is_print_sized_and_draws_behind_units_in_red(bundle, demo_data):
    ranking = next(f for f in bundle.of("png") if "排名" in f.name)
    image = Image.open(io.BytesIO(ranking.data))
    chart = exports.ranking_chart(demo_data)
    assert image.size == (chart.width * 2, chart.height * 2) == (1520, chart.height * 2)
    assert share_of(image, "#FFFFFF", 8) < 0.9                       # not blank
    assert share_of(image, charts.STATUS_COLORS["behind"]) > 0.003   # the behind bar, vermillion
    assert share_of(image, charts.STATUS_COLORS["on_track"]) > 0.02
    assert share_of(image, charts.STATUS_COLORS["not_reported"], 6) > 0.002


def test_chinese_glyphs_are_drawn_not_boxes(renderer):
    """Two different characters give two different pictures; missing fonts draw the same box."""
    def glyph(text: str) -> Image.Image:
        fig = go.Figure()
        fig.add_annotation(text=text, x=0.5, y=0.5, showarrow=False,
                           font=dict(family=charts.FONT_FAMILY, size=120))
        fig.update_layout(xaxis_visible=False, yaxis_visible=False, plot_bgcolor="white",
                          margin=dict(l=0, r=0, t=0, b=0))
        return Image.open(io.BytesIO(renderer.image(fig, "png", width=200, height=200))).convert("L")

    jin, cheng, shi = glyph("晋"), glyph("城"), glyph("市")
    assert ImageChops.difference(jin, cheng).getbbox() is not None
    assert ImageChops.difference(cheng, shi).getbbox() is not None
    assert ImageChops.difference(jin, glyph("晋")).getbbox() is None   # deterministic


def test_svg_and_pdf_charts_carry_the_chinese_title_and_source(bundle, tmp_path):
    svg = next(f for f in bundle.of("svg") if "排名" in f.name).data.decode()
    assert "晋城市各县（市、区）参保完成率排名" in svg and "Noto Sans CJK SC" in svg
    assert "数据来源：示例数据" in svg
    pdf = next(f for f in bundle.of("pdf") if "趋势" in f.name).data
    assert pdf_info(pdf, tmp_path)["Pages"].strip() == "1"
    text = pdf_text(pdf, tmp_path)
    assert "晋城市累计参保人数走势" in text and "第12周" in text and "示例数据" in text
    page = pdf_pages(pdf, tmp_path, "trend")[0]
    assert share_of(page, "#FFFFFF", 8) < 0.95


def test_word_draft_has_the_ranking_picture(bundle):
    document = docx.Document(io.BytesIO(bundle.of("docx")[0].data))
    assert len(document.inline_shapes) == 1
    assert document.inline_shapes[0].width == docx.shared.Mm(156)


def test_the_whole_batch_runs_in_one_browser(demo_data):
    before = render.Renderer.launches
    made = bundles.build(demo_data)
    assert made.failures == {}
    assert render.Renderer.launches - before == 1 and made.browsers == 1
    assert [f.kind for f in made.files].count("png") == 2
    assert len(made.of("board")) == len(demo_data.units) + 1


def test_each_board_is_one_a4_page_with_the_units_figures(bundle, demo_data, tmp_path):
    by_name = {f.name: f for f in bundle.of("board")}
    for unit in demo_data.units.to_dict("records"):
        pdf = by_name[boards.board_name(demo_data, unit)].data
        info = pdf_info(pdf, tmp_path)
        assert info["Pages"].strip() == "1" and "(A4)" in info["Page size"]
        text = pdf_text(pdf, tmp_path)
        assert f"{unit['name']}参保进度公示" in text
        assert f"{unit['completion'] * 100:.2f}%" in text and f"{int(unit['enrolled']):,}" in text
        assert "示例数据" in text
    combined = by_name[boards.all_boards_name(demo_data)].data
    assert pdf_info(combined, tmp_path)["Pages"].strip() == str(len(demo_data.units))


def test_the_largest_township_board_fits_one_page_with_every_village(store, jincheng, renderer,
                                                                       tmp_path):
    with store.read() as con:
        villages = [r[0] for r in con.raw.execute(
            "SELECT code FROM units WHERE campaign_id = ? AND parent_code = ? ORDER BY code",
            [jincheng.id, JINCUN]).fetchall()]
    assert len(villages) == 61
    table = TargetTable(rows=[TargetRow(0, c, c, 900 + 10 * i) for i, c in enumerate(villages)],
                        level="community", scope_code=JINCUN)
    with store.write() as con:
        targets.save(con, jincheng.id, table, source="test")
    record(store, jincheng.id, dt.date(2021, 11, 12), {c: 500 + 3 * i for i, c in enumerate(villages)})
    record(store, jincheng.id, AS_OF, {c: 560 + 5 * i for i, c in enumerate(villages[:-3])})
    with store.read() as con:
        data = exports.gather(con, jincheng, AS_OF, "upload", level="township", scope="泽州县")
    unit = data.units[data.units["code"] == JINCUN].iloc[0].to_dict()
    made = {f.name: f.data for f in boards.build(data, renderer)}
    assert len(made) == 16 + 1
    pdf = made[boards.board_name(data, unit)]
    assert pdf_info(pdf, tmp_path)["Pages"].strip() == "1"
    text = pdf_text(pdf, tmp_path)
    children = exports.ranked(data.result.children(JINCUN))
    for name in (children["name"].iloc[0], children["name"].iloc[-1]):
        assert name in text
    assert "进度落后" in text and "未上报" in text
    page = pdf_pages(pdf, tmp_path, "jincun")[0]
    assert share_of(page, "#FDE2E1", 6) > 0.005     # behind villages filled red
    assert pdf_info(made[boards.all_boards_name(data)], tmp_path)["Pages"].strip() == "16"

    # A longer policy note than planned for: the rows get smaller, the page still fits.
    wordy = dataclasses.replace(data.result.campaign, contribution_note="个人缴费标准说明。" * 40)
    data.result = dataclasses.replace(data.result, campaign=wordy)
    pdf = {f.name: f.data for f in boards.build(data, renderer)}[boards.board_name(data, unit)]
    assert pdf_info(pdf, tmp_path)["Pages"].strip() == "1"
    assert children["name"].iloc[-1] in pdf_text(pdf, tmp_path)


def test_a_board_that_does_not_fit_is_refused(renderer):
    page = boards._document("太长", [f"<div class='page'>{'<p>行</p>' * 400}</div>"])
    with pytest.raises(render.RenderError, match="超出一页"):
        renderer.pdf(page, fit=".page")


def test_cli_export_writes_every_format(store, demo_data, tmp_path):
    result = CliRunner().invoke(cli, ["export", "--campaign", "jincheng-2022-residents",
                                      "--as-of", "2021-11-19", "--out", str(tmp_path / "out"),
                                      "--formats", "png,pdf,docx"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    stem = "示例数据-晋城市-参保进度-20211119"
    assert names == [f"{stem}-县区排名.pdf", f"{stem}-县区排名.png", f"{stem}-趋势.pdf",
                     f"{stem}-趋势.png", f"{stem}-通报稿.docx"]
