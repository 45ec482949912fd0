"""Workbooks as ZIP containers (.xlsx, .ods), their structure checked before a reader opens them.

The ZIP directory first (parts, decompressed sizes, compression ratio), then each sheet's XML
streamed with a cap on the bytes decompressed and scanned with regular expressions, never
parsed into a tree: the extent of the cells that hold something, merged ranges, shared strings
and text runs, against the Limits of bounds.py. `workbook_problem` returns the concrete reason a
file is refused, or None.

Only cells that hold something count towards a sheet's extent: calamine ignores self-closing
(formatted but empty) cells and the `<dimension>` element, so an inflated dimension alone is
no reason to refuse an ordinary workbook.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator

from .bounds import (
    MB,
    RATIO_FLOOR,
    Limits,
    cells_problem,
    grid_problem,
    merges_problem,
    size_text,
)


class _Breach(Exception):
    """A limit is exceeded; the message is the reason (internal to this module)."""


def workbook_problem(content: bytes, kind: str, limits: Limits) -> str | None:
    """Why an .xlsx or .ods must not be handed to calamine, or None.

    A container that zipfile cannot read is left to calamine, which says it is damaged; the
    sandbox bounds whatever such a file does.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError):
        return None
    try:
        _check_directory(infos, limits)
        if kind == "xlsx":
            _check_xlsx(archive, limits)
        elif kind == "ods":
            _check_ods(archive, limits)
    except _Breach as breach:
        return str(breach)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError, KeyError):
        return None
    return None


def _check_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.entries:
        raise _Breach(f"文件内含 {len(infos):,} 个部件，超过 {limits.entries:,} 个的上限")
    total = sum(i.file_size for i in infos)
    if total > limits.total_bytes:
        raise _Breach(f"文件解压后共 {size_text(total)}，超过 {size_text(limits.total_bytes)} 的上限")
    for info in infos:
        if info.file_size > limits.part_bytes:
            raise _Breach(f"文件中的「{_short(info.filename)}」解压后 {size_text(info.file_size)}，"
                          f"超过 {size_text(limits.part_bytes)} 的上限")
        if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise _Breach(f"文件中的「{_short(info.filename)}」压缩比高达 {ratio:,.0f} 倍"
                          f"（{size_text(info.compress_size)} 解压后 {size_text(info.file_size)}），疑似压缩炸弹")


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "…"


CHUNK = MB


def _stream(archive: zipfile.ZipFile, name: str, limits: Limits) -> Iterator[bytes]:
    """A part decompressed chunk by chunk; stops with a breach past the part limit, whatever
    size the directory claims."""
    seen = 0
    with archive.open(name) as part:
        while chunk := part.read(CHUNK):
            seen += len(chunk)
            if seen > limits.part_bytes:
                raise _Breach(f"文件中的「{_short(name)}」解压后超过 {size_text(limits.part_bytes)} 的上限")
            yield chunk


def _pieces(archive: zipfile.ZipFile, name: str, limits: Limits,
            where: str = "") -> Iterator[tuple[bytes, int]]:
    """(piece, offset in the part): the part streamed in pieces that end at a tag's '>', so no
    tag is split. A run of text longer than the longest cell is a breach (only cell text is
    that long; `_check_runs` looks inside each piece)."""
    longest = _longest_cell(limits)
    carry = b""
    offset = 0                           # of carry[0] in the part
    for chunk in _stream(archive, name, limits):
        buffer = carry + chunk
        end = buffer.rfind(b">") + 1
        yield buffer[:end], offset
        carry = buffer[end:]
        offset += end
        if len(carry) > longest:
            raise _Breach(f"{where}有一个单元格的文字超过 Excel 的上限 {limits.cell_chars:,} 个字符")
    if carry.strip():
        raise ValueError("truncated XML")   # damaged: calamine will say so


def _check_runs(piece: bytes, where: str, limits: Limits) -> None:
    """Text between two tags (one run of a cell's text) longer than any cell may be.

    Any such run covers a whole window of half that length, so only windows without a '<' are
    measured: a few find() calls per megabyte.
    """
    longest = _longest_cell(limits)
    half = longest // 2
    for start in range(0, len(piece) - half + 1, half):
        if piece.find(b"<", start, start + half) == -1:
            left = piece.rfind(b">", 0, start) + 1
            right = piece.find(b"<", start)
            if (len(piece) if right == -1 else right) - left > longest:
                raise _Breach(f"{where}有一个单元格的文字超过 Excel 的上限 {limits.cell_chars:,} 个字符")


def _tags(archive: zipfile.ZipFile, name: str, pattern: re.Pattern, limits: Limits,
          where: str = "") -> Iterator[tuple[re.Match, int]]:
    """(match, offset in the part) of every tag the pattern matches, streamed."""
    for piece, offset in _pieces(archive, name, limits, where):
        for match in pattern.finditer(piece):
            yield match, offset


def _longest_cell(limits: Limits) -> int:
    # Bytes of the longest cell that can still hold at most cell_chars characters (4 bytes
    # each in UTF-8), with room for the markup around the text.
    return 4 * limits.cell_chars + 4096


_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')


def _attrs(raw: bytes) -> dict[bytes, bytes]:
    return {m.group(1).split(b":")[-1]: m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ATTR.finditer(raw)}


_WORKBOOK_SHEET = re.compile(rb"<(?:[\w.-]+:)?sheet(?=[\s/>])([^>]*)>")
_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship(?=[\s/>])([^>]*)>")
_SHEET_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c|mergeCell)(?=[\s/>])([^>]*)>")
_SHARED_OPEN = re.compile(rb"<(?:[\w.-]+:)?si(?:\s[^>]*)?(?<!/)>")
# A cell with content (not self-closing): its reference, and any such cell at all.
_VALUED_REF = re.compile(rb"<(?:[\w.-]+:)?c\s[^>]*?\br\s*=\s*[\"']\$?([A-Za-z]{1,4})\$?(\d{1,9})[\"'][^>]*(?<!/)>")
# One group each: findall then builds no tuples (half the time).
_COMMON_ROW = re.compile(rb'<c r="[A-Za-z]{1,4}(\d{1,9})"[^>]*(?<!/)>')
_COMMON_COLUMN = re.compile(rb'<c r="([A-Za-z]{1,4})\d{1,9}"[^>]*(?<!/)>')
_COMMON_ANY = re.compile(rb'<c r="[A-Za-z]{1,4}\d{1,9}"')
_VALUED = re.compile(rb"<(?:[\w.-]+:)?c(?:\s[^>]*)?(?<!/)>")
_MERGE_REF = re.compile(rb"<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
_CELL_REF = re.compile(rb"^\$?([A-Za-z]{1,4})\$?(\d{1,9})$")


def _small(archive: zipfile.ZipFile, name: str) -> bytes:
    """A part that is small in any real workbook (workbook.xml, its relationships)."""
    info = archive.getinfo(name)
    if info.file_size > 16 * MB:
        raise _Breach(f"文件中的「{_short(name)}」解压后 {size_text(info.file_size)}，结构异常")
    return b"".join(_stream(archive, name, Limits(part_bytes=16 * MB)))


def _check_xlsx(archive: zipfile.ZipFile, limits: Limits) -> None:
    names = set(archive.namelist())
    sheets: list[tuple[str, str]] = []                 # (sheet name, part)
    targets: dict[bytes, str] = {}
    shared: list[str] = []
    if "xl/_rels/workbook.xml.rels" in names:
        for match in _RELATIONSHIP.finditer(_small(archive, "xl/_rels/workbook.xml.rels")):
            attrs = _attrs(match.group(1))
            target = attrs.get(b"Target", b"").decode("utf-8", "replace")
            part = target.lstrip("/") if target.startswith("/") else _join("xl", target)
            kind = attrs.get(b"Type", b"")
            if kind.endswith(b"/worksheet"):
                targets[attrs.get(b"Id", b"")] = part
            elif kind.endswith(b"/sharedStrings"):
                shared.append(part)
    if "xl/workbook.xml" in names:
        for match in _WORKBOOK_SHEET.finditer(_small(archive, "xl/workbook.xml")):
            attrs = _attrs(match.group(1))
            part = targets.get(attrs.get(b"id", b""))
            if part in names:
                sheets.append((attrs.get(b"name", b"").decode("utf-8", "replace"), part))
    if not sheets:                                      # no usable relationships: the usual place
        sheets = [(n.rsplit("/", 1)[-1], n) for n in sorted(names)
                  if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    if len(sheets) > limits.sheets:
        raise _Breach(f"工作簿有 {len(sheets):,} 个工作表，超过 {limits.sheets:,} 个的上限")
    for part in shared or ["xl/sharedStrings.xml"]:
        if part in names:
            _check_shared_strings(archive, part, limits)
    cells = 0
    merges = 0
    for sheet_name, part in sheets:
        where = f"工作表「{sheet_name[:40]}」"
        rows, columns, merged = _scan_sheet(archive, part, where, limits)
        merges += len(merged)
        if merges > limits.merges:
            raise _Breach(f"工作簿有 {merges:,} 个以上的合并单元格区域，超过 {limits.merges:,} 个的上限")
        if problem := merges_problem(where, merged, rows, columns, limits):
            raise _Breach(problem)
        cells += rows * columns
        if problem := cells_problem(cells, limits):
            raise _Breach(problem)


def _join(base: str, target: str) -> str:
    parts = base.split("/")
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _check_shared_strings(archive: zipfile.ZipFile, part: str, limits: Limits) -> None:
    """Their number (calamine loads them all when it opens the file) and the length of each run
    of text."""
    count = 0
    for piece, _ in _pieces(archive, part, limits, "共享字符串中"):
        _check_runs(piece, "共享字符串中", limits)
        if b":si" in piece:                  # a namespace prefix: the general pattern
            count += len(_SHARED_OPEN.findall(piece))
        else:
            count += piece.count(b"<si>") + piece.count(b"<si ")
        if count > limits.cells:
            raise _Breach(f"共享字符串超过 {limits.cells:,} 个的上限")


def _scan_sheet(archive: zipfile.ZipFile, part: str, where: str,
                limits: Limits) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """(rows, columns) of the area that holds values, and the merged ranges (0-based).

    Every cell a writer saves carries its reference (r="B7"), so the extent is the largest
    reference of a cell with content (calamine skips formatted empty ones), found with two
    regular-expression passes per megabyte in the form every writer uses (<c r="B7" …>), once
    the number of such tags shows that no cell escaped them (a province's sheet: about 0.05 s).
    Other forms (a namespace prefix, r not first) take a slower pattern, and cells that rely on
    their position instead of a reference a walk tag by tag.
    """
    max_row = max_column = 0
    merged: list[tuple[int, int, int, int]] = []
    for piece, _ in _pieces(archive, part, limits, where):
        _check_runs(piece, where, limits)
        common = piece.count(b'<c r="')
        digits = _COMMON_ROW.findall(piece) if _only_common_cells(piece, common) else None
        # Cells with content plus formatted empty ones must be every <c r="…: none escaped.
        if digits is not None and (len(digits) == common or len(_COMMON_ANY.findall(piece)) == common):
            if digits:
                max_row = max(max_row, max(map(int, digits)))
                max_column = max(max_column, max(map(_column_index, set(_COMMON_COLUMN.findall(piece)))))
        else:
            refs = _VALUED_REF.findall(piece)
            if len(refs) != len(_VALUED.findall(piece)):
                return _walk_sheet(archive, part, where, limits)
            if refs:
                letters, digits = zip(*refs)
                max_row = max(max_row, max(map(int, digits)))
                max_column = max(max_column, max(map(_column_index, set(letters))))
        if max_row > limits.rows or max_column > limits.columns:
            raise _Breach(grid_problem(where, max_row, max_column, limits))
        for ref in _MERGE_REF.findall(piece) if b"mergeCell" in piece else ():
            bounds = _range(ref)
            if bounds:
                merged.append(bounds)
        if len(merged) > limits.merges:
            raise _Breach(f"{where}有超过 {limits.merges:,} 个合并单元格区域，超过 {limits.merges:,} 个的上限")
    return max_row, max_column, merged


def _only_common_cells(piece: bytes, common: int) -> bool:
    """Every cell tag in the piece is written <c r="… (no prefix, other white space or order)."""
    if common != piece.count(b"<c ") or b":c" in piece:
        return False
    if piece.count(b"<c") == common:     # the usual piece of <sheetData>: no other tag starts so
        return True
    return not any(form in piece for form in (b"<c>", b"<c\t", b"<c\n", b"<c\r"))


def _walk_sheet(archive: zipfile.ZipFile, part: str, where: str,
                limits: Limits) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """`_scan_sheet` tag by tag, for cells without a reference (at the next column)."""
    row = 0
    column = 0
    max_row = max_column = 0
    merged: list[tuple[int, int, int, int]] = []
    cell_start: int | None = None
    longest = _longest_cell(limits)
    for match, offset in _tags(archive, part, _SHEET_TAG, limits, where):
        closing, tag, raw = match.group(1), match.group(2), match.group(3)
        if tag == b"c":
            if closing:
                if cell_start is not None and offset + match.start() - cell_start > longest:
                    raise _Breach(f"{where}有一个单元格的文字超过 Excel 的上限 {limits.cell_chars:,} 个字符")
                cell_start = None
                continue
            ref = _attrs(raw).get(b"r")
            parsed = _CELL_REF.match(ref) if ref else None
            if parsed:
                column = _column_index(parsed.group(1))
                row = int(parsed.group(2))
            else:
                column += 1
            if raw.rstrip().endswith(b"/"):
                continue                       # formatted but empty: calamine skips it
            cell_start = offset + match.end()
            if row > max_row:
                max_row = row
            if column > max_column:
                max_column = column
            if max_row > limits.rows or max_column > limits.columns:
                raise _Breach(grid_problem(where, max_row, max_column, limits))
        elif tag == b"row" and not closing:
            ref = _attrs(raw).get(b"r")
            row = int(ref) if ref and ref.isdigit() and len(ref) < 10 else row + 1
            column = 0
        elif tag == b"mergeCell" and not closing:
            ref = _attrs(raw).get(b"ref", b"")
            bounds = _range(ref)
            if bounds:
                merged.append(bounds)
                if len(merged) > limits.merges:
                    raise _Breach(f"{where}有超过 {limits.merges:,} 个合并单元格区域，超过 {limits.merges:,} 个的上限")
    return max_row, max_column, merged


def _column_index(letters: bytes) -> int:
    """b"A" → 1, b"XFD" → 16384."""
    index = 0
    for byte in letters.upper():
        index = index * 26 + byte - 64
    return index


def _range(ref: bytes) -> tuple[int, int, int, int] | None:
    first, _, last = ref.partition(b":")
    a, b = _CELL_REF.match(first), _CELL_REF.match(last or first)
    if not (a and b):
        return None
    return (int(a.group(2)) - 1, _column_index(a.group(1)) - 1,
            int(b.group(2)) - 1, _column_index(b.group(1)) - 1)


# OpenDocument: rows and cells carry repeat counts (LibreOffice writes a million empty rows as
# one element), so the extent is the sum of repeats up to the last row and cell with a value.
_ODS_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(table|table-row|table-cell|covered-table-cell)"
                      rb"(?=[\s/>])([^>]*)>")


def _check_ods(archive: zipfile.ZipFile, limits: Limits) -> None:
    if "content.xml" not in archive.namelist():
        return
    sheets = cells = merges = 0
    row = column = max_row = max_column = row_max_column = 0
    repeat_rows = 1
    merged: list[tuple[int, int, int, int]] = []
    cell_start: int | None = None
    longest = _longest_cell(limits)
    where = "工作表"
    for match, offset in _tags(archive, "content.xml", _ODS_TAG, limits):
        closing, tag, raw = match.group(1), match.group(2), match.group(3)
        empty = raw.rstrip().endswith(b"/")
        if tag == b"table":
            if not closing:
                sheets += 1
                if sheets > limits.sheets:
                    raise _Breach(f"工作簿有超过 {limits.sheets:,} 个工作表，超过上限")
                name = _attrs(raw).get(b"name", b"").decode("utf-8", "replace")
                where = f"工作表「{name[:40]}」"
                row = max_row = max_column = 0
                merged = []
            if closing or empty:
                if problem := merges_problem(where, merged, max_row, max_column, limits):
                    raise _Breach(problem)
                cells += max_row * max_column
                if problem := cells_problem(cells, limits):
                    raise _Breach(problem)
        elif tag == b"table-row":
            if not closing:
                repeat_rows = _count(_attrs(raw).get(b"number-rows-repeated"))
                column = row_max_column = 0
            if closing or empty:
                if row_max_column:
                    max_row = row + repeat_rows
                    max_column = max(max_column, row_max_column)
                    if max_row > limits.rows or max_column > limits.columns:
                        raise _Breach(grid_problem(where, max_row, max_column, limits))
                row += repeat_rows
        elif closing:
            if cell_start is not None and offset + match.start() - cell_start > longest:
                raise _Breach(f"{where}有一个单元格的文字超过 Excel 的上限 {limits.cell_chars:,} 个字符")
            cell_start = None
        else:
            attrs = _attrs(raw)
            repeat = _count(attrs.get(b"number-columns-repeated"))
            if b"value-type" in attrs or not empty:
                row_max_column = column + repeat
                cell_start = None if empty else offset + match.end()
            spans = (_count(attrs.get(b"number-rows-spanned")), _count(attrs.get(b"number-columns-spanned")))
            if spans != (1, 1):
                merges += 1
                if merges > limits.merges:
                    raise _Breach(f"工作簿有超过 {limits.merges:,} 个合并单元格区域，超过上限")
                merged.append((row, column, row + spans[0] - 1, column + spans[1] - 1))
            column += repeat


def _count(value: bytes | None) -> int:
    if value and value.isdigit() and len(value) < 10:
        return max(int(value), 1)
    return 1
