"""The upload template (上报模板): an .xlsx with the units pre-filled, so one column is filled in.

Title, a 填报单位/填报日期 line and an instructions row sit above the header, as in the sheets
people keep; the header uses the reader's own spellings, so the reader reads a filled template
back without guessing. A campaign with groups (分类人群) gets one column per group. Unit codes are written as text (Excel would show a 12-digit code as
1.40525E+11), and the count columns only accept whole numbers ≥ 0.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from .. import db
from ..campaigns import units
from ..campaigns.model import Campaign
from ..db import Session
from ..db.units import Unit
from ..labels import LEVEL_LABELS
from ..text import xlsx_workbook

HEADERS = ("序号", "单位代码", "单位名称", "上级单位", "任务数", "上次上报数", "累计参保人数",
           "缴费金额（元）", "低收入人口参保人数", "备注")
INPUT_COLUMNS = ("累计参保人数", "缴费金额（元）", "低收入人口参保人数", "备注")
INSTRUCTIONS = (
    "填写说明：只需在黄色的「累计参保人数」列填写截至填报日期的累计参保人数（整数，不要写「万」）；"
    "缴费金额、低收入人口参保人数、备注可以不填。请不要修改单位代码和单位名称，不要增删列；"
    "不需要上报的单位可以整行删除。填好后保存为 .xlsx，在「数据上报」页面上传。")
GROUP_INSTRUCTIONS = (
    "各类分类人群（如特困人员、低保对象）的参保人数填在各自一列，为累计参保人数的一部分；"
    "各类低收入人口之和即低收入人口参保人数，后者可不填。")
FILE_LEVEL_WORDS = {"city": "市", "county": "县区", "township": "乡镇街道", "community": "村社区"}
TITLE_ROW, LINE_ROW, NOTE_ROW, HEADER_ROW = 0, 1, 2, 3


class TemplateError(ValueError):
    """A scope or level the campaign does not have (message in Chinese)."""


@dataclass
class Template:
    content: bytes
    file_name: str
    scope_code: str
    scope_name: str
    level: str
    units: int


def report_level(tx: Session, campaign_id: str) -> str:
    """The level that reports: where the leaf targets are, else the first level below the top."""
    leaves = db.targets.leaf_targets(tx, campaign_id)
    if not leaves.empty:
        counts = leaves["level"].value_counts()
        levels = db.units.levels_by_depth(tx, campaign_id)
        return max(counts.index, key=lambda lv: (counts[lv], -levels.index(lv)))
    levels = db.units.levels_by_depth(tx, campaign_id)
    return levels[1] if len(levels) > 1 else levels[0]


def scopes(tx: Session, campaign_id: str, level: str,
           allowed: Iterable[str] | None = None) -> list[Unit]:
    """Units a template can be made for at a level: the top and every unit above that level.

    With `allowed` (a 填报员's units) only those of them at or above the level: a county's
    reporter gets the county's own one-row template at the county level.
    """
    levels = db.units.levels_by_depth(tx, campaign_id)
    if allowed is not None:
        upto = levels[: levels.index(level) + 1] if level in levels else levels
        found = (db.units.get(tx, campaign_id, code) for code in allowed)
        return [u for u in found if u is not None and u.level in upto]
    above = levels[: levels.index(level)] if level in levels else levels
    return db.units.at_levels(tx, campaign_id, above)


def resolve_scope(tx: Session, campaign_id: str, text: str | None) -> Unit:
    """A scope unit from a code or a name; the campaign's top unit when empty."""
    if not text:
        return db.units.root(tx, campaign_id)
    codes = units.index(tx, campaign_id).resolve(text)
    if len(codes) != 1:
        what = "对应多个单位" if codes else "不是本活动的单位"
        raise TemplateError(f"「{text}」{what}，请填写单位代码")
    return db.units.get(tx, campaign_id, codes[0])


def build(tx: Session, campaign: Campaign, scope: str | None = None,
          level: str | None = None, report_date: dt.date | None = None) -> Template:
    """The template for the units of `level` under `scope` (code or name; default: all)."""
    scope_unit = resolve_scope(tx, campaign.id, scope)
    levels = db.units.levels_by_depth(tx, campaign.id)
    level = level or report_level(tx, campaign.id)
    if level not in levels:
        raise TemplateError(f"该活动没有「{LEVEL_LABELS.get(level, level)}」层级，可选："
                            f"{'、'.join(LEVEL_LABELS.get(lv, lv) for lv in levels)}")
    rows = _units(tx, campaign.id, scope_unit.code, level, report_date)
    if not rows:
        raise TemplateError(f"「{scope_unit.name}」下没有「{LEVEL_LABELS.get(level, level)}」层级的单位")
    content = _workbook(campaign, scope_unit, level, rows, report_date)
    name = f"{campaign.name}_上报模板_{scope_unit.name}_{FILE_LEVEL_WORDS.get(level, level)}.xlsx"
    return Template(content, name, scope_unit.code, scope_unit.name, level, len(rows))


def _units(tx: Session, campaign_id: str, scope_code: str, level: str,
           report_date: dt.date | None) -> list[tuple]:
    """(code, name, parent name, task, last figure) of the level's units under the scope, in
    order; the last figure is the one that counts on or before the report date."""
    frame = db.units.under(tx, campaign_id, scope_code, level)
    tasks = db.targets.current_tasks(tx, campaign_id)
    last = db.reports.last_figures(tx, campaign_id, frame["code"], report_date)
    return [(r.code, r.name, None if pd.isna(r.parent_name) else r.parent_name, tasks.get(r.code),
             last[r.code][0] if r.code in last else None) for r in frame.itertuples()]


def group_columns(campaign: Campaign) -> list[tuple[str, bool]]:
    """(header, is an amount) of the template's group columns: each group's count, and its
    amount where it pays a contribution of its own; the reader knows these spellings."""
    out = []
    for g in campaign.terms.groups:
        if g.in_template:
            out.append((f"{g.name}参保人数", False))
            if g.contribution:
                out.append((f"{g.name}缴费金额（元）", True))
    return out


def _workbook(campaign: Campaign, scope: Unit, level: str, rows: list[tuple],
              report_date: dt.date | None = None) -> bytes:
    buffer = io.BytesIO()
    book = xlsx_workbook(buffer)
    book.set_properties({"title": f"{campaign.name} 上报模板", "comments": campaign.id})
    font = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
    title = book.add_format({**font, "bold": True, "font_size": 16, "align": "center"})
    plain = book.add_format(font)
    note = book.add_format({**font, "text_wrap": True, "font_color": "#7a4b00",
                            "bg_color": "#fff4d6", "border": 1})
    head = book.add_format({**font, "bold": True, "align": "center", "text_wrap": True,
                            "bg_color": "#d9e1f2", "border": 1})
    given = book.add_format({**font, "border": 1, "bg_color": "#f2f2f2"})
    given_text = book.add_format({**font, "border": 1, "bg_color": "#f2f2f2", "num_format": "@"})
    given_number = book.add_format({**font, "border": 1, "bg_color": "#f2f2f2", "num_format": "#,##0"})
    to_fill = book.add_format({**font, "border": 1, "bg_color": "#fffbe6", "num_format": "#,##0",
                               "locked": False})
    to_fill_money = book.add_format({**font, "border": 1, "bg_color": "#fffbe6",
                                     "num_format": "#,##0.00", "locked": False})
    to_fill_text = book.add_format({**font, "border": 1, "bg_color": "#fffbe6", "locked": False})

    sheet = book.add_worksheet("上报表")
    groups = group_columns(campaign)
    headers = list(HEADERS[:-1]) + [header for header, _ in groups] + [HEADERS[-1]]
    last_col = len(headers) - 1
    note_col = last_col
    sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, last_col, f"{campaign.name} 参保进度上报表", title)
    sheet.set_row(TITLE_ROW, 30)
    sheet.merge_range(LINE_ROW, 0, LINE_ROW, 4,
                      f"填报单位：{scope.name}（{LEVEL_LABELS.get(level, level)}）", plain)
    # The date chosen for the report (the figures are as of that day), or blanks to fill in.
    day = (f"{report_date.year}年{report_date.month}月{report_date.day}日" if report_date
           else "　　　　年　　月　　日")
    sheet.merge_range(LINE_ROW, 5, LINE_ROW, last_col, f"填报日期：{day}", plain)
    instructions = INSTRUCTIONS + (GROUP_INSTRUCTIONS if groups else "")
    sheet.merge_range(NOTE_ROW, 0, NOTE_ROW, last_col, instructions, note)
    sheet.set_row(NOTE_ROW, 48 if not groups else 64)
    sheet.write_row(HEADER_ROW, 0, headers, head)
    sheet.set_row(HEADER_ROW, 32)
    for i, (code, name, parent, task, last) in enumerate(rows, start=1):
        r = HEADER_ROW + i
        sheet.write_number(r, 0, i, given)
        sheet.write_string(r, 1, code, given_text)
        sheet.write_string(r, 2, name, given)
        sheet.write_string(r, 3, parent or "", given)
        _maybe_number(sheet, r, 4, task, given_number)
        _maybe_number(sheet, r, 5, last, given_number)
        sheet.write_blank(r, 6, None, to_fill)
        sheet.write_blank(r, 7, None, to_fill_money)
        sheet.write_blank(r, 8, None, to_fill)
        for k, (_, money) in enumerate(groups, start=9):
            sheet.write_blank(r, k, None, to_fill_money if money else to_fill)
        sheet.write_blank(r, note_col, None, to_fill_text)
    first, end = HEADER_ROW + 1, HEADER_ROW + len(rows)
    whole = {"validate": "integer", "criteria": ">=", "value": 0,
             "error_title": "请填写人数", "error_message": "请填写不小于 0 的整数（不要写小数、「万」或文字）。",
             "input_title": "累计参保人数", "input_message": "截至填报日期的累计数，整数"}
    money_rule = {"validate": "decimal", "criteria": ">=", "value": 0, "error_title": "请填写金额",
                  "error_message": "请填写不小于 0 的金额（元）。"}
    sheet.data_validation(first, 6, end, 6, whole)
    sheet.data_validation(first, 8, end, 8, {**whole, "input_title": "低收入人口参保人数",
                                             "input_message": "可不填"})
    sheet.data_validation(first, 7, end, 7, money_rule)
    for k, (header, money) in enumerate(groups, start=9):
        sheet.data_validation(first, k, end, k, money_rule if money else {
            **whole, "input_title": header[:32], "input_message": "可不填；确无参保人填 0"})
    widths = (6, 15, 22, 14, 11, 11, 14, 15, 12) + (12,) * len(groups) + (16,)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(HEADER_ROW + 1, 3)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(HEADER_ROW)
    sheet.activate()
    sheet.set_selection(first, 6, first, 6)
    book.close()
    return buffer.getvalue()


def _maybe_number(sheet, row: int, col: int, value, fmt) -> None:
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    else:
        sheet.write_number(row, col, int(value), fmt)
