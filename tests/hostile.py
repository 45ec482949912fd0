"""Hostile files, built in the test: workbooks written part by part with zipfile (so a cell can
sit at XFD1048576, a merged range can cover the sheet, a string can be 50 million characters),
and CSVs of a million rows. Nothing here is stored in the repository."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '{overrides}</Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>单位</t></is></c>' \
         '<c r="B1" t="inlineStr"><is><t>累计参保人数</t></is></c></row>'
DATA = '<row r="2"><c r="A2" t="inlineStr"><is><t>城区</t></is></c><c r="B2"><v>5</v></c></row>'


def cell(ref: str, value: object, shared: bool = False) -> str:
    """One cell: a number, an inline string, or (shared=True) an index into the shared strings."""
    if shared:
        return f'<c r="{ref}" t="s"><v>{value}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def sheet(rows: str = HEADER + DATA, merges: Sequence[str] = (), dimension: str = "A1:B2",
          padding: str = "") -> str:
    """A worksheet part: `rows` is the XML inside <sheetData>; merges are refs like A1:XFD1048576."""
    merged = (f'<mergeCells count="{len(merges)}">'
              + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>") if merges else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><dimension ref="{dimension}"/>'
            f"<sheetData>{padding}{rows}</sheetData>{merged}</worksheet>")


def workbook(sheets: Sequence[str] = (), shared: Sequence[str] | None = None,
             names: Sequence[str] | None = None, level: int = 6) -> bytes:
    """An .xlsx from worksheet parts (default: one small report) and optional shared strings."""
    sheets = list(sheets) or [sheet()]
    names = list(names or [f"Sheet{i}" for i in range(1, len(sheets) + 1)])
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1))
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1))
    if shared is not None:
        overrides += ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                      'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels += f'<Relationship Id="rIdS" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    book = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            + "".join(f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, n in enumerate(names, 1))
            + "</sheets></workbook>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.format(overrides=overrides))
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", book)
        archive.writestr("xl/_rels/workbook.xml.rels",
                         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                         f'relationships">{rels}</Relationships>')
        for i, part in enumerate(sheets, 1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", part)
        if shared is not None:
            archive.writestr("xl/sharedStrings.xml", _shared(shared))
    return buffer.getvalue()


def _shared(strings: Iterable[str]) -> str:
    items = list(strings)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="{_MAIN}" count="{len(items)}" uniqueCount="{len(items)}">'
            + "".join(f"<si><t>{escape(s)}</t></si>" for s in items) + "</sst>")


def far_cell() -> bytes:
    """The 2 KB file of the issue: a report with one more cell, at XFD1048576."""
    return workbook([sheet(HEADER + DATA + '<row r="1048576">' + cell("XFD1048576", 1) + "</row>",
                           dimension="A1:XFD1048576")])


def far_xls_cell() -> bytes:
    """The old format's farthest cell, IV65536: no XML to inspect, and calamine builds the whole
    16.7-million-cell range (512 MB) when it opens the file."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Sheet1")
    for r, row in enumerate([["单位", "累计参保人数"], ["城区", 5]]):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    ws.write(65535, 255, 1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def far_cell_and_merges(merges: int = 1000) -> bytes:
    """The 25 KB file of the issue: a far cell and ranges merged over the whole sheet."""
    return workbook([sheet(HEADER + DATA + '<row r="1048576">' + cell("XFD1048576", 1) + "</row>",
                           merges=[f"A{i}:XFD1048576" for i in range(1, merges + 1)],
                           dimension="A1:XFD1048576")])


def merged_over_the_sheet(merges: int, rows: int = 50) -> bytes:
    """A small report (no far cell) whose merged ranges each cover the whole sheet."""
    data = "".join(f'<row r="{r}">{cell(f"A{r}", f"单位{r}")}{cell(f"B{r}", r)}</row>'
                   for r in range(2, rows + 2))
    return workbook([sheet(HEADER + data, merges=[f"C{i}:XFD1048576" for i in range(1, merges + 1)],
                           dimension=f"A1:B{rows + 1}")])


def long_shared_string(chars: int, text: str | None = None) -> bytes:
    """A report whose unit cell is a shared string of `chars` characters (城城城…, which
    compresses a thousandfold, or the given text)."""
    rows = (HEADER + '<row r="2">' + cell("A2", 0, shared=True) + cell("B2", 5) + "</row>")
    return workbook([sheet(rows)], shared=[text if text is not None else "城" * chars], level=1)


def random_text(chars: int) -> str:
    """Text that does not compress into a bomb (2 bits a character): a 50-million-character
    cell then fits a 20 MB upload with an ordinary compression ratio."""
    return os.urandom(chars).translate(_FOUR_LETTERS).decode("ascii")


_FOUR_LETTERS = bytes(b"abcd"[i % 4] for i in range(256))


def long_inline_string(chars: int) -> bytes:
    rows = HEADER + '<row r="2">' + cell("A2", "区" * chars) + cell("B2", 5) + "</row>"
    return workbook([sheet(rows)])


def zip_bomb(megabytes: int = 40) -> bytes:
    """A sheet padded with white space (legal between elements): tens of MB from tens of KB."""
    return workbook([sheet(padding=" " * (megabytes * 1024 * 1024))], level=9)


def lying_zip(megabytes: int = 40) -> bytes:
    """zip_bomb with the sheet's uncompressed size in the ZIP directory rewritten to 1 KB."""
    content = bytearray(zip_bomb(megabytes))
    archive = zipfile.ZipFile(io.BytesIO(bytes(content)))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    lie = (1024).to_bytes(4, "little")
    content[info.header_offset + 22: info.header_offset + 26] = lie       # local header
    directory = content.find(b"PK\x01\x02")
    while directory != -1:
        name_length = int.from_bytes(content[directory + 28: directory + 30], "little")
        if content[directory + 46: directory + 46 + name_length] == info.filename.encode():
            content[directory + 24: directory + 28] = lie                  # central directory
            break
        directory = content.find(b"PK\x01\x02", directory + 4)
    return bytes(content)


def csv_rows(rows: int, line: bytes = "城区,1\r\n".encode()) -> bytes:
    """A report CSV of `rows` identical data rows (a million: 9 MB, built in milliseconds)."""
    return "单位,累计参保人数\r\n".encode() + line * rows


def unknown_names(rows: int = 20_000) -> bytes:
    """A report of units that do not exist (the 458 KB file of the issue)."""
    lines = [f"不存在的单位{i:05d}村,{i}" for i in range(rows)]
    return ("单位,累计参保人数\r\n" + "\r\n".join(lines) + "\r\n").encode()
