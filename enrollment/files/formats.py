"""Spreadsheet and text files as sheets of cells: .xlsx, .xls, .ods, HTML tables saved as .xls,
and CSV in any Chinese encoding, judged by the bytes (never the file name), read within the
bounds of bounds.py.

Every failure to read is a `ReadError` with a Chinese message; a file beyond the bounds is
refused with `FileRefused` before anything large is built.
"""

from __future__ import annotations

import codecs
import csv
import html.parser
import io
import re
from dataclasses import dataclass, field

import charset_normalizer
import python_calamine

from . import bounds, containers
from .bounds import Limits


class ReadError(ValueError):
    """The file cannot be read as a table (message in Chinese)."""


class FileRefused(ReadError):
    """The file is too large or too oddly built to be read safely; `reason` says what exactly."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"文件过大或结构异常：{reason}，请另存为普通表格后再上传。")

    def __reduce__(self):
        return FileRefused, (self.reason,)


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
    if kind in ("xlsx", "ods") and (problem := containers.workbook_problem(content, kind, limits)):
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
