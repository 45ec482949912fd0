"""The monthly 通报 (一月一通报): one month's figures beside the weekly export's.

A month's bulletin shows the figures at the last report day on or before the month's end (so
the ranking, charts and boards are those of that week), and what the month adds
(`MonthFigures`): the change over the month (from the last report day before the month, or
from nothing in the window's first month), each unit's rank then and now, the units below the
序时目标 in every week of the month, and each unit's reporting record for the month (on time,
late, missing, per week). The workbook gets a sheet of it and the Word draft says it in prose
(`sections`). Everything is computed by the functions the weekly export and the overview use
(`progress.compute_many`, `reporting.week_status`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from ..campaigns.model import Campaign
from ..db import Session
from ..labels import LEVEL_LABELS
from ..metrics import progress, reporting
from .model import ExportData, ExportError, cn_short_date, gather, percent, ranked

MONTH = re.compile(r"^\s*(\d{4})\s*[-/年.]\s*(\d{1,2})\s*月?\s*$")
LIST_LIMIT = 10


@dataclass
class MonthFigures:
    year: int
    month: int
    previous_as_of: dt.date | None   # the last report day before the month (None: none)
    days: list[dt.date]              # the month's report days, up to the bulletin's date
    units: pd.DataFrame              # one row per unit of the level, best completion first
    weekly: pd.DataFrame             # unit x report day: status and reporting
    scope_start: dict | None         # the scope unit at previous_as_of
    scope_end: dict

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"

    @property
    def key(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def change(self) -> str | None:
        """本月新增参保 12,345 人，完成率提高 3.21 个百分点 (the scope unit)."""
        end = self.scope_end
        if pd.isna(end["enrolled"]):
            return None
        start = self.scope_start
        before = 0 if start is None or pd.isna(start["enrolled"]) else int(start["enrolled"])
        text = f"{self.month}月新增参保 {int(end['enrolled']) - before:,} 人"
        if not pd.isna(end["completion"]):
            was = 0.0 if start is None or pd.isna(start["completion"]) else float(start["completion"])
            text += f"，完成率提高 {(float(end['completion']) - was) * 100:.2f} 个百分点"
        return text + "。"


def parse_month(text: str) -> tuple[int, int]:
    """2021-11, 2021/11 or 2021年11月 as (year, month); ExportError in Chinese otherwise."""
    found = MONTH.match(str(text or ""))
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ExportError(f"月份「{text}」格式不对，应为 YYYY-MM，例如 2021-11")
    return int(found.group(1)), int(found.group(2))


def month_days(campaign: Campaign, year: int, month: int) -> list[dt.date]:
    """The campaign's report days (Fridays, and the window's last day) in the month."""
    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    if last < campaign.start or first > campaign.end:
        raise ExportError(f"{year}年{month}月不在集中参保期（{campaign.start} 至 {campaign.end}）内")
    days = [d for d in progress.report_days(campaign) if first <= d <= last]
    if not days:
        raise ExportError(f"{year}年{month}月没有上报日（集中参保期内的周五），无法生成月度通报")
    return days


def months(campaign: Campaign) -> list[str]:
    """Every month of the window that has a report day, as YYYY-MM."""
    return list(dict.fromkeys(f"{d.year}-{d.month:02d}" for d in progress.report_days(campaign)))


def gather_month(tx: Session, campaign: Campaign, month: str, source: str,
                 level: str | None = None, scope: str | None = None) -> ExportData:
    """The export of a month: the figures at its last report day plus `MonthFigures`."""
    year, number = parse_month(month)
    days = month_days(campaign, year, number)
    data = gather(tx, campaign, days[-1], source, level, scope)
    before = [d for d in progress.report_days(campaign) if d < days[0]]
    previous = before[-1] if before else None
    scope_code = data.scope["code"]
    codes = list(data.units["code"])
    root = None if scope_code == campaign.region_code else scope_code
    frame = progress.compute_many(tx, campaign, days + ([previous] if previous else []), source,
                                  root=root)
    frame = frame[frame["code"].isin(codes + [scope_code])]
    weekly = frame[frame["as_of"].isin(days) & frame["code"].isin(codes)][
        ["code", "as_of", "status", "gap_pp", "completion"]].copy()
    # Below the 序时目标 in a week: 进度落后, or no report that week with the last figure below it.
    weekly["behind"] = (weekly["status"] == "behind") | (
        (weekly["status"] == "not_reported") & (weekly["gap_pp"].astype("Float64") < 0).fillna(False))
    weekly["reporting"] = None
    for day in days:
        status = reporting.week_status(tx, campaign, day, source, codes)
        found = dict(zip(status["code"], status["status"]))
        mask = weekly["as_of"] == day
        weekly.loc[mask, "reporting"] = weekly.loc[mask, "code"].map(found)
    units = data.units[["code", "name", "target", "enrolled", "completion", "status", "rank"]].copy()
    start = frame[frame["as_of"] == previous] if previous else frame.iloc[0:0]
    start_rows = ranked(start[start["code"].isin(codes)]).set_index("code") if len(start) else None
    units["enrolled_start"] = units["code"].map(
        start_rows["enrolled"] if start_rows is not None else {}).astype("Int64")
    units["completion_start"] = units["code"].map(
        start_rows["completion"] if start_rows is not None else {}).astype("Float64")
    units["rank_start"] = units["code"].map(
        start_rows["rank"] if start_rows is not None else {}).astype("Int64")
    units["month_delta"] = (units["enrolled"].astype("Int64")
                            - units["enrolled_start"].fillna(0)).where(units["enrolled"].notna())
    units["change_pp"] = ((units["completion"].astype("Float64")
                           - units["completion_start"].fillna(0)) * 100)
    # A positive rank change is a move up the ranking (from 5th to 3rd: +2).
    units["rank_change"] = units["rank_start"] - units["rank"].astype("Int64")
    per_unit = weekly.groupby("code")
    units["weeks_behind"] = units["code"].map(per_unit["behind"].sum()).fillna(0).astype(int)
    units["behind_every_week"] = units["weeks_behind"] == len(days)
    for key, label in (("on_time", reporting.ON_TIME), ("late", reporting.LATE),
                       ("missing", reporting.MISSING), ("via_children", reporting.VIA_CHILDREN)):
        counts = weekly[weekly["reporting"] == label].groupby("code").size()
        units[key] = units["code"].map(counts).fillna(0).astype(int)
    units["record"] = [_record(r) for r in units.to_dict("records")]
    scope_rows = frame[frame["code"] == scope_code].set_index("as_of")
    scope_start = scope_rows.loc[previous].to_dict() if previous in scope_rows.index else None
    data.month = MonthFigures(year, number, previous, days, units.reset_index(drop=True), weekly,
                              scope_start, data.scope)
    return data


def _record(row: dict) -> str:
    """按时 3 周、逾期 1 周、未上报 0 周"""
    parts = [f"按时{row['on_time']}周"]
    if row["late"]:
        parts.append(f"逾期{row['late']}周")
    if row["missing"]:
        parts.append(f"未上报{row['missing']}周")
    if row["via_children"]:
        parts.append(f"由下级汇总{row['via_children']}周")
    return "、".join(parts)


TABLE_COLUMNS = {
    "rank": "排名", "name": "单位", "target": "任务数", "enrolled_start": "月初累计参保人数",
    "enrolled": "月末累计参保人数", "month_delta": "本月新增", "completion_start": "月初完成率",
    "completion": "月末完成率", "change_pp": "完成率变化（百分点）", "rank_start": "上月排名",
    "rank_change": "排名变化", "weeks_behind": "低于序时目标的周数", "on_time": "按时上报（周）",
    "late": "逾期上报（周）", "missing": "未上报（周）", "record": "本月上报情况",
}


def table(data: ExportData) -> pd.DataFrame:
    """The month's unit table with Chinese headers (the page, the workbook)."""
    frame = data.month.units
    return frame[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)


def weekly_table(data: ExportData) -> pd.DataFrame:
    """Unit by week: the reporting status of each week of the month (columns 第N周)."""
    month = data.month
    names = dict(zip(month.units["code"], month.units["name"]))
    pivot = month.weekly.pivot(index="code", columns="as_of", values="reporting")
    pivot = pivot.reindex(index=list(month.units["code"]), columns=month.days)
    pivot.columns = [f"第{data.campaign.week_number(d)}周（{cn_short_date(d)}）" for d in month.days]
    pivot.insert(0, "单位", [names[c] for c in pivot.index])
    return pivot.reset_index(drop=True)


# --- the Word draft's prose -------------------------------------------------------------------

def _names(rows: list[dict], describe=None, limit: int = LIST_LIMIT) -> str:
    parts = [f"{r['name']}（{describe(r)}）" if describe else r["name"] for r in rows[:limit]]
    return "、".join(parts) + (f"等{len(rows)}个单位" if len(rows) > limit else "")


def progress_paragraph(data: ExportData) -> str:
    """The month's change for the whole scope."""
    month = data.month
    start = "集中参保期开始时" if month.previous_as_of is None else \
        f"上月末（{cn_short_date(month.previous_as_of)}）"
    end = month.scope_end
    if pd.isna(end["enrolled"]):
        return f"{month.label}{data.scope['name']}尚无上报数据。"
    was = month.scope_start
    before = 0 if was is None or pd.isna(was["enrolled"]) else int(was["enrolled"])
    text = (f"{month.label}，{data.scope['name']}累计参保人数由{start}的{before:,}人增加到"
            f"{cn_short_date(data.as_of)}的{int(end['enrolled']):,}人，本月新增{int(end['enrolled']) - before:,}人")
    if not pd.isna(end["completion"]):
        was_rate = 0.0 if was is None or pd.isna(was["completion"]) else float(was["completion"])
        text += (f"，完成率由{percent(was_rate)}提高到{percent(end['completion'])}"
                 f"（提高{(float(end['completion']) - was_rate) * 100:.2f}个百分点）")
    return text + "。"


def ranking_paragraphs(data: ExportData) -> list[str]:
    """Who moved up and down the ranking since the previous month."""
    month = data.month
    rows = month.units.to_dict("records")
    if month.previous_as_of is None:
        return ["本月为集中参保期的第一个月，没有上月排名可比。"]
    up = sorted([r for r in rows if not pd.isna(r["rank_change"]) and r["rank_change"] > 0],
                key=lambda r: -r["rank_change"])
    down = sorted([r for r in rows if not pd.isna(r["rank_change"]) and r["rank_change"] < 0],
                  key=lambda r: r["rank_change"])
    if not up and not down:
        return ["与上月相比，各单位完成率排名没有变化。"]
    out = []
    if up:
        out.append("与上月相比，排名上升的是" + _names(
            up, lambda r: f"由第{int(r['rank_start'])}名升至第{int(r['rank'])}名") + "。")
    if down:
        out.append(("排名下降的是" if up else "与上月相比，排名下降的是") + _names(
            down, lambda r: f"由第{int(r['rank_start'])}名降至第{int(r['rank'])}名") + "。")
    fast = [r for r in rows if not pd.isna(r["change_pp"])]
    if len(fast) >= 2:
        fast.sort(key=lambda r: -float(r["change_pp"]))
        best, worst = fast[0], fast[-1]
        out.append(f"本月完成率提高最多的是{best['name']}（{float(best['change_pp']):.2f}个百分点），"
                   f"最少的是{worst['name']}（{float(worst['change_pp']):.2f}个百分点）。")
    return out


def behind_paragraph(data: ExportData) -> str:
    """Units below the 序时目标 in every week of the month."""
    month = data.month
    weeks = len(month.days)
    level = LEVEL_LABELS.get(data.level, data.level)
    rows = [r for r in month.units.to_dict("records") if r["behind_every_week"]]
    if not rows:
        return f"本月{weeks}个上报周中，没有{level}每周都低于序时目标。"
    return (f"本月{weeks}个上报周中，每周完成率都低于序时目标的{level}有{len(rows)}个："
            + _names(rows, lambda r: f"月末完成率{percent(r['completion'])}") + "，要认真分析原因，加快进度。")


def reporting_paragraphs(data: ExportData) -> list[str]:
    """Each unit's reporting record for the month, the clean ones summed up."""
    month = data.month
    weeks = len(month.days)
    rows = month.units.to_dict("records")
    clean = [r for r in rows if r["on_time"] + r["via_children"] == weeks]
    out = [f"本月共{weeks}个上报周（{'、'.join(f'第{data.campaign.week_number(d)}周' for d in month.days)}），"
           f"{len(clean)}个单位每周均按时上报。"]
    late = [r for r in rows if r["late"] and not r["missing"]]
    missing = [r for r in rows if r["missing"]]
    if missing:
        out.append("有未上报的是" + _names(missing, lambda r: r["record"]) + "。")
    if late:
        out.append("有逾期上报的是" + _names(late, lambda r: r["record"]) + "。")
    return out


def sections(data: ExportData) -> list[tuple[str, list[str]]]:
    """The monthly bulletin's sections after 一、总体进度 (numbered by the draft)."""
    level = LEVEL_LABELS.get(data.level, data.level)
    return [(f"各{level}本月进度", ranking_paragraphs(data)),
            ("连续落后的单位", [behind_paragraph(data)]),
            ("本月上报情况", reporting_paragraphs(data))]
