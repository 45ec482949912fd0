"""Property tests: whatever arrives, the reader and the check either accept it with the right
figures or reject it with a Chinese message — they never crash.

* random report tables, written in a random format with random (legal) mess, read back to exactly
  the figures that were written, mapped to the right units, with the right total;
* random bytes, random text grids and damaged copies of real files never raise anything but a
  ReadError, and `prepare` turns every failure into a problem with a message;
* random workbook structures (cells near and far beyond the limits, merged ranges, shared and
  inline strings around the length limit, several sheets, any dimension) are read, or refused
  exactly when they exceed a limit, by the structural checks and never by the child dying.
"""

import datetime as dt
import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment import campaigns
from enrollment.db import Store
from enrollment.files import cellvalues, formats, reader, sandbox
from enrollment.files.bounds import Limits, column_letters
from enrollment.uploads import ingest

from . import files, hostile

DAY = dt.date(2021, 11, 19)
TODAY = dt.date(2021, 12, 31)
CJK = re.compile(r"[\u4e00-\u9fff]")

COUNTIES = {"140502": ("城区", "城区"), "140521": ("沁水县", "沁水"), "140522": ("阳城县", "阳城"),
            "140524": ("陵川县", "陵川"), "140525": ("泽州县", "泽州"), "140581": ("高平市", "高平")}
TOWNSHIPS = {"140525100": "南村镇", "140525101": "下村镇", "140525102": "大东沟镇",
             "140525103": "周村镇", "140525104": "犁川镇", "140525108": "巴公镇",
             "140525113": "北义城镇", "140525115": "南岭镇"}
FULL_WIDTH = str.maketrans("0123456789,", "０１２３４５６７８９，")

PROFILE = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def shared(initialized_db, tmp_path_factory):
    """One read-only database for all examples (hypothesis reruns the test body many times)."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb"
    shutil.copy(initialized_db, path)
    store = Store(path)
    return store, campaigns.load(store, "jincheng-2022-residents")


def prepare(shared, content, day=DAY):
    store, campaign = shared
    with store.read() as con:
        return ingest.prepare(con, campaign, content, "fuzz", day, today=TODAY)


@st.composite
def written_count(draw, value: int):
    """A count as people write it: number, text, separators, full-width digits, spaces, 人."""
    style = draw(st.sampled_from(["int", "float", "text", "grouped", "full", "full-grouped",
                                  "spaces", "person", "apostrophe"]))
    grouped = f"{value:,}"
    return {"int": value, "float": float(value), "text": str(value), "grouped": grouped,
            "full": str(value).translate(FULL_WIDTH), "full-grouped": grouped.translate(FULL_WIDTH),
            "spaces": f" {value}  ", "person": f"{value}人", "apostrophe": f"'{value}"}[style]


@st.composite
def report_tables(draw):
    """(rows, expected {code: enrolled}) of a messy but valid report."""
    level = draw(st.sampled_from(["county", "township"]))
    pool = COUNTIES if level == "county" else TOWNSHIPS
    codes = draw(st.lists(st.sampled_from(sorted(pool)), min_size=1, max_size=len(pool), unique=True))
    values = {c: draw(st.integers(0, 2_000_000)) for c in codes}
    by_code = draw(st.booleans())
    with_percent = draw(st.booleans())
    header = ["区划代码" if by_code else draw(st.sampled_from(
        ["单位", "县区", "单位名称", "乡镇（街道）", "县（市、区）"])),
        draw(st.sampled_from(["累计参保人数", "已参保人数", "参保人数", "累计缴费人数", "累计参保人数（人）"]))]
    if with_percent:
        header.append(draw(st.sampled_from(["参保率", "完成率（%）", "序时进度"])))
    rows: list[list[object]] = []
    for _ in range(draw(st.integers(0, 2))):
        rows.append([draw(st.sampled_from(["晋城市2022年度城乡居民医保参保进度表", "填报单位：晋城市医保局",
                                           "单位：人", ""]))])
    rows.append(header)
    for code in codes:
        if draw(st.integers(0, 4)) == 0:
            rows.append([])
        if by_code:
            unit = code if draw(st.booleans()) else int(code)
        elif level == "county":
            unit = COUNTIES[code][draw(st.integers(0, 1))]
        else:
            unit = TOWNSHIPS[code]
        if draw(st.booleans()):
            unit = f"{unit} " if isinstance(unit, str) else unit
        row = [unit, draw(written_count(values[code]))]
        if with_percent:
            row.append(f"{draw(st.floats(0, 120, allow_nan=False)):.2f}%")
        rows.append(row)
    if draw(st.booleans()):
        rows.append([draw(st.sampled_from(["合计", "总计", "全市合计"])), sum(values.values())])
    if draw(st.booleans()):
        rows.append([])
        rows.append([draw(st.sampled_from(["注：数据截至本周五。", "填报人：张三", "说明：累计数"]))])
    return rows, values


@PROFILE
@given(table=report_tables(), fmt=st.sampled_from(sorted(files.FORMATS)))
def test_random_valid_tables_read_back_exactly(shared, table, fmt):
    rows, expected = table
    preview = prepare(shared, files.FORMATS[fmt](rows, ()))
    assert not preview.errors, [str(p) for p in preview.problems]
    assert {r.code: r.enrolled for r in preview.rows} == expected
    assert preview.total_enrolled == sum(expected.values())
    excel_rows = {r.row for r in preview.rows}
    assert all(rows[n - 1] and cellvalues.cell_text(rows[n - 1][0]) for n in excel_rows)


@PROFILE
@given(content=st.binary(max_size=4096))
def test_random_bytes_never_crash(shared, content):
    try:
        reader.read_table(content)
    except reader.ReadError as exc:
        assert CJK.search(str(exc))
    preview = prepare(shared, content)
    assert preview.rows or preview.errors
    assert all(CJK.search(p.message) for p in preview.problems)


cells = st.one_of(st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                  st.text(alphabet=st.sampled_from(list("城区泽州县高平合计小计注0123456789,.-%人万 ：")),
                          max_size=8),
                  st.sampled_from(["单位", "累计参保人数", "区划代码", "缴费金额", "填报日期", "140502",
                                   "2021年11月19日", "合计", "其中", "甲", "（人）"]))


@PROFILE
@given(grid=st.lists(st.lists(cells, max_size=6), max_size=12),
       fmt=st.sampled_from(["xlsx", "xls", "csv-utf8", "csv-gb18030", "html-xls", "ods"]))
def test_random_grids_are_accepted_or_explained(shared, grid, fmt):
    try:
        content = files.FORMATS[fmt](grid, ())
    except Exception:    # a value the writer itself refuses (e.g. a float too big for xls)
        return
    preview = prepare(shared, content)
    for problem in preview.problems:
        assert CJK.search(problem.message)
        assert problem.row is None or 1 <= problem.row <= len(grid)
    if not preview.errors:
        assert preview.rows
        assert preview.total_enrolled == sum(r.enrolled for r in preview.rows
                                             if r.code in preview.top_codes)


# Built once: xlsx files carry a creation time, and hypothesis needs the same bytes every run.
VALID = {fmt: files.FORMATS[fmt]([["晋城市参保进度"], ["单位", "累计参保人数"], ["城区", 1000],
                                  ["泽州", 2000]], ()) for fmt in ("xlsx", "xls", "ods", "csv-utf16")}


@PROFILE
@given(data=st.data(), fmt=st.sampled_from(sorted(VALID)))
def test_damaged_files_never_crash(shared, data, fmt):
    content = bytearray(VALID[fmt])
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    preview = prepare(shared, bytes(content))
    assert all(CJK.search(p.message) for p in preview.problems)
    if not preview.errors:
        assert preview.total_enrolled == sum(r.enrolled for r in preview.rows)


def _flipped_xls(flips_seed: int = 1, attempt: int = 377) -> bytes:
    """An .xls with a few bytes changed at random (seeded): attempt 377 of seed 1 makes
    calamine 0.37's Rust code panic (range start index out of range in xls.rs)."""
    import io
    import random

    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("s")
    for r, row in enumerate([["单位", "累计参保人数"], ["城区", 100]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    base = buffer.getvalue()
    rng = random.Random(flips_seed)
    for _ in range(attempt + 1):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def test_a_workbook_that_makes_calamine_panic_is_a_read_error():
    with pytest.raises(reader.ReadError, match="已损坏"):
        formats.read_sheets(_flipped_xls())


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_short_chinese_utf16_without_bom_is_text(encoding):
    """Found by the property test: mostly-Chinese UTF-16 has few zero bytes."""
    text = "填报单位：晋城市医保局\r\n单位,累计参保人数\r\n城区,0\r\n"
    content = text.encode(encoding)
    assert formats.sniff(content) == "csv"
    assert formats.decode_text(content) == text


# --- workbook structure: positions, merged ranges, strings, sheets --------------------------------
#
# Small limits, so that the structures hypothesis writes sit on both sides of every one of them:
# a refusal must come exactly when a limit is exceeded, from the structural checks (never from
# the sandbox finding the child dead or out of time), and anything else is a table or a
# ReadError.

FUZZ_LIMITS = Limits(rows=300, columns=30, cells=3000, cell_chars=200, merges=8, sheets=3)
DEATHS = ("读取所需内存超过", "读取超过", "读取占用处理器", "读取程序异常退出", "读出的表格内容超过")
def _mostly(usual: list, rare: list, weight: int = 4):
    """A value of `usual` about `weight` times as often as one of `rare`: a structure should
    breach one limit at a time, and stay within all of them (right up to them) as often as not."""
    return st.sampled_from(usual * (weight * len(rare) // max(len(usual), 1) + 1) + rare)


rows_near = _mostly(list(range(1, 13)), [299, 300, 301, 100_000, 1_048_576], 12)
columns_near = _mostly([1, 2, 3, 4], [29, 30, 31, 256, 16_384], 12)
lengths_near = _mostly([0, 1, 3, 199, 200], [201, 5000], 8)


@st.composite
def workbook_structures(draw):
    """(xlsx bytes, should it be refused) for a random structure around FUZZ_LIMITS."""
    shared = [draw(st.sampled_from("城x")) * draw(lengths_near)
              for _ in range(draw(st.integers(0, 4)))]
    sheets, reasons = [], []
    merges_total, cells_total = 0, 0
    for number in range(draw(_mostly([1, 1, 2, 3], [4], 3))):
        cells: dict[tuple[int, int], tuple[str, int | None]] = {}     # (xml, text length or None)
        for _ in range(draw(st.integers(0, 8))):
            row, column = draw(rows_near), draw(columns_near)
            ref = f"{column_letters(column)}{row}"
            kind = draw(st.sampled_from(["number", "text", "empty"]))
            if kind == "empty":                 # formatted, no content: not part of the data
                cells[(row, column)] = (f'<c r="{ref}" s="1"/>', None)
            elif kind == "text":
                length = draw(lengths_near)
                cells[(row, column)] = (hostile.cell(ref, draw(st.sampled_from("区y")) * length), length)
            else:
                cells[(row, column)] = (hostile.cell(ref, draw(st.integers(0, 10**6))), 0)
        if number == 0:
            cells[(1, 1)] = (hostile.cell("A1", "单位"), 2)
            cells[(1, 2)] = (hostile.cell("B1", "累计参保人数"), 6)
            for i, text in enumerate(shared):   # every shared string is used
                cells[(2 + i, 1)] = (hostile.cell(f"A{2 + i}", i, shared=True), len(text))
        valued = [position for position, (_, length) in cells.items() if length is not None]
        extent = [max((r for r, _ in valued), default=0), max((c for _, c in valued), default=0)]
        if any(length and length > FUZZ_LIMITS.cell_chars for _, length in cells.values()):
            reasons.append("cell")
        by_row: dict[int, list[str]] = {}
        for (row, column), (xml, _) in sorted(cells.items()):
            by_row.setdefault(row, []).append(xml)
        order = sorted(by_row)
        if draw(st.booleans()):
            order = draw(st.permutations(order))
        rows_xml = "".join(f'<row r="{r}">{"".join(by_row[r])}</row>' for r in order)
        merges = [(draw(rows_near), draw(columns_near), draw(rows_near), draw(columns_near))
                  for _ in range(draw(_mostly([0, 0, 1, 2], [3, 9], 3)))]
        merges = [(min(a, c), min(b, d), max(a, c), max(b, d)) for a, b, c, d in merges]
        merges_total += len(merges)
        area = sum((min(r1, extent[0]) - r0 + 1) * (min(c1, extent[1]) - c0 + 1)
                   for r0, c0, r1, c1 in merges if r0 <= extent[0] and c0 <= extent[1])
        cells_total += extent[0] * extent[1]
        if extent[0] > FUZZ_LIMITS.rows or extent[1] > FUZZ_LIMITS.columns:
            reasons.append("extent")
        if area > FUZZ_LIMITS.cells:
            reasons.append("merged area")
        dimension = draw(st.sampled_from(["A1", "A1:B2", "A1:XFD1048576", "B3:C4", "XFD1048576"]))
        sheets.append(hostile.sheet(rows_xml, merges=[
            f"{column_letters(c0)}{r0}:{column_letters(c1)}{r1}" for r0, c0, r1, c1 in merges],
            dimension=dimension))
    if merges_total > FUZZ_LIMITS.merges:
        reasons.append("merges")
    if cells_total > FUZZ_LIMITS.cells:
        reasons.append("cells")
    if len(sheets) > FUZZ_LIMITS.sheets:
        reasons.append("sheets")
    return hostile.workbook(sheets, shared=shared if shared else None), reasons


@PROFILE
@given(structure=workbook_structures())
def test_random_workbook_structures_are_read_or_refused_exactly_at_the_limits(structure):
    content, reasons = structure
    try:
        table = sandbox.read(reader.read_table, content, limits=FUZZ_LIMITS, seconds=20)
    except formats.FileRefused as exc:
        assert reasons, f"refused within the limits: {exc}"
        assert not exc.reason.startswith(DEATHS), exc.reason
        assert CJK.search(str(exc))
        return
    except reader.ReadError as exc:
        assert not reasons, f"{reasons} not refused: {exc}"
        assert CJK.search(str(exc))
        return
    assert not reasons, f"{reasons} not refused"
    assert isinstance(table, reader.Table)
