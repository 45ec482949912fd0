"""Who reported in a week, on time or late, and who did not."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .. import db
from ..campaigns.model import Campaign
from ..db import Session
from . import progress

ON_TIME = "按时上报"
LATE = "逾期上报"
MISSING = "未上报"
VIA_CHILDREN = "由下级汇总"


def default_week(tx: Session, campaign: Campaign, source: str,
                 today: dt.date | None = None) -> dt.date:
    """The week a page opens at: the latest week that has reports, not an empty one.

    The current week (its Friday, or the window's last day) when it already has a report;
    otherwise the latest earlier week with one; the current week when nothing was reported yet.
    A week nobody reported in would show every unit as 未上报.
    """
    days = progress.report_days(campaign)
    current = campaign.default_as_of(today)
    latest = db.reports.latest_date(tx, campaign.id, source, current)
    if latest is None:
        return current
    return next(d for d in days if d >= min(latest, days[-1]))


def week_status(tx: Session, campaign: Campaign, as_of: dt.date,
                source: str, codes: list[str]) -> pd.DataFrame:
    """For each unit: its report of the week that ends with `as_of`, when it was first uploaded
    (on time: by Friday 17:00 Asia/Shanghai), by whom, and the unit's last report date.

    A unit reported when it has a figure of the week that counts (a withdrawn one does not);
    a unit without one whose descendants reported this week is 由下级汇总.
    """
    week = campaign.week_number(as_of)
    week_start = campaign.week_start_of(week) if week else campaign.start
    deadline = campaign.deadline(as_of).astimezone(dt.timezone.utc).replace(tzinfo=None)
    frame = db.reports.week_reports(tx, campaign.id, source, codes, week_start, as_of)

    def label(row) -> str:
        if pd.notna(row["uploaded_at"]):
            return ON_TIME if row["uploaded_at"] <= deadline else LATE
        return VIA_CHILDREN if row["children_reported"] else MISSING

    frame["status"] = frame.apply(label, axis=1) if len(frame) else pd.Series(dtype=str)
    return frame


def summary(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["status"].value_counts()
    return {k: int(counts.get(k, 0)) for k in (ON_TIME, LATE, VIA_CHILDREN, MISSING)}
