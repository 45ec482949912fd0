"""Withdrawing an upload: the uploader's latest upload undone by appending revisions that
restore the figures it replaced (or leave none where there was none); nothing is deleted.

A withdrawal is refused when someone has changed one of those figures since, when the upload
touched units outside the withdrawer's scope, or when its week is locked (uploads/rights.py); it is logged as an upload of
kind 'withdrawal' and in the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from .. import campaigns, db
from ..db import Session, Store
from ..identity import audit
from ..metrics import weekly
from . import rights

SOURCE = "upload"


class WithdrawError(Exception):
    """A withdrawal that cannot be done (message in Chinese); nothing was changed."""


@dataclass
class Withdrawal:
    upload_id: int                 # the withdrawal's own entry in the upload log
    withdrawn_id: int
    file_name: str | None
    report_date: dt.date
    units: int
    restored: int                  # units whose earlier figure for the date is back
    cleared: int                   # units that have no figure for the date any more
    uploaded_at: dt.datetime       # UTC, naive
    number: int | None = None      # the withdrawal's 第 N 号 in the campaign
    withdrawn_number: int | None = None

    def summary(self) -> str:
        parts = []
        if self.restored:
            parts.append(f"{self.restored} 个单位恢复为此前上报的数字")
        if self.cleared:
            parts.append(f"{self.cleared} 个单位在 {self.report_date} 不再有数字")
        return (f"已撤回第 {self.withdrawn_number} 号上报（{self.file_name or '无文件名'}，上报日期 "
                f"{self.report_date}）：{'，'.join(parts)}。撤回记录为第 {self.number} 号，历史数字均保留。")


def withdrawable(tx: Session, campaign_id: str, uploader: str | None) -> dict | None:
    """The uploader's latest accepted upload that has not been withdrawn, or None."""
    return db.uploads.latest_withdrawable(tx, campaign_id, audit.clean(uploader, 100) or None)


def withdraw(store: Store, campaign_id: str, uploader: str | None, number: int | None = None,
             now: dt.datetime | None = None, *, allowed_units: Iterable[str] | None = None,
             address: str | None = None, role: str | None = None) -> Withdrawal:
    """Undo the uploader's latest upload: append revisions restoring the figures it replaced.

    `number`, when given, is the upload's 第 N 号 the caller expects to withdraw (as shown in
    the log): refused when the latest is another one.

    A figure that someone changed again after that upload is not overwritten: the withdrawal is
    refused (WithdrawError) and nothing changes. So is an upload that touched units outside
    `allowed_units` (and their descendants), when given. History is never deleted; the
    withdrawal is in the audit log.
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    uploader = audit.clean(uploader, 100) or None
    with store.write() as tx:
        db.reports.lock_for_withdrawal(tx, campaign_id)
        campaign = campaigns.get(tx, campaign_id)
        target = withdrawable(tx, campaign_id, uploader)
        who = f"「{uploader}」" if uploader else "未署名填报人"
        if target is None:
            raise WithdrawError(f"{who}在本活动中没有可以撤回的上报")
        if number is not None and number != target["number"]:
            raise WithdrawError(
                f"只能撤回{who}最近的一次上报（第 {target['number']} 号，{target['file_name']}，"
                f"上报日期 {target['report_date']}），不能撤回第 {number} 号")
        touched = _effective(tx, campaign_id, target["id"])
        allowed = rights.scope(tx, campaign_id, allowed_units)
        outside = sorted({code for code, _ in touched} - allowed) if allowed is not None else []
        if outside:
            names = db.units.names(tx, campaign_id)
            raise WithdrawError(
                f"第 {target['number']} 号上报包含不在您负责范围内的单位（"
                f"{'、'.join(names.get(c, c) for c in outside[:5])}），不能撤回；请联系管理员")
        if refusal := rights.lock_refusal(tx, campaign, target["report_date"],
                                          [code for code, _ in touched]):
            raise WithdrawError(refusal)
        changed = {key: top for key, (top, _, _) in touched.items() if top != target["id"]}
        if changed:
            names = db.units.names(tx, campaign_id)
            numbers = db.uploads.numbers(tx, set(changed.values()))
            listed = "、".join(f"「{names.get(code, code)}」（第 {numbers.get(top, top)} 号上报）"
                              for (code, _), top in sorted(changed.items())[:5])
            raise WithdrawError(
                f"第 {target['number']} 号上报之后，{listed}的数字已被再次上报更新，不能撤回；"
                "如需更正，请上传更正后的文件")
        new_id = db.uploads.new_id(tx)
        keys = sorted(touched)
        values = [touched[k][1] for k in keys]
        restored = sum(1 for v in values if v[0] is not None)
        new_number = db.uploads.insert(
            tx, id=new_id, campaign_id=campaign_id, kind="withdrawal", source="upload",
            file_name=target["file_name"], uploader=uploader, uploaded_at=now,
            report_date=target["report_date"], status="accepted", messages="[]",
            row_count=len(keys), unit_count=len(keys), withdraws=target["id"])
        db.reports.append(tx, campaign_id, SOURCE, pd.DataFrame({
            "unit_code": [k[0] for k in keys],
            "report_date": [k[1] for k in keys],
            "enrolled": pd.array([v[0] for v in values], dtype="Int64"),
            "amount": pd.array([None if v[1] is None else float(v[1]) for v in values],
                               dtype="Float64"),
            "low_income_enrolled": pd.array([v[2] for v in values], dtype="Int64"),
        }), new_id)
        # The group figures (分类人群) of each restored figure come back with it.
        restored_from = [(k[0], k[1], touched[k][2]) for k in keys if touched[k][2] is not None]
        db.groups.copy(tx, campaign_id, SOURCE, pd.DataFrame(
            restored_from, columns=["unit_code", "report_date", "from_upload"]), new_id)
        weekly.after_reports(tx, campaign_id, SOURCE, [k[0] for k in keys],
                             min(k[1] for k in keys), len(keys))
        rows = keys
        audit.record(tx, uploader, "withdrawal",
                     f"撤回第 {target['number']} 号上报「{target['file_name']}」（上报日期 "
                     f"{target['report_date']}），{len(keys)} 个单位；撤回记录为第 {new_number} 号",
                     address, campaign_id=campaign_id, role=role, now=now)
    return Withdrawal(new_id, target["id"], target["file_name"], target["report_date"], len(rows),
                      restored, len(rows) - restored, now, new_number, target["number"])


def _effective(tx: Session, campaign_id: str,
               upload_id: int) -> dict[tuple[str, dt.date], tuple[int, tuple, int | None]]:
    """For each figure an upload wrote: (the upload whose figure counts now, the figure before
    `upload_id`'s, the upload that wrote that one).

    Revisions are replayed in order as a stack: an upload pushes its figure, a withdrawal pops
    back to (and including) the upload it withdrew. The figure before is the one below
    `upload_id` on the stack, or no figure (None values).
    """
    rows = db.reports.revisions_of_upload(tx, campaign_id, upload_id)
    stacks: dict[tuple[str, dt.date], list[tuple[int, tuple]]] = {}
    for code, day, uid, kind, withdraws, enrolled, amount, low in rows:
        stack = stacks.setdefault((code, day), [])
        if kind == "withdrawal":
            ids = [entry[0] for entry in stack]
            if withdraws in ids:
                del stack[ids.index(withdraws):]
        else:
            stack.append((uid, (enrolled, amount, low)))
    out = {}
    empty = (None, (None, None, None))
    for key, stack in stacks.items():
        ids = [entry[0] for entry in stack]
        top = ids[-1] if ids else None
        below = stack[ids.index(upload_id) - 1] if upload_id in ids and ids.index(upload_id) else empty
        out[key] = (top, below[1], below[0])
    return out
