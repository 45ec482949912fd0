"""Spreadsheets in every shape people send, built in the test (no binary fixtures).

A table is a list of rows (lists of cell values, "" or None for empty); `merges` are
(first_row, first_col, last_row, last_col) with the value taken from the top-left cell.
`FORMATS` turns one table into each file format the reader must accept.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Sequence

import xlsxwriter
import xlwt

Table = Sequence[Sequence[object]]
Merge = tuple[int, int, int, int]


def xlsx(rows: Table, merges: Sequence[Merge] = (), sheet: str = "Sheet1") -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = book.add_worksheet(sheet)
    covered = _covered(merges)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value not in (None, "") and (r, c) not in covered:
                ws.write(r, c, value)
    for r0, c0, r1, c1 in merges:
        ws.merge_range(r0, c0, r1, c1, rows[r0][c0])
    book.close()
    return buffer.getvalue()


def xls(rows: Table, merges: Sequence[Merge] = (), sheet: str = "Sheet1") -> bytes:
    """Old Excel (BIFF8), as WPS and Excel 2003 save it; written with xlwt."""
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet(sheet)
    covered = _covered(merges)
    for r0, c0, r1, c1 in merges:
        ws.write_merge(r0, r1, c0, c1, rows[r0][c0])
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value not in (None, "") and (r, c) not in covered:
                ws.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _covered(merges: Sequence[Merge]) -> set[tuple[int, int]]:
    return {(r, c) for r0, c0, r1, c1 in merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}


def csv_text(rows: Table, delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(
        [["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue()


def html_table(rows: Table, merges: Sequence[Merge] = (), encoding: str = "utf-8") -> bytes:
    """What web systems "export to Excel": an HTML table saved as .xls."""
    starts = {(r0, c0): (r1 - r0 + 1, c1 - c0 + 1) for r0, c0, r1, c1 in merges}
    covered = _covered(merges) - set(starts)
    out = ['<html><head><meta charset="%s"></head><body><table border="1">' % encoding]
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            if (r, c) in covered:
                continue
            span = starts.get((r, c))
            attrs = f' rowspan="{span[0]}" colspan="{span[1]}"' if span else ""
            cells.append(f"<td{attrs}>{html.escape('' if value is None else str(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></body></html>")
    return "\n".join(out).encode(encoding)


FORMATS: dict[str, Callable[[Table, Sequence[Merge]], bytes]] = {
    "xlsx": xlsx,
    "xls": xls,
    "html-xls": html_table,
    "csv-utf8": lambda rows, merges=(): csv_text(rows).encode("utf-8"),
    "csv-utf8-bom": lambda rows, merges=(): csv_text(rows).encode("utf-8-sig"),
    "csv-gbk": lambda rows, merges=(): csv_text(rows).encode("gbk"),
    "csv-gb18030": lambda rows, merges=(): csv_text(rows).encode("gb18030"),
    "csv-utf16": lambda rows, merges=(): csv_text(rows, "\t").encode("utf-16"),
    "csv-utf16le-no-bom": lambda rows, merges=(): csv_text(rows, "\t").encode("utf-16-le"),
    "csv-semicolon": lambda rows, merges=(): csv_text(rows, ";").encode("utf-8"),
}
MERGE_FORMATS = ("xlsx", "xls", "html-xls")   # formats that can carry merged cells


def ods(rows: Table, merges: Sequence[Merge] = ()) -> bytes:
    """A minimal OpenDocument spreadsheet (LibreOffice, WPS), zipped by hand."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(value: object) -> str:
        if value in (None, ""):
            return "<table:table-cell/>"
        if isinstance(value, (int, float)):
            return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>")
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
                   for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Sheet1">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


FORMATS["ods"] = ods
