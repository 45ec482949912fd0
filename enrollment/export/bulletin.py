"""The Word 通报稿 (python-docx): a draft bulletin the clerk edits before it is issued.

The narrative is written from the export's numbers only (no praise or blame words beyond what
the figures say), in the manner of the bureau's notices: a title, the addressees, then numbered
sections — overall progress against the goal and the 序时目标, the units ranked, who has not
reported, low-income groups below 100%, and what is asked of the units that are behind — and,
as an attachment, the ranking chart (a table alone when no image could be made) and the table.
Layout follows GB/T 9704 (A4, 仿宋 三号 body, 小标宋 二号 title, 28 pt lines).

Size: over 500 lines since the week's prose took the money, window extensions, groups (issue
17), the month's sections (issue 16) and the signature block (issue 18). The prose functions
(`overall` … `requests`, `draft`) and the document they are laid out in (`build`) change
together whenever a section is added; the next addition should move the prose to its own
module (`export/prose.py`), which `monthly.py` would then share.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import pandas as pd
from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from ..labels import (
    BULLETIN_RECIPIENTS,
    COLUMN_LABELS,
    DEMO_BADGE,
    LEVEL_LABELS,
    STATUS_LABELS,
)
from ..metrics import groups, money, reporting
from ..text import md
from . import monthly
from .model import ExportData, cn_date, cn_short_date, count, percent

TITLE_FONT, HEADING_FONT, BODY_FONT, TABLE_FONT = "方正小标宋简体", "黑体", "仿宋", "宋体"
BODY_SIZE, TABLE_SIZE = Pt(16), Pt(10.5)
TEXT_WIDTH = Mm(156)            # A4 minus the 28 mm / 26 mm side margins of GB/T 9704
LIST_LIMIT = 10                 # longer lists of units end with 等 N 个
NUMBERS = "一二三四五六七八九十"
BEHIND_FILL, MISSING_FILL, HEADER_FILL = "FDE2E1", "EEEEEE", "DCE6F1"


@dataclass
class Draft:
    """The bulletin's text, for the .docx and for the page's preview."""

    title: str
    subtitle: str
    recipients: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    attachment: str = ""
    date: str = ""
    demo_note: str | None = None
    issuer: str | None = None         # 发文机关署名, above the date

    def markdown(self) -> str:
        """The draft for st.markdown: its own emphasis, every text of it escaped."""
        lines = [f"**{md(self.title)}**", md(self.subtitle), "", md(self.recipients)]
        if self.demo_note:
            lines.insert(0, f":red[{md(self.demo_note)}]")
        for heading, paragraphs in self.sections:
            lines += ["", f"**{md(heading)}**" if heading else ""] + [f"　　{md(p)}" for p in paragraphs]
        lines += ["", md(self.attachment), ""]
        lines += [md(self.issuer)] if self.issuer else [":orange[（未设置发文机关署名）]"]
        lines += [md(self.date)]
        return "  \n".join(lines)


def _names(frame: pd.DataFrame, describe=None, limit: int = LIST_LIMIT) -> str:
    """Every unit's name (with its figures), or the first `limit` and 「等N个单位」 when there
    are more: a list that says 等 names fewer than its count, never all but one."""
    rows = frame.to_dict("records")
    parts = [f"{r['name']}（{describe(r)}）" if describe else r["name"] for r in rows[:limit]]
    text = "、".join(parts)
    return text + (f"等{len(rows)}个单位" if len(rows) > limit else "")


def _pp(value: float) -> str:
    return f"{abs(value):.2f}个百分点"


def overall(data: ExportData) -> list[str]:
    """一、总体进度: the scope against the goal, the 序时目标 and the calendar."""
    unit, c = data.scope, data.calendar
    name = unit["name"]
    tp, pace, goal = float(data.result.time_progress), float(data.result.pace), float(c.goal)
    elapsed = c.elapsed_days(data.as_of)
    calendar = (f"集中参保期共{c.window_days}天，已过{elapsed}天，序时进度为{percent(tp)}，"
                f"序时目标为{percent(pace)}（{c.goal:.0%}×序时进度）。")
    if data.extension and c.end == data.campaign.end:
        reason = data.extension["reason"]
        calendar = (f"{reason}，集中参保期已延长至{cn_date(data.extension['end'])}。"
                    + calendar)
    if pd.isna(unit["target"]):
        return [f"{data.when}，{name}尚未录入任务数，无法计算完成率。" + calendar]
    if pd.isna(unit["enrolled"]):
        return [f"{data.when}，{name}任务数{count(unit['target'])}人，尚无上报数据。" + calendar]
    completion = float(unit["completion"])
    first = (f"{data.when}，{name}累计参保{count(unit['enrolled'])}人，任务数{count(unit['target'])}人，"
             f"完成率{percent(completion)}。" + calendar)
    gap = float(unit["gap_pp"])
    if completion >= goal:
        first += f"完成率已达到{c.goal:.0%}的目标。"
    else:
        relation = "高于" if gap > 0 else "低于" if gap < 0 else "等于"
        first += f"完成率{relation}序时目标" + (_pp(gap) if gap else "") + "。"
    second = []
    if completion < goal:
        needed = math.ceil(c.goal_basis_points() * int(unit["target"]) / 10000) - int(unit["enrolled"])
        text = f"距{c.goal:.0%}的目标还差{_pp((goal - completion) * 100)}，还需参保{needed:,}人"
        days_left = (c.end - data.as_of).days
        if days_left > 0 and not pd.isna(unit["needed_per_week"]):
            text += (f"；集中参保期还剩{days_left}天，平均每周需参保约"
                     f"{int(unit['needed_per_week']):,}人")
        elif days_left <= 0:
            text += "；集中参保期已结束"
        second.append(text + "。")
    if not pd.isna(unit["week_delta"]):
        second.append(f"较上周新增参保{int(unit['week_delta']):,}人。")
    if money_text := collected(data):
        second.append(money_text)
    if data.projection is not None:
        projected = data.projection / int(unit["target"])
        second.append("按最近三周的平均进度推算，期末完成率" + (
            "预计超过100%。" if projected > 1 else f"约为{percent(projected, 1)}。"))
    return [first] + (["".join(second)] if second else [])


def collected(data: ExportData) -> str:
    """The money sentence: 征缴金额 against 应缴金额 (or why there is none)."""
    unit = data.scope
    if not data.money:
        return ""
    if pd.isna(unit["amount"]):
        return "本期各单位尚未上报征缴金额。"
    text = f"累计征缴金额{money.wan(unit['amount'])}"
    if pd.isna(unit["expected_amount"]) or pd.isna(unit["amount_share"]):
        return text + f"（{money.basis(data.campaign.terms)}）。"
    return (text + f"，为应缴金额{money.wan(unit['expected_amount'])}"
            f"（{money.basis(data.campaign.terms)}）的{percent(unit['amount_share'])}。")


def ranking(data: ExportData) -> list[str]:
    """二、各单位进度: status counts, highest and lowest, fastest this week, those behind."""
    frame, level = data.units, LEVEL_LABELS.get(data.level, data.level)
    counts = data.result.status_counts(frame)
    parts = [f"{STATUS_LABELS[k]}{v}个" for k, v in counts.items() if v]
    out = [f"{len(frame)}个{level}中，" + "，".join(parts) + "。"]
    rated = frame[frame["completion"].notna() & (frame["status"] != "no_target")]
    if len(rated) >= 2:
        k = max(1, min(3, len(rated) // 3))
        top, bottom = rated.head(k), rated.tail(k).iloc[::-1]
        out.append(f"完成率较高的是{_names(top, lambda r: percent(r['completion']))}；"
                   f"较低的是{_names(bottom, lambda r: percent(r['completion']))}。")
    moving = rated[rated["week_delta"].notna() & (rated["status"] != "not_reported")
                   & rated["target"].notna()].copy()
    if len(moving) >= 2:
        moving["week_pp"] = moving["week_delta"].astype(float) / moving["target"].astype(float) * 100
        moving = moving.sort_values("week_pp", ascending=False, kind="stable")
        fast, slow = moving.iloc[0], moving.iloc[-1]
        out.append(f"本周完成率提高最多的是{fast['name']}（提高{fast['week_pp']:.2f}个百分点，新增参保"
                   f"{int(fast['week_delta']):,}人），提高最少的是{slow['name']}（提高"
                   f"{slow['week_pp']:.2f}个百分点，新增参保{int(slow['week_delta']):,}人）。")
    behind = frame[frame["status"] == "behind"].sort_values("gap_pp", kind="stable")
    if len(behind):
        out.append("低于序时目标、进度落后的是" + _names(
            behind, lambda r: f"完成率{percent(r['completion'])}，低于序时目标{_pp(r['gap_pp'])}")
            + "。")
    elif counts["achieved"] + counts["on_track"] == len(frame):
        out.append(f"各{level}完成率均不低于序时目标。")
    if data.window_note:
        out.append(data.window_note + "。")
    return out


def reports(data: ExportData) -> list[str]:
    """三、上报情况: who reported this week on time, late or not at all."""
    status = data.week_status
    if status.empty:
        return []
    counts = reporting.summary(status)
    deadline = data.campaign.deadline(data.as_of)
    total = len(status)
    text = (f"第{data.week}周（截止{cn_short_date(deadline.date())}{deadline:%H:%M}）应上报{total}个单位，"
            f"按时上报{counts[reporting.ON_TIME]}个，逾期上报{counts[reporting.LATE]}个，"
            f"未上报{counts[reporting.MISSING]}个")
    if counts[reporting.VIA_CHILDREN]:
        text += f"，由下级汇总{counts[reporting.VIA_CHILDREN]}个"
    out = [text + "。"]
    missing = status[status["status"] == reporting.MISSING]
    if len(missing):
        out.append("未上报的是" + _names(missing, lambda r: "从未上报" if pd.isna(r["last_date"]) else
                                          f"最近一次上报为{cn_short_date(pd.Timestamp(r['last_date']).date())}")
                   + "。")
    late = status[status["status"] == reporting.LATE]
    if len(late):
        out.append("逾期上报的是" + _names(late) + "。")
    return out


def low_income(data: ExportData) -> list[str]:
    """四、低收入人口: units below the 100% required for low-income groups."""
    level = LEVEL_LABELS.get(data.level, data.level)
    frame = data.units[data.units["low_income_target"].notna()]
    if frame.empty:
        return [f"本期各{level}未录入低收入人口（含稳定脱贫人口）任务数，未作统计。"]
    below = frame[frame["low_income_completion"].isna() | (frame["low_income_completion"] < 1)]
    if below.empty:
        return [f"已录入低收入人口任务数的{len(frame)}个{level}，低收入人口参保率均达到100%。"]
    below = below.sort_values("low_income_completion", na_position="first", kind="stable")

    def describe(r) -> str:
        enrolled = 0 if pd.isna(r["low_income_enrolled"]) else int(r["low_income_enrolled"])
        rate = "未上报" if pd.isna(r["low_income_completion"]) else percent(r["low_income_completion"])
        return f"{rate}，未参保{max(int(r['low_income_target']) - enrolled, 0):,}人"

    return [f"低收入人口（含稳定脱贫人口）参保率要求达到100%，未达到的{level}有{len(below)}个："
            + _names(below, describe) + "。"]


def group_lines(data: ExportData) -> list[str]:
    """分类人群: for each group with a goal, the units of the level below it and how many
    people are missing (万州: 特困人员、低保对象 … must reach 100%)."""
    frame = data.level_groups
    level = LEVEL_LABELS.get(data.level, data.level)
    out = []
    for group in data.campaign.terms.groups:
        rows = frame[(frame["group_key"] == group.key) & frame["population"].notna()]
        if group.goal is None or rows.empty:
            continue
        below = rows[rows["status"] == groups.BELOW].sort_values("completion", kind="stable")
        goal = f"{group.goal:.0%}"
        if below.empty:
            reported = rows[rows["enrolled"].notna()]
            out.append(f"{group.name}参保率要求达到{goal}，已上报的{len(reported)}个{level}均已达到。"
                       if len(reported) else f"{group.name}参保率要求达到{goal}，各{level}尚未上报。")
            continue
        missing = int(below["missing"].sum())
        out.append(f"{group.name}参保率要求达到{goal}，未达到的{level}有{len(below)}个，共还差{missing:,}人："
                   + _names(below, lambda r: f"{percent(r['completion'])}，还差{int(r['missing']):,}人")
                   + "。")
    return out


def requests(data: ExportData) -> list[str]:
    """五、工作要求: only what the numbers call for."""
    frame = data.units
    asks = []
    behind = frame[frame["status"] == "behind"].sort_values("gap_pp", kind="stable")
    if len(behind):
        asks.append(f"{_names(behind)}要分析进度落后的原因，压实工作责任，加快参保缴费进度。")
    status = data.week_status
    late = status[status["status"].isin([reporting.MISSING, reporting.LATE])] if len(status) else status
    if len(late):
        deadline = data.campaign.deadline(data.as_of)
        asks.append(f"请{_names(late)}于每周{'一二三四五六日'[deadline.weekday()]}"
                    f"{deadline:%H:%M}前按时报送参保进度。")
    li = frame[frame["low_income_target"].notna()]
    if len(li) and (li["low_income_completion"].isna() | (li["low_income_completion"] < 1)).any():
        asks.append("低收入人口参保率未达到100%的单位要逐人核实，确保应保尽保。")
    short = data.level_groups
    short = short[short["status"] == groups.BELOW]
    if len(short):
        names = "、".join(dict.fromkeys(short["group"]))
        asks.append(f"{names}参保率未达到要求的单位要对照名单逐人核实，确保应保尽保。")
    c = data.calendar
    if data.as_of < c.end:
        asks.append(f"集中参保缴费期至{cn_date(c.end)}结束，请各单位对照{c.goal:.0%}的目标和序时进度抓紧推进。")
    return [f"（{NUMBERS[i]}）{text}" if len(asks) > 1 else text for i, text in enumerate(asks)]


def draft(data: ExportData) -> Draft:
    """The bulletin's text from the export's numbers (a month's: monthly.py's prose too)."""
    level = LEVEL_LABELS.get(data.level, data.level)
    month = data.month
    if month is None:
        named = [("总体进度", overall(data)), (f"各{level}进度", ranking(data)),
                 ("上报情况", reports(data))]
    else:
        named = [("总体进度", [monthly.progress_paragraph(data)] + overall(data)),
                 (f"各{level}进度", [p for p in ranking(data) if not p.startswith("本周")]),
                 *monthly.sections(data)]
    named += [("低收入人口参保情况", low_income(data) + group_lines(data)),
              ("工作要求", requests(data))]
    sections = [(f"{NUMBERS[i]}、{heading}", paragraphs)
                for i, (heading, paragraphs) in enumerate((h, p) for h, p in named if p)]
    return Draft(
        title=f"关于{data.scope['name']}{data.year_programme}{month.label if month else ''}"
              "参保缴费进度的通报",
        subtitle=(f"（{month.label}，截至{cn_date(data.as_of)}）" if month else
                  f"（截至{cn_date(data.as_of)}" + (f"，第{data.week}周）" if data.week else "）")),
        recipients=BULLETIN_RECIPIENTS.get(data.level, f"各{level}："),
        sections=sections,
        attachment=f"附件：{data.scope['name']}各{level}参保进度排名",
        date=cn_date(data.as_of),
        demo_note=(f"【{DEMO_BADGE}】本稿数字为模拟的示例数据，仅供演示，不得印发。"
                   if data.demo else None),
        issuer=data.campaign.issuer,
    )


# --- .docx ------------------------------------------------------------------------------------

def _font(run, name: str, size=None, bold: bool | None = None, color: str | None = None) -> None:
    run.font.name = name
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if size is not None:
        run.font.size = size
    if bold is not None:
        run.font.bold = bold
    if color:
        run.font.color.rgb = RGBColor.from_string(color)


def _paragraph(doc, text: str, font: str = BODY_FONT, size=BODY_SIZE, *, align=None,
               indent: bool = True, bold: bool = False, color: str | None = None,
               space_after=Pt(0), right_chars: float = 0, keep_with_next: bool = False):
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28) if size >= BODY_SIZE else Pt(18)
    fmt.space_after = space_after
    fmt.space_before = Pt(0)
    fmt.widow_control = True
    fmt.keep_with_next = keep_with_next
    if indent:
        fmt.first_line_indent = Pt(size.pt * 2)
    if right_chars:
        fmt.right_indent = Pt(size.pt * right_chars)
    if align is not None:
        p.alignment = align
    _font(p.add_run(text), font, size, bold, color)
    return p


# Widths in ems of ASCII signs in the widest font a reader may substitute for 宋体's Latin
# (DejaVu Sans, LibreOffice's fallback on a machine without Chinese Windows fonts); 宋体's own
# digits are half an em, so what fits here fits there.
ASCII_EMS = {",": 0.32, ".": 0.32, ":": 0.34, " ": 0.32, "-": 0.36, "(": 0.39, ")": 0.39,
             "%": 0.95, "+": 0.84}


def text_width(text: str) -> float:
    """Width of a text in ems: a Han character or full-width sign one em, ASCII by ASCII_EMS
    (digits and letters 0.64)."""
    return sum(ASCII_EMS.get(ch, 0.64) if ord(ch) < 0x2E80 else 1.0 for ch in text)


def signature_indents(issuer: str | None, date: str) -> tuple[float, float]:
    """Right indents, in characters, of the issuer and the date below it (GB/T 9704-2012
    7.3.5.2, a document without a seal): the issuer two characters from the right margin, the
    date starting two characters right of the issuer's start; a date longer than that stays two
    characters from the margin and moves the issuer left. Without an issuer the date is four
    characters from the margin."""
    if not issuer:
        return 0.0, 4.0
    w_i, w_d = text_width(issuer), text_width(date)
    date_right = w_i - 2 - w_d + 2
    if date_right < 2:
        return 2 + w_d + 2 - w_i, 2.0
    return 2.0, date_right


def _shade(cell, fill: str) -> None:
    props = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    props.append(shd)


def _repeat_header(row) -> None:
    props = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    props.append(header)


TABLE_COLUMNS = ("排名", "单位", COLUMN_LABELS["target"], COLUMN_LABELS["enrolled"],
                 COLUMN_LABELS["completion"], "与序时目标差距（百分点）", COLUMN_LABELS["week_delta"],
                 COLUMN_LABELS["status"])


def table_rows(data: ExportData) -> list[tuple[list[str], str]]:
    """The ranking table as text cells, with each row's status key (for shading)."""
    rows = []
    for r in data.units.to_dict("records"):
        rows.append(([
            "" if pd.isna(r["rank"]) else str(int(r["rank"])), r["name"], count(r["target"]),
            count(r["enrolled"]), percent(r["completion"]),
            "—" if pd.isna(r["gap_pp"]) else f"{r['gap_pp']:+.2f}",
            "—" if pd.isna(r["week_delta"]) else f"{int(r['week_delta']):+,}",
            STATUS_LABELS.get(r["status"], r["status"])], r["status"]))
    return rows


def total_row(data: ExportData) -> list[str]:
    """The scope unit's own figures (the overview's headline numbers) under the ranking."""
    r = data.scope
    return ["", f"{r['name']}合计", count(r["target"]), count(r["enrolled"]),
            percent(r["completion"]), "—" if pd.isna(r["gap_pp"]) else f"{r['gap_pp']:+.2f}",
            "—" if pd.isna(r["week_delta"]) else f"{int(r['week_delta']):+,}",
            STATUS_LABELS.get(r["status"], r["status"])]


CELL_MARGIN = Mm(1.2)          # left and right inside a cell (LibreOffice's default is 1.9 mm)


def column_widths(rows: list[list[str]]) -> list[int]:
    """Column widths (EMU) that keep every figure on one line: each column as wide as its
    widest cell (a header may take two lines), the rest of the text width to 单位."""
    em = TABLE_SIZE.emu
    needed = []
    for i, header in enumerate(TABLE_COLUMNS):
        head = text_width(header)
        widest = max([text_width(r[i]) * 1.08 for r in rows]       # bold in the total row
                     + [head if head <= 4 else math.ceil(head / 2)])
        needed.append(int(widest * em + 2 * CELL_MARGIN + Mm(1)))
    spare = TEXT_WIDTH - sum(needed)
    if spare > 0:
        needed[1] += spare
    return needed


def _fixed_layout(table, widths: list[int]) -> None:
    """Widths that Word and LibreOffice both keep: a fixed layout, the grid's columns (which
    LibreOffice reads) and every cell, and narrow cell margins."""
    table.autofit = False                       # w:tblLayout fixed
    props = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:w"), str(int(CELL_MARGIN.twips)))
        edge.set(qn("w:type"), "dxa")
        margins.append(edge)
    look = props.find(qn("w:tblLook"))          # the schema's order: tblCellMar before tblLook
    if look is not None:
        look.addprevious(margins)
    else:
        props.append(margins)
    for column, width in zip(table.columns, widths):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths):
            cell.width = width


def _table(doc, data: ExportData) -> None:
    rows = table_rows(data) + [(total_row(data), "total")]
    widths = column_widths([values for values, _ in rows])
    table = doc.add_table(rows=1, cols=len(TABLE_COLUMNS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = table.rows[0]
    _repeat_header(header)
    for cell, text, width in zip(header.cells, TABLE_COLUMNS, widths):
        cell.width = width
        _shade(cell, HEADER_FILL)
        run = cell.paragraphs[0].add_run(text)
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(run, HEADING_FONT, TABLE_SIZE)
    for values, status in rows:
        cells = table.add_row().cells
        for i, (cell, value) in enumerate(zip(cells, values)):
            cell.width = widths[i]
            paragraph = cell.paragraphs[0]
            paragraph.alignment = (WD_ALIGN_PARAGRAPH.LEFT if i == 1 else
                                   WD_ALIGN_PARAGRAPH.CENTER if i in (0, 7) else
                                   WD_ALIGN_PARAGRAPH.RIGHT)
            color = "8B0000" if status == "behind" else "555555" if status == "not_reported" else None
            _font(paragraph.add_run(value), TABLE_FONT, TABLE_SIZE,
                  bold=(status == "behind" and i == 7) or status == "total", color=color)
            if status == "behind":
                _shade(cell, BEHIND_FILL)
            elif status == "not_reported":
                _shade(cell, MISSING_FILL)
    _fixed_layout(table, widths)


def build(data: ExportData, chart_png: bytes | None = None) -> bytes:
    """The .docx: the draft's text, then the attachment with the chart (if any) and the table."""
    text = draft(data)
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    normal.font.size = BODY_SIZE
    doc.core_properties.title = text.title
    doc.core_properties.subject = data.when
    doc.core_properties.comments = (f"参保进度看板根据{data.when}的数据生成的草稿（{data.source_note}），"
                                    "印发前请核对修改。")

    if text.demo_note:
        _paragraph(doc, text.demo_note, HEADING_FONT, Pt(14), indent=False, color="C00000",
                   align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, text.title, TITLE_FONT, Pt(22), indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, text.subtitle, "楷体", BODY_SIZE, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER,
               space_after=Pt(14))
    _paragraph(doc, text.recipients, indent=False)
    intro = f"现将{data.when}{data.scope['name']}{data.programme}参保缴费进度通报如下："
    _paragraph(doc, intro)
    last = len(text.sections) - 1
    for s, (heading, paragraphs) in enumerate(text.sections):
        _paragraph(doc, heading, HEADING_FONT, keep_with_next=True)
        for k, paragraph in enumerate(paragraphs):
            # The closing paragraph travels with the attachment line and the signature, so no
            # page holds only those (its last two lines at least, widow control).
            _paragraph(doc, paragraph, keep_with_next=s == last and k == len(paragraphs) - 1)
    _paragraph(doc, "", indent=False, keep_with_next=True)
    _paragraph(doc, text.attachment, indent=True, keep_with_next=True)
    issuer_right, date_right = signature_indents(text.issuer, text.date)
    if text.issuer:
        _paragraph(doc, "", indent=False, keep_with_next=True)
        _paragraph(doc, text.issuer, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT,
                   right_chars=issuer_right, keep_with_next=True)
    _paragraph(doc, text.date, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT,
               right_chars=date_right)

    doc.add_page_break()
    _paragraph(doc, "附件", HEADING_FONT, indent=False)
    _paragraph(doc, f"{data.scope['name']}各{LEVEL_LABELS.get(data.level, data.level)}参保进度排名",
               TITLE_FONT, Pt(18), indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(doc, f"{text.subtitle[:-1]}　{data.source_note}）", "楷体", Pt(12), indent=False,
               align=WD_ALIGN_PARAGRAPH.CENTER, space_after=Pt(8))
    if chart_png:
        doc.add_picture(io.BytesIO(chart_png), width=TEXT_WIDTH)
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _table(doc, data)
    _paragraph(doc, "注：完成率 = 累计参保人数 ÷ 任务数；序时目标 = "
               f"{data.campaign.goal:.0%} × 序时进度；标红的单位进度落后，灰色的单位本周未上报。",
               size=Pt(10.5), indent=False)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
