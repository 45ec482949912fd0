"""Reading the tables people really send: .xlsx, .xls, .csv in any Chinese encoding.

One reader serves the Friday upload (page and `ingest`) and the target tables. It finds the
header row below any title rows, joins two-row (merged) headers, maps column names to roles by
their many Chinese spellings, skips blank rows and notes, sets 合计/总计/小计 rows aside for a sum
check, and keeps the row numbers the user sees in Excel.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

import charset_normalizer
import python_calamine

from .names import normalize


class ReadError(ValueError):
    """The file cannot be read as a table (message in Chinese)."""


# --- file formats --------------------------------------------------------------------------

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


def sniff(content: bytes) -> str:
    """'xlsx', 'xls' or 'csv', judged by the bytes, never by the file name."""
    if not content:
        raise ReadError("文件是空的（0 字节），请检查是否选错了文件。")
    if content.startswith(ZIP_MAGIC):
        if b"xl/" in content[:65536] or b"[Content_Types].xml" in content[:65536]:
            return "xlsx"
        raise ReadError("文件是压缩包而不是 Excel 表格，请上传 .xlsx、.xls 或 .csv 文件。")
    if content.startswith(OLE2_MAGIC):
        return "xls"
    if _looks_binary(content[:4096]):
        raise ReadError("文件不是电子表格（无法识别的二进制格式），请上传 .xlsx、.xls 或 .csv 文件。")
    return "csv"


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
            return content.decode(encoding)
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


def read_sheets(content: bytes) -> list[Sheet]:
    """Every sheet of a workbook (a CSV is one sheet), cells as Python values."""
    kind = sniff(content)
    if kind == "csv":
        text = decode_text(content)
        try:
            dialect = csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
        except csv.Error:
            dialect = csv.excel
        rows: Grid = [list(r) for r in csv.reader(io.StringIO(text), dialect)]
        return [Sheet("CSV", rows)]
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheets = []
        for index, name in enumerate(workbook.sheet_names):
            sheet = workbook.get_sheet_by_index(index)
            merged = list(sheet.merged_cell_ranges or [])
            sheets.append(Sheet(name, sheet.to_python(skip_empty_area=False), merged))
        return sheets
    except ReadError:
        raise
    except Exception as exc:  # calamine raises its own types for damaged files
        raise ReadError(f"Excel 文件已损坏或被加密，无法读取（{type(exc).__name__}）。"
                        "请在 Excel 中重新保存后再上传。") from exc


# --- cells ---------------------------------------------------------------------------------

def cell_text(value: object) -> str:
    """A cell as normalised text ('' for empty); whole floats lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return normalize(value)


_EMPTY_MARKS = {"", "-", "--", "—", "——", "/", "无", "空"}
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


class CellError(ValueError):
    """A cell that is not what its column needs; the message says why, in Chinese."""


def parse_count(value: object) -> int | None:
    """A head count: None when empty; CellError for text, negatives and fractions.

    Accepts thousands separators (1,234 / 1，234), full-width digits, spaces, a trailing 人,
    numbers stored as text and whole floats from Excel.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        text = str(value)
    else:
        text = normalize(value)
        if text in _EMPTY_MARKS:
            return None
        cleaned = text.replace(",", "").replace("，", "").replace("人", "")
        if not _NUMBER.match(cleaned):
            raise CellError(f"「{text}」不是数字")
        number = float(cleaned)
    if number < 0:
        raise CellError(f"人数不能为负数（{text}）")
    if not number.is_integer():
        raise CellError(f"人数应为整数（{text}）")
    return int(number)


def parse_amount(value: object) -> float | None:
    """Money in yuan (two decimals allowed); None when empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = normalize(value)
        if text in _EMPTY_MARKS:
            return None
        cleaned = text.replace(",", "").replace("，", "").replace("元", "")
        if not _NUMBER.match(cleaned):
            raise CellError(f"「{text}」不是金额")
        number = float(cleaned)
    if number < 0:
        raise CellError(f"金额不能为负数（{number:g}）")
    return round(number, 2)


_DATE = re.compile(r"(20\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value: object) -> dt.date | None:
    """A date from a cell: a real date, an Excel serial in a date column, or text like 2021年11月19日."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = normalize(value)
    match = _DATE.search(text)
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            return None
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


_NOT_PEOPLE = ("率", "%", "比例", "进度", "任务", "目标", "应参保", "上年", "去年", "同期", "增长",
               "差", "排名", "低收入", "困难", "特困", "低保", "脱贫", "金额", "元", "序时", "户籍",
               "常住", "人口数")
_NOT_LOW_INCOME = ("率", "%", "比例", "进度", "任务", "目标", "金额", "元")

UNIT_NAME = Role("unit_name", "单位", (
    "单位", "单位名称", "县区", "县(市、区)", "县(市,区)", "县市区", "县(区)", "县(市区)", "区县",
    "社区", "村(社区)", "村社区", "村(居)", "社区名称", "乡镇", "乡镇(街道)", "乡(镇、街道)",
    "镇街", "街道", "名称", "地区", "区域", "单位(社区)", "县区名称", "行政区划", "区划名称"))
UNIT_CODE = Role("unit_code", "单位代码", (
    "单位代码", "区划代码", "代码", "统计用区划代码", "行政区划代码", "区划编码", "单位编码", "编码"))
ENROLLED = Role("enrolled", "累计参保人数", (
    "累计参保人数", "已参保人数", "参保人数", "累计缴费人数", "已缴费人数", "缴费人数", "累计参保",
    "本年累计参保人数", "实际参保人数", "累计参保缴费人数"),
    contains=("参保人数", "缴费人数", "参保缴费人数"), excludes=_NOT_PEOPLE)
AMOUNT = Role("amount", "缴费金额", (
    "缴费金额", "累计缴费金额", "征缴金额", "金额", "缴费金额(元)", "累计征缴金额", "筹资金额"),
    contains=("金额",), excludes=("率", "%", "任务", "目标"))
LOW_INCOME_ENROLLED = Role("low_income_enrolled", "低收入人口参保人数", (
    "低收入人口参保人数", "低收入人口已参保人数", "困难群众参保人数", "低收入人口参保",
    "其中低收入人口", "其中:低收入人口"),
    contains=("低收入", "困难群众"), excludes=_NOT_LOW_INCOME + ("人口数",))
REPORT_DATE = Role("report_date", "填报日期", (
    "填报日期", "上报日期", "日期", "统计日期", "截止日期", "数据日期"))

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

_PARENS = re.compile(r"\((?:人|元|户|万元|个)\)")
_TOTAL_WORDS = ("合计", "总计", "小计", "总数", "全市", "全县", "全区", "全街道", "汇总")
_NOTE_START = ("注", "说明", "备注", "填报人", "填表人", "审核", "制表", "联系", "负责人", "单位负责人",
               "填报说明", "数据来源")
_TOTAL_EXACT = {"合计", "总计", "小计", "总数", "汇总", "全市合计", "全县合计", "全区合计",
                "全市", "全县", "全区", "全街道", "街道合计"}


def header_key(text: object) -> str:
    """A header cell as compared with role spellings: normalised, unit suffixes like (人) gone."""
    key = normalize(text).replace("（", "(").replace("）", ")").replace(":", ":")
    return _PARENS.sub("", key)


def match_role(header: str, roles: tuple[Role, ...]) -> Role | None:
    key = header_key(header)
    if not key:
        return None
    for role in roles:
        if key in role.exact:
            return role
    for role in roles:
        if role.pattern and re.match(role.pattern, key):
            return role
    for role in roles:
        if any(word in key for word in role.contains) and not any(w in key for w in role.excludes):
            return role
    return None


def is_total_label(text: object) -> bool:
    key = normalize(text)
    return key in _TOTAL_EXACT or key.startswith(("合计", "总计", "小计"))


def is_note(text: object) -> bool:
    key = normalize(text)
    return key.startswith(_NOTE_START)


# --- tables --------------------------------------------------------------------------------

@dataclass
class Row:
    number: int                   # as the user sees it in Excel (1-based)
    values: dict[str, object]     # role key -> raw cell value
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


def _merged_fill(sheet: Sheet) -> Grid:
    """A copy of the grid in which every merged area repeats its top-left value."""
    rows = [list(r) for r in sheet.rows]
    for (r0, c0), (r1, c1) in sheet.merged:
        if r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            for c in range(c0, c1 + 1):
                while len(rows[r]) <= c:
                    rows[r].append("")
                rows[r][c] = value
    return rows


def _score(row: list[object], roles: tuple[Role, ...]) -> tuple[int, bool]:
    matched = (match_role(cell_text(v), roles) for v in row)
    keys = {role.key for role in matched if role}
    has_unit = bool(keys & {"unit_name", "unit_code"})
    return len(keys), has_unit


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
    # A second header row (merged headers: 累计参保 over 人数 | 其中低收入) is text, not data.
    if top + 1 < len(grid):
        below = grid[top + 1]
        texts = [cell_text(v) for v in below]
        numeric = sum(1 for t in texts if _NUMBER.match(t.replace(",", "")))
        labelled = sum(1 for t in texts if t and not _NUMBER.match(t.replace(",", "")))
        if numeric == 0 and labelled >= 1 and not any(is_total_label(t) for t in texts) \
                and _score(below, roles)[0] >= 1:
            header_rows.append(top + 1)
    width = max(len(grid[r]) for r in header_rows)
    headers: list[str] = []
    for c in range(width):
        parts: list[str] = []
        for r in header_rows:
            text = cell_text(grid[r][c]) if c < len(grid[r]) else ""
            if text and text not in parts:
                parts.append(text)
        headers.append("".join(parts) if len(parts) == 1 else _join_header(parts, roles))
    columns: dict[str, int] = {}
    header_text: dict[str, str] = {}
    ignored: list[str] = []
    for c, header in enumerate(headers):
        role = match_role(header, roles)
        if role and role.key not in columns:
            columns[role.key] = c
            header_text[role.key] = header
        elif header:
            ignored.append(header)
    return _rows(sheet, grid, header_rows[-1], columns, header_text, ignored)


def _join_header(parts: list[str], roles: tuple[Role, ...]) -> str:
    """For a two-row header prefer the lower cell when it names a role on its own."""
    lower = parts[-1]
    if match_role(lower, roles):
        return lower
    return "".join(parts)


def _rows(sheet: Sheet, grid: Grid, header_index: int, columns: dict[str, int],
          headers: dict[str, str], ignored: list[str]) -> Table:
    unit_cols = [columns[k] for k in ("unit_name", "unit_code") if k in columns]
    value_cols = [c for k, c in columns.items() if k not in ("unit_name", "unit_code")]
    rows: list[Row] = []
    totals: list[Row] = []
    dates: list[tuple[int, dt.date]] = []
    for i in range(header_index):
        for value in grid[i]:
            found = parse_date(value)
            if found:
                dates.append((i + 1, found))
    raw_rows = sheet.rows
    for i in range(header_index + 1, len(grid)):
        raw = raw_rows[i] if i < len(raw_rows) else []
        cells = {key: (raw[c] if c < len(raw) else "") for key, c in columns.items()}
        texts = [cell_text(v) for v in raw]
        if not any(texts):
            continue
        first = next((t for t in texts if t), "")
        unit_text = next((cell_text(raw[c]) for c in unit_cols if c < len(raw) and cell_text(raw[c])), "")
        number = i + 1
        if is_note(first) and not unit_text.isdigit():
            for value in raw:
                found = parse_date(value)
                if found:
                    dates.append((number, found))
            continue
        row = Row(number, cells, unit_text or first)
        if is_total_label(unit_text or first):
            totals.append(row)
            continue
        if not unit_text and not any(cell_text(raw[c]) for c in value_cols if c < len(raw)):
            # Text outside the table's columns only: a note line below the table.
            for value in raw:
                found = parse_date(value)
                if found:
                    dates.append((number, found))
            continue
        rows.append(row)
    return Table(sheet.name, header_index + 1, columns, headers, rows, totals, dates, ignored)


def read_table(content: bytes, roles: tuple[Role, ...] = REPORT_ROLES,
               required: tuple[str, ...] = ("enrolled",)) -> Table:
    """The first table in the file with a unit column; ReadError explains what is missing."""
    sheets = read_sheets(content)
    if not any(any(cell_text(v) for v in row) for s in sheets for row in s.rows):
        raise ReadError("文件中没有任何内容，请检查是否选错了文件。")
    for sheet in sheets:
        table = find_table(sheet, roles)
        if table is not None:
            missing = [k for k in required if k not in table.columns]
            if missing:
                names = "、".join(_role_label(k, roles) for k in missing)
                raise ReadError(
                    f"工作表「{sheet.name}」第 {table.header_row} 行的表头中找不到「{names}」列。"
                    f"请使用模板，或把该列的标题改为「{names}」。")
            return table
    wanted = "、".join(_role_label(k, roles) for k in ("unit_name",) + required)
    raise ReadError(f"没有找到表头：文件前 20 行中没有同时包含「{wanted}」等列标题的一行。"
                    "请使用模板，或检查表头文字。")


def _role_label(key: str, roles: tuple[Role, ...]) -> str:
    return next((r.label for r in roles if r.key == key), key)
