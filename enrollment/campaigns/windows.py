"""Windows that move: a campaign's window (集中参保期) extended or moved with a reason, or a
unit given a window of its own that its subtree inherits, every change kept as history and in
the audit log.

万州周办发〔2022〕1号: 「为防控疫情风险，集中参保期延长至2022年2月28日」; 吉医保联〔2021〕23号:
长春市、吉林市、松原市「因系统切换原因」2021-10-08 至 12-31 while the province kept 10-01 – 12-31.

Every change goes through `change_window` (a page, the command line) and, inside it, `_record`
(also used for a definition file's shipped history): weeks, 序时进度, status and exports read
the campaign afresh after it, as they read every window from the campaign.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from .. import db
from ..db import Session, Store
from ..identity import audit
from ..text import TextError, clean_text
from . import units
from .model import Campaign, CampaignError, get

MAX_REASON = 200


class WindowError(ValueError):
    """A window change that cannot be made (Chinese message); nothing was changed."""


@dataclass(frozen=True)
class WindowChange:
    """The receipt of a change."""
    change_id: int
    campaign_id: str
    unit_code: str | None          # None: the campaign's own window
    unit_name: str
    start: dt.date | None          # None (with end): the unit follows the campaign again
    end: dt.date | None
    previous_start: dt.date | None
    previous_end: dt.date | None
    reason: str

    def summary(self) -> str:
        before = _span(self.previous_start, self.previous_end)
        if self.start is None:
            return (f"已取消「{self.unit_name}」单独设置的集中参保期（原为 {before}），"
                    f"改为按全活动的参保期计算。原因：{self.reason}")
        after = _span(self.start, self.end)
        delta = ""
        if self.previous_end is not None and self.end != self.previous_end:
            days = (self.end - self.previous_end).days
            delta = f"（结束日期{'推迟' if days > 0 else '提前'} {abs(days)} 天）"
        return (f"已将「{self.unit_name}」的集中参保期由 {before} 调整为 {after}{delta}。"
                f"原因：{self.reason}")


def _span(start: dt.date | None, end: dt.date | None) -> str:
    if start is None and end is None:
        return "全活动的参保期"
    return f"{start or '（未载明）'} 至 {end or '（未载明）'}"


def change_window(store: Store, campaign_id: str, *, reason: str, end: dt.date | None = None,
                  start: dt.date | None = None, unit: str | None = None, inherit: bool = False,
                  actor: str | None = None, address: str | None = None,
                  role: str | None = None, now: dt.datetime | None = None,
                  then: Callable[[Session, str], object] | None = None) -> WindowChange:
    """Change the window of the campaign, or (with `unit`, a code or name) give a unit a window
    of its own that every unit below it inherits; `inherit` puts the unit back on the
    campaign's window. A reason is required. Refused (WindowError, nothing changed) when the
    dates are reversed, nothing would change, or uploaded figures would fall outside the new
    window. Kept in `window_changes` and in the audit log under `actor`.

    `then(tx, campaign_id)` runs in the same transaction once the change is recorded: what
    depends on the calendar and lives above this package (the figures kept per week end:
    metrics.weekly.after_calendar_change, which the page and the command pass)."""
    now = now or audit.now_utc()
    try:
        reason = clean_text(reason, what="调整原因", limit=MAX_REASON, required=False)
    except TextError as exc:
        raise WindowError(str(exc)) from exc
    if not reason:
        raise WindowError("请填写调整集中参保期的原因（例如：为防控疫情风险、因系统切换原因）")
    with store.write() as tx:
        try:
            campaign = get(tx, campaign_id)
        except CampaignError as exc:
            raise WindowError(str(exc)) from exc
        code, name = _unit(tx, campaign, unit)
        if code is None:
            if inherit:
                raise WindowError("「恢复按全活动参保期计算」只适用于单位，请指定单位")
            before = (campaign.start, campaign.end)
            after = (start or campaign.start, end or campaign.end)
        else:
            own = campaign.own_window(code)
            before = (own.start, own.end) if own else (None, None)
            if inherit:
                if own is None:
                    raise WindowError(f"「{name}」没有单独设置集中参保期，无需恢复")
                after = (None, None)
            else:
                current = campaign.window_of(_path(tx, campaign.id, code))
                after = (start or current.start, end or current.end)
        if after[0] is not None:
            if after[1] < after[0]:
                raise WindowError(f"结束日期 {after[1]} 早于开始日期 {after[0]}")
            if after == before:
                raise WindowError(f"「{name}」的集中参保期已是 {_span(*after)}，没有变化")
            _check_figures(tx, campaign, code, name, after)
        change_id = _record(tx, campaign, code, after, before, reason, actor, now)
        if then is not None:
            then(tx, campaign.id)
        what = f"「{name}」" if code else "全活动"
        audit.record(tx, actor, "campaign_changed",
                     f"调整{what}集中参保期：{_span(*before)} → {_span(*after)}；原因：{reason}"
                     f"（第 {change_id} 次调整）", address, campaign_id=campaign.id, role=role,
                     now=now)
    return WindowChange(change_id, campaign.id, code, name, after[0], after[1], before[0],
                        before[1], reason)


def _record(tx: Session, campaign: Campaign, code: str | None,
            after: tuple[dt.date | None, dt.date | None],
            before: tuple[dt.date | None, dt.date | None], reason: str, actor: str | None,
            now: dt.datetime) -> int:
    """The one place a window changes: the history row and, for the campaign, its window."""
    change_id = db.windows.insert(
        tx, campaign_id=campaign.id, unit_code=code, start=after[0], end=after[1],
        previous_start=before[0], previous_end=before[1], reason=reason, changed_by=actor,
        changed_at=now)
    if code is None:
        db.campaigns.set_window(tx, campaign.id, after[0], after[1])
    # Issue 15 keeps figures per week, and weeks, 序时进度 and status follow the window: after
    # both branches merge, the coordinator calls its `rebuild(tx, campaign.id)` here, in this
    # transaction, so that every window change (page, CLI, shipped history) rebuilds them.
    return change_id


def record_shipped(tx: Session, campaign: Campaign, changes: list[dict]) -> int:
    """A definition file's [[window_changes]] (the notice's own extension) as history, once:
    the campaign already has the window they lead to. Returns how many were recorded."""
    if not changes or db.windows.has_changes(tx, campaign.id):
        return 0
    for spec in changes:
        code = spec.get("unit")
        start, end = spec.get("start", campaign.start), spec["end"]
        before = (spec.get("previous_start", campaign.start if code is None else None),
                  spec.get("previous_end"))
        _record(tx, campaign, code, (start, end), before, spec["reason"], "系统内置",
                audit.now_utc())
    return len(changes)


def _unit(tx: Session, campaign: Campaign, text: str | None) -> tuple[str | None, str]:
    """(code, name) of the unit a change is for; (None, campaign name) for the campaign."""
    if not text or not str(text).strip():
        return None, campaign.name
    codes = units.index(tx, campaign.id).resolve(str(text).strip())
    if len(codes) != 1:
        what = "对应多个单位，请填写单位代码" if codes else "不是本活动的单位"
        raise WindowError(f"「{text}」{what}")
    found = db.units.get(tx, campaign.id, codes[0])
    if found.parent_code is None:
        return None, campaign.name          # the top unit's window is the campaign's
    return found.code, found.name


def _path(tx: Session, campaign_id: str, code: str) -> list[str]:
    return [u.code for u in db.units.ancestors(tx, campaign_id, code)]


def _check_figures(tx: Session, campaign: Campaign, code: str | None, name: str,
                   after: tuple[dt.date, dt.date]) -> None:
    """Uploaded figures must stay inside the window of their unit."""
    if code is None:
        starts = [after[0]] + [w.start for w in campaign.unit_windows]
        ends = [after[1]] + [w.end for w in campaign.unit_windows]
        found = db.windows.reports_outside(tx, campaign.id, None, min(starts), max(ends))
    else:
        below = sorted(db.units.descendants(tx, campaign.id, [code]))
        found = db.windows.reports_outside(tx, campaign.id, below, *after)
    count, first, last = found
    if count:
        raise WindowError(
            f"调整后「{name}」已有 {count} 条上报数字（{first} 至 {last}）落在新的集中参保期 "
            f"{_span(*after)} 之外。请先撤回这些上报，或选择包含这些日期的参保期")


def history(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every change of the campaign's windows, newest first."""
    return db.windows.history(tx, campaign_id)


def extension(tx: Session, campaign: Campaign) -> dict | None:
    """The latest change of the campaign's own window that moved its end later, while it is
    still the campaign's end (「集中参保期已延长至…」), or None."""
    frame = db.windows.history(tx, campaign.id)
    own = frame[frame["unit_code"].isna()]
    if own.empty:
        return None
    latest = own.iloc[0].to_dict()
    end = pd.Timestamp(latest["end_date"]).date()
    previous = latest["previous_end"]
    later = pd.isna(previous) or end > pd.Timestamp(previous).date()
    if end != campaign.end or not later:
        return None
    return {"end": end, "previous_end": None if pd.isna(previous) else pd.Timestamp(previous).date(),
            "reason": latest["reason"]}
