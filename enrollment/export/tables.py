"""Progress as tables for people: Chinese headers, one shape for the page, the CLI and exports."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from .. import settings
from ..labels import (
    COLUMN_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    TARGET_COLUMN_LABELS,
    TARGET_SET_STATUS,
    TARGET_SOURCE_LABELS,
)
from ..text import csv_bytes, xlsx_workbook

BEHIND_STYLE = "background-color: #fde2e1; color: #8b0000; font-weight: 600"
NOT_REPORTED_STYLE = "background-color: #eeeeee; color: #555555"


def unit_table(frame: pd.DataFrame, time_progress: float | None = None,
               money: bool = False) -> pd.DataFrame:
    """One row per unit: numbers stay numbers (sortable); rates are percentages (0–100).

    序时进度 is each unit's own (its window) where the frame has it, else `time_progress`;
    `money` adds 征缴金额, 应缴金额 and the share collected."""
    out = pd.DataFrame({
        COLUMN_LABELS["code"]: frame["code"].astype(str),
        COLUMN_LABELS["name"]: frame["name"],
        COLUMN_LABELS["target"]: frame["target"],
        COLUMN_LABELS["enrolled"]: frame["enrolled"],
        COLUMN_LABELS["completion"]: frame["completion"] * 100,
    })
    if time_progress is not None:
        own = frame["time_progress"] if "time_progress" in frame else time_progress
        out[COLUMN_LABELS["time_progress"]] = own * 100
    out[COLUMN_LABELS["gap_pp"]] = frame["gap_pp"]
    out[COLUMN_LABELS["week_delta"]] = frame["week_delta"]
    out[COLUMN_LABELS["status"]] = frame["status"].map(STATUS_LABELS)
    if money:
        out[COLUMN_LABELS["amount"]] = frame["amount"].astype("Float64")
        out[COLUMN_LABELS["expected_amount"]] = frame["expected_amount"].astype("Float64")
        out[COLUMN_LABELS["amount_share"]] = frame["amount_share"].astype("Float64") * 100
    out[COLUMN_LABELS["report_date"]] = pd.to_datetime(frame["report_date"]).dt.date
    return out.reset_index(drop=True)


def has_money(frame: pd.DataFrame) -> bool:
    """Whether any unit of the frame reported an amount collected."""
    return "amount" in frame and bool(frame["amount"].notna().any())


def highlight_behind(table: pd.DataFrame):
    """A Styler that marks 进度落后 rows red and 未上报 rows grey."""
    status = COLUMN_LABELS["status"]

    def row_style(row: pd.Series) -> list[str]:
        if row[status] == STATUS_LABELS["behind"]:
            return [BEHIND_STYLE] * len(row)
        if row[status] == STATUS_LABELS["not_reported"]:
            return [NOT_REPORTED_STYLE] * len(row)
        return [""] * len(row)

    return table.style.apply(row_style, axis=1).format(na_rep="—")


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with every number formatted, for the terminal."""
    pct = (COLUMN_LABELS["completion"], COLUMN_LABELS["time_progress"],
           COLUMN_LABELS["amount_share"])
    out = table.copy().astype(object)
    for column in table.columns:
        values = table[column]
        if column in pct:
            out[column] = values.map(lambda v: "" if pd.isna(v) else f"{v:.2f}%")
        elif column == COLUMN_LABELS["gap_pp"]:
            out[column] = values.map(lambda v: "" if pd.isna(v) else f"{v:+.2f}")
        elif pd.api.types.is_integer_dtype(values):
            out[column] = values.map(lambda v: "" if pd.isna(v) else f"{v:,}")
        elif column in (COLUMN_LABELS["amount"], COLUMN_LABELS["expected_amount"]):
            out[column] = values.map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
        else:
            out[column] = values.map(lambda v: "" if v is None or pd.isna(v) else v)
    return out


def target_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Current (or one version's) targets: unit, task, baseline and growth, populations."""
    labels = TARGET_COLUMN_LABELS
    out = pd.DataFrame({
        COLUMN_LABELS["code"]: frame["code"].astype(str),
        COLUMN_LABELS["name"]: frame["name"],
        labels["task"]: frame["task"].astype("Int64"),
        labels["baseline"]: frame["baseline"].astype("Int64"),
    })
    base = frame["baseline"].astype("Float64")
    out[labels["growth"]] = ((frame["task"].astype("Float64") - base) / base * 100).where(base > 0)
    for key in ("registered_population", "resident_population", "low_income"):
        out[labels[key]] = frame[key].astype("Int64")
    if "number" in frame:            # the version's number in the campaign (第 N 版)
        out[labels["set_id"]] = frame["number"].astype("Int64")
    return out.reset_index(drop=True)


def target_history(frame: pd.DataFrame) -> pd.DataFrame:
    """Versions of the target tables, newest first, times in local time."""
    labels = TARGET_COLUMN_LABELS
    tz = ZoneInfo(settings.timezone())
    created = pd.to_datetime(frame["created_at"]).dt.tz_localize("UTC").dt.tz_convert(tz)
    return pd.DataFrame({
        labels["set_id"]: frame["number"].astype("Int64"),
        labels["status"]: frame["status"].map(TARGET_SET_STATUS),
        labels["scope_name"]: frame["scope_name"],
        labels["level"]: frame["level"].map(lambda v: LEVEL_LABELS.get(v, v)),
        labels["units"]: frame["units"].astype("Int64"),
        labels["total_task"]: frame["total_task"].astype("Int64"),
        labels["source"]: frame["source"].map(lambda v: TARGET_SOURCE_LABELS.get(v, v)),
        labels["file_name"]: frame["file_name"].fillna(""),
        labels["created_by"]: frame["created_by"].fillna(""),
        labels["created_at"]: created.dt.strftime("%Y-%m-%d %H:%M"),
        labels["note"]: frame["note"].fillna(""),
    }).reset_index(drop=True)


def highlight_below(table: pd.DataFrame, column: str, threshold: float):
    """A Styler that marks rows whose `column` is below the threshold (or empty) red."""
    def row_style(row: pd.Series) -> list[str]:
        value = row[column]
        below = value is None or pd.isna(value) or value < threshold
        return [BEHIND_STYLE if below else ""] * len(row)

    return table.style.apply(row_style, axis=1).format(na_rep="—")


# How each column of a page's table is written to CSV and Excel, by its header: rates are
# percentages (0–100) on the page, real fractions with a % format in Excel; counts are whole.
RATE_COLUMNS = (COLUMN_LABELS["completion"], COLUMN_LABELS["time_progress"],
                COLUMN_LABELS["low_income_completion"])
POINT_COLUMNS = (COLUMN_LABELS["gap_pp"], "完成率变化（百分点）")
SIGNED_COLUMNS = (COLUMN_LABELS["week_delta"],)
XLSX_FORMATS = {"rate": "0.00%", "points": "+0.00;-0.00;0.00", "count": "#,##0",
                "signed": "+#,##0;-#,##0;0", "date": "yyyy-mm-dd", "text": "@"}


def column_kind(table: pd.DataFrame, column: str) -> str:
    """rate, points, signed, count, date or text: how a column's values are written."""
    if column in RATE_COLUMNS:
        return "rate"
    if column in POINT_COLUMNS:
        return "points"
    if column in SIGNED_COLUMNS:
        return "signed"
    values = table[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "count"
    if pd.api.types.is_datetime64_any_dtype(values) or values.map(
            lambda v: hasattr(v, "isoformat")).any():
        return "date"
    return "text"


def _csv_header(column: str, kind: str) -> str:
    return f"{column}（%）" if kind == "rate" else column


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV that Excel opens with Chinese intact (UTF-8 with BOM); formula-like cells neutralised.

    Rates as percentages rounded to two places under a header that says so (完成率（%）),
    points rounded to two places, counts as whole numbers, dates as YYYY-MM-DD.
    """
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        kind = column_kind(table, column)
        values = table[column]
        if kind in ("rate", "points"):
            values = pd.to_numeric(values, errors="coerce").astype("Float64").round(2)
        elif kind in ("count", "signed"):
            values = pd.to_numeric(values, errors="coerce").round().astype("Int64")
        elif kind == "date":
            values = pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m-%d")
        out[_csv_header(column, kind)] = values
    return csv_bytes(out)


def to_xlsx_bytes(table: pd.DataFrame, sheet: str = "参保进度") -> bytes:
    """A one-sheet workbook of the table: numbers as numbers with Excel formats (rates 0.00%,
    counts #,##0, points +0.00, dates yyyy-mm-dd), header bold and frozen, behind rows red."""
    buffer = io.BytesIO()
    book = xlsx_workbook(buffer)
    ws = book.add_worksheet(sheet[:31])
    base = {"font_name": "宋体", "font_size": 11}
    header = book.add_format({**base, "bold": True, "bg_color": "#DCE6F1", "text_wrap": True,
                              "align": "center", "valign": "vcenter", "border": 1})
    formats = {kind: book.add_format({**base, "num_format": spec})
               for kind, spec in XLSX_FORMATS.items()}
    kinds = [column_kind(table, c) for c in table.columns]
    for c, column in enumerate(table.columns):
        ws.write_string(0, c, str(column), header)
    for r, row in enumerate(table.itertuples(index=False), start=1):
        for c, (value, kind) in enumerate(zip(row, kinds)):
            fmt = formats[kind]
            if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
                ws.write_blank(r, c, None, fmt)
            elif kind == "rate":
                ws.write_number(r, c, float(value) / 100, fmt)
            elif kind == "points":
                ws.write_number(r, c, float(value), fmt)
            elif kind in ("count", "signed"):
                ws.write_number(r, c, int(round(float(value))), fmt)
            elif kind == "date":
                ws.write_datetime(r, c, pd.Timestamp(value).to_pydatetime(), fmt)
            else:
                ws.write_string(r, c, str(value), fmt)
    ws.freeze_panes(1, 0)
    ws.set_row(0, 32)
    red = book.add_format({"bg_color": "#FDE2E1", "font_color": "#8B0000"})
    status = COLUMN_LABELS["status"]
    if status in table.columns and len(table):
        letter = xl_col_to_name(table.columns.get_loc(status))
        ws.conditional_format(1, 0, len(table), len(table.columns) - 1, {
            "type": "formula", "criteria": f'=${letter}2="{STATUS_LABELS["behind"]}"',
            "format": red})
    for c, name in enumerate(table.columns):
        ws.set_column(c, c, max(10, min(len(str(name)) * 2, 24)))
    book.close()
    return buffer.getvalue()
