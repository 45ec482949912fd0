"""Reading the tables people really send: .xlsx, .xls, .ods, .csv in any Chinese encoding.

One reader serves the Friday upload (page and `ingest`) and the target tables. It judges the
format by the bytes (never the file name), finds the header row below any title rows, joins
two-row (merged) headers, maps column names to roles by their many Chinese spellings, skips blank
rows, column-number rows, 其中 detail rows and notes, sets 合计/总计/小计 rows aside for a sum
check, and keeps the row numbers the user sees in Excel.

Every failure to read is a `ReadError` with a Chinese message; a bad cell is a `CellError`.
Nothing else escapes `read_table`, whatever the bytes (a property test feeds it random ones).
A file beyond the bounds of `enrollment/files/bounds.py` (rows, columns, cells, merged ranges, cell
length, decompressed size) is refused with `FileRefused` before anything large is built; uploads
are read through `enrollment/files/sandbox.py`, which also bounds time and memory.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import html.parser
import io
import re
from dataclasses import dataclass, field

import charset_normalizer
import python_calamine

from . import bounds
from .bounds import Limits
from .names import normalize


class ReadError(ValueError):
    """The file cannot be read as a table (message in Chinese)."""


class FileRefused(ReadError):
    """The file is too large or too oddly built to be read safely; `reason` says what exactly."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"文件过大或结构异常：{reason}，请另存为普通表格后再上传。")

    def __reduce__(self):
        return FileRefused, (self.reason,)


# --- file formats --------------------------------------------------------------------------

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_HTML_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|table|meta|head)",
                         re.I | re.S)
NOT_A_SPREADSHEET = "文件不是电子表格（无法识别的二进制格式），请上传 .xlsx、.xls 或 .csv 文件。"


def sniff(content: bytes) -> str:
    """'xlsx', 'xls', 'ods', 'html' or 'csv', judged by the bytes, never by the file name."""
    if not content:
        raise ReadError("文件是空的（0 字节），请检查是否选错了文件。")
    if content.startswith(ZIP_MAGIC):
        head = content[:65536]
        if b"xl/" in head or b"[Content_Types].xml" in head:
            return "xlsx"
        if b"application/vnd.oasis.opendocument.spreadsheet" in head:
            return "ods"
        raise ReadError("文件是压缩包而不是 Excel 表格，请上传 .xlsx、.xls 或 .csv 文件。")
    if content.startswith(OLE2_MAGIC):
        return "xls"
    if content.startswith(b"%PDF"):
        raise ReadError("文件是 PDF，不是电子表格。请上传 Excel（.xlsx、.xls）或 .csv 文件。")
    if _utf16_without_bom(content[:4096]):
        return "csv"
    if _looks_binary(content[:4096]):
        raise ReadError(NOT_A_SPREADSHEET)
    # Web systems often "export to Excel" as an HTML table named .xls.
    if _HTML_START.match(content[:4096].lstrip(codecs.BOM_UTF8)):
        return "html"
    return "csv"


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' for text saved as UTF-16 without a byte-order mark.

    The endianness that decodes to ordinary text wins: ASCII, CJK ideographs and CJK or
    full-width punctuation. In the wrong endianness ASCII turns into rare ideographs and
    symbols and CJK into Hangul, so the right one stands out even for short Chinese files.
    """
    if b"\x00" not in head or len(head) < 4:
        return None
    head = head[: len(head) // 2 * 2]
    best: tuple[str, int] | None = None
    for encoding in ("utf-16-le", "utf-16-be"):
        text = head.decode(encoding, errors="replace")
        usual = sum(1 for ch in text if ch in "\t\r\n" or " " <= ch <= "~"
                    or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f"
                    or "\uff00" <= ch <= "\uffef")
        if usual >= 0.9 * len(text) and (best is None or usual > best[1]):
            best = (encoding, usual)
    return best[0] if best else None


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13, 12))
    return controls > max(4, len(head) // 50)


def decode_text(content: bytes) -> str:
    """Text of a CSV: BOMs first, then strict UTF-8, then GB18030 (covers GBK, GB2312)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if content.startswith(bom):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ReadError("文件的文字编码有误（部分内容无法识别），"
                                "请在 Excel 中另存为 .xlsx 后再上传。") from exc
    encoding = _utf16_without_bom(content[:4096])
    if encoding:
        try:
            return content[: len(content) // 2 * 2].decode(encoding)
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    best = charset_normalizer.from_bytes(content).best()
    if best is None:
        raise ReadError("无法识别文件的文字编码，请在 Excel 中另存为 .xlsx 后再上传。")
    return str(best)


Grid = list[list[object]]


@dataclass
class Sheet:
    name: str
    rows: Grid                      # rows[i] is Excel row i + 1
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    visible: bool = True


def read_sheets(content: bytes, limits: Limits | None = None) -> list[Sheet]:
    """Every sheet of a workbook (a CSV is one sheet), cells as Python values.

    FileRefused when the file exceeds `limits` (default: Limits.from_settings()); a workbook's
    structure is checked before calamine sees it, and each sheet's extent before its cells are
    built.
    """
    limits = limits or Limits.from_settings()
    kind = sniff(content)
    if kind == "csv":
        return [Sheet("CSV", _csv_rows(decode_text(content), limits))]
    if kind == "html":
        return _html_sheets(decode_text(content), limits)
    if kind in ("xlsx", "ods") and (problem := bounds.workbook_problem(content, kind, limits)):
        raise FileRefused(problem)
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
        visible = {m.name: m.visible == python_calamine.SheetVisibleEnum.Visible
                   for m in workbook.sheets_metadata}
        names = workbook.sheet_names
        if len(names) > limits.sheets:
            raise FileRefused(f"工作簿有 {len(names):,} 个工作表，超过 {limits.sheets:,} 个的上限")
        sheets = []
        cells = merges = 0
        for index, name in enumerate(names):
            sheet = workbook.get_sheet_by_index(index)
            where = f"工作表「{name[:40]}」"
            end = sheet.end
            rows, columns = (end[0] + 1, end[1] + 1) if end else (0, 0)
            merged = list(sheet.merged_cell_ranges or [])
            cells += rows * columns
            merges += len(merged)
            problem = (bounds.grid_problem(where, rows, columns, limits)
                       or bounds.cells_problem(cells, limits)
                       or bounds.merges_problem(where, [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in merged],
                                                rows, columns, limits))
            if merges > limits.merges:
                problem = problem or f"工作簿有 {merges:,} 个合并单元格区域，超过 {limits.merges:,} 个的上限"
            if problem:
                raise FileRefused(problem)
            grid = sheet.to_python(skip_empty_area=False)
            if problem := bounds.cell_problem(where, _longest_text(grid), limits):
                raise FileRefused(problem)
            sheets.append(Sheet(name, grid, merged, visible.get(name, True)))
        return sheets
    except ReadError:
        raise
    except python_calamine.PasswordError as exc:
        raise ReadError("Excel 文件设置了打开密码，无法读取。请取消密码后另存再上传。") from exc
    except BaseException as exc:
        # calamine raises its own types for damaged files, and on some its Rust code panics:
        # pyo3's PanicException derives from BaseException, not Exception.
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        raise ReadError(f"Excel 文件已损坏或格式不正确，无法读取（{type(exc).__name__}）。"
                        "请在 Excel 中重新保存后再上传。") from exc


def _longest_text(grid: Grid) -> int:
    return max((len(v) for row in grid for v in row if type(v) is str), default=0)


def _csv_rows(text: str, limits: Limits) -> Grid:
    text = text.replace("\x00", "")
    delimiter = _delimiter(text)
    rows: Grid = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(rows) >= limits.rows:
                raise FileRefused(f"表格超过 {limits.rows:,} 行的上限（一个省的全部村、社区也不到 7 万行）")
            if len(record) > limits.columns:
                raise FileRefused(f"第 {len(rows) + 1} 行有 {len(record):,} 列，超过 {limits.columns:,} 列的上限")
            if record and (problem := bounds.cell_problem(f"第 {len(rows) + 1} 行", max(map(len, record)),
                                                          limits)):
                raise FileRefused(problem)
            rows.append(record)
    except csv.Error as exc:  # e.g. a field over the csv module's own limit
        if "field larger than field limit" in str(exc):
            raise FileRefused(f"第 {len(rows) + 1} 行有一个单元格的文字超过 Excel 的上限 "
                              f"{limits.cell_chars:,} 个字符") from exc
        raise ReadError(f"文件不是有效的 CSV 表格（{exc}），请在 Excel 中另存为 .xlsx 后再上传。") from exc
    return rows


def _delimiter(text: str) -> str:
    """The delimiter that splits most of the first lines into the same number (≥ 2) of fields.

    csv.Sniffer guesses wrong on the files people send (a title line, then 182,360 inside a
    semicolon-separated table), so each candidate is tried on the first 60 lines (of the first
    megabyte: a million-line file is not split whole for this).
    """
    head = "\n".join(text[:1 << 20].splitlines()[:60])
    best, best_score = ",", -1
    for candidate in (",", "\t", ";"):
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(head, newline=""), delimiter=candidate)
                      if len(r) >= 2]
        except csv.Error:
            continue
        if not counts:
            continue
        modal = max(set(counts), key=counts.count)
        score = counts.count(modal) * 1000 + modal
        if score > best_score:
            best, best_score = candidate, score
    return best


class _TableParser(html.parser.HTMLParser):
    """The <table>s of an HTML page as grids, with colspan/rowspan spread like merged cells."""

    def __init__(self, limits: Limits):
        super().__init__(convert_charrefs=True)
        self.limits = limits
        self._cells = 0
        self.tables: list[tuple[Grid, list]] = []
        self._grid: Grid | None = None
        self._merged: list = []
        self._row: int = -1
        self._cell: list[str] | None = None
        self._span = (1, 1)
        self._taken: set[tuple[int, int]] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and self._grid is None:
            self._grid, self._merged, self._row, self._taken = [], [], -1, set()
        elif tag == "tr" and self._grid is not None:
            self._row += 1
            while len(self._grid) <= self._row:
                self._grid.append([])
        elif tag in ("td", "th") and self._grid is not None:
            self._cell = []
            self._span = (_span(attrs.get("rowspan")), _span(attrs.get("colspan")))
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._grid is not None:
            row = max(self._row, 0)
            while len(self._grid) <= row:
                self._grid.append([])
            col = 0
            while (row, col) in self._taken:
                col += 1
            rows, cols = self._span
            self._check(row + rows, col + cols, rows * cols, len(self.tables))
            for r in range(row, row + rows):
                for c in range(col, col + cols):
                    self._taken.add((r, c))
            cells = self._grid[row]
            while len(cells) <= col:
                cells.append("")
            cells[col] = "".join(self._cell).strip()
            if problem := bounds.cell_problem(f"网页表格第 {row + 1} 行", len(cells[col]), self.limits):
                raise FileRefused(problem)
            if rows > 1 or cols > 1:
                self._merged.append(((row, col), (row + rows - 1, col + cols - 1)))
            self._cell = None
        elif tag == "table" and self._grid is not None:
            self.tables.append((self._grid, self._merged))
            self._grid = None

    def _check(self, rows: int, columns: int, cells: int, tables: int) -> None:
        """Bounds of the tables so far; the spans of merged cells count as the cells they fill."""
        self._cells += cells
        problem = (bounds.grid_problem(f"网页中第 {tables + 1} 个表格", rows, columns, self.limits)
                   or bounds.cells_problem(self._cells, self.limits))
        if tables >= self.limits.sheets:
            problem = f"网页中有超过 {self.limits.sheets:,} 个表格，超过上限"
        if problem:
            raise FileRefused(problem)


def _span(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), 1000)
    except ValueError:
        return 1


def _html_sheets(text: str, limits: Limits) -> list[Sheet]:
    parser = _TableParser(limits)
    try:
        parser.feed(text)
        parser.close()
    except FileRefused:
        raise
    except Exception as exc:
        raise ReadError("文件看起来是网页（HTML），但无法读出其中的表格，"
                        "请在 Excel 中打开后另存为 .xlsx 再上传。") from exc
    if parser._grid is not None:  # an unclosed <table>
        parser.tables.append((parser._grid, parser._merged))
    if not parser.tables:
        raise ReadError("文件是网页（HTML），其中没有表格。请上传 .xlsx、.xls 或 .csv 文件。")
    return [Sheet(f"表格{i}", grid, merged) for i, (grid, merged) in enumerate(parser.tables, 1)]


# --- cells ---------------------------------------------------------------------------------

def cell_text(value: object) -> str:
    """A cell as normalised text ('' for empty); whole floats lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return normalize(value)


_EMPTY_MARKS = {"", "-", "--", "—", "——", "/", "无", "空", "—-", "-—"}
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")


class CellError(ValueError):
    """A cell that is not what its column needs; the message says why, in Chinese.

    `kind` is 'text', 'negative', 'fraction' or 'unit' (a number written in 万); `text` is the
    cell as written. str() gives the whole message, as before.
    """

    def __init__(self, message: str, kind: str = "text", text: str = ""):
        super().__init__(message)
        self.kind = kind
        self.text = text


def _number_text(value: object, unit_words: tuple[str, ...]) -> tuple[str, str] | None:
    """(cleaned, as written) for a text cell; None when it is empty."""
    text = normalize(value)
    if text in _EMPTY_MARKS:
        return None
    cleaned = text.lstrip("'")       # Excel's "number stored as text" marker
    for word in unit_words:
        if cleaned.endswith(word):
            cleaned = cleaned[: -len(word)]
            break
    cleaned = cleaned.replace("，", ",").replace("．", ".")
    if "," in cleaned:
        if not _GROUPED.match(cleaned):
            raise CellError(f"「{text}」不是数字（千位分隔符位置不对）", "text", text)
        cleaned = cleaned.replace(",", "")
    if cleaned.endswith("万") and _NUMBER.match(cleaned[:-1]):
        raise CellError(f"「{text}」以「万」为单位，请填写准确的数字（例如 12345）", "unit", text)
    if not _NUMBER.match(cleaned):
        raise CellError(f"「{text}」不是数字", "text", text)
    return cleaned, text


def parse_count(value: object) -> int | None:
    """A head count: None when empty; CellError for text, negatives and fractions.

    Accepts thousands separators (1,234 / 1，234), full-width digits, spaces, a trailing 人,
    numbers stored as text (also with Excel's leading apostrophe) and whole floats from Excel.
    """
    if value is None or isinstance(value, bool):
        return None
    if type(value) in (int, float) and 0 <= value < 1e15 and float(value).is_integer():
        return int(value)        # the usual cell: a whole number typed into Excel
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise CellError(f"「{value}」是日期，不是人数", "text", str(value))
    if isinstance(value, (int, float)):
        number = float(value)
        text = cell_text(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise CellError(f"「{text}」不是数字", "text", text)
    else:
        parsed = _number_text(value, ("人次", "人"))
        if parsed is None:
            return None
        cleaned, text = parsed
        number = float(cleaned)
    if number < 0:
        raise CellError(f"人数不能为负数（{text}）", "negative", text)
    if not number.is_integer():
        raise CellError(f"人数应为整数（{text}）", "fraction", text)
    if number >= 1e15:
        raise CellError(f"「{text}」不是合理的人数", "text", text)
    return int(number)


def parse_amount(value: object) -> float | None:
    """Money in yuan (two decimals allowed); None when empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise CellError(f"「{value}」是日期，不是金额", "text", str(value))
    if isinstance(value, (int, float)):
        number = float(value)
        text = cell_text(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise CellError(f"「{text}」不是金额", "text", text)
    else:
        text = normalize(value)
        try:
            parsed = _number_text(value, ("元",))
        except CellError as exc:
            raise CellError(str(exc).replace("不是数字", "不是金额"), exc.kind, exc.text) from None
        if parsed is None:
            return None
        number = float(parsed[0])
    if number < 0:
        raise CellError(f"金额不能为负数（{text}）", "negative", text)
    if number >= 1e15:
        raise CellError(f"「{text}」不是合理的金额", "text", text)
    return round(number, 2)


_DATE = re.compile(r"(20\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*[日号]?")
_COMPACT_DATE = re.compile(r"(?<!\d)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_MONTH_DAY = re.compile(r"(?<![\d年.\-/])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_DATE_WORDS = ("填报日期", "上报日期", "统计日期", "截至", "截止", "日期", "时间")


def parse_date(value: object) -> dt.date | None:
    """A date from a cell: a real date, or text like 2021年11月19日 / 2021-11-19 / 20211119.

    A cell with a range (2021年9月1日至2021年11月19日) gives its last date: the as-of day.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) or value is None:
        return None
    text = normalize(value)
    found = []
    for match in _DATE.finditer(text):
        try:
            found.append(dt.date(*(int(g) for g in match.groups())))
        except ValueError:
            continue
    if not found and any(word in text for word in _DATE_WORDS):
        for match in _COMPACT_DATE.finditer(text):
            try:
                found.append(dt.date(*(int(g) for g in match.groups())))
            except ValueError:
                continue
    return max(found) if found else None


def parse_month_day(value: object) -> tuple[int, int] | None:
    """(month, day) from text that names a day without a year, e.g. 截至11月19日."""
    if not isinstance(value, str):
        return None
    text = normalize(value)
    if _DATE.search(text):
        return None
    matches = list(_MONTH_DAY.finditer(text))
    if not matches:
        return None
    month, day = (int(g) for g in matches[-1].groups())
    if 1 <= month <= 12 and 1 <= day <= 31:
        return month, day
    return None


# --- columns -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Role:
    key: str
    label: str                    # how the column is called in messages and templates
    exact: tuple[str, ...]        # exact header spellings (normalised)
    contains: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    pattern: str | None = None    # regular expression on the normalised header


_CHANGE_WORDS = ("新增", "本周", "本月", "本日", "当日", "当天", "上次", "上周", "上期", "上月",
                 "较", "环比", "减少", "增加", "增量", "未", "待", "剩余", "还需", "尚")
_NOT_PEOPLE = ("率", "%", "比例", "进度", "任务", "目标", "应参保", "上年", "去年", "同期", "增长",
               "差", "排名", "低收入", "困难", "特困", "低保", "脱贫", "金额", "元", "序时", "户籍",
               "常住", "人口数") + _CHANGE_WORDS
_NOT_LOW_INCOME = ("率", "%", "比例", "进度", "任务", "目标", "金额", "元") + _CHANGE_WORDS

UNIT_NAME = Role("unit_name", "单位", (
    "单位", "单位名称", "县区", "县(市、区)", "县(市,区)", "县市区", "县(区)", "县(市区)", "区县",
    "县(市、区)名称", "县区名称", "区县名称", "县(区、市)", "县市区名称",
    "社区", "村(社区)", "村社区", "村(居)", "社区名称", "村(社区)名称", "村居", "村居名称", "村名",
    "乡镇", "乡镇(街道)", "乡(镇、街道)", "乡镇街道", "乡镇名称", "街道名称", "镇(街道)", "镇街",
    "街道", "名称", "地区", "区域", "单位(社区)", "行政区划", "区划名称", "单位名", "填报单位",
    "统筹区", "地区名称", "区域名称", "参保单位"))
UNIT_CODE = Role("unit_code", "单位代码", (
    "单位代码", "区划代码", "代码", "统计用区划代码", "行政区划代码", "区划编码", "单位编码", "编码",
    "区划码", "行政代码"))
ENROLLED = Role("enrolled", "累计参保人数", (
    "累计参保人数", "已参保人数", "参保人数", "累计缴费人数", "已缴费人数", "缴费人数", "累计参保",
    "本年累计参保人数", "实际参保人数", "累计参保缴费人数", "已参保缴费人数", "参保缴费人数",
    "累计已参保人数", "累计完成", "已完成", "完成数", "完成人数", "累计完成人数", "实际完成"),
    contains=("参保人数", "缴费人数", "参保缴费人数"), excludes=_NOT_PEOPLE)
AMOUNT = Role("amount", "缴费金额", (
    "缴费金额", "累计缴费金额", "征缴金额", "金额", "缴费金额(元)", "累计征缴金额", "筹资金额"),
    contains=("金额",), excludes=("率", "%", "任务", "目标") + _CHANGE_WORDS)
LOW_INCOME_ENROLLED = Role("low_income_enrolled", "低收入人口参保人数", (
    "低收入人口参保人数", "低收入人口已参保人数", "困难群众参保人数", "低收入人口参保",
    "其中低收入人口", "其中:低收入人口", "其中低收入人口参保人数"),
    contains=("低收入", "困难群众"), excludes=_NOT_LOW_INCOME + ("人口数",))
REPORT_DATE = Role("report_date", "填报日期", (
    "填报日期", "上报日期", "日期", "统计日期", "截止日期", "数据日期", "截至日期"))

TASK = Role("task", "任务数", ("任务数", "任务", "目标任务", "参保任务", "任务人数", "目标任务数",
                             "分解任务数", "下达任务数", "任务分解数"),
            pattern=r"^(?:\d{4}年(?:度)?)?(?:参保)?(?:缴费)?(?:目标)?任务(?:数|人数)?$")
BASELINE = Role("baseline", "上年参保人数", ("上年参保人数", "去年参保人数", "基数", "上年度参保人数",
                                         "上年参保缴费人数"),
                pattern=r"^\d{4}年(?:度)?(?:实际)?(?:参保人数|参保|已参保人数|参保缴费人数)$")
REGISTERED = Role("registered_population", "户籍人口数",
                  ("户籍人口数", "户籍人口", "户籍人数"), contains=("户籍人口",))
RESIDENT = Role("resident_population", "常住人口数",
                ("常住人口数", "常住人口", "常住人数"), contains=("常住人口",))
LOW_INCOME = Role("low_income", "低收入人口数", (
    "低收入人口数", "低收入人口", "困难群众人数", "低收入人口及稳定脱贫人口数", "困难群众数"),
    contains=("低收入人口", "困难群众"), excludes=("参保", "率", "%", "金额"))

REPORT_ROLES = (UNIT_CODE, UNIT_NAME, ENROLLED, AMOUNT, LOW_INCOME_ENROLLED, REPORT_DATE)
TARGET_ROLES = (UNIT_CODE, UNIT_NAME, TASK, BASELINE, REGISTERED, RESIDENT, LOW_INCOME)

# A second unit-name column (县区 beside 乡镇), or a column titled 上级单位/所属乡镇, names the
# parent; rows carry it under this key.
UNIT_PARENT = "unit_parent"
_PARENT_HEADER = re.compile(r"^(?:上级(?:单位|区划)?|所属.{0,10}|隶属.{0,10})(?:名称)?$")

_PARENS = re.compile(r"\((?:人|元|户|万元|个|人次)\)")
_UNIT_MARK = re.compile(r"^[(（]?(?:单位:)?(?:人|元|万元|户|个|%|人次)[)）]?$")
_NOTE_START = ("注", "说明", "备注", "填报人", "填表人", "审核", "制表", "联系", "负责人", "单位负责人",
               "填报说明", "数据来源", "填写说明", "统计人", "分管领导", "主要负责人", "经办人",
               "附注", "*", "※")
_TOTAL_EXACT = {"合计", "总计", "小计", "总数", "汇总", "全市合计", "全县合计", "全区合计",
                "全市", "全县", "全区", "全街道", "街道合计", "全市总计", "总合计", "累计"}
_COLUMN_NUMBER_LABELS = {"甲", "乙", "丙", "丁", "栏次", "栏目", "序号", "行次"}
_DETAIL_START = ("其中",)


def header_key(text: object) -> str:
    """A header cell as compared with role spellings: normalised, unit suffixes like (人) gone."""
    key = normalize(text).replace("（", "(").replace("）", ")").replace("：", ":")
    key = key.replace("，", ",")
    return _PARENS.sub("", key)


def match_strength(header: str, role: Role) -> int:
    """3 for an exact spelling, 2 for the role's pattern, 1 for a contained word, else 0."""
    key = header_key(header)
    if not key:
        return 0
    if key in role.exact:
        return 3
    if role.pattern and re.match(role.pattern, key):
        return 2
    if any(word in key for word in role.contains) and not any(w in key for w in role.excludes):
        return 1
    return 0


def match_role(header: str, roles: tuple[Role, ...]) -> Role | None:
    """The role a header names: exact spellings first, then patterns, then contained words."""
    best: tuple[int, Role] | None = None
    for role in roles:
        strength = match_strength(header, role)
        if strength and (best is None or strength > best[0]):
            best = (strength, role)
    return best[1] if best else None


def is_total_label(text: object) -> bool:
    key = normalize(text).replace("：", ":").rstrip(":")
    return key in _TOTAL_EXACT or key.startswith(("合计", "总计", "小计"))


def is_note(text: object) -> bool:
    key = normalize(text)
    return key.startswith(_NOTE_START)


# --- tables --------------------------------------------------------------------------------

@dataclass
class Row:
    number: int                   # as the user sees it in Excel (1-based)
    values: dict[str, object]     # role key -> raw cell value (plus UNIT_PARENT when present)
    unit_text: str                # what identifies the unit (name or code), for messages


@dataclass
class Table:
    sheet: str
    header_row: int               # Excel row number of the (last) header row
    columns: dict[str, int]       # role key -> 0-based column index
    headers: dict[str, str]       # role key -> header text as written
    rows: list[Row]
    totals: list[Row]             # 合计/总计/小计 rows, for the sum check
    dates: list[tuple[int, dt.date]]   # (row number, date) found in titles, 填报日期 lines, notes
    ignored_columns: list[str]
    month_days: list[tuple[int, tuple[int, int]]] = field(default_factory=list)  # dates without a year
    parent_header: str | None = None        # the parent unit column (县区 beside 乡镇), if any
    other_sheets: list[str] = field(default_factory=list)  # further sheets that hold a table too
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row, why) rows not read as data


def _merged_fill(sheet: Sheet) -> Grid:
    """The grid in which every merged area repeats its top-left value (rows in a merged area
    are copies; the others are the sheet's own lists, which are not changed)."""
    rows = list(sheet.rows)
    if not sheet.merged:
        return rows
    # Not past the data: a range merged over the whole sheet fills only the cells that exist.
    width = max(map(len, rows), default=0)
    copied: set[int] = set()
    for (r0, c0), (r1, c1) in sheet.merged:
        if r0 >= len(rows) or r1 < r0 or c1 < c0 or c0 >= width:
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            if r not in copied:
                rows[r] = list(rows[r])
                copied.add(r)
            for c in range(c0, min(c1, c0 + 200, width - 1) + 1):
                while len(rows[r]) <= c:
                    rows[r].append("")
                rows[r][c] = value
    return rows


def _score(row: list[object], roles: tuple[Role, ...]) -> tuple[int, bool]:
    matched = (match_role(cell_text(v), roles) for v in row[:200])
    keys = {role.key for role in matched if role}
    has_unit = bool(keys & {"unit_name", "unit_code"})
    return len(keys), has_unit


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text.replace(",", "")))


def find_table(sheet: Sheet, roles: tuple[Role, ...], scan_rows: int = 20) -> Table | None:
    """The table in a sheet whose header names a unit column and the required roles."""
    grid = _merged_fill(sheet)
    best: tuple[int, int] | None = None
    for i, row in enumerate(grid[:scan_rows]):
        count, has_unit = _score(row, roles)
        if has_unit and count >= 2 and (best is None or count > best[1]):
            best = (i, count)
    if best is None:
        return None
    top = best[0]
    header_rows = [top]
    # A second header row (merged headers: 累计参保 over 人数 | 其中低收入, or a row of units
    # such as (人) | (元)) is text, not data.
    if top + 1 < len(grid):
        below = grid[top + 1]
        texts = [cell_text(v) for v in below]
        numeric = sum(1 for t in texts if _is_number(t))
        labelled = [t for t in texts if t and not _is_number(t)]
        units_only = bool(labelled) and all(_UNIT_MARK.match(t) for t in labelled)
        if numeric == 0 and labelled and not any(is_total_label(t) for t in texts) \
                and (_score(below, roles)[0] >= 1 or units_only):
            header_rows.append(top + 1)
    width = max(len(grid[r]) for r in header_rows)
    headers: list[str] = []
    for c in range(width):
        parts: list[str] = []
        for r in header_rows:
            text = cell_text(grid[r][c]) if c < len(grid[r]) else ""
            if text and text not in parts and not _UNIT_MARK.match(text):
                parts.append(text)
        headers.append(parts[0] if len(parts) == 1 else _join_header(parts, roles) if parts else "")
    columns, header_text, ignored, parent = _assign_columns(headers, roles)
    return _rows(sheet, grid, header_rows[-1], columns, header_text, ignored, parent)


def _assign_columns(headers: list[str], roles: tuple[Role, ...]):
    """Each role gets its strongest column (leftmost on a tie); other headers are ignored.

    With two unit-name columns (县区 | 乡镇) the right one names the unit and the left one its
    parent, as in tables that list townships under their counties.
    """
    by_role: dict[str, list[tuple[int, int]]] = {}
    for c, header in enumerate(headers):
        role = match_role(header, roles)
        if role:
            by_role.setdefault(role.key, []).append((match_strength(header, role), c))
    columns: dict[str, int] = {}
    parent: int | None = None
    for key, found in by_role.items():
        if key == "unit_name" and len(found) > 1:
            columns[key] = found[-1][1]
            parent = found[-2][1]
        else:
            columns[key] = max(found, key=lambda sc: (sc[0], -sc[1]))[1]
    if parent is None and ("unit_name" in columns or "unit_code" in columns):
        parent = next((c for c, h in enumerate(headers)
                       if c not in columns.values() and _PARENT_HEADER.match(header_key(h))), None)
    used = set(columns.values()) | ({parent} if parent is not None else set())
    header_text = {key: headers[c] for key, c in columns.items()}
    ignored = [h for c, h in enumerate(headers) if h and c not in used]
    return columns, header_text, ignored, parent


def _join_header(parts: list[str], roles: tuple[Role, ...]) -> str:
    """For a two-row header prefer the lower cell when it names a role on its own."""
    lower = parts[-1]
    if match_role(lower, roles):
        return lower
    return "".join(parts)


def _is_column_number_row(texts: list[str], unit_text: str) -> bool:
    """A row like 甲 | 乙 | 1 | 2 | 3 under the header: column numbers, not data."""
    numbers = [t for t in texts if t and _is_number(t)]
    others = [t for t in texts if t and not _is_number(t)]
    if len(numbers) < 2 or any(t not in _COLUMN_NUMBER_LABELS for t in others):
        return False
    values = [float(t.replace(",", "")) for t in numbers]
    return values == [values[0] + i for i in range(len(values))] and values[0] in (0, 1)


def _dates_in(row: list[object], number: int, dates: list, month_days: list) -> None:
    for value in row:
        found = parse_date(value)
        if found:
            dates.append((number, found))
            continue
        partial = parse_month_day(value)
        if partial:
            month_days.append((number, partial))


def _rows(sheet: Sheet, grid: Grid, header_index: int, columns: dict[str, int],
          headers: dict[str, str], ignored: list[str], parent: int | None) -> Table:
    unit_cols = [columns[k] for k in ("unit_name", "unit_code") if k in columns]
    value_cols = [c for k, c in columns.items() if k not in ("unit_name", "unit_code")]
    rows: list[Row] = []
    totals: list[Row] = []
    dates: list[tuple[int, dt.date]] = []
    month_days: list[tuple[int, tuple[int, int]]] = []
    skipped: list[tuple[int, str]] = []
    for i in range(header_index):
        _dates_in(grid[i], i + 1, dates, month_days)
    raw_rows = sheet.rows
    for i in range(header_index + 1, len(grid)):
        raw = raw_rows[i] if i < len(raw_rows) else []
        cells = {key: (raw[c] if c < len(raw) else "") for key, c in columns.items()}
        if parent is not None:
            # A county cell merged down over its townships names the parent of every row.
            filled = grid[i]
            cells[UNIT_PARENT] = filled[parent] if parent < len(filled) else ""
        texts = [cell_text(v) for v in raw]     # once per cell: the rest reads these
        if not any(texts):
            continue
        first = next((t for t in texts if t), "")
        unit_text = next((texts[c] for c in unit_cols if c < len(texts) and texts[c]), "")
        if parent is not None and not unit_text:
            # 泽州县 | (empty) | 6000 in a 县区 | 乡镇 table: the county's own row.
            own = texts[parent] if parent < len(texts) else ""
            if own and not is_total_label(own) and not is_note(own):
                cells["unit_name"], cells[UNIT_PARENT], unit_text = raw[parent], "", own
        number = i + 1
        if is_note(first) and not unit_text.isdigit() and not is_total_label(unit_text):
            _dates_in(raw, number, dates, month_days)
            skipped.append((number, "说明"))
            continue
        if i <= header_index + 2 and _is_column_number_row(texts, unit_text):
            skipped.append((number, "栏次"))
            continue
        row = Row(number, cells, unit_text or first)
        if is_total_label(unit_text or first) or (
                not unit_text and any(is_total_label(t) for t in texts[:3])):
            totals.append(row)
            continue
        if unit_text.startswith(_DETAIL_START):
            skipped.append((number, "其中"))
            continue
        if not unit_text and not any(texts[c] for c in value_cols if c < len(texts)):
            # Text outside the table's columns only: a note line below the table.
            _dates_in(raw, number, dates, month_days)
            skipped.append((number, "说明"))
            continue
        rows.append(row)
    parent_header = None
    if parent is not None:
        parent_header = next((h for h in (cell_text(grid[header_index][parent]),) if h), None)
    return Table(sheet.name, header_index + 1, columns, headers, rows, totals, dates, ignored,
                 month_days, parent_header, [], skipped)


def read_table(content: bytes, roles: tuple[Role, ...] = REPORT_ROLES,
               required: tuple[str, ...] = ("enrolled",), limits: Limits | None = None) -> Table:
    """The first table in the file with a unit column; ReadError explains what is missing.

    Visible sheets are read before hidden ones; `Table.other_sheets` names further sheets that
    hold a table too, so a caller can say which one was read.
    """
    sheets = read_sheets(content, limits)
    if not any(any(cell_text(v) for v in row) for s in sheets for row in s.rows):
        raise ReadError("文件中没有任何内容，请检查是否选错了文件。")
    ordered = [s for s in sheets if s.visible] + [s for s in sheets if not s.visible]
    found: Table | None = None
    others: list[str] = []
    for sheet in ordered:
        table = find_table(sheet, roles)
        if table is None:
            continue
        if found is not None:
            if sheet.visible and all(k in table.columns for k in required) and table.rows:
                others.append(sheet.name)
            continue
        missing = [k for k in required if k not in table.columns]
        if missing:
            names = "、".join(_role_label(k, roles) for k in missing)
            where = f"工作表「{sheet.name}」" if len(sheets) > 1 else ""
            raise ReadError(
                f"{where}第 {table.header_row} 行的表头中找不到「{names}」列。"
                f"请使用模板，或把该列的标题改为「{names}」。")
        found = table
    if found is not None:
        found.other_sheets = others
        return found
    wanted = "、".join(_role_label(k, roles) for k in ("unit_name",) + required)
    raise ReadError(f"没有找到表头：文件前 20 行中没有同时包含「{wanted}」等列标题的一行。"
                    "请使用模板，或检查表头文字。")


def _role_label(key: str, roles: tuple[Role, ...]) -> str:
    return next((r.label for r in roles if r.key == key), key)


# --- any table (the allocation tool's base data) -------------------------------------------

EXTRA_ROLE = "col:"     # role key prefix of a column no role claims, read under its own header


def read_any_table(content: bytes, limits: Limits | None = None) -> Table:
    """The first table with a unit column and other columns, every column kept: those no role
    names under EXTRA_ROLE + their header (the allocation tool weighs any number column)."""
    for sheet in read_sheets(content, limits):
        table = find_table(sheet, TARGET_ROLES)
        extra = extra_roles(table.ignored_columns) if table else _headers_near_unit(sheet)
        if table is None and not extra:
            continue
        roles = (UNIT_CODE, UNIT_NAME) if table is None else TARGET_ROLES
        full = find_table(sheet, tuple(extra) + roles)
        if full is None:
            continue
        return full
    raise ReadError("没有找到表头：文件前 20 行中没有一行同时包含单位列（单位、乡镇、社区、单位代码等）"
                    "和数字列的标题。请使用模板，或检查表头文字。")


def extra_roles(headers: list[str]) -> list[Role]:
    """A role for each column the target roles did not claim, so its cells are read too."""
    roles, seen = [], set()
    for header in headers:
        key = header_key(header)
        if key and key not in seen:
            seen.add(key)
            roles.append(Role(EXTRA_ROLE + header, header, (key,)))
    return roles


def _headers_near_unit(sheet: Sheet, scan_rows: int = 20) -> list[Role]:
    """For a table with a unit column and only unrecognised number columns: their headers."""
    units = (UNIT_CODE, UNIT_NAME)
    for row in sheet.rows[:scan_rows]:
        texts = [cell_text(v) for v in row]
        if any(match_role(t, units) for t in texts):
            others = [t for t in texts if t and not match_role(t, units)]
            if others:
                return extra_roles(others)
    return []
