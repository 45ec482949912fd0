"""Simulated weekly reports (示例数据) that show the app before real uploads arrive.

Demo figures are stored with source 'demo', apart from real uploads (source 'upload'): a
progress query reads one source only, so the two never mix, and `clear` removes them all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from dataclasses import dataclass

import pandas as pd

from .. import db
from ..db import Store
from ..metrics import weekly
from .model import Campaign

DEMO_FILE_NAME = "示例数据（模拟）"


@dataclass
class DemoResult:
    units: int
    reports: int

    def summary(self) -> str:
        if not self.units:
            return "该活动尚未录入目标任务，无法生成示例数据"
        return f"已生成示例数据：{self.units} 个单位、{self.reports} 条每周上报（标记为示例数据）"


def _rng(campaign_id: str) -> random.Random:
    seed = int.from_bytes(hashlib.sha256(campaign_id.encode()).digest()[:8], "big")
    return random.Random(seed)


def _curve(rng: random.Random, weeks: int) -> list[float]:
    """Cumulative completion after each week: an S-curve with noise, never decreasing."""
    final = rng.uniform(0.935, 1.01)
    start = rng.uniform(0.02, 0.10)       # renewals paid in the first days
    middle = rng.uniform(0.45, 0.80)      # some units start late and lag the pace line
    steep = rng.uniform(4.0, 8.0)

    def s(t: float) -> float:
        return 1 / (1 + math.exp(-steep * (t - middle)))

    lo, hi = s(0.0), s(1.0)
    values, last = [], 0.0
    for week in range(1, weeks + 1):
        t = week / weeks
        shape = start + (1 - start) * (s(t) - lo) / (hi - lo)
        noisy = final * shape * rng.uniform(0.97, 1.03)
        last = max(last, min(noisy, final))
        values.append(last)
    values[-1] = max(values[-1], final * 0.98)
    return values


def clear(store: Store, campaign_id: str) -> int:
    """Remove every demo report and demo upload of the campaign; returns the reports removed."""
    with store.write() as tx:
        removed = db.reports.delete_source(tx, campaign_id, "demo")
        weekly.after_source_replaced(tx, campaign_id, "demo")
        return removed


def generate(store: Store, campaign: Campaign) -> DemoResult:
    """Replace the campaign's demo data with a fresh deterministic simulation of every week."""
    rng = _rng(campaign.id)
    # Amounts from a generator of their own, so the simulated counts stay what they were.
    paid = _rng(campaign.id + ":amount")
    base = campaign.terms.base
    week_ends = [d for d in campaign.week_ends() if d <= campaign.end]
    if campaign.end not in week_ends:
        week_ends.append(campaign.end)   # the closing figure on the window's last day
    tz = campaign.deadline(campaign.start).tzinfo
    with store.write() as tx:
        db.reports.delete_source(tx, campaign.id, "demo")
        leaves = db.targets.leaf_targets(tx, campaign.id)
        if leaves.empty:
            weekly.after_source_replaced(tx, campaign.id, "demo")
            return DemoResult(0, 0)
        upload_rows, report_rows = [], []
        for unit in leaves.itertuples():
            curve = _curve(rng, len(week_ends))
            li_curve = _curve(rng, len(week_ends))
            for week, (day, share, li_share) in enumerate(zip(week_ends, curve, li_curve), 1):
                # Now and then a unit misses a week, but every unit closes the campaign.
                if week < len(week_ends) and rng.random() < 0.06:
                    continue
                # Most report on Friday afternoon; some after 17:00 or on the next Monday.
                delay = rng.choice([dt.timedelta(hours=15, minutes=30)] * 8
                                   + [dt.timedelta(hours=18, minutes=10), dt.timedelta(days=3, hours=9)])
                local = dt.datetime.combine(day, dt.time(), tzinfo=tz) + delay
                uploaded_at = local.astimezone(dt.timezone.utc).replace(tzinfo=None)
                enrolled = round(unit.task * share)
                low_income = (min(unit.low_income, round(unit.low_income * li_share / 0.95))
                              if pd.notna(unit.low_income) else None)
                upload_rows.append([campaign.id, "demo", "demo", DEMO_FILE_NAME, None, None, None,
                                    "示例数据", uploaded_at, day, "accepted", "[]", 1, 1, enrolled,
                                    campaign.is_on_time(day, uploaded_at), None])
                amount = (round(enrolled * float(base.yuan) * paid.uniform(0.985, 1.0), 2)
                          if base is not None else None)
                report_rows.append([campaign.id, "demo", unit.unit_code, day, 1, enrolled, amount,
                                    low_income])
        ids = tx.next_ids("upload_ids", len(upload_rows))
        upload_rows = [[i] + row for i, row in zip(ids, upload_rows)]
        report_rows = [row + [i] for i, row in zip(ids, report_rows)]
        uploads = pd.DataFrame(upload_rows, columns=list(db.uploads.COLUMNS))
        reports = pd.DataFrame(report_rows, columns=list(db.reports.REPORT_COLUMNS))
        reports["low_income_enrolled"] = reports["low_income_enrolled"].astype("Int64")
        reports["amount"] = reports["amount"].astype("Float64")
        db.uploads.insert_frame(tx, uploads)
        db.reports.insert_frame(tx, reports)
        weekly.after_source_replaced(tx, campaign.id, "demo")
    return DemoResult(len(leaves), len(report_rows))
