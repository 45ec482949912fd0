"""Bounds on untrusted files, checked before anything is materialised.

A 2 KB .xlsx can hold one cell at XFD1048576, and calamine then asks for 512 GB for the range
and aborts the process; merged ranges over a whole sheet make a reader loop for minutes; a
50-million-character shared string or a highly compressed sheet takes gigabytes. These checks
look at the structure cheaply (the ZIP directory, then the sheet XML streamed with a cap on the
bytes decompressed, scanned with regular expressions, never parsed into a tree) and return the
concrete reason a file is refused, or None. The reader raises `FileRefused` with that reason;
the sandbox (`enrollment/files/sandbox.py`) bounds whatever these checks cannot see.

This module holds the limits and the wording of each breach; containers.py looks into .xlsx
and .ods files with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import settings

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a file may hold. Defaults fit a province's villages in one report with room to spare."""

    rows: int = 100_000              # ENROLLMENT_MAX_ROWS: 山东 has 62,074 villages and communities
    columns: int = 256               # the old .xls maximum; reports use a dozen or two
    cells: int = 5_000_000           # rows × columns of every sheet's used area, together:
    #                                  ~160 MB in calamine's range, ~40 MB of Python lists
    cell_chars: int = 32_767         # Excel's own limit for the text of one cell
    merges: int = 10_000             # merged ranges in the workbook (a report has dozens)
    sheets: int = 256
    entries: int = 10_000            # parts in the ZIP container
    part_bytes: int = 256 * MB       # one part (sheet XML) decompressed
    total_bytes: int = 512 * MB      # every part decompressed
    ratio: int = 100                 # compression ratio of a part over 16 MB; ordinary sheets: 5–15

    @classmethod
    def from_settings(cls) -> "Limits":
        """The limits with the configured row limit (ENROLLMENT_MAX_ROWS)."""
        return cls(rows=settings.max_rows())


RATIO_FLOOR = 16 * MB                # smaller parts are never zip bombs worth the name


def size_problem(size: int, limit: int | None = None) -> str | None:
    """The message for a file over ENROLLMENT_MAX_UPLOAD_MB, or None."""
    limit = settings.max_upload_bytes() if limit is None else limit
    if size <= limit:
        return None
    return (f"文件大小 {size_text(size)}，超过上限 {size_text(limit)}。"
            "请删去与上报无关的工作表或内容后再上传。")


def size_text(n: int) -> str:
    """1.5 MB / 25 KB: a file size as people read it."""
    return f"{n / MB:.1f} MB" if n >= MB else f"{max(round(n / 1024), 1)} KB"


def column_letters(index: int) -> str:
    """1 → A, 16384 → XFD."""
    out = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def area_text(rows: int, columns: int) -> str:
    """A1:XFD1048576（1,048,576 行 × 16,384 列）."""
    return f"A1:{column_letters(columns)}{rows}（{rows:,} 行 × {columns:,} 列）"


def grid_problem(where: str, rows: int, columns: int, limits: Limits) -> str | None:
    """A sheet's used area against the row and column limits."""
    if rows > limits.rows:
        return f"{where}的数据区域为 {area_text(rows, columns)}，超过 {limits.rows:,} 行的上限"
    if columns > limits.columns:
        return f"{where}的数据区域为 {area_text(rows, columns)}，超过 {limits.columns:,} 列的上限"
    return None


def cells_problem(total: int, limits: Limits) -> str | None:
    if total > limits.cells:
        return f"各工作表的数据区域共 {total:,} 个单元格，超过 {limits.cells:,} 个的上限"
    return None


def merges_problem(where: str, merges: list[tuple[int, int, int, int]], rows: int,
                   columns: int, limits: Limits) -> str | None:
    """Merged ranges (0-based first row, first column, last row, last column) in a sheet whose
    used area is rows × columns: their number, and the cells they cover inside that area (what
    a reader that spreads merged values has to fill)."""
    if len(merges) > limits.merges:
        return f"{where}有 {len(merges):,} 个合并单元格区域，超过 {limits.merges:,} 个的上限"
    covered = 0
    for r0, c0, r1, c1 in merges:
        if r0 < rows and c0 < columns and r1 >= r0 and c1 >= c0:
            covered += (min(r1, rows - 1) - r0 + 1) * (min(c1, columns - 1) - c0 + 1)
    if covered > limits.cells:
        return (f"{where}的合并单元格共覆盖 {covered:,} 个单元格，超过 {limits.cells:,} 个的上限"
                f"（{len(merges):,} 个合并区域）")
    return None


def cell_problem(where: str, chars: int, limits: Limits) -> str | None:
    if chars > limits.cell_chars:
        return f"{where}有一个单元格的文字长达 {chars:,} 个字符，超过 Excel 的上限 {limits.cell_chars:,} 个"
    return None
