"""What the 进度总览 page shows, computed without Streamlit (so tests and the CLI can use it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from .. import settings
from ..campaigns.model import Campaign
from ..labels import COLUMN_LABELS, LEVEL_LABELS, STATUS_LABELS
from ..text import md
from . import money, progress, reporting

MAX_BARS = 60
STATUS_MARKDOWN_COLORS = {"behind": "red", "not_reported": "gray", "on_track": "blue",
                          "achieved": "green", "no_target": "gray"}


@dataclass
class View:
    """The unit being looked at (the drill-down position) and its children."""

    code: str
    unit: dict
    children: pd.DataFrame

    @classmethod
    def at(cls, result: progress.Progress, code: str | None) -> "View":
        units = result.units
        if not code or code not in set(units["code"]):
            code = result.total["code"]
        unit = units[units["code"] == code].iloc[0].to_dict()
        return cls(code, unit, result.children(code))


def caption(ctx, result: progress.Progress) -> str:
    """The line under the title (Markdown: the campaign name is escaped)."""
    c = result.campaign
    week = result.week
    when = f"截至 {result.as_of:%Y年%m月%d日}" + (f"（第{week}周）" if week else "")
    source = "示例数据（模拟）" if ctx.source == "demo" else "各单位每周上报"
    return f"{md(c.name)} · {when} · 目标参保率 {c.goal:.0%} · 数据来源：{source}"


@dataclass(frozen=True)
class Change:
    """A headline's change line (较上周 +12,360) and whether it is good news.

    `sign` is that of the number as shown (a gap of -0.004 points shows as 0.00 and is 0):
    the page draws +1 green with an up arrow, -1 red with a down arrow, 0 grey without one.
    Streamlit judges a text delta by its first character only, so the colour is set here.
    """

    text: str
    sign: int

    @classmethod
    def of(cls, words: str, value: float, spec: str, unit: str = "") -> "Change":
        shown = format(value, spec)
        number = float(shown.replace(",", ""))
        if number == 0:
            shown = shown.lstrip("+-")
        return cls(f"{words} {shown}{unit}", (number > 0) - (number < 0))

    @property
    def color(self) -> str:
        return {1: "green", 0: "gray", -1: "red"}[self.sign]

    @property
    def arrow(self) -> str:
        return {1: "up", 0: "off", -1: "down"}[self.sign]

    def __str__(self) -> str:
        return self.text


@dataclass
class Headline:
    enrolled: str
    week_delta: Change | None
    enrolled_help: str
    completion: str
    gap: Change | None
    time_progress: str
    days_left: str
    projection: str
    projection_gap: Change | None
    summary_markdown: str
    amount: str | None = None          # 征缴金额 (None: the campaign counts no money)
    amount_share: str | None = None    # 应缴的 98.50%
    amount_help: str = ""


def _na(value) -> bool:
    return value is None or pd.isna(value)


def headline(result: progress.Progress, unit: dict, series: pd.DataFrame) -> Headline:
    """The big numbers for one unit, formatted."""
    c = result.window
    target, enrolled = unit["target"], unit["enrolled"]
    days_left = max((c.end - result.as_of).days, 0)
    projected = progress.projection(series, c, result.as_of)
    proj_completion = None if projected is None or _na(target) else projected / target
    needed = unit.get("needed_per_week")
    pace = float(result.pace)
    tp = float(result.time_progress)
    if _na(target):
        enrolled_help = "目标任务未录入"
    else:
        enrolled_help = f"任务数 {int(target):,} 人"
    lines = [
        f"任务数 **{'未录入' if _na(target) else format(int(target), ',')}** · "
        f"序时目标 **{pace:.2%}**（{c.goal:.0%} × 序时进度 {tp:.2%}）"
        + ("" if days_left == 0 or _na(needed) else f" · 每周还需参保 **{int(needed):,}** 人"),
    ]
    collected = _money(result, unit)
    if collected:
        # A line of its own, not a sixth figure: that would wrap the projector's row of five.
        lines.append(f"征缴金额 **{collected['amount']}**" + (
            f"（{collected['amount_share']}）" if collected["amount_share"] else "")
            + f" · {money.basis(result.campaign.terms)}")
    return Headline(
        enrolled="—" if _na(enrolled) else f"{int(enrolled):,}",
        week_delta=None if _na(unit["week_delta"]) else Change.of("较上周", int(unit["week_delta"]), "+,"),
        enrolled_help=enrolled_help,
        completion="—" if _na(unit["completion"]) else f"{unit['completion']:.2%}",
        gap=None if _na(unit["gap_pp"]) else Change.of("较序时", unit["gap_pp"], "+.2f", " 个百分点"),
        time_progress=f"{tp:.2%}",
        days_left=f"{days_left} 天" if days_left else "已结束",
        projection=("—" if proj_completion is None
                    else "超过 100%" if proj_completion > 1 else f"{proj_completion:.1%}"),
        projection_gap=None if proj_completion is None
        else Change.of("较目标", (proj_completion - float(c.goal)) * 100, "+.1f", " 个百分点"),
        summary_markdown="  \n".join(lines + [status_markdown(result, unit["code"])]),
        **collected,
    )


def _money(result: progress.Progress, unit: dict) -> dict:
    """The headline's 征缴金额: the amount, its share of 应缴金额 and how that is reckoned."""
    terms = result.campaign.terms
    amount, expected = unit.get("amount"), unit.get("expected_amount")
    if _na(amount) and not terms.known:
        return {}
    share = unit.get("amount_share")
    help_text = ("征缴金额为各单位上报的累计缴费金额；" +
                 (f"应缴金额 {money.wan(expected)}（累计参保人数 × 缴费标准，{money.basis(terms)}）"
                  if not _na(expected) else money.basis(terms)))
    return {"amount": "—" if _na(amount) else money.wan(amount),
            "amount_share": None if _na(share) else f"应缴的 {float(share):.2%}",
            "amount_help": help_text if not _na(amount) else "尚未上报征缴金额；" + help_text}


def shows_money(result: progress.Progress, frame: pd.DataFrame) -> bool:
    """Whether tables show 征缴金额: the campaign knows its contribution, or amounts came in."""
    return result.campaign.terms.known or bool(frame["amount"].notna().any())


def status_markdown(result: progress.Progress, code: str) -> str:
    """Counts of the unit's children by status, coloured as in the chart."""
    children = result.children(code)
    if children.empty:
        return ""
    counts = result.status_counts(children)
    level = LEVEL_LABELS.get(children["level"].iloc[0], "")
    parts = [f":{STATUS_MARKDOWN_COLORS[k]}[{STATUS_LABELS[k]} **{v}**]"
             for k, v in counts.items() if v]
    return f"下级{level} {len(children)} 个：" + " · ".join(parts)


def window_note(result: progress.Progress, frame: pd.DataFrame) -> str | None:
    """Where units of `frame` have another window than the unit they are ranked under (吉林:
    长春市、吉林市、松原市 from 2021-10-08), in words: their pace lines are their own."""
    if "window_start" not in frame or frame.empty:
        return None
    base = result.window
    differ = frame[(frame["window_start"] != base.start) | (frame["window_end"] != base.end)]
    if differ.empty:
        return None
    parts = []
    for (start, end), rows in differ.groupby(["window_start", "window_end"], sort=True):
        reason = next((w.reason for w in result.campaign.unit_windows
                       if (w.start, w.end) == (start, end) and w.reason), "")
        names = "、".join(rows["name"])
        parts.append(f"{names}的集中参保期为{_cn(start)}至{_cn(end)}"
                     + (f"（{reason}）" if reason else ""))
    return ("；".join(parts) + f"，与{_cn(base.start)}至{_cn(base.end)}不同，"
            "其序时目标按各自的参保期计算")


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def ranking_rows(children: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """The bars to draw: all children, or the lowest MAX_BARS with a note when there are more."""
    if len(children) <= MAX_BARS:
        return children, None
    worst = children.sort_values("completion", na_position="first").head(MAX_BARS)
    return worst, (f"共 {len(children)} 个单位，图中显示完成率最低的 {MAX_BARS} 个；"
                   "完整名单见「明细表」。")


def selected_code(event) -> str | None:
    """The unit code of a clicked bar (customdata[4]), if any."""
    try:
        points = event.selection.points
    except AttributeError:
        try:
            points = event["selection"]["points"]
        except (KeyError, TypeError):
            return None
    for point in points or []:
        data = point.get("customdata")
        if data and len(data) > 4:
            return data[4]
    return None


def file_stem(ctx, result: progress.Progress, unit: dict) -> str:
    tag = "示例数据-" if ctx.source == "demo" else ""
    return f"{tag}{unit['name']}-参保进度-{result.as_of:%Y%m%d}"


def reporting_markdown(status: pd.DataFrame, campaign: Campaign, as_of: dt.date) -> str:
    counts = reporting.summary(status)
    deadline = campaign.deadline(as_of)
    parts = [f"按时上报 **{counts[reporting.ON_TIME]}**",
             f":orange[逾期上报 **{counts[reporting.LATE]}**]",
             f":red[未上报 **{counts[reporting.MISSING]}**]"]
    if counts[reporting.VIA_CHILDREN]:
        parts.append(f"由下级汇总 **{counts[reporting.VIA_CHILDREN]}**")
    return (f"第{campaign.week_number(as_of)}周（截止 {deadline:%m月%d日 %H:%M}）：" + " · ".join(parts))


def reporting_table(status: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "单位": status["name"],
        "本周上报": status["status"],
        "上报时间": _local_times(status["uploaded_at"]),
        "上报人": status["uploader"].fillna(""),
        "最近上报日期": pd.to_datetime(status["last_date"]).dt.strftime("%Y-%m-%d").fillna("从未上报"),
    })
    order = {reporting.MISSING: 0, reporting.LATE: 1, reporting.VIA_CHILDREN: 2, reporting.ON_TIME: 3}
    return out.sort_values("本周上报", key=lambda s: s.map(order), kind="stable")


def _local_times(values: pd.Series) -> pd.Series:
    """UTC upload times as local month-day hour:minute."""
    zone = ZoneInfo(settings.timezone())
    return values.map(lambda v: "" if pd.isna(v) else
                      pd.Timestamp(v).tz_localize("UTC").tz_convert(zone).strftime("%m-%d %H:%M"))


def low_income_rows(result: progress.Progress, view: View) -> pd.DataFrame:
    """Units (the view's children, or the unit itself) with a low-income target, against 100%."""
    frame = view.children if not view.children.empty else result.units[
        result.units["code"] == view.code]
    frame = frame[frame["low_income_target"].notna()]
    if frame.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        "单位": frame["name"],
        COLUMN_LABELS["low_income_target"]: frame["low_income_target"],
        COLUMN_LABELS["low_income_enrolled"]: frame["low_income_enrolled"],
        COLUMN_LABELS["low_income_completion"]: frame["low_income_completion"] * 100,
        "未参保人数": frame["low_income_target"] - frame["low_income_enrolled"].fillna(0),
    })
    return out.sort_values(COLUMN_LABELS["low_income_completion"], na_position="first")


def descendants(result: progress.Progress, code: str) -> set[str]:
    """The unit and every unit below it."""
    kids: dict[str, list[str]] = {}
    for child, parent in zip(result.units["code"], result.units["parent_code"]):
        if isinstance(parent, str):
            kids.setdefault(parent, []).append(child)
    out, stack = set(), [code]
    while stack:
        current = stack.pop()
        out.add(current)
        stack.extend(kids.get(current, []))
    return out


def flags_in_view(flags: pd.DataFrame, inside: set[str] | frozenset[str]) -> pd.DataFrame:
    """The flags of the units in `inside` (a unit and the units below it), for the table."""
    shown = flags[flags["code"].isin(inside)]
    return pd.DataFrame({
        "单位": shown["name"], "层级": shown["level"].map(LEVEL_LABELS), "问题": shown["flag"],
        "详情": shown["detail"], "单位代码": shown["code"]})


def compare_weeks(now: progress.Progress, before: progress.Progress, code: str) -> pd.DataFrame:
    """The view's children at two weeks: completion and enrolled, and the change."""
    a = now.children(code) if not now.children(code).empty else now.units[now.units["code"] == code]
    b = before.units.set_index("code")
    earlier = b.reindex(a["code"])
    label_now = f"{now.as_of:%m月%d日}"
    label_before = f"{before.as_of:%m月%d日}"
    out = pd.DataFrame({
        "单位": a["name"].values,
        f"完成率（{label_before}）": (earlier["completion"] * 100).values,
        f"完成率（{label_now}）": (a["completion"] * 100).values,
        "完成率变化（百分点）": ((a["completion"].values - earlier["completion"].values) * 100),
        f"累计参保（{label_before}）": earlier["enrolled"].values,
        f"累计参保（{label_now}）": a["enrolled"].values,
        "新增参保": a["enrolled"].values - earlier["enrolled"].values,
        f"状态（{label_now}）": a["status"].map(STATUS_LABELS).values,
    })
    return out.sort_values("完成率变化（百分点）", na_position="first")
