"""张榜 boards: a one-page A4 PDF per unit for the village notice board (张榜公布).

Each board shows one unit's own progress in large print — task, enrolled, completion against the
goal and the 序时目标, what is still needed — and, when the unit has lower units (a township's
villages), their progress ranked, with the behind ones in red. The page is HTML printed to PDF by
the export's Chromium (see render.py for why HTML rather than a PDF library); the table's type
size and columns follow the number of rows, so even the largest township (61 villages in
Jincheng) stays on one page, which the tests check for every unit.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from ..labels import DEMO_BADGE, LEVEL_LABELS, STATUS_LABELS
from .charts import STATUS_COLORS
from .model import ExportData, ExportFile, ancestry, cn_date, count, percent, ranked
from .render import Overflow, Renderer

# Room for the lower units' table below the figures, in mm (A4 less margins, header, footer);
# a long table gets the compact header (figures in one row). Checked by the tests with the
# largest township (61 villages in two columns).
TABLE_HEIGHT_MM = 115
COMPACT_TABLE_HEIGHT_MM = 165
COMPACT_FROM_ROWS = 17
MAX_ROW_MM = 8.0
SQUEEZES = (1.0, 0.9, 0.8, 0.7)   # row heights tried, in turn, until a board fits its page
# Status colours for large figures in print: the chart colours, with grey darkened to be legible.
TEXT_COLORS = {**STATUS_COLORS, "not_reported": "#666666", "no_target": "#222222"}

CSS = """
@page { size: A4 portrait; margin: 12mm 13mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
       color: #222; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.page { width: 184mm; height: 272mm; position: relative; overflow: hidden; display: flex;
        flex-direction: column; }
.kicker { font-size: 13pt; color: #555; letter-spacing: 2pt; }
h1 { font-size: 30pt; margin: 1mm 0 0 0; line-height: 1.2; }
h2 { font-size: 15pt; font-weight: normal; margin: 1mm 0 3mm 0; color: #333; }
.when { font-size: 13pt; margin-bottom: 4mm; }
.demo { background: #C00000; color: white; font-size: 13pt; padding: 1.5mm 3mm;
        margin-bottom: 3mm; }
.page + .page { break-before: page; }
.watermark { position: absolute; top: 105mm; left: 0; right: 0; text-align: center;
             font-size: 88pt; color: rgba(192, 0, 0, 0.10); transform: rotate(-28deg);
             font-weight: bold; z-index: -1; }
.figures { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2.5mm; }
.figure { border: 0.4mm solid #BBB; border-radius: 2mm; padding: 2mm 3mm; }
.figure .label { font-size: 11pt; color: #555; }
.figure .value { font-size: 24pt; font-weight: bold; line-height: 1.25; }
.figure.main .value { font-size: 30pt; }
.bar { position: relative; height: 9mm; background: #EEE; border-radius: 1.5mm;
       margin: 8mm 0 1mm 0; }
.bar .fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 1.5mm; }
.bar .mark { position: absolute; top: -5mm; bottom: -1mm; border-left: 0.6mm solid; }
.bar .mark span { position: absolute; top: -0.5mm; left: 1mm; font-size: 9.5pt;
                  white-space: nowrap; }
.status { font-size: 14pt; margin: 3mm 0 4mm 0; }
.status b { padding: 0.5mm 2mm; color: white; border-radius: 1mm; }
.lower h3 { font-size: 13pt; margin: 0 0 1.5mm 0; }
.columns { display: flex; gap: 4mm; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.25mm solid #999; padding: 0 1.5mm; white-space: nowrap; overflow: hidden;
         height: var(--row); line-height: calc(var(--row) * 0.9); }
th { background: #DCE6F1; font-weight: bold; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.c { text-align: center; }
tr.behind td { background: #FDE2E1; color: #8B0000; font-weight: bold; }
tr.not_reported td { background: #EEEEEE; color: #555; }
.compact h1 { font-size: 24pt; }
.compact h2 { font-size: 13pt; margin-bottom: 1.5mm; }
.compact .when { font-size: 12pt; margin-bottom: 2mm; }
.compact .figures { grid-template-columns: repeat(6, 1fr); gap: 1.5mm; }
.compact .figure { padding: 1mm 1.5mm; }
.compact .figure .label { font-size: 8.5pt; }
.compact .figure .value, .compact .figure.main .value { font-size: 14pt; }
.compact .bar { height: 6mm; margin-top: 6mm; }
.compact .status { font-size: 12pt; margin: 2mm 0 2.5mm 0; }
.roomy h1 { font-size: 40pt; margin-top: 4mm; }
.roomy h2 { font-size: 18pt; }
.roomy .when { font-size: 16pt; margin-bottom: 8mm; }
.roomy .figures { gap: 5mm; }
.roomy .figure { padding: 5mm 5mm; }
.roomy .figure .label { font-size: 14pt; }
.roomy .figure .value { font-size: 32pt; }
.roomy .figure.main .value { font-size: 40pt; }
.roomy .bar { height: 14mm; margin-top: 14mm; }
.roomy .bar .mark span { font-size: 12pt; top: -1mm; }
.roomy .status { font-size: 18pt; margin-top: 6mm; }
.roomy .footer { font-size: 12.5pt; }
.footer { margin-top: auto; border-top: 0.4mm solid #999; padding-top: 2mm; font-size: 10.5pt;
          line-height: 1.6; color: #333; }
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _needed(data: ExportData, unit: dict) -> str:
    if pd.isna(unit["target"]):
        return "—"
    goal_count = math.ceil(data.campaign.goal_basis_points() * int(unit["target"]) / 10000)
    enrolled = 0 if pd.isna(unit["enrolled"]) else int(unit["enrolled"])
    return f"{max(goal_count - enrolled, 0):,}"


def _status_line(unit: dict) -> str:
    status = unit["status"]
    label = STATUS_LABELS.get(status, status)
    color = STATUS_COLORS.get(status, "#999999")
    detail = ""
    if not pd.isna(unit["gap_pp"]):
        gap = float(unit["gap_pp"])
        side = "高于" if gap > 0 else "低于" if gap < 0 else "等于"
        detail = f"　完成率{side}序时目标" + (f" {abs(gap):.2f} 个百分点" if gap else "")
    if status == "not_reported" and not pd.isna(unit["report_date"]):
        detail += f"（本周未上报，数字截至{cn_date(pd.Timestamp(unit['report_date']).date())}）"
    text_color = "#222" if status == "no_target" else "white"
    return (f"<div class='status'>进度状态：<b style='background:{color};color:{text_color}'>"
            f"{_e(label)}</b>{_e(detail)}</div>")


def _bar(data: ExportData, unit: dict) -> str:
    if pd.isna(unit["completion"]):
        return ""
    value = min(float(unit["completion"]), 1.0) * 100
    color = STATUS_COLORS.get(unit["status"], "#999999")
    goal, pace = float(data.campaign.goal) * 100, _own(data, unit, "pace") * 100
    return (f"<div class='bar'><div class='fill' style='width:{value:.2f}%;background:{color}'></div>"
            f"<div class='mark' style='left:{pace:.2f}%;border-color:#E69F00'>"
            f"<span style='color:#B07800'>序时目标 {pace:.1f}%</span></div>"
            f"<div class='mark' style='left:{goal:.2f}%;border-color:#7A0019'>"
            f"<span style='color:#7A0019;left:auto;right:1mm'>目标 {goal:.0f}%</span></div></div>")


def _own(data: ExportData, unit: dict, field: str) -> float:
    """The unit's own pace or time progress (its window may differ from the scope's)."""
    value = unit.get(field)
    if value is None or pd.isna(value):
        return float(data.result.pace if field == "pace" else data.result.time_progress)
    return float(value)


def _rows_per_column(children: pd.DataFrame) -> int:
    n = len(children)
    return math.ceil(n / (1 if n <= 22 else 2 if n <= 64 else 3))


def _has_table(children: pd.DataFrame) -> bool:
    return not children.empty and not (children["target"].isna() & children["enrolled"].isna()).all()


def _lower_table(data: ExportData, children: pd.DataFrame, squeeze: float = 1.0) -> str:
    """The lower units ranked, in as many columns as make it fit the room left on the page."""
    if not _has_table(children):
        return ""   # lower units without any figure: nothing to post
    per_col = _rows_per_column(children)
    cols = math.ceil(len(children) / per_col)
    room = COMPACT_TABLE_HEIGHT_MM if per_col >= COMPACT_FROM_ROWS else TABLE_HEIGHT_MM
    row_mm = min(MAX_ROW_MM, room / (per_col + 1)) * squeeze
    font_pt = round(min(12.5, row_mm * 1.75), 1)
    level = LEVEL_LABELS.get(children["level"].iloc[0], "")
    wide = cols == 1
    head = ("<tr><th>排名</th><th>单位</th>" + ("<th>任务数</th>" if wide else "")
            + "<th>已参保</th><th>完成率</th><th>状态</th></tr>")
    records = children.to_dict("records")
    blocks = []
    for k in range(cols):
        rows = []
        for r in records[k * per_col:(k + 1) * per_col]:
            rank = "" if pd.isna(r["rank"]) else int(r["rank"])
            rows.append(
                f"<tr class='{_e(r['status'])}'><td class='c'>{rank}</td><td>{_e(r['name'])}</td>"
                + (f"<td class='num'>{count(r['target'])}</td>" if wide else "")
                + f"<td class='num'>{count(r['enrolled'])}</td>"
                  f"<td class='num'>{percent(r['completion'])}</td>"
                  f"<td class='c'>{_e(STATUS_LABELS.get(r['status'], r['status']))}</td></tr>")
        blocks.append(f"<table style='font-size:{font_pt}pt'>{head}{''.join(rows)}</table>")
    return (f"<div class='lower' style='--row:{row_mm:.2f}mm'>"
            f"<h3>各{_e(level)}参保进度（按完成率排名，标红为进度落后）</h3>"
            f"<div class='columns'>{''.join(blocks)}</div></div>")


TITLE_PT = {"roomy": 40, "": 30, "compact": 24}


def _title_pt(name: str, layout: str) -> float:
    """The title's type size: the layout's, smaller for a long name so it stays on one line
    (184 mm of line ≈ 495 pt of 0.95-em characters)."""
    return round(min(TITLE_PT[layout], 495 / (len(name) + 6)), 1)


def _page(data: ExportData, unit: dict, squeeze: float = 1.0) -> str:
    """One unit's board: a `.page` block of one A4 page."""
    c = data.campaign
    names = ancestry(data, unit["code"])
    children = ranked(data.result.children(unit["code"]))
    figures = [
        ("main", "完成率", percent(unit["completion"]), TEXT_COLORS.get(unit["status"], "#222")),
        ("", "已参保人数", count(unit["enrolled"]), "#222"),
        ("", "任务数", count(unit["target"]), "#222"),
        ("", f"距{c.goal:.0%}目标还需参保", _needed(data, unit), "#222"),
        ("", "本周新增参保",
         "未上报" if unit["status"] == "not_reported" else count(unit["week_delta"]), "#222"),
        ("", "序时目标", percent(_own(data, unit, "pace")), "#B07800"),
    ]
    boxes = "".join(
        f"<div class='figure {cls}'><div class='label'>{_e(label)}</div>"
        f"<div class='value' style='color:{color}'>{_e(value)}</div></div>"
        for cls, label, value, color in figures)
    policy = []
    if c.contribution_note:
        policy.append(f"个人缴费标准：{c.contribution_note}")
    elif c.contribution_yuan:
        policy.append(f"个人缴费标准：{c.contribution_yuan}元/人·年")
    start, end = unit.get("window_start"), unit.get("window_end")
    if start is None or pd.isna(start):
        start, end = data.calendar.start, data.calendar.end
    policy.append(f"集中参保缴费期：{cn_date(start)}至{cn_date(end)}")
    if c.notice:
        policy.append(f"依据：{c.notice}")
    footer = ("　".join(_e(p) for p in policy)
              + f"<br>完成率 = 已参保人数 ÷ 任务数；序时目标 = {c.goal:.0%} × 序时进度"
                f"（{percent(_own(data, unit, 'time_progress'))}）。{_e(data.source_note)}。")
    demo = (f"<div class='watermark'>{DEMO_BADGE}</div>"
            f"<div class='demo'>{DEMO_BADGE}：以下为模拟数字，仅供演示，不是真实上报，请勿张贴。</div>"
            if data.demo else "")
    # A long table gets a compact header; a board without one, large print in the space.
    layout = ("roomy" if not _has_table(children) else
              "compact" if _rows_per_column(children) >= COMPACT_FROM_ROWS else "")
    return f"""<div class="page {layout}">
{demo}
<div class="kicker">{_e(' '.join(names[:-1]))}</div>
<h1 style="font-size:{_title_pt(unit['name'], layout)}pt">{_e(unit['name'])}参保进度公示</h1>
<h2>{_e(data.year_programme)}</h2>
<div class="when">数据{_e(data.when)}</div>
<div class="figures">{boxes}</div>
{_bar(data, unit)}
{_status_line(unit)}
{_lower_table(data, children, squeeze)}
<div class="footer">{footer}</div>
</div>"""


def _document(title: str, pages: list[str]) -> str:
    return (f'<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head>\n<body>{''.join(pages)}</body></html>")


def board_html(data: ExportData, unit: dict, squeeze: float = 1.0) -> str:
    """The board of one unit as a standalone HTML page (A4, one page); `squeeze` < 1 makes
    the lower units' rows smaller."""
    return _document(f"{unit['name']}参保进度公示", [_page(data, unit, squeeze)])


def all_boards_html(data: ExportData, squeezes: dict[str, float] | None = None) -> str:
    """Every board of the export in one document, one unit per page (to print them all)."""
    squeezes = squeezes or {}
    return _document(f"{data.scope['name']}参保进度公示",
                     [_page(data, u, squeezes.get(u["code"], 1.0)) for u in _board_units(data)])


def board_name(data: ExportData, unit: dict) -> str:
    """<stem>-张榜/<stem>-张榜-<code>-<name>.pdf: each file says where and when it is from, as
    the other exports do, also once downloaded alone; codes keep repeated village names apart
    and sort."""
    return f"{data.stem}-张榜/{data.stem}-张榜-{unit['code']}-{unit['name']}.pdf"


def all_boards_name(data: ExportData) -> str:
    return f"{data.stem}-张榜/{data.stem}-张榜-全部（合并打印）.pdf"


def _board_units(data: ExportData) -> list[dict]:
    units = data.result.units
    return units[units["code"].isin(set(data.units["code"]))].to_dict("records")   # unit order


def _fitted(data: ExportData, unit: dict, renderer: Renderer) -> tuple[bytes, float]:
    """The unit's board PDF, its table's rows made smaller until the page fits (long notes or
    names can take more room than the layout plans for). Raises Overflow if it never does."""
    for squeeze in SQUEEZES[:-1]:
        try:
            return renderer.pdf(board_html(data, unit, squeeze), fit=".page"), squeeze
        except Overflow:
            continue
    return renderer.pdf(board_html(data, unit, SQUEEZES[-1]), fit=".page"), SQUEEZES[-1]


def build(data: ExportData, renderer: Renderer, progress=None) -> list[ExportFile]:
    """One PDF per unit of the export's level (campaign order), and all of them in one PDF.

    `progress(done, total)` is called after each board. Raises RenderError (Overflow) when a
    board cannot be made to fit on one page.
    """
    units = _board_units(data)
    files, squeezes = [], {}
    for i, unit in enumerate(units):
        pdf, squeezes[unit["code"]] = _fitted(data, unit, renderer)
        files.append(ExportFile(board_name(data, unit), pdf, "board", f"{unit['name']}张榜公示"))
        if progress:
            progress(i + 1, len(units) + 1)
    if len(units) > 1:
        files.append(ExportFile(all_boards_name(data),
                                renderer.pdf(all_boards_html(data, squeezes), fit=".page"),
                                "board", "全部张榜公示（合并打印）"))
    if progress:
        progress(len(units) + 1, len(units) + 1)
    return files
