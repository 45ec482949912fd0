"""The reader accepts what people really send: every format × every kind of mess.

Each case is a table as a person typed it; it is written in every file format (xlsx, xls from
xlwt, HTML saved as .xls, CSV in UTF-8 / BOM / GBK / GB18030 / UTF-16 / UTF-16 without BOM /
semicolons) and must read to the same figures, mapped to the right units, without a problem.
"""

import datetime as dt
import shutil

import pytest

from enrollment import campaigns
from enrollment.db import Store
from enrollment.files import cellvalues, reader
from enrollment.files.cellvalues import CellError
from enrollment.files.reader import ReadError
from enrollment.uploads import ingest

from . import files

DAY = dt.date(2021, 11, 19)
TODAY = dt.date(2021, 12, 31)

# name: (rows, merges, expected {code: enrolled}, date the file states or None)
CASES = {
    "plain names": (
        [["县区", "累计参保人数"], ["城区", 182360], ["泽州县", 270000]], (),
        {"140502": 182360, "140525": 270000}, None),
    "title rows, 填报单位/填报日期 line, blank rows, 合计 row, notes below": (
        [["晋城市2022年度城乡居民医保参保进度表"],
         ["填报单位：晋城市医疗保障局", "", "填报日期：2021年11月19日"],
         [],
         ["县（市、区）", "累计参保人数", "参保率（%）"],
         ["城区", "182,360", "97.00%"],
         [],
         ["泽州", "270,000", "66.71%"],
         ["合计", "452,360", ""],
         [],
         ["注：参保率=累计参保人数/任务数。"],
         ["填报人：张三    审核人：李四    联系电话：0356-1234567"]], (),
        {"140502": 182360, "140525": 270000}, DAY),
    "full-width digits, trailing spaces, numbers stored as text": (
        [["单位名称", "已参保人数"], ["城区 ", "１８２３６０"], [" 高平市", "'300000 "],
         ["陵川县", "２１，０００"], ["沁水", "150000人"]], (),
        {"140502": 182360, "140581": 300000, "140524": 21000, "140521": 150000}, None),
    "percent, rank and weekly columns are ignored": (
        [["序号", "县区", "本周新增参保人数", "累计缴费人数", "任务数", "完成率", "排名"],
         [1, "城区", 100, 182360, 188000, "97.0%", 1],
         [2, "沁水", 50, 150000, 157930, 0.95, 2]], (),
        {"140502": 182360, "140521": 150000}, None),
    "division codes only": (
        [["区划代码", "累计参保人数"], ["140502", 1000], ["140581", 2000]], (),
        {"140502": 1000, "140581": 2000}, None),
    "codes with names, with and without suffixes": (
        [["单位代码", "单位名称", "累计参保人数"], ["140525", "泽州县", 1], ["140522", "阳城", 2],
         ["140502", "城区", 3]], (),
        {"140525": 1, "140522": 2, "140502": 3}, None),
    "12-digit statistical codes padded with zeros": (
        [["统计用区划代码", "名称", "累计参保人数"], ["140525000000", "泽州县", 5],
         ["140581000000", "高平", 6]], (),
        {"140525": 5, "140581": 6}, None),
    "townships with and without 镇, ambiguous short names settled by level": (
        [["乡镇（街道）", "累计参保人数"], ["南村", 10], ["下村镇", 20], ["北义城", 30],
         ["北城街道", 40]], (),
        {"140525100": 10, "140525101": 20, "140525113": 30, "140581001": 40}, None),
    "county column beside township column, 小计 rows, 合计": (
        [["县区", "乡镇", "累计参保人数"], ["泽州县", "南村镇", 1000], ["泽州县", "北义城", 2000],
         ["泽州县", "小计", 3000], ["高平市", "北诗", 5], ["高平市", "小计", 5], ["合计", "", 3005]], (),
        {"140525100": 1000, "140525113": 2000, "140581105": 5}, None),
    "a 所属乡镇 column tells villages with the same name apart": (
        [["所属乡镇", "村（社区）", "累计参保人数"], ["南村镇", "南村", 1], ["川底镇", "南村村委会", 2],
         ["北诗镇", "南村村", 3]], (),
        {"140525100200": 1, "140525114220": 2, "140581105232": 3}, None),
    "column-number row under the header": (
        [["单位", "累计参保人数", "缴费金额"], ["甲", "1", "2"], ["城区", 1, 2]], (),
        {"140502": 1}, None),
    "units row under the header": (
        [["单位", "累计参保人数", "缴费金额"], ["", "（人）", "（元）"], ["城区", 1, 2]], (),
        {"140502": 1}, None),
    "总计 row first, 其中 detail rows": (
        [["单位", "累计参保人数"], ["总计", 3000], ["城区", 1000], ["其中：低收入人口", 20],
         ["泽州县", 2000]], (),
        {"140502": 1000, "140525": 2000}, None),
    "date without a year in the title": (
        [["截至11月19日城乡居民医保参保情况"], ["单位", "累计参保人数"], ["城区", 10]], (),
        {"140502": 10}, DAY),
    "date range in the title gives its end": (
        [["参保进度（2021年9月1日至2021年11月19日）"], ["单位", "累计参保人数"], ["城区", 10]], (),
        {"140502": 10}, DAY),
}

MERGED_CASES = {
    "merged two-row header with 累计参保 over 人数 and 其中低收入人口": (
        [["晋城市参保进度", "", "", ""],
         ["单位", "累计参保", "", ""],
         ["", "参保人数", "其中低收入人口", "缴费金额（元）"],
         ["城区", 1000, 10, "320,000.00"],
         ["泽州", 2000, 20, 640000]],
        [(0, 0, 0, 3), (1, 0, 2, 0), (1, 1, 1, 2)],
        {"140502": 1000, "140525": 2000}, None),
    "county cells merged down over their townships": (
        [["县区", "乡镇", "累计参保人数"], ["泽州县", "南村镇", 1000], ["", "北义城", 2000],
         ["", "小计", 3000], ["高平市", "北诗", 5], ["", "小计", 5], ["合计", "", 3005]],
        [(1, 0, 3, 0), (4, 0, 5, 0), (6, 0, 6, 1)],
        {"140525100": 1000, "140525113": 2000, "140581105": 5}, None),
    "merged title across the table and a merged 合计 label": (
        [["晋城市2022年度城乡居民医保参保进度表", "", ""],
         ["序号", "县区", "累计参保人数"], [1, "城区", 5], [2, "泽州", 6], ["合计", "", 11]],
        [(0, 0, 0, 2), (4, 0, 4, 1)],
        {"140502": 5, "140525": 6}, None),
}


@pytest.fixture(scope="module")
def store(initialized_db, tmp_path_factory):
    """Reading writes nothing: one copy of the initialised database serves the whole module."""
    path = tmp_path_factory.mktemp("reader") / "reader.duckdb"
    shutil.copy(initialized_db, path)
    return Store(path)


@pytest.fixture(scope="module")
def jincheng(store):
    return campaigns.load(store, "jincheng-2022-residents")


def _preview(store, campaign, content, day=DAY):
    with store.read() as con:
        return ingest.prepare(con, campaign, content, "upload", day, today=TODAY)


def _check(preview, expected, stated):
    assert not preview.errors, [str(p) for p in preview.problems]
    assert {r.code: r.enrolled for r in preview.rows} == expected
    assert preview.total_enrolled == sum(v for c, v in expected.items()
                                         if c in preview.top_codes)
    if stated:
        assert {d for _, d in preview.file_dates} == {stated}


@pytest.mark.parametrize("fmt", list(files.FORMATS))
@pytest.mark.parametrize("case", list(CASES))
def test_every_format_reads_every_mess(store, jincheng, fmt, case):
    rows, merges, expected, stated = CASES[case]
    content = files.FORMATS[fmt](rows, merges)
    preview = _preview(store, jincheng, content, None if stated else DAY)
    _check(preview, expected, stated)
    assert preview.report_date == (stated or DAY)


@pytest.mark.parametrize("fmt", files.MERGE_FORMATS)
@pytest.mark.parametrize("case", list(MERGED_CASES))
def test_merged_cells_read_in_every_format_that_has_them(store, jincheng, fmt, case):
    rows, merges, expected, stated = MERGED_CASES[case]
    preview = _preview(store, jincheng, files.FORMATS[fmt](rows, merges))
    _check(preview, expected, stated)


def test_merged_header_keeps_amount_and_low_income(store, jincheng):
    rows, merges, _, _ = MERGED_CASES["merged two-row header with 累计参保 over 人数 and 其中低收入人口"]
    preview = _preview(store, jincheng, files.xls(rows, merges))
    by_code = {r.code: r for r in preview.rows}
    assert (by_code["140502"].amount, by_code["140502"].low_income_enrolled) == (320000.0, 10)
    assert preview.total_amount == 960000.0 and preview.total_low_income == 30
    assert preview.columns["enrolled"] == "参保人数"


def test_community_names_with_every_suffix(store):
    wanzhou = campaigns.load(store, "wanzhou-zhoujiaba-2022-residents")
    rows = [["村（社区）", "累计参保人数"], ["天子湖", 1], ["天生城社区", 2],
            ["流水社区居民委员会", 3], ["周家坝社区居委会", 4], ["500101021005", 5]]
    for fmt in ("xlsx", "csv-gbk"):
        with store.read() as con:
            preview = ingest.prepare(con, wanzhou, files.FORMATS[fmt](rows, ()), "w",
                                     dt.date(2022, 1, 14), today=dt.date(2022, 3, 1))
        assert not preview.problems
        assert [r.name for r in preview.rows] == [
            "天子湖社区居民委员会", "天生城社区居民委员会", "流水社区居民委员会",
            "周家坝社区居民委员会", "救兵城社区居民委员会"]


def test_hidden_sheets_are_skipped_and_other_sheets_are_named(store, jincheng):
    import io

    import xlsxwriter
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("说明").write(0, 0, "本工作簿的说明")
    hidden = book.add_worksheet("旧数据")
    hidden.write_row(0, 0, ["单位", "累计参保人数"])
    hidden.write_row(1, 0, ["城区", 1])
    hidden.hide()
    for name, value in (("第12周", 100), ("第13周", 200)):
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, ["单位", "累计参保人数"])
        ws.write_row(1, 0, ["城区", value])
    book.get_worksheet_by_name("第12周").activate()
    book.close()
    preview = _preview(store, jincheng, buffer.getvalue())
    assert preview.sheet == "第12周" and [r.enrolled for r in preview.rows] == [100]
    assert [p.message for p in preview.warnings] == [
        "工作簿中的工作表「第13周」也有数据，本次只读取了第一个工作表「第12周」。如需上报其他工作表，"
        "请分别另存为文件上传"]


def test_rows_are_numbered_as_excel_shows_them(store, jincheng):
    rows = [["晋城市参保进度表"], ["填报日期：2021-11-19"], [], ["单位", "累计参保人数"], [],
            ["城区", 1], ["火星县", 2]]
    for fmt in ("xlsx", "xls", "csv-gbk"):
        preview = _preview(store, jincheng, files.FORMATS[fmt](rows, ()))
        assert preview.header_row == 4
        assert [(p.row, p.message.split("。")[0]) for p in preview.errors] == [(7, "未知单位「火星县」")]


@pytest.mark.parametrize("text, expected", [
    ("1,234", 1234), ("1，234", 1234), ("１２３４", 1234), (" 1234 ", 1234), ("1234人", 1234),
    ("'1234", 1234), (1234.0, 1234), ("1234.00", 1234), ("", None), ("-", None), ("—", None),
    (None, None), ("1 234", 1234)])
def test_parse_count_accepts(text, expected):
    assert cellvalues.parse_count(text) == expected


@pytest.mark.parametrize("text, kind", [
    ("abc", "text"), ("-5", "negative"), (-5, "negative"), ("12.5", "fraction"),
    ("1.2万", "unit"), ("12,34", "text"), (float("nan"), "text"), (dt.date(2021, 1, 1), "text")])
def test_parse_count_rejects_with_a_reason(text, kind):
    with pytest.raises(CellError) as caught:
        cellvalues.parse_count(text)
    assert caught.value.kind == kind and str(caught.value)


@pytest.mark.parametrize("text, expected", [
    ("填报日期：2021年11月19日", DAY), ("2021-11-19", DAY), ("2021/11/19", DAY), ("2021.11.19", DAY),
    ("统计日期 20211119", DAY), (dt.datetime(2021, 11, 19, 0, 0), DAY), ("2021年度", None),
    ("2021年9月1日至2021年11月19日", DAY), ("2021-02-30", None), (44519.0, None)])
def test_parse_date(text, expected):
    assert cellvalues.parse_date(text) == expected


@pytest.mark.parametrize("content, message", [
    (b"", "文件是空的"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "不是电子表格"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 100, "PDF"),
    (b"PK\x03\x04" + b"\x00" * 200, "压缩包"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "已损坏"),
    (b"PK\x03\x04\x14\x00\x00\x00xl/workbook.xml" + b"\x00" * 100, "已损坏"),
    ("单位,人口\r\n城区,5\r\n".encode(), "没有找到表头"),
    ("单位,任务数\r\n城区,5\r\n".encode(), "没有找到表头"),
    ("\r\n\r\n ,\r\n".encode(), "没有任何内容"),
    (b"<html><body><p>hello</p></body></html>", "没有表格"),
])
def test_unreadable_files_raise_a_chinese_read_error(content, message):
    with pytest.raises(ReadError) as caught:
        reader.read_table(content)
    assert message in str(caught.value)


def test_missing_count_column_names_the_header_row():
    content = files.xlsx([["标题"], ["单位", "区划代码", "备注"], ["城区", "140502", ""]])
    with pytest.raises(ReadError) as caught:
        reader.read_table(content)
    assert "第 2 行的表头中找不到「累计参保人数」列" in str(caught.value)


def test_target_roles_still_read_target_tables():
    """targets.py reads allocation tables with the same reader (TARGET_ROLES)."""
    content = files.xlsx([["2022年城乡居民医保参保任务分解表"],
                          ["县区", "2021年参保人数", "2022年任务数"],
                          ["城区", 187142, 188000], ["合计", 187142, 188000]])
    table = reader.read_table(content, reader.TARGET_ROLES, required=("task",))
    assert set(table.columns) == {"unit_name", "baseline", "task"}
    assert [r.values["task"] for r in table.rows] == [188000]
    assert len(table.totals) == 1
