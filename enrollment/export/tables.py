"""Progress as tables for people: Chinese headers, one shape for the page, the CLI and exports."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pandas as pd

from .. import settings
from ..labels import (
    COLUMN_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    TARGET_COLUMN_LABELS,
    TARGET_SET_STATUS,
    TARGET_SOURCE_LABELS,
)
from ..text import XLSX_OPTIONS, csv_bytes

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
    if "set_id" in frame:
        out[labels["set_id"]] = frame["set_id"].astype("Int64")
    return out.reset_index(drop=True)


def target_history(frame: pd.DataFrame) -> pd.DataFrame:
    """Versions of the target tables, newest first, times in local time."""
    labels = TARGET_COLUMN_LABELS
    tz = ZoneInfo(settings.timezone())
    created = pd.to_datetime(frame["created_at"]).dt.tz_localize("UTC").dt.tz_convert(tz)
    return pd.DataFrame({
        labels["set_id"]: frame["set_id"].astype("Int64"),
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


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV that Excel opens with Chinese intact (UTF-8 with BOM); formula-like cells neutralised."""
    return csv_bytes(table)


def to_xlsx_bytes(table: pd.DataFrame, sheet: str = "参保进度") -> bytes:
    """A one-sheet workbook of the table, header bold and frozen, behind rows red."""
    buffer = io.BytesIO()
    sheet = sheet[:31]
    with pd.ExcelWriter(buffer, engine="xlsxwriter",
                        engine_kwargs={"options": XLSX_OPTIONS}) as writer:
        table.to_excel(writer, sheet_name=sheet, index=False)
        book, ws = writer.book, writer.sheets[sheet]
        ws.freeze_panes(1, 0)
        red = book.add_format({"bg_color": "#FDE2E1", "font_color": "#8B0000"})
        status = COLUMN_LABELS["status"]
        if status in table.columns:
            col = table.columns.get_loc(status)
            letter = chr(ord("A") + col)
            ws.conditional_format(1, 0, len(table), len(table.columns) - 1, {
                "type": "formula", "criteria": f'=${letter}2="{STATUS_LABELS["behind"]}"',
                "format": red})
        for i, name in enumerate(table.columns):
            ws.set_column(i, i, max(10, len(str(name)) * 2))
    return buffer.getvalue()
