"""Data-quality flags that leaders should see before they trust a number.

- 累计数下降: a unit's latest cumulative figure is lower than its previous one;
- 单周增幅异常: one week's increase exceeds a share of the unit's target (ENROLLMENT_JUMP_THRESHOLD);
- 超过任务数: enrolled above the target;
- 与下级合计不符: a unit's own report differs from the sum of its children's reports of that date.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .. import db, settings
from ..campaigns.model import Campaign
from ..db import Session

DECREASE = "累计数下降"
JUMP = "单周增幅异常"
ABOVE_TARGET = "超过任务数"
MISMATCH = "与下级合计不符"


def flags(tx: Session, campaign: Campaign, as_of: dt.date, source: str) -> pd.DataFrame:
    """One row per (unit, flag) as of the date: code, name, level, flag, detail.

    The facts are the figures that count (a withdrawn figure raises no flag).
    """
    jump = settings.jump_threshold()
    found = []
    for r in db.reports.last_two(tx, campaign.id, source, as_of).itertuples():
        now, now_day = int(r.now_value), _day(r.now_date)
        has_before = pd.notna(r.before_value)
        before = int(r.before_value) if has_before else None
        before_day = _day(r.before_date) if has_before else None
        task = int(r.task) if pd.notna(r.task) else None
        if has_before and now < before:
            found.append((r, DECREASE, f"{before_day:%m月%d日} {before:,} → {now_day:%m月%d日} {now:,}"))
        if has_before and task:
            weeks = max((now_day - before_day).days / 7.0, 1.0)
            if now - before > jump * task * weeks:
                found.append((r, JUMP, f"{now_day:%m月%d日}较{before_day:%m月%d日}增加 {now - before:,} 人，"
                                       f"占任务数 {100.0 * (now - before) / task:.1f}%"))
        if task is not None and now > task:
            found.append((r, ABOVE_TARGET, f"累计 {now:,}，任务数 {task:,}"))
        if pd.notna(r.children_total) and int(r.children_total) != now:
            found.append((r, MISMATCH, f"{now_day:%m月%d日}上报 {now:,}，下级合计 "
                                       f"{int(r.children_total):,}（{int(r.children_count)} 个单位）"))
    found.sort(key=lambda item: (item[0].depth, item[0].position, item[1]))
    return pd.DataFrame([{"code": r.code, "name": r.name, "level": r.level, "flag": flag,
                          "detail": detail} for r, flag, detail in found],
                        columns=["code", "name", "level", "flag", "detail"])


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()
