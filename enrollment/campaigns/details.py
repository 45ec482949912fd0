"""A campaign as its page and `campaign show` present it: the definition (window, goal,
notice), the contribution terms, the units' own windows and every change of a window."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from .. import db, settings
from ..db import Session
from ..labels import PROGRAMME_LABELS
from .model import Campaign
from .windows import extension

HISTORY_COLUMNS = {"id": "编号", "unit_name": "范围", "before": "调整前", "after": "调整后",
                   "reason": "原因", "changed_by": "操作人", "changed_at": "时间"}


@dataclass
class Details:
    campaign: Campaign
    definition: list[tuple[str, str]]     # label, value
    terms: list[tuple[str, str]]
    unit_windows: pd.DataFrame            # 单位, 单位代码, 集中参保期, 原因
    history: pd.DataFrame                 # HISTORY_COLUMNS, newest first

    def as_json(self) -> dict:
        c = self.campaign
        return {
            "campaign": c.id, "name": c.name, "start": c.start.isoformat(),
            "end": c.end.isoformat(), "goal": float(c.goal),
            "tiers": [{"key": t.key, "name": t.name, "yuan": float(t.yuan)} for t in c.terms.tiers],
            "payment_days": (None if c.terms.payment_days is None else
                             {"first": c.terms.payment_days.first,
                              "last": c.terms.payment_days.last}),
            "groups": [{
                "key": g.key, "name": g.name, "goal": None if g.goal is None else float(g.goal),
                "low_income": g.low_income,
                "contribution": {t.key: float(t.yuan) for t in g.contribution},
                "subsidies": [{"tier": s.tier,
                               "share": None if s.share is None else float(s.share),
                               "yuan": None if s.yuan is None else float(s.yuan)}
                              for s in g.subsidies]} for g in c.terms.groups],
            "unit_windows": [{"unit": w.code, "start": w.start.isoformat(),
                              "end": w.end.isoformat(), "reason": w.reason}
                             for w in c.unit_windows],
            "window_changes": [{k: _json(v) for k, v in row.items()}
                               for row in self.history.to_dict("records")],
        }


def _json(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value if isinstance(value, (str, int, float)) else str(value)


def _span(start, end) -> str:
    if (start is None or pd.isna(start)) and (end is None or pd.isna(end)):
        return "按全活动参保期"
    show = [("（未载明）" if v is None or pd.isna(v) else f"{pd.Timestamp(v).date()}")
            for v in (start, end)]
    return f"{show[0]} 至 {show[1]}"


def details(tx: Session, campaign: Campaign) -> Details:
    """Everything the campaign page shows about a campaign."""
    c = campaign
    extended = extension(tx, c)
    window = f"{c.start} 至 {c.end}（{c.window_days} 天）"
    if extended:
        before = f"（原截止日期 {extended['previous_end']}）" if extended["previous_end"] else ""
        window += f"；{extended['reason']}，已延长至 {extended['end']}{before}"
    definition = [("活动编号", c.id), ("名称", c.name),
                  ("险种", PROGRAMME_LABELS.get(c.programme, c.programme)),
                  ("集中参保期", window), ("目标参保率", f"{c.goal:.0%}"),
                  ("低收入人口参保率目标", "未规定" if c.low_income_goal is None
                   else f"{c.low_income_goal:.0%}"),
                  ("上报截止", f"每周{'一二三四五六日'[c.deadline_weekday]} "
                             f"{c.deadline_time:%H:%M}（最后一周为参保期最后一天）")]
    if c.notice:
        definition.append(("依据", c.notice))
    names = db.units.names(tx, c.id, [w.code for w in c.unit_windows])
    unit_windows = pd.DataFrame({
        "单位": [names.get(w.code, w.code) for w in c.unit_windows],
        "单位代码": [w.code for w in c.unit_windows],
        "集中参保期": [f"{w.start} 至 {w.end}" for w in c.unit_windows],
        "天数": [(w.end - w.start).days + 1 for w in c.unit_windows],
        "原因": [w.reason for w in c.unit_windows]})
    frame = db.windows.history(tx, c.id)
    zone = ZoneInfo(settings.timezone())
    history = pd.DataFrame({
        HISTORY_COLUMNS["id"]: frame["id"].astype("Int64"),
        HISTORY_COLUMNS["unit_name"]: [name if isinstance(name, str) else "全活动"
                                       for name in frame["unit_name"]],
        HISTORY_COLUMNS["before"]: [_span(a, b) for a, b in zip(frame["previous_start"],
                                                               frame["previous_end"])],
        HISTORY_COLUMNS["after"]: [_span(a, b) for a, b in zip(frame["start_date"],
                                                              frame["end_date"])],
        HISTORY_COLUMNS["reason"]: frame["reason"],
        HISTORY_COLUMNS["changed_by"]: frame["changed_by"].fillna(""),
        HISTORY_COLUMNS["changed_at"]: [
            "" if pd.isna(t) else pd.Timestamp(t).tz_localize("UTC").tz_convert(zone)
            .strftime("%Y-%m-%d %H:%M") for t in frame["changed_at"]],
    })
    return Details(c, definition, c.terms.describe(), unit_windows, history)

