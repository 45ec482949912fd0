"""通报导出 without a browser: the figures, the Excel 通报表, the Word 通报稿, file names, the
ZIP, and the CLI when Chromium is missing (Excel and Word still made, a clear message, exit 1)."""

import datetime as dt
import io
import zipfile
from pathlib import Path

import docx
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from enrollment import campaigns
from enrollment.cli import cli
from enrollment.export import bulletin, bundles, render, workbook
from enrollment.export import model as exports
from enrollment.labels import STATUS_LABELS
from enrollment.metrics import progress, reporting
from enrollment.targets import tables as targets
from enrollment.targets.tables import TargetRow, TargetTable

from .fixtures import record

AS_OF = dt.date(2021, 11, 19)
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
COMMUNITIES = [f"500101021{i:03d}" for i in range(1, 12)]
NO_BROWSER = {"ENROLLMENT_CHROMIUM": "/nonexistent/chromium"}


@pytest.fixture
def no_browser(monkeypatch):
    monkeypatch.setenv("ENROLLMENT_CHROMIUM", NO_BROWSER["ENROLLMENT_CHROMIUM"])


def wanzhou_with_low_income(store) -> exports.ExportData:
    """Wanzhou's 11 communities with tasks and low-income tasks, two weeks of uploads."""
    wanzhou = campaigns.load(store, WANZHOU)
    table = TargetTable(rows=[TargetRow(0, c, c, 2000 + 100 * i, low_income=40)
                              for i, c in enumerate(COMMUNITIES)],
                        level="community", scope_code="500101021")
    with store.write() as con:
        targets.save(con, WANZHOU, table, source="test")
    for day, share in ((dt.date(2022, 1, 7), 0.40), (dt.date(2022, 1, 14), 0.55)):
        rows = "".join(f"{c},{int((2000 + 100 * i) * (share + 0.03 * (i % 4)))},{40 - (i % 3)}\r\n"
                       for i, c in enumerate(COMMUNITIES))
        content = ("区划代码,累计参保人数,低收入人口参保人数\r\n" + rows).encode()
        from enrollment.uploads import ingest
        ingest.commit(store, WANZHOU, content, f"{day}.csv", report_date=day, uploader="街道",
                      accept_warnings=True, today=dt.date(2022, 3, 1),
                      now=dt.datetime.combine(day, dt.time(8, 0)))
    with store.read() as con:
        return exports.gather(con, wanzhou, dt.date(2022, 1, 14), "upload")


# --- the figures are the overview's ---------------------------------------------------------

def test_export_figures_are_the_overviews_figures(store, jincheng, demo_data):
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF, "demo")
        status = reporting.week_status(con, jincheng, AS_OF, "demo", list(demo_data.units["code"]))
    counties = result.level("county").set_index("code")
    assert demo_data.level == "county" and demo_data.levels == ["county", "township", "community"]
    assert len(demo_data.units) == 6
    for row in demo_data.units.to_dict("records"):
        for column in ("target", "enrolled", "completion", "gap_pp", "week_delta", "status"):
            assert row[column] == counties.at[row["code"], column], (row["name"], column)
    assert demo_data.scope["enrolled"] == result.total["enrolled"]
    assert demo_data.scope["completion"] == result.total["completion"]
    assert set(demo_data.week_status["status"]) == set(status["status"])
    assert demo_data.source_note == "数据来源：示例数据（模拟），不是真实上报"
    assert demo_data.when == "截至2021年11月19日（第12周）"


def test_units_are_ranked_best_first_and_units_without_a_rate_are_not_ranked(store, jincheng):
    record(store, jincheng.id, AS_OF, {"140525": 300000, "140581": 300000, "140522": 100000})
    with store.read() as con:
        data = exports.gather(con, jincheng, AS_OF, "upload")
    ranks = dict(zip(data.units["name"], data.units["rank"]))
    # 高平 300,000/373,650 = 80.3% ties nothing; 泽州 74.1%; 阳城 34.2%; the rest never reported.
    assert list(data.units["name"])[:3] == ["高平市", "泽州县", "阳城县"]
    assert [ranks["高平市"], ranks["泽州县"], ranks["阳城县"]] == [1, 2, 3]
    assert data.units["rank"].iloc[3:].isna().all()
    assert data.source_note == "数据来源：各县区每周上报" and data.stem == "晋城市-参保进度-20211119"


def test_scope_and_level_choose_the_units(store, jincheng, demo_data):
    with store.read() as con:
        zezhou = exports.gather(con, jincheng, AS_OF, "demo", level="township", scope="泽州县")
        with pytest.raises(exports.ExportError, match="没有「市」层级"):
            exports.gather(con, jincheng, AS_OF, "demo", level="city")
        with pytest.raises(exports.ExportError, match="不是本活动的单位"):
            exports.gather(con, jincheng, AS_OF, "demo", scope="北京")
    assert zezhou.scope["name"] == "泽州县" and zezhou.levels == ["township", "community"]
    assert set(zezhou.units["parent_code"]) == {"140525"}
    assert zezhou.stem == "示例数据-泽州县-参保进度-20211119"


# --- Excel 通报表 -------------------------------------------------------------------------------

def _book(data, data_only=True):
    return openpyxl.load_workbook(io.BytesIO(workbook.build(data)), data_only=data_only)


def _rows(ws):
    """Data rows below the header (row 3) until the 合计 row, as dicts by header."""
    header = [c.value for c in ws[3]]
    out = []
    for row in ws.iter_rows(min_row=4):
        if row[1].value == "合计":
            break
        out.append({h: c for h, c in zip(header, row)})
    return out


def test_excel_has_a_ranked_sheet_per_level_with_the_overviews_numbers(demo_data):
    book = _book(demo_data)
    # Townships and villages have no task in the demo: no sheets of 目标未录入 rows.
    assert book.sheetnames == ["县（市、区）", "上报情况"]
    ws = book["县（市、区）"]
    assert "晋城市" in ws["A1"].value and "示例数据" in ws["A1"].value
    assert "截至2021年11月19日（第12周）" in ws["A2"].value
    assert [c.value for c in ws[3]] == ["排名", "单位", "任务数", "累计参保人数", "完成率", "序时进度",
                                        "与序时目标差距（百分点）", "较上周增加", "状态",
                                        "征缴金额（元）", "应缴金额（元）", "征缴金额占应缴比例",
                                        "最近上报日期"]
    rows = _rows(ws)
    expected = demo_data.units.to_dict("records")
    assert [r["单位"].value for r in rows] == [e["name"] for e in expected]
    for r, e in zip(rows, expected):
        assert r["排名"].value == e["rank"]
        assert r["任务数"].value == e["target"] and r["累计参保人数"].value == e["enrolled"]
        assert r["完成率"].value == pytest.approx(e["completion"], abs=1e-12)
        assert r["完成率"].number_format == "0.00%"
        assert r["序时进度"].value == pytest.approx(80 / 116)
        assert r["与序时目标差距（百分点）"].value == pytest.approx(e["gap_pp"])
        assert r["较上周增加"].value == e["week_delta"]
        assert r["状态"].value == STATUS_LABELS[e["status"]]
    completions = [r["完成率"].value for r in rows]
    assert completions == sorted(completions, reverse=True)


def test_excel_has_sheets_only_for_levels_with_tasks_or_the_level_asked_for(store, jincheng):
    from enrollment.campaigns import demo

    demo.generate(store, jincheng)
    with store.read() as con:
        villages = exports.gather(con, jincheng, dt.date(2021, 11, 19), "demo", "community")
    book = _book(villages)
    assert book.sheetnames == ["县（市、区）", "村（社区）", "上报情况"]
    assert book.active.title == "村（社区）"
    # A sheet two levels below the scope names the parent unit.
    assert [c.value for c in book["村（社区）"][3]][2] == "所属乡镇（街道）"
    assert book["村（社区）"].max_row >= 1729 + 3


def test_excel_fills_behind_units_red_and_units_without_a_report_grey(demo_data):
    rows = {r["单位"].value: r for r in _rows(_book(demo_data)["县（市、区）"])}
    statuses = dict(zip(demo_data.units["name"], demo_data.units["status"]))
    assert "behind" in statuses.values() and "not_reported" in statuses.values()
    for name, status in statuses.items():
        fill = rows[name]["单位"].fill.fgColor.rgb
        if status == "behind":
            assert fill == "FFFDE2E1" and rows[name]["状态"].font.b
        elif status == "not_reported":
            assert fill == "FFEEEEEE"
        else:
            assert rows[name]["单位"].fill.fill_type is None


def test_excel_prints_a4_landscape_one_page_wide_with_the_title_rows_repeated(demo_data):
    ws = _book(demo_data)["县（市、区）"]
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # fitToWidth 1 is the OOXML default, which xlsxwriter leaves out; 0 pages tall = as needed.
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$1:$3"
    assert ws.freeze_panes == "C4"


def test_excel_totals_row_adds_up_the_units_with_formulas(demo_data):
    values, formulas = _book(demo_data)["县（市、区）"], _book(demo_data, False)["县（市、区）"]
    row = 4 + len(demo_data.units)
    assert values.cell(row, 2).value == "合计"
    assert formulas.cell(row, 3).value == f"=SUM(C4:C{row - 1})"
    assert values.cell(row, 3).value == demo_data.scope["target"] == 1630000
    assert values.cell(row, 4).value == demo_data.scope["enrolled"]
    assert values.cell(row, 5).value == pytest.approx(demo_data.scope["completion"])
    assert values.cell(row, 7).value == pytest.approx(demo_data.scope["gap_pp"])
    assert values.cell(row, 9).value == STATUS_LABELS[demo_data.scope["status"]]


def test_excel_reporting_sheet_lists_who_did_not_report(demo_data):
    ws = _book(demo_data)["上报情况"]
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=4, values_only=True)}
    missing = demo_data.week_status[demo_data.week_status["status"] == reporting.MISSING]
    assert set(missing["name"]) == {k for k, v in rows.items() if v == reporting.MISSING}
    assert len(rows) == 6


def test_excel_low_income_sheet_when_tasks_exist(store):
    data = wanzhou_with_low_income(store)
    ws = _book(data)["低收入人口"]
    rates = [r[3] for r in ws.iter_rows(min_row=4, values_only=True)]
    assert len(rates) == 11 and min(rates) < 1
    assert ws.cell(4, 1).fill.fgColor.rgb == "FFFDE2E1"


# --- Word 通报稿 --------------------------------------------------------------------------------

def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (760, 400), "white").save(buffer, "PNG")
    return buffer.getvalue()


def _text(document) -> str:
    return "\n".join(p.text for p in document.paragraphs)


def test_word_draft_states_the_overviews_numbers(demo_data):
    document = docx.Document(io.BytesIO(bulletin.build(demo_data, _png())))
    text = _text(document)
    total = demo_data.scope
    assert "关于晋城市2022年度城乡居民基本医疗保险参保缴费进度的通报" in text
    assert "示例数据" in text.splitlines()[0]
    assert f"累计参保{total['enrolled']:,}人" in text
    assert f"完成率{total['completion'] * 100:.2f}%" in text
    assert "序时目标为66.90%" in text and f"高于序时目标{total['gap_pp']:.2f}个百分点" in text
    units = demo_data.units
    best, worst = units.iloc[0], units[units["completion"].notna()].iloc[-1]
    assert f"完成率较高的是{best['name']}（{best['completion'] * 100:.2f}%）" in text
    assert f"{worst['name']}（{worst['completion'] * 100:.2f}%）" in text
    behind = units[units["status"] == "behind"]["name"]
    assert all(f"进度落后的是{name}" in text or name in text for name in behind)
    missing = demo_data.week_status[demo_data.week_status["status"] == reporting.MISSING]["name"]
    assert all(name in text.split("未上报的是")[1] for name in missing)
    assert "未录入低收入人口" in text
    assert len(document.inline_shapes) == 1
    assert document.inline_shapes[0].width == bulletin.TEXT_WIDTH


def test_word_table_ranks_units_and_shades_behind_units(demo_data):
    document = docx.Document(io.BytesIO(bulletin.build(demo_data, None)))
    assert len(document.inline_shapes) == 0          # no image: the table stands alone
    table = document.tables[0]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0][:5] == ["排名", "单位", "任务数", "累计参保人数", "完成率"]
    assert [r[1] for r in rows[1:-1]] == list(demo_data.units["name"])
    assert rows[-1][1] == "晋城市合计" and rows[-1][3] == f"{demo_data.scope['enrolled']:,}"
    for row, status in zip(table.rows[1:-1], demo_data.units["status"]):
        fills = {shd.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}fill")
                 for shd in row._tr.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}shd")}
        assert fills == ({"FDE2E1"} if status == "behind" else {"EEEEEE"} if status == "not_reported"
                         else set())


def test_word_names_low_income_units_below_100_percent(store):
    data = wanzhou_with_low_income(store)
    text = _text(docx.Document(io.BytesIO(bulletin.build(data))))
    below = data.units[data.units["low_income_completion"] < 1]
    assert len(below) and f"未达到的村（社区）有{len(below)}个" in text
    first = below.sort_values("low_income_completion").iloc[0]
    assert f"{first['name']}（{first['low_income_completion'] * 100:.2f}%，未参保" in text
    assert "各村（社区）：" in text
    assert "低收入人口参保率未达到100%的单位要逐人核实" in text


def test_bulletin_without_targets_says_the_tasks_are_missing(store):
    wanzhou = campaigns.load(store, WANZHOU)
    with store.read() as con:
        data = exports.gather(con, wanzhou, dt.date(2022, 1, 14), "upload")
    assert exports.ranking_chart(data) is None
    text = _text(docx.Document(io.BytesIO(bulletin.build(data))))
    assert "尚未录入任务数，无法计算完成率" in text
    assert openpyxl.load_workbook(io.BytesIO(workbook.build(data))).sheetnames[0] == "村（社区）"


# --- names, ZIP, formats, missing Chromium ----------------------------------------------------

def test_export_files_have_deterministic_names_and_zip_together(demo_data, no_browser):
    bundle = bundles.build(demo_data, ["xlsx", "docx"])
    assert [f.name for f in bundle.files] == ["示例数据-晋城市-参保进度-20211119-通报表.xlsx",
                                              "示例数据-晋城市-参保进度-20211119-通报稿.docx"]
    assert bundle.failures == {} and bundle.browsers == 0
    with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes())) as archive:
        assert archive.namelist() == [f"{bundle.stem}/{f.name}" for f in bundle.files]
        assert archive.read(archive.namelist()[0]) == bundle.files[0].data
    assert bundle.zip_name == "示例数据-晋城市-参保进度-20211119.zip"


def test_formats_are_checked():
    assert bundles.parse_formats("png, XLSX") == ("png", "xlsx")
    assert bundles.parse_formats(None) == bundles.FORMATS
    with pytest.raises(exports.ExportError, match="不认识的导出格式：gif"):
        bundles.parse_formats("png,gif")


def test_missing_chromium_is_explained_with_the_install_command(no_browser):
    problem = render.chromium_problem()
    assert "ENROLLMENT_CHROMIUM=/nonexistent/chromium" in problem
    assert "apt-get install chromium fonts-noto-cjk" in problem
    with pytest.raises(render.ChromiumMissing):
        render.Renderer()


def test_without_chromium_excel_and_word_are_made_and_images_are_reported(demo_data, no_browser):
    bundle = bundles.build(demo_data)
    assert [f.kind for f in bundle.files] == ["xlsx", "docx"]
    assert set(bundle.failures) == {"png", "svg", "pdf", "board"}
    assert "apt-get install chromium" in bundles.failure_message(bundle)
    document = docx.Document(io.BytesIO(bundle.of("docx")[0].data))
    assert len(document.inline_shapes) == 0 and len(document.tables) == 1
    assert any("表格代替" in n for n in bundle.notes)


def test_cli_export_without_chromium_writes_the_rest_and_exits_1(store, demo_data, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["export", "--campaign", "jincheng-2022-residents",
                                      "--as-of", "2021-11-19", "--out", str(out), "--zip"],
                                env=NO_BROWSER)
    assert result.exit_code == 1, result.output
    assert "未能生成 PNG 图片、SVG 图片、PDF 图表、张榜公示 PDF" in result.output
    assert "apt-get install chromium fonts-noto-cjk" in result.output
    assert "其余格式已生成" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["示例数据-晋城市-参保进度-20211119-通报稿.docx",
                     "示例数据-晋城市-参保进度-20211119-通报表.xlsx",
                     "示例数据-晋城市-参保进度-20211119.zip"]


def test_cli_export_of_excel_only_needs_no_browser(store, demo_data, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["export", "--campaign", "jincheng-2022-residents",
                                      "--as-of", "2021-11-19", "--out", str(out),
                                      "--formats", "xlsx", "--level", "township",
                                      "--scope", "泽州县"], env=NO_BROWSER)
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["示例数据-泽州县-参保进度-20211119-通报表.xlsx"]
    assert "乡镇（街道）" in result.output


@pytest.mark.parametrize("args, message", [
    (["--formats", "png,gif"], "不认识的导出格式：gif"),
    (["--level", "city"], "没有「市」层级"),
    (["--scope", "北京"], "不是本活动的单位"),
])
def test_cli_export_refuses_a_bad_request_in_chinese(store, demo_data, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["export", "--campaign", "jincheng-2022-residents",
                                      "--as-of", "2021-11-19", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "x").exists()


def test_sheet_frame_is_what_the_sheet_holds(demo_data):
    frame = workbook.sheet_frame(demo_data, "county")
    ws = _book(demo_data)["县（市、区）"]
    for r, row in zip(_rows(ws), frame.to_dict("records")):
        assert r["单位"].value == row["单位"] and r["累计参保人数"].value == row["累计参保人数"]
    assert isinstance(frame, pd.DataFrame) and len(frame) == 6


def test_board_html_shows_the_units_own_progress(demo_data):
    from enrollment.export import boards

    unit = demo_data.units[demo_data.units["status"] == "behind"].iloc[0].to_dict()
    page = boards.board_html(demo_data, unit)
    assert f"{unit['name']}参保进度公示" in page
    assert f"{unit['completion'] * 100:.2f}%" in page and f"{int(unit['enrolled']):,}" in page
    assert "进度落后" in page and "示例数据" in page and "@page { size: A4 portrait" in page
    assert boards.board_name(demo_data, unit) == \
        ("示例数据-晋城市-参保进度-20211119-张榜/"
         f"示例数据-晋城市-参保进度-20211119-张榜-{unit['code']}-{unit['name']}.pdf")
    assert boards.all_boards_name(demo_data) == \
        "示例数据-晋城市-参保进度-20211119-张榜/示例数据-晋城市-参保进度-20211119-张榜-全部（合并打印）.pdf"


def test_readme_documents_the_export_command():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "benchmarks/export_batch.py" in readme
