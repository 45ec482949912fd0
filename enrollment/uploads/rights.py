"""Who may change which figures, and when: the one check behind the upload page, the CLI and
withdrawals.

A change of figures (an upload, a correction, a withdrawal) is made by an actor: an account
whose role may upload or withdraw, or anyone while no account exists (open mode). It may touch
the units of the actor's scope (a 填报员's units and every unit below them; anyone else: every
unit), for a report date whose week may still change: inside the campaign's window and not
after this week's Friday. Published weeks are locked here too once the bureau locks them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .. import db, text
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
