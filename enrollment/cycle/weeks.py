"""Locking a week's figures, unlocking them, and exceptions for single units.

Publishing a week's bulletin locks the week (publishing.py); an administrator may also lock a
week by hand, unlock it, or let one unit (and the units below it) change the locked week again
with a reason. Whether a change is refused is decided in one place, `uploads/rights.py`
(`lock_refusal`), for uploads and withdrawals, on the page and in the CLI. Every change here is
in the audit log, in the transaction of the change.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .. import campaigns, db, text
from ..campaigns import units
from ..campaigns.model import Campaign
from ..db import Session, Store
from ..identity import audit
from ..metrics.progress import report_days
from ..uploads import rights
from ..uploads.log import local_time

MAX_REASON = 200


class WeekError(ValueError):
    """A lock, unlock or exception that cannot be done (Chinese); nothing was changed."""


def report_day(campaign: Campaign, day: dt.date) -> dt.date:
    """The report day of the week `day` belongs to: its Friday, or the window's last day."""
    if not campaign.in_window(day):
        raise WeekError(f"日期 {day} 不在集中参保期（{campaign.start} 至 {campaign.end}）内")
    return min(campaign.week_end(day), campaign.end)


def week_title(campaign: Campaign, day: dt.date) -> str:
    """第12周（2021-11-13 至 2021-11-19）"""
    number = campaign.week_number(day)
    return f"第{number}周（{campaign.week_start_of(number)} 至 {report_day(campaign, day)}）"


def _reason(value: str | None, what: str, required: bool) -> str | None:
    try:
        return text.clean_text(value, what=what, limit=MAX_REASON, required=required)
    except text.TextError as exc:
        raise WeekError(str(exc)) from exc


def lock(store: Store, campaign_id: str, day: dt.date, *, actor: str | None,
         role: str | None = None, address: str | None = None,
         now: dt.datetime | None = None) -> rights.WeekLock:
    """Lock the week `day` belongs to (without publishing); WeekError when it is locked."""
    now = now or audit.now_utc()
    with store.write() as tx:
        campaign = campaigns.get(tx, campaign_id)
        day = report_day(campaign, day)
        held = rights.week_lock(tx, campaign, day)
        if held is not None:
            raise WeekError(f"{held.describe()}，无需再次锁定")
        lock_week(tx, campaign, day, actor=actor, role=role, address=address, now=now)
        return rights.week_lock(tx, campaign, day)


def lock_week(tx: Session, campaign: Campaign, day: dt.date, *, actor: str | None,
              role: str | None, address: str | None, now: dt.datetime,
              bulletin_id: int | None = None) -> int:
    """Inside a write transaction: lock the week (or give an existing lock to the bulletin)."""
    held = rights.week_lock(tx, campaign, day)
    if held is not None:
        if bulletin_id is not None:
            db.weeks.attach_bulletin(tx, held.id, bulletin_id)
        return held.id
    lock_id = db.weeks.insert_lock(tx, campaign.id, campaign.week_end(day), actor, now, bulletin_id)
    how = "发布通报，" if bulletin_id else ""
    audit.record(tx, actor, "week_locked",
                 f"{how}锁定{week_title(campaign, day)}的数字：该周不再接受上报和撤回",
                 address, campaign_id=campaign.id, role=role, now=now)
    return lock_id


def unlock(store: Store, campaign_id: str, day: dt.date, *, actor: str | None,
           reason: str | None = None, role: str | None = None, address: str | None = None,
           now: dt.datetime | None = None) -> rights.WeekLock:
    """Unlock a locked week: every unit may change its figures again. Returns the lock that
    was in force; WeekError when the week is not locked. The published files stay archived."""
    now = now or audit.now_utc()
    reason = _reason(reason, "解除锁定的原因", required=False)
    with store.write() as tx:
        campaign, day, held = _locked(tx, campaign_id, day, "")
        db.weeks.unlock(tx, held.id, actor, now, reason)
        audit.record(tx, actor, "week_unlocked",
                     f"解除{week_title(campaign, day)}的锁定" + (f"，原因：{reason}" if reason else "")
                     + "；已发布的通报文件仍保留在归档中",
                     address, campaign_id=campaign.id, role=role, now=now)
        return held


def _locked(tx: Session, campaign_id: str, day: dt.date, refusal: str):
    """(campaign, the week's report day, its lock) of a week that must be locked; WeekError
    「第N周…没有锁定」 + `refusal` when it is not."""
    campaign = campaigns.get(tx, campaign_id)
    day = report_day(campaign, day)
    held = rights.week_lock(tx, campaign, day)
    if held is None:
        raise WeekError(f"{week_title(campaign, day)}没有锁定{refusal}")
    return campaign, day, held


def resolve_unit(tx: Session, campaign_id: str, unit: str) -> tuple[str, str]:
    """(code, name) of a unit given by code or name; WeekError when none or several fit."""
    index = units.index(tx, campaign_id)
    codes = [unit] if unit in index.names else index.resolve(unit)
    if len(codes) != 1:
        what = "对应多个单位，请填写单位代码" if codes else "不是本活动的单位"
        raise WeekError(f"「{unit}」{what}")
    return codes[0], index.names[codes[0]]


def allow(store: Store, campaign_id: str, day: dt.date, unit: str, reason: str, *,
          actor: str | None, role: str | None = None, address: str | None = None,
          now: dt.datetime | None = None) -> int:
    """Let one unit (and the units below it) change the locked week's figures again, with a
    reason; returns the exception's number. WeekError when the week is not locked, the unit is
    unknown or already allowed, or the reason is missing."""
    now = now or audit.now_utc()
    reason = _reason(reason, "开放例外的原因", required=True)
    with store.write() as tx:
        campaign, day, held = _locked(tx, campaign_id, day, "，各单位可以直接上报，无需开放例外")
        code, name = resolve_unit(tx, campaign.id, unit)
        if code in held.exceptions:
            raise WeekError(f"{week_title(campaign, day)}已为「{name}」开放例外（原因：{held.exceptions[code]}）")
        exception_id = db.weeks.insert_exception(tx, held.id, campaign.id, held.week_end, code,
                                                 reason, actor, now)
        audit.record(tx, actor, "week_exception",
                     f"{week_title(campaign, day)}已锁定，为「{name}」（{code}）及其下属单位开放例外，"
                     f"可再次上报或撤回该周数字；原因：{reason}",
                     address, campaign_id=campaign.id, role=role, now=now)
        return exception_id


def revoke(store: Store, campaign_id: str, day: dt.date, unit: str, *, actor: str | None,
           role: str | None = None, address: str | None = None,
           now: dt.datetime | None = None) -> None:
    """End a unit's exception: the locked week refuses its changes again."""
    now = now or audit.now_utc()
    with store.write() as tx:
        campaign = campaigns.get(tx, campaign_id)
        day = report_day(campaign, day)
        held = rights.week_lock(tx, campaign, day)
        code, name = resolve_unit(tx, campaign.id, unit)
        found = [e for e in db.weeks.exceptions(tx, held.id) if e["unit_code"] == code] if held else []
        if not found:
            raise WeekError(f"{week_title(campaign, day)}没有为「{name}」开放的例外")
        for entry in found:
            db.weeks.revoke_exception(tx, entry["id"], actor, now)
        audit.record(tx, actor, "week_exception_revoked",
                     f"撤销{week_title(campaign, day)}为「{name}」（{code}）开放的例外",
                     address, campaign_id=campaign.id, role=role, now=now)


STATUS_COLUMNS = {"week": "周次", "start": "起", "report_day": "止（上报日）", "status": "状态",
                  "locked_by": "锁定人", "locked_at": "锁定时间", "exceptions": "例外单位"}
PUBLISHED_AND_LOCKED, LOCKED, OPEN = "已发布并锁定", "已锁定", "未锁定"


def status(tx: Session, campaign: Campaign) -> pd.DataFrame:
    """Every week of the window: its dates, whether it is locked (and by publishing), who
    locked it and when (local time), and the units allowed to change it."""
    locks = db.weeks.locked_weeks(tx, campaign.id)
    locks["week_end"] = pd.to_datetime(locks["week_end"]).dt.date
    locks = locks.drop_duplicates("week_end", keep="last").set_index("week_end")
    granted = db.weeks.all_exceptions(tx, campaign.id)
    granted["week_end"] = pd.to_datetime(granted["week_end"]).dt.date
    rows = []
    for day in report_days(campaign):
        number = campaign.week_number(day)
        week_end = campaign.week_end(day)
        row = {"week": number, "start": campaign.week_start_of(number), "report_day": day,
               "status": OPEN, "locked_by": "", "locked_at": "", "exceptions": ""}
        if week_end in locks.index:
            held = locks.loc[week_end]
            row["status"] = PUBLISHED_AND_LOCKED if pd.notna(held["bulletin_id"]) else LOCKED
            row["locked_by"] = held["locked_by"] or ""
            row["locked_at"] = local_time(held["locked_at"]).strftime("%Y-%m-%d %H:%M")
            mine = granted[granted["week_end"] == week_end]
            row["exceptions"] = "；".join(f"{r.unit_name or r.unit_code}（{r.reason}）"
                                         for r in mine.itertuples())
        rows.append(row)
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))

