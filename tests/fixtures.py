"""Builders for test data: report files in the shapes people send, and stored reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import xlsxwriter

from enrollment.db import Store
from enrollment.uploads import ingest

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2021, 11, 19, 8, 0)    # 16:00 in Shanghai: on time for that Friday
TODAY = dt.date(2021, 12, 31)


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[object]], sheet: str = "Sheet1",
               merges: Iterable[tuple[int, int, int, int, object]] = ()) -> bytes:
    """An .xlsx with the rows from A1; merges are (first_row, first_col, last_row, last_col, value)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = book.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and value != "":
                ws.write(r, c, value)
    for r0, c0, r1, c1, value in merges:
        ws.merge_range(r0, c0, r1, c1, value)
    book.close()
    return buffer.getvalue()


def report_csv(figures: dict[str, int], unit_header: str = "单位代码") -> bytes:
    return csv_bytes([[unit_header, "累计参保人数"], *([k, v] for k, v in figures.items())])


def record(store: Store, campaign_id: str, day: dt.date, figures: dict[str, int],
           uploader: str = "测试", now: dt.datetime = NOW) -> ingest.Receipt:
    """Commit a report through the real upload path (codes as keys)."""
    return ingest.commit(store, campaign_id, report_csv(figures), f"{day}.csv", report_date=day,
                         uploader=uploader, accept_warnings=True, now=now, today=TODAY)


def dump(store: Store, audit: bool = False) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: for 'the database did not change' assertions.

    The audit log records attempts too (a rejected upload is logged), so it is left out unless
    `audit` asks for it.
    """
    with store.read() as con:
        tables = [r[0] for r in con.raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema = current_schema() ORDER BY table_name").fetchall()]
        if not audit:
            tables = [t for t in tables if t != "audit_log"]
        return {t: sorted(con.raw.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables}
