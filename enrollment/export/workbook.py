"""The Excel 通报表 (xlsxwriter): one ranked sheet per level, ready to print and to edit.

Each level sheet (the level asked for, and other levels with tasks): a title and a line with the date, week, 序时进度 and data source; the header;
one row per unit, best completion first, with target, enrolled, completion, 序时进度, gap to the
序时目标, week change and status; behind units filled red and units that did not report this
week grey (cell formats, not conditional formatting, so WPS and old Excel show them and the
colours survive copying); a 合计 row with formulas (so edits by the clerk add up) and their
values; notes. Print set-up: A4 landscape, title and header rows repeated on every page, fitted
to one page wide, page numbers in the footer. Rates are real percentages (0.7115 shown as
71.15%), so they can be computed with.
"""

from __future__ import annotations

import io

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ..labels import COLUMN_LABELS, DEMO_BADGE, LEVEL_LABELS, STATUS_LABELS, zone_label
from ..metrics import groups, money, overview, reporting
from ..text import xlsx_workbook
from . import monthly
from .model import ExportData, cn_date, percent

BEHIND_FILL, BEHIND_FONT = "#FDE2E1", "#8B0000"
MISSING_FILL, MISSING_FONT = "#EEEEEE", "#555555"
HEADER_FILL = "#DCE6F1"
TITLE_ROW, LINE_ROW, HEADER_ROW = 0, 1, 2
FIRST_DATA_ROW = HEADER_ROW + 1

NUMBER_FORMATS = {
    "int": "#,##0",
    "signed": "+#,##0;-#,##0;0",
    "pct": "0.00%",
    "pp": "+0.00;-0.00;0.00",
    "date": "yyyy-mm-dd",
    "text": "@",
    "rank": "0",
    "money": "#,##0.00",
}


class _Formats:
    """xlsxwriter formats by (kind, row style), made once per workbook."""

    def __init__(self, book: xlsxwriter.Workbook):
        self.book = book
        self._made: dict[tuple, object] = {}
        self.base = {"font_name": "宋体", "font_size": 11, "border": 1, "border_color": "#BFBFBF",
                     "valign": "vcenter"}

    def get(self, kind: str, style: str = "", **extra):
        key = (kind, style, tuple(sorted(extra.items())))
        if key not in self._made:
            props = dict(self.base, num_format=NUMBER_FORMATS.get(kind, "General"), **extra)
            if kind in ("rank", "date") or kind == "status":
                props["align"] = "center"
            if style == "behind":
                props.update(bg_color=BEHIND_FILL, font_color=BEHIND_FONT)
            elif style == "not_reported":
                props.update(bg_color=MISSING_FILL, font_color=MISSING_FONT)
            elif style == "total":
                props.update(bold=True, top=2)
            if kind == "status" and style == "behind":
                props["bold"] = True
            self._made[key] = self.book.add_format(props)
        return self._made[key]


def _display_width(value) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _shown_width(value, kind: str) -> int:
    """Width of the value as Excel shows it with the column's number format."""
    if value is None:
        return 0
    if kind in ("pct",):
        return 8
    if kind == "pp":
        return 7
    if kind == "date":
        return 11
    if isinstance(value, (int, float)):
        return len(f"{value:+,.0f}")
    return _display_width(value)


def _columns(data: ExportData, level: str) -> list[tuple[str, str, str]]:
    """(header, field, kind) of a level sheet; a 所属 column when the level is two below the scope."""
    cols = [("排名", "rank", "rank"), ("单位", "name", "text")]
    depth = int(data.frames[level]["depth"].iloc[0]) if len(data.frames[level]) else 0
    if depth - int(data.scope["depth"]) > 1:
        parent_level = data.levels[data.levels.index(level) - 1]
        cols.append((f"所属{LEVEL_LABELS.get(parent_level, parent_level)}", "parent", "text"))
    cols += [
        (COLUMN_LABELS["target"], "target", "int"),
        (COLUMN_LABELS["enrolled"], "enrolled", "int"),
        (COLUMN_LABELS["completion"], "completion", "pct"),
        (COLUMN_LABELS["time_progress"], "time_progress", "pct"),
        (COLUMN_LABELS["gap_pp"], "gap_pp", "pp"),
        (COLUMN_LABELS["week_delta"], "week_delta", "signed"),
        (COLUMN_LABELS["status"], "status", "status"),
    ]
    if data.money:
        cols += [(COLUMN_LABELS["amount"], "amount", "money"),
                 (COLUMN_LABELS["expected_amount"], "expected_amount", "money"),
                 (COLUMN_LABELS["amount_share"], "amount_share", "pct")]
    cols.append((COLUMN_LABELS["report_date"], "report_date", "date"))
    return cols


def _value(row: dict, field: str, data: ExportData):
    if field == "parent":
        return data.parents.get(row["parent_code"], "")
    if field == "time_progress":       # the unit's own window, where it has one
        own = row.get("time_progress")
        return float(data.result.time_progress) if own is None or pd.isna(own) else float(own)
    if field == "status":
        return STATUS_LABELS.get(row["status"], row["status"])
    value = row.get(field)
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return None
    if field == "report_date":
        return pd.Timestamp(value).to_pydatetime()
    if field in ("completion", "gap_pp", "amount", "expected_amount", "amount_share"):
        return float(value)
    if field in ("target", "enrolled", "week_delta", "rank"):
        return int(value)
    return value


def sheet_frame(data: ExportData, level: str) -> pd.DataFrame:
    """A level sheet's rows as written (rates as fractions), for previews and checks."""
    cols = _columns(data, level)
    rows = [[_value(r, field_, data) for _, field_, _ in cols]
            for r in data.frames[level].to_dict("records")]
    return pd.DataFrame(rows, columns=[c[0] for c in cols])


def _title(data: ExportData, what: str) -> str:
    tag = f"【{DEMO_BADGE}】" if data.demo else ""
    return f"{tag}{data.scope['name']}{data.year_programme}参保进度通报表（{what}）"


def _line(data: ExportData) -> str:
    c = data.calendar
    extended = "（已延长）" if data.extension and c.end == data.campaign.end else ""
    return (f"{data.when}　集中参保期 {cn_date(c.start)}至{cn_date(c.end)}{extended}　"
            f"目标参保率 {c.goal:.0%}　"
            f"序时进度 {percent(float(data.result.time_progress))}　"
            f"序时目标 {percent(float(data.result.pace))}　{data.source_note}")


def _print_setup(ws, repeat_to: int) -> None:
    ws.set_paper(9)                 # A4
    ws.set_landscape()
    ws.repeat_rows(TITLE_ROW, repeat_to)
    ws.fit_to_pages(1, 0)           # one page wide, as many pages tall as needed
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")


def _heading(ws, fmts: _Formats, title: str, line: str, headers: list[str]) -> None:
    last = len(headers) - 1
    ws.merge_range(TITLE_ROW, 0, TITLE_ROW, last, title,
                   fmts.get("title", "", bold=True, font_size=16, align="center", border=0,
                            font_name="黑体"))
    ws.set_row(TITLE_ROW, 30)
    ws.merge_range(LINE_ROW, 0, LINE_ROW, last, line,
                   fmts.get("line", "", font_size=10, border=0, align="left",
                            font_color="#444444"))
    ws.set_row(LINE_ROW, 20)
    header = fmts.get("header", "", bold=True, bg_color=HEADER_FILL, align="center",
                      text_wrap=True)
    for col, text in enumerate(headers):
        ws.write_string(HEADER_ROW, col, text, header)
    ws.set_row(HEADER_ROW, 34)


def _level_sheet(book, fmts: _Formats, data: ExportData, level: str) -> None:
    frame = data.frames[level]
    label = LEVEL_LABELS.get(level, level)
    ws = book.add_worksheet(label[:31])
    cols = _columns(data, level)
    _heading(ws, fmts, _title(data, f"各{label}"), _line(data), [c[0] for c in cols])
    widths = [min(_display_width(c[0]), 12) for c in cols]   # headers wrap
    records = frame.to_dict("records")
    for i, row in enumerate(records):
        r = FIRST_DATA_ROW + i
        style = row["status"] if row["status"] in ("behind", "not_reported") else ""
        for c, (_, field_, kind) in enumerate(cols):
            value = _value(row, field_, data)
            fmt = fmts.get(kind, style)
            if value is None:
                ws.write_blank(r, c, None, fmt)
            elif kind == "date":
                ws.write_datetime(r, c, value, fmt)
            elif isinstance(value, str):
                ws.write_string(r, c, value, fmt)
            else:
                ws.write_number(r, c, value, fmt)
            widths[c] = max(widths[c], _shown_width(value, kind))
    total_row = FIRST_DATA_ROW + len(records)
    _totals(ws, fmts, data, cols, records, total_row)
    notes = [
        "注：1. 完成率 = 累计参保人数 ÷ 任务数；序时进度 = 集中参保期开始至截至日的天数 ÷ 集中参保期天数（首尾两天都计入）；"
        f"序时目标 = {data.campaign.goal:.0%} × 序时进度。",
        "2. 与序时目标差距 = 完成率 − 序时目标，单位为百分点；状态：完成率达到目标为已达标，不低于序时目标为进度正常，"
        "低于序时目标为进度落后（标红），本周没有上报为未上报（灰色，数字为最近一次上报）。",
        "3. 排名按完成率从高到低；未录入任务数的单位不参加排名。",
    ]
    if data.money:
        notes.append(f"{len(notes) + 1}. 征缴金额为各单位上报的累计缴费金额；应缴金额 = 累计参保人数 × 缴费标准"
                     f"（{money.basis(data.campaign.terms)}）；征缴金额占应缴比例 = 征缴金额 ÷ 应缴金额。")
    if note := overview.window_note(data.result, frame):
        notes.append(f"{len(notes) + 1}. {note}。")
    note_fmt = fmts.get("note", "", border=0, font_size=9, text_wrap=True, valign="top")
    for k, text in enumerate(notes):
        r = total_row + 2 + k
        ws.merge_range(r, 0, r, len(cols) - 1, text, note_fmt)
        ws.set_row(r, 28)
    for c, width in enumerate(widths):
        ws.set_column(c, c, min(max(width + 2, 8), 40))
    ws.freeze_panes(FIRST_DATA_ROW, 2)
    if records:
        ws.autofilter(HEADER_ROW, 0, total_row - 1, len(cols) - 1)
    _print_setup(ws, HEADER_ROW)


def _totals(ws, fmts: _Formats, data: ExportData, cols, records, r: int) -> None:
    """合计: formulas over the rows above (kept with their values for readers without Excel)."""
    frame = pd.DataFrame(records)
    first, last = FIRST_DATA_ROW, r - 1
    where = {field_: c for c, (_, field_, _) in enumerate(cols)}

    def cell(field_: str) -> str:
        return xl_rowcol_to_cell(r, where[field_])

    def column_sum(field_: str) -> tuple[str, int | None]:
        c = where[field_]
        values = frame[field_].dropna() if len(frame) else []
        total = int(sum(int(v) for v in values)) if len(values) else None
        return (f"=SUM({xl_rowcol_to_cell(first, c)}:{xl_rowcol_to_cell(last, c)})", total)

    for c, (_, field_, kind) in enumerate(cols):
        fmt = fmts.get(kind, "total")
        if field_ == "name":
            ws.write_string(r, c, "合计", fmt)
        elif field_ in ("target", "enrolled", "week_delta") and records:
            formula, total = column_sum(field_)
            ws.write_formula(r, c, formula, fmt, total if total is not None else 0)
        elif field_ in ("amount", "expected_amount") and records:
            values = frame[field_].dropna() if len(frame) else []
            total = round(float(sum(float(v) for v in values)), 2)
            c0 = where[field_]
            ws.write_formula(r, c, f"=SUM({xl_rowcol_to_cell(first, c0)}:{xl_rowcol_to_cell(last, c0)})",
                             fmt, total)
        elif field_ == "amount_share" and records:
            amount = frame["amount"].dropna().astype(float).sum() if len(frame) else 0
            expected = frame["expected_amount"].dropna().astype(float).sum() if len(frame) else 0
            ws.write_formula(r, c, f'=IF(N({cell("expected_amount")})>0,'
                                   f'{cell("amount")}/{cell("expected_amount")},"")',
                             fmt, amount / expected if expected else "")
        elif field_ == "completion" and records:
            _, target = column_sum("target")
            _, enrolled = column_sum("enrolled")
            value = enrolled / target if target and enrolled is not None else ""
            ws.write_formula(r, c, f'=IF(N({cell("target")})>0,{cell("enrolled")}/{cell("target")},"")',
                             fmt, value)
        elif field_ == "time_progress":      # the scope's own (the 合计 row is the scope)
            ws.write_number(r, c, float(data.result.time_progress), fmt)
        elif field_ == "gap_pp" and records:
            _, target = column_sum("target")
            _, enrolled = column_sum("enrolled")
            pace = float(data.result.pace)
            value = (enrolled / target - pace) * 100 if target and enrolled is not None else ""
            ws.write_formula(r, c, f'=IF({cell("completion")}="","",({cell("completion")}-{pace!r})*100)',
                             fmt, value)
        elif field_ == "status":
            ws.write_string(r, c, _total_status(data, frame), fmt)
        else:
            ws.write_blank(r, c, None, fmt)


def _total_status(data: ExportData, frame: pd.DataFrame) -> str:
    """The scope's status when the rows add up to the scope's own figures, else nothing."""
    scope = data.scope
    if frame.empty or pd.isna(scope["target"]) or pd.isna(scope["enrolled"]):
        return ""
    same = (frame["target"].dropna().sum() == scope["target"]
            and frame["enrolled"].dropna().sum() == scope["enrolled"])
    return STATUS_LABELS.get(scope["status"], "") if same else ""


def _reporting_sheet(book, fmts: _Formats, data: ExportData) -> None:
    status = data.week_status
    label = LEVEL_LABELS.get(data.level, data.level)
    ws = book.add_worksheet("上报情况")
    headers = ["单位", "本周上报", "首次上报时间", "上报人", "最近上报日期"]
    deadline = data.campaign.deadline(data.as_of)
    line = (f"第{data.week}周上报截止时间 {deadline:%Y-%m-%d %H:%M}（{zone_label(deadline.tzinfo)}）　"
            f"{data.source_note}")
    _heading(ws, fmts, _title(data, f"各{label}本周上报情况"), line, headers)
    table = _reporting_rows(status)
    widths = [_display_width(h) for h in headers]
    for i, row in enumerate(table.itertuples(index=False)):
        r = FIRST_DATA_ROW + i
        style = "behind" if row[1] == reporting.MISSING else (
            "not_reported" if row[1] == reporting.LATE else "")
        for c, value in enumerate(row):
            ws.write_string(r, c, "" if value is None else str(value), fmts.get("text", style))
            widths[c] = max(widths[c], _display_width(value))
    for c, width in enumerate(widths):
        ws.set_column(c, c, min(max(width + 2, 10), 40))
    ws.freeze_panes(FIRST_DATA_ROW, 1)
    _print_setup(ws, HEADER_ROW)


def _reporting_rows(status: pd.DataFrame) -> pd.DataFrame:
    from ..metrics.overview import reporting_table

    return reporting_table(status) if len(status) else pd.DataFrame(
        columns=["单位", "本周上报", "上报时间", "上报人", "最近上报日期"])


def _low_income_sheet(book, fmts: _Formats, data: ExportData) -> bool:
    frame = data.units[data.units["low_income_target"].notna()]
    if frame.empty:
        return False
    ws = book.add_worksheet("低收入人口")
    headers = ["单位", COLUMN_LABELS["low_income_target"], COLUMN_LABELS["low_income_enrolled"],
               COLUMN_LABELS["low_income_completion"], "未参保人数"]
    _heading(ws, fmts, _title(data, "低收入人口参保情况"),
             f"{data.when}　低收入人口（含稳定脱贫人口）参保率要求 100%　{data.source_note}", headers)
    frame = frame.sort_values("low_income_completion", na_position="first")
    for i, row in enumerate(frame.to_dict("records")):
        r = FIRST_DATA_ROW + i
        rate = row["low_income_completion"]
        style = "behind" if pd.isna(rate) or rate < 1 else ""
        enrolled = row["low_income_enrolled"]
        ws.write_string(r, 0, row["name"], fmts.get("text", style))
        ws.write_number(r, 1, int(row["low_income_target"]), fmts.get("int", style))
        if pd.isna(enrolled):
            ws.write_blank(r, 2, None, fmts.get("int", style))
            ws.write_blank(r, 3, None, fmts.get("pct", style))
        else:
            ws.write_number(r, 2, int(enrolled), fmts.get("int", style))
            ws.write_number(r, 3, float(rate), fmts.get("pct", style))
        missing = int(row["low_income_target"]) - (0 if pd.isna(enrolled) else int(enrolled))
        ws.write_number(r, 4, max(missing, 0), fmts.get("int", style))
    for c, width in enumerate((16, 18, 20, 18, 12)):
        ws.set_column(c, c, width)
    ws.freeze_panes(FIRST_DATA_ROW, 1)
    _print_setup(ws, HEADER_ROW)
    return True


def _groups_sheet(book, fmts: _Formats, data: ExportData) -> bool:
    """分类人群: each group in each unit of the level, against its goal; below the goal red."""
    frame = data.level_groups
    if frame.empty:
        return False
    ws = book.add_worksheet("分类人群")
    headers = ["分类人群", "单位", "目标人数", "已参保人数", "参保率", "目标参保率", "还差人数", "状态"]
    label = LEVEL_LABELS.get(data.level, data.level)
    _heading(ws, fmts, _title(data, f"各{label}分类人群参保情况"),
             f"{data.when}　目标人数来自目标任务表，参保人数来自各单位上报　{data.source_note}", headers)
    order = {g.key: i for i, g in enumerate(data.campaign.terms.groups)}
    frame = frame.assign(_g=frame["group_key"].map(order)).sort_values(
        ["_g", "completion"], na_position="first", kind="stable")
    for i, row in enumerate(frame.to_dict("records")):
        r = FIRST_DATA_ROW + i
        style = "behind" if row["status"] == groups.BELOW else ""
        values = [(row["group"], "text"), (row["name"], "text"), (row["population"], "int"),
                  (row["enrolled"], "int"), (row["completion"], "pct"),
                  (None if row["goal"] is None or pd.isna(row["goal"]) else float(row["goal"]), "pct"),
                  (row["missing"], "int"), (row["status"], "text")]
        for c, (value, kind) in enumerate(values):
            fmt = fmts.get(kind, style)
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                ws.write_blank(r, c, None, fmt)
            elif isinstance(value, str):
                ws.write_string(r, c, value, fmt)
            else:
                ws.write_number(r, c, float(value) if kind == "pct" else int(value), fmt)
    for c, width in enumerate((16, 22, 11, 12, 10, 11, 10, 14)):
        ws.set_column(c, c, width)
    ws.freeze_panes(FIRST_DATA_ROW, 2)
    _print_setup(ws, HEADER_ROW)
    return True


MONTH_KINDS = {"排名": "rank", "上月排名": "rank", "任务数": "int", "月初累计参保人数": "int",
               "月末累计参保人数": "int", "本月新增": "signed", "月初完成率": "pct", "月末完成率": "pct",
               "完成率变化（百分点）": "pp", "排名变化": "signed", "低于序时目标的周数": "int",
               "按时上报（周）": "int", "逾期上报（周）": "int", "未上报（周）": "int"}


def _month_sheet(book, fmts: _Formats, data: ExportData) -> None:
    """本月情况: the month's change, ranks then and now, weeks behind and reporting record,
    then each week's reporting status (monthly.py)."""
    frame = monthly.table(data).join(monthly.weekly_table(data).drop(columns="单位"))
    ws = book.add_worksheet("本月情况")
    headers = list(frame.columns)
    month = data.month
    line = (f"{data.when}　月初为{cn_date(month.previous_as_of) if month.previous_as_of else '集中参保期开始'}"
            f"　排名变化为正表示上升　{data.source_note}")
    _heading(ws, fmts, _title(data, f"{month.label}各{LEVEL_LABELS.get(data.level, data.level)}进度"),
             line, headers)
    behind = list(month.units["behind_every_week"])
    for i, row in enumerate(frame.itertuples(index=False)):
        r = FIRST_DATA_ROW + i
        style = "behind" if behind[i] else ""
        for c, (header, value) in enumerate(zip(headers, row)):
            kind = MONTH_KINDS.get(header, "text")
            if value is None or pd.isna(value):
                ws.write_blank(r, c, None, fmts.get(kind, style))
            elif kind == "text":
                ws.write_string(r, c, str(value), fmts.get("text", style))
            else:
                ws.write_number(r, c, float(value) if kind in ("pct", "pp") else int(value),
                                fmts.get(kind, style))
    for c, header in enumerate(headers):
        ws.set_column(c, c, min(max(_display_width(header) // 2 + 4, 10), 26))
    ws.set_column(1, 1, 14)
    ws.freeze_panes(FIRST_DATA_ROW, 2)
    _print_setup(ws, HEADER_ROW)


def sheet_levels(data: ExportData) -> list[str]:
    """The levels that get a sheet: the level asked for, and every other level below the scope
    with at least one task (a level whose units all lack one would print pages of
    「目标未录入」: 1,729 villages, 46 pages, for Jincheng)."""
    return [lv for lv in data.levels
            if lv == data.level or (data.frames[lv]["status"] != "no_target").any()]


def build(data: ExportData) -> bytes:
    """The 通报表 workbook of the export."""
    buffer = io.BytesIO()
    book = xlsx_workbook(buffer)
    book.set_properties({"title": _title(data, LEVEL_LABELS.get(data.level, data.level)),
                         "subject": data.when, "comments": data.source_note})
    fmts = _Formats(book)
    levels = sheet_levels(data)
    for level in levels:
        _level_sheet(book, fmts, data, level)
    book.worksheets()[levels.index(data.level)].activate()
    _reporting_sheet(book, fmts, data)
    _low_income_sheet(book, fmts, data)
    _groups_sheet(book, fmts, data)
    if data.month is not None:
        _month_sheet(book, fmts, data)
    book.close()
    return buffer.getvalue()
