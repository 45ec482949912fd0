"""The export model: the figures of one week's 通报导出, and the charts drawn from them.

`gather` computes the figures once (progress.compute, progress.trend, reporting.week_status: the
same functions as the 进度总览 page, so every export shows the page's numbers). The renderers
(workbook, bulletin, boards) read this model; `bundle.build` runs them. Nothing here imports a
renderer.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..campaigns import windows
from ..campaigns.model import Campaign
from ..db import Session
from ..labels import (
    DEMO_BADGE,
    LEVEL_LABELS,
    LEVEL_SHORT,
    PROGRAMME_LABELS,
    REPORTER_LABELS,
    SOURCE_NOTE,
)
from ..metrics import groups, overview, progress, reporting
from ..uploads import template as templates
from . import charts

# Charts are laid out at 760 CSS pixels wide: placed across the 15.6 cm text width of an A4 page
# (GB/T 9704 margins) their 14-pixel labels print at about 10 pt. PNGs are rendered at 2× scale:
# 1,520 pixels across 15.6 cm is about 250 dpi, print quality.
CHART_WIDTH = 760
CHART_MAX_HEIGHT = 1000     # keeps a chart within one A4 page beside its caption
PNG_SCALE = 2


class ExportError(ValueError):
    """A request that cannot be exported (unknown scope or level); message in Chinese."""


def cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def cn_short_date(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def percent(value, digits: int = 2) -> str:
    return "—" if value is None or pd.isna(value) else f"{value * 100:.{digits}f}%"


def count(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


@dataclass
class ExportData:
    """The figures of one export: a campaign, week, data source, scope unit and level."""

    result: progress.Progress
    scope: dict                    # the scope unit's row of result.units
    level: str                     # the level whose units are ranked, charted and posted
    levels: list[str]              # every level below the scope, top down (one sheet each)
    frames: dict[str, pd.DataFrame]   # level -> its units under the scope, ranked
    parents: dict[str, str]        # code -> name, for 所属 columns
    trend: pd.DataFrame            # the scope unit week by week, up to as_of
    projection: float | None
    week_status: pd.DataFrame      # reporting status of the level's units this week
    extension: dict | None = None  # the window's latest extension (end, previous_end, reason)
    groups: pd.DataFrame | None = None  # 分类人群 of every unit under the scope (metrics/groups)
    month: Any = None              # monthly.MonthFigures of a monthly 通报 (monthly.gather_month)

    @property
    def level_groups(self) -> pd.DataFrame:
        """The groups of the level's units, where any has a figure or a population."""
        if self.groups is None or self.groups.empty:
            return pd.DataFrame(columns=groups.COLUMNS)
        frame = self.groups[self.groups["code"].isin(set(self.units["code"]))]
        known = frame.groupby("group_key")[["enrolled", "population"]].count().sum(axis=1)
        return frame[frame["group_key"].isin(known[known > 0].index)]

    @property
    def campaign(self) -> Campaign:
        return self.result.campaign

    @property
    def calendar(self) -> Campaign:
        """The campaign with the scope unit's window (its own, if it has one)."""
        return self.result.window

    @property
    def money(self) -> bool:
        """Whether the files show 征缴金额: the campaign knows its contribution, or amounts
        were reported."""
        return self.campaign.terms.known or bool(self.units["amount"].notna().any()) or \
            not pd.isna(self.scope.get("amount"))

    @property
    def window_note(self) -> str | None:
        """Units of the level whose window differs from the scope's, in words (or None)."""
        return overview.window_note(self.result, self.units)

    @property
    def as_of(self) -> dt.date:
        return self.result.as_of

    @property
    def source(self) -> str:
        return self.result.source

    @property
    def demo(self) -> bool:
        return self.source == "demo"

    @property
    def week(self) -> int:
        return self.result.week

    @property
    def units(self) -> pd.DataFrame:
        """The level's units, ranked (best first)."""
        return self.frames[self.level]

    @property
    def programme(self) -> str:
        return PROGRAMME_LABELS.get(self.campaign.programme, self.campaign.programme)

    @property
    def year_programme(self) -> str:
        year = f"{self.campaign.year}年度" if self.campaign.year else ""
        return f"{year}{self.programme}"

    @property
    def when(self) -> str:
        """截至2021年11月19日（第12周）; a month: 2021年11月（截至2021年11月26日）"""
        if self.month is not None:
            return f"{self.month.label}（截至{cn_date(self.as_of)}）"
        return f"截至{cn_date(self.as_of)}" + (f"（第{self.week}周）" if self.week else "")

    @property
    def source_note(self) -> str:
        return SOURCE_NOTE[self.source].format(level=REPORTER_LABELS.get(self.level, ""))

    @property
    def stem(self) -> str:
        """File name stem, e.g. 示例数据-晋城市-参保进度-20211119 (as on the overview page)."""
        tag = f"{DEMO_BADGE}-" if self.demo else ""
        if self.month is not None:     # 晋城市-参保进度-2021年11月
            return f"{tag}{self.scope['name']}-参保进度-{self.month.year}年{self.month.month:02d}月"
        return f"{tag}{self.scope['name']}-参保进度-{self.as_of:%Y%m%d}"


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Units best first by completion (competition ranking); units without a rate last, unranked."""
    out = frame.copy()
    out["_order"] = range(len(out))
    out = out.sort_values(["completion", "_order"], ascending=[False, True], na_position="last")
    out["rank"] = out["completion"].astype("Float64").rank(method="min", ascending=False) \
        .astype("Int64")
    return out.drop(columns="_order").reset_index(drop=True)


def gather(tx: Session, campaign: Campaign, as_of: dt.date, source: str,
           level: str | None = None, scope: str | None = None) -> ExportData:
    """The figures of an export. Raises ExportError for an unknown scope or a level not below it."""
    try:
        scope_unit = templates.resolve_scope(tx, campaign.id, scope)
    except templates.TemplateError as exc:
        raise ExportError(str(exc)) from exc
    result = progress.compute(tx, campaign, as_of, source)
    result.calendar = progress.calendar_of(tx, campaign, scope_unit.code)
    inside = overview.descendants(result, scope_unit.code)
    below = result.units[result.units["code"].isin(inside) & (result.units["code"] != scope_unit.code)]
    levels = list(dict.fromkeys(below.sort_values("depth", kind="stable")["level"]))
    if not levels:
        raise ExportError(f"「{scope_unit.name}」没有下级单位，无法排名")
    level = "community" if level == "village" else level
    if level is None:
        level = levels[0]
    if level not in levels:
        raise ExportError(f"「{scope_unit.name}」下没有「{LEVEL_LABELS.get(level, level)}」层级的单位，"
                          f"可选：{'、'.join(f'{lv}（{LEVEL_LABELS.get(lv, lv)}）' for lv in levels)}")
    frames = {lv: ranked(below[below["level"] == lv]) for lv in levels}
    names = dict(zip(result.units["code"], result.units["name"]))
    series = progress.trend(tx, campaign, scope_unit.code, source)
    series = series[series["as_of"] <= as_of].reset_index(drop=True)
    status = reporting.week_status(tx, campaign, as_of, source, list(frames[level]["code"]))
    scope_row = result.units[result.units["code"] == scope_unit.code].iloc[0].to_dict()
    return ExportData(result=result, scope=scope_row, level=level, levels=levels, frames=frames,
                      parents=names, trend=series,
                      projection=progress.projection(series, result.window, as_of),
                      week_status=status, extension=windows.extension(tx, campaign),
                      groups=groups.figures(tx, campaign, as_of, source, root=scope_unit.code))


# --- charts -----------------------------------------------------------------------------------

@dataclass
class Chart:
    key: str            # "ranking" or "trend"
    label: str          # for people: 县区排名图
    figure: go.Figure
    width: int
    height: int


def chart_title(data: ExportData, what: str) -> str:
    """Three lines: region and what the chart shows; programme, date and week; goal and 序时进度."""
    tag = f"【{DEMO_BADGE}】" if data.demo else ""
    c = data.campaign
    small = "<br><span style='font-size:14px;color:#444444'>{}</span>"
    return (f"{tag}{data.scope['name']}{what}"
            + small.format(f"{data.year_programme}　{data.when}")
            + small.format(f"目标参保率 {c.goal:.0%}　序时进度 {percent(float(data.result.time_progress))}"
                           f"　序时目标 {percent(float(data.result.pace))}"))


def ranking_chart(data: ExportData) -> Chart | None:
    """The overview's ranking bars for the level's units, titled for a bulletin; None when no
    unit has a task (nothing to rank)."""
    frame = data.units
    if frame.empty or (frame["status"] == "no_target").all():
        return None
    shown, note = overview.ranking_rows(frame)
    rows = len(shown)
    # Bars get thinner as they get more, so a chart of 60 units still fits an A4 page.
    per_bar = max(13, min(34, (CHART_MAX_HEIGHT - 260) // max(rows, 1)))
    height = min(CHART_MAX_HEIGHT, per_bar * rows + 260)
    what = f"各{LEVEL_LABELS.get(data.level, data.level)}参保完成率排名"
    source = data.source_note + (f"。{note.replace('「明细表」', '通报表')}" if note else "")
    fig = charts.ranking_chart(shown, goal=float(data.campaign.goal), pace=float(data.result.pace),
                               title=chart_title(data, what), source_note=source, height=height)
    if per_bar < 24:
        fig.update_yaxes(tickfont=dict(size=max(9, per_bar - 4)))
        fig.update_traces(textfont=dict(size=max(9, per_bar - 4)))
    _fit_for_print(fig, height, bottom=110, legend_gap=34, source=source)
    return Chart("ranking", f"{LEVEL_SHORT.get(data.level, data.level)}排名图", fig,
                 CHART_WIDTH, height)


def trend_chart(data: ExportData) -> Chart:
    """The scope unit's cumulative enrolment week by week against target, goal and pace lines."""
    height = 560
    days = list(data.trend["as_of"])
    fig = charts.trend_chart(data.trend, data.calendar, title=chart_title(data, "累计参保人数走势"),
                             source_note=data.source_note, projection=data.projection,
                             height=height)
    # Upright week labels: at most seven ticks across the printed width.
    ticks = days[::max(1, math.ceil(len(days) / 7))]
    if days and ticks[-1] != days[-1]:
        ticks = ticks[:-1] + [days[-1]] if len(ticks) > 1 and (days[-1] - ticks[-1]).days < 14 \
            else ticks + [days[-1]]
    fig.update_xaxes(tickvals=ticks, ticktext=[charts.week_tick(data.campaign, d) for d in ticks],
                     tickangle=0)
    _fit_for_print(fig, height, bottom=150, legend_gap=58, source=data.source_note)
    return Chart("trend", "趋势图", fig, CHART_WIDTH, height)


def _fit_for_print(fig: go.Figure, height: int, *, bottom: int, legend_gap: int,
                   source: str, top: int = 128) -> None:
    """Margins for a two-line title above and tick labels, legend and source line below, in
    pixels: the page's layout leaves these to the browser's width, a print needs them fixed."""
    plot = height - top - bottom
    fig.update_layout(
        height=height, margin=dict(l=16, r=28, t=top, b=bottom),
        # Plotly anchors a multi-line title by its first line: measured, its top is about 12 px
        # above the anchor at 18 px type, so the anchor goes 24 px below the top edge.
        title=dict(x=0, xanchor="left", xref="container", pad=dict(l=16), y=1 - 24 / height,
                   yanchor="top", yref="container"),
        legend=dict(y=-legend_gap / plot, yanchor="top"))
    for note in fig.layout.annotations:
        if note.text == source:
            note.update(y=-(bottom - 10) / plot, yanchor="bottom", yshift=0)


def charts_of(data: ExportData) -> list[Chart]:
    return [c for c in (ranking_chart(data), trend_chart(data)) if c is not None]


# --- the bundle -------------------------------------------------------------------------------

@dataclass
class ExportFile:
    name: str           # relative path inside the export folder / ZIP
    data: bytes
    kind: str           # one of bundles.FORMATS
    label: str          # for people


def ancestry(data: ExportData, code: str) -> list[str]:
    """Names from the campaign's top unit down to the unit: 晋城市, 泽州县, 巴公镇."""
    units_ = data.result.units.set_index("code")
    names = []
    while isinstance(code, str) and code in units_.index:
        names.append(units_.at[code, "name"])
        code = units_.at[code, "parent_code"]
    return names[::-1]
