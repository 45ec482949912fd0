"""Who may change which figures, and when: the one check behind the upload page, the CLI and
withdrawals.

A change of figures (an upload, a correction, a withdrawal) is made by an actor: an account
whose role may upload or withdraw, or anyone while no account exists (open mode). It may touch
the units of the actor's scope (a 填报员's units and every unit below them; anyone else: every
unit), for a report date whose week may still change: inside the campaign's window and not
after this week's Friday, and not in a locked week (`lock_refusal`): publishing a week's
bulletin locks its report dates (Saturday to Friday) until an administrator unlocks the week or
grants one unit an exception (that unit and the units below it may change the week again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .. import db, settings, text
from ..campaigns import Campaign
from ..db import Session, Store
from ..identity import accounts
from ..identity.access import Viewer

UPLOAD = "upload"
WITHDRAW = "withdraw"
MANAGE_TARGETS = "manage_targets"
# What each permission lets one do, in the refusal messages.
DOING = {UPLOAD: "上报或撤回数据", WITHDRAW: "上报或撤回数据", MANAGE_TARGETS: "修改目标任务"}
MAX_NAME = 100


class Refused(Exception):
    """The actor may not make this change (message in Chinese); nothing was changed."""


@dataclass(frozen=True)
class Actor:
    """Who changes figures: the name recorded with the change, the account's role, and the
    units whose figures (and those below them) it may change; `units` None means every unit."""
    name: str | None
    role: str | None = None
    units: tuple[str, ...] | None = None


def of_viewer(viewer: Viewer, permission: str) -> Actor:
    """The actor of a browser session, or of the account a command line names."""
    if not viewer.can(permission):
        role = viewer.user.role_label if viewer.user else ""
        raise Refused(f"账号「{viewer.name}」是{role}，没有{DOING.get(permission, permission)}的权限。")
    return Actor(viewer.name, viewer.role, viewer.scope)


def named(store: Store, name: str | None, permission: str) -> Actor:
    """The actor a command line names (`--uploader`), checked as the page checks a login.

    The name is compared after NFKC (full-width ｒｅｐ１ is rep1) and may not hold control or
    invisible characters. Once accounts exist it must be an active account whose role has the
    permission, so a look-alike of an account cannot pass as a free-text name; in open mode any
    name is recorded as typed.
    """
    if name is None:
        return Actor(None)
    try:
        name = text.clean_text(name, what="--uploader", limit=MAX_NAME, fold=True)
    except text.TextError as exc:
        raise Refused(str(exc)) from exc
    with store.read() as tx:
        if not accounts.any_account(tx):
            return Actor(name)
        user = accounts.get(tx, name)
    doing = DOING.get(permission, permission)
    if user is None:
        raise Refused(f"账号「{name}」不存在。已启用账号后，--uploader 须是账号的用户名"
                      "（可用 users list 查看）。")
    if not user.active:
        raise Refused(f"账号「{user.name}」已停用，不能{doing}。")
    return of_viewer(Viewer(user, open_mode=False), permission)


def scope(tx: Session, campaign_id: str, units: Iterable[str] | None) -> set[str] | None:
    """The units whose figures may be changed: the given units and every unit below them;
    None means every unit of the campaign."""
    if units is None:
        return None
    return db.units.descendants(tx, campaign_id, units)


def scope_text(tx: Session, campaign_id: str, units: Iterable[str]) -> str:
    """您负责：泽州县及其下属单位 — a scope as its owner knows it."""
    codes = list(units)
    names = db.units.names(tx, campaign_id, codes)
    if not names:
        return "您在本活动中没有负责的单位"
    return f"您负责：{'、'.join(names[c] for c in codes if c in names)}及其下属单位"


def latest_allowed_date(campaign: Campaign, today: dt.date) -> dt.date:
    """The latest report date accepted today: this week's Friday, inside the windows."""
    return min(campaign.week_end(today), campaign.span[1])


def date_refusal(campaign: Campaign, day: dt.date, today: dt.date) -> str | None:
    """Why figures as of `day` may not be changed today (Chinese), or None when they may.

    The windows are the campaign's and its units' own (ingest checks each row against its
    unit's window)."""
    first, last = campaign.span
    if not first <= day <= last:
        return f"上报日期 {day} 不在集中参保期（{first} 至 {last}）内"
    if day > latest_allowed_date(campaign, today):
        return f"上报日期 {day} 晚于本周五（{campaign.week_end(today)}），不能提前上报以后的数字"
    return None


# --- locked weeks --------------------------------------------------------------------------

@dataclass(frozen=True)
class WeekLock:
    """A lock in force on a week: who locked it and when (UTC), the bulletin that locked it,
    and the units granted an exception (code -> reason)."""
    id: int
    week_end: dt.date
    week: int
    week_start: dt.date
    locked_by: str | None
    locked_at: dt.datetime
    bulletin_id: int | None
    exceptions: dict[str, str]

    def locked_at_local(self) -> str:
        zone = ZoneInfo(settings.timezone())
        return self.locked_at.replace(tzinfo=dt.timezone.utc).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def describe(self) -> str:
        """第12周（2021-11-13 至 2021-11-19）已于 2021-11-19 17:40 由「张三」发布通报并锁定"""
        how = "发布通报并锁定" if self.bulletin_id else "锁定"
        who = f"由「{self.locked_by}」" if self.locked_by else ""
        return (f"第{self.week}周（{self.week_start} 至 {self.week_end}）已于 "
                f"{self.locked_at_local()} {who}{how}")


def week_lock(tx: Session, campaign: Campaign, day: dt.date) -> WeekLock | None:
    """The lock in force on the week `day` belongs to, or None."""
    week_end = campaign.week_end(day)
    row = db.weeks.current_lock(tx, campaign.id, week_end)
    if row is None:
        return None
    number = campaign.week_number(day)
    granted = {e["unit_code"]: e["reason"] for e in db.weeks.exceptions(tx, row["id"])}
    return WeekLock(row["id"], week_end, number, campaign.week_start_of(number) if number else day,
                    row["locked_by"], row["locked_at"], row["bulletin_id"], granted)


HOW_TO_ASK = ("如需更正，请联系管理员在「通报导出 → 锁定与例外」中为本单位开放例外"
              "（命令行：week allow），或解除该周的锁定")


def lock_refusal(tx: Session, campaign: Campaign, day: dt.date,
                 codes: Iterable[str]) -> str | None:
    """Why figures of these units as of `day` may not change because the week is locked
    (Chinese: who locked it, when, how to ask for a change), or None when they may.

    An exception granted for a unit covers that unit and every unit below it.
    """
    lock = week_lock(tx, campaign, day)
    if lock is None:
        return None
    codes = list(dict.fromkeys(codes))
    allowed = db.units.descendants(tx, campaign.id, lock.exceptions) if lock.exceptions else set()
    blocked = [c for c in codes if c not in allowed]
    if not blocked:
        return None
    message = f"{lock.describe()}，不能再上报或撤回该周（上报日期 {day}）的数字。{HOW_TO_ASK}。"
    if lock.exceptions:
        names = db.units.names(tx, campaign.id, list(lock.exceptions) + blocked[:5])
        granted = "、".join(names.get(c, c) for c in lock.exceptions)
        outside = "、".join(names.get(c, c) for c in blocked[:5]) + ("等" if len(blocked) > 5 else "")
        message += f"（该周已为{granted}开放例外；{outside}不在其中）"
    return message


def lock_note(tx: Session, campaign: Campaign, day: dt.date, ask: bool = True) -> str | None:
    """What a page says when `day`'s week is locked (Chinese), or None; `ask` adds how to ask
    for a change (the upload form; not the administrators' own box)."""
    lock = week_lock(tx, campaign, day)
    if lock is None:
        return None
    note = f"{lock.describe()}，该周的数字不能再上报或撤回。" + (f"{HOW_TO_ASK}。" if ask else "")
    if lock.exceptions:
        names = db.units.names(tx, campaign.id, list(lock.exceptions))
        note += f"已开放例外的单位（及其下属单位）：{'、'.join(names.get(c, c) for c in lock.exceptions)}。"
    return note
