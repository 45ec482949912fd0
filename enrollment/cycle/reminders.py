"""催报: for a week, the units that have not reported (or reported late), whom to call, and the
message to send them.

The units are those of the level that reports (uploads/template.report_level), their status the
overview's (`reporting.week_status`: 按时上报, 逾期上报, 未上报, 由下级汇总; only 未上报 and
逾期上报 are chased). Each gets a ready-to-send message in the bureau's words, and the group a
message of its own:

    城区：截至11月19日17:00尚未报送第12周参保进度，请于今日内报送。

Before the deadline the message says the time it was made and asks for the report by the
deadline. The SMS list (`sms_frame`) holds the units with a mobile number, formula-safe
through text.csv_bytes like every CSV of the app.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from .. import db, settings
from ..campaigns.model import Campaign
from ..db import Session
from ..identity import audit
from ..labels import LEVEL_LABELS
from ..metrics import reporting
from ..uploads import template
from . import contacts

CHASED = (reporting.MISSING, reporting.LATE)
LIST_LIMIT = 20
COLUMNS = {"code": "单位代码", "name": "单位", "status": "上报情况", "person": "责任人",
           "phone": "联系电话", "message": "催报内容"}


def _text(value) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _md(day: dt.datetime | dt.date) -> str:
    return f"{day.month}月{day.day}日"


def _hm(moment: dt.datetime) -> str:
    return f"{_md(moment)}{moment:%H:%M}"


@dataclass
class Reminder:
    code: str
    name: str
    status: str                     # 未上报 or 逾期上报
    person: str | None
    phone: str | None
    message: str


@dataclass
class Reminders:
    campaign: Campaign
    as_of: dt.date
    week: int
    level: str
    deadline: dt.datetime           # aware, local
    at: dt.datetime                 # aware, local: when the list was made
    status: pd.DataFrame            # every unit of the level: week_status plus contacts
    due: list[Reminder] = field(default_factory=list)
    group_message: str = ""

    @property
    def missing(self) -> list[Reminder]:
        return [r for r in self.due if r.status == reporting.MISSING]

    @property
    def late(self) -> list[Reminder]:
        return [r for r in self.due if r.status == reporting.LATE]

    @property
    def without_mobile(self) -> list[Reminder]:
        return [r for r in self.due if not contacts.is_mobile(r.phone)]

    def frame(self) -> pd.DataFrame:
        """The units to chase: code, name, status, 责任人, phone, message (English keys)."""
        return pd.DataFrame([{"code": r.code, "name": r.name, "status": r.status,
                              "person": r.person or "", "phone": r.phone or "",
                              "message": r.message} for r in self.due], columns=list(COLUMNS))

    def table(self) -> pd.DataFrame:
        return self.frame().rename(columns=COLUMNS)

    def sms_frame(self) -> pd.DataFrame:
        """For an SMS platform: 手机号码, 姓名, 短信内容 of each unit with a mobile number."""
        rows = [{"手机号码": r.phone.replace(" ", "").replace("-", ""), "姓名": r.person or "",
                 "单位": r.name, "短信内容": r.message}
                for r in self.due if contacts.is_mobile(r.phone)]
        return pd.DataFrame(rows, columns=["手机号码", "姓名", "单位", "短信内容"])

    def text(self) -> str:
        """Every message, one per line, then the group's."""
        return "\n".join([r.message for r in self.due] + [self.group_message])

    def headline(self) -> str:
        """第12周（截止11月19日17:00）应报 6 个单位：未上报 2 个，逾期上报 1 个"""
        counts = reporting.summary(self.status) if len(self.status) else {}
        return (f"第{self.week}周（截止{_hm(self.deadline)}）应报{len(self.status)}个"
                f"{LEVEL_LABELS.get(self.level, self.level)}：按时上报{counts.get(reporting.ON_TIME, 0)}个，"
                f"逾期上报{counts.get(reporting.LATE, 0)}个，未上报{counts.get(reporting.MISSING, 0)}个"
                + (f"，由下级汇总{counts[reporting.VIA_CHILDREN]}个"
                   if counts.get(reporting.VIA_CHILDREN) else ""))


def message(reminder_status: str, name: str, week: int, deadline: dt.datetime, at: dt.datetime,
            uploaded_at: dt.datetime | None = None) -> str:
    """The message for one unit, in the bureau's words."""
    if reminder_status == reporting.LATE and uploaded_at is not None:
        return (f"{name}：第{week}周参保进度于{_hm(uploaded_at)}报送，晚于截止时间{_hm(deadline)}，"
                f"请今后每周{'一二三四五六日'[deadline.weekday()]}{deadline:%H:%M}前按时报送。")
    if at >= deadline:
        return f"{name}：截至{_hm(deadline)}尚未报送第{week}周参保进度，请于今日内报送。"
    by = f"今日{deadline:%H:%M}" if at.date() == deadline.date() else _hm(deadline)
    return f"{name}：截至{_hm(at)}尚未报送第{week}周参保进度，请于{by}前报送。"


def _names(items: list[Reminder]) -> str:
    return "、".join(r.name for r in items[:LIST_LIMIT]) + (
        f"等{len(items)}个单位" if len(items) > LIST_LIMIT else "")


def group_message(week: int, deadline: dt.datetime, at: dt.datetime, missing: list[Reminder],
                  late: list[Reminder], total: int) -> str:
    """One message for the whole group (a WeChat group of the counties' staff)."""
    when = _hm(deadline) if at >= deadline else _hm(at)
    if not missing and not late:
        return f"【催报】第{week}周参保进度应报{total}个单位，截至{when}均已按时报送。"
    parts = []
    if missing:
        ask = "请于今日内报送" if at >= deadline else (
            f"请于{'今日' if at.date() == deadline.date() else _md(deadline)}{deadline:%H:%M}前报送")
        parts.append(f"截至{when}，第{week}周参保进度尚有{len(missing)}个单位未报送："
                     f"{_names(missing)}，{ask}。")
    if late:
        parts.append(f"逾期报送{len(late)}个：{_names(late)}，请今后每周"
                     f"{'一二三四五六日'[deadline.weekday()]}{deadline:%H:%M}前按时报送。")
    return "【催报】" + "".join(parts)


def due(tx: Session, campaign: Campaign, as_of: dt.date | None = None, *,
        source: str = "upload", level: str | None = None,
        now: dt.datetime | None = None) -> Reminders:
    """Who must still report the week of `as_of` (default: this week), with contacts and
    messages. `now` (UTC, naive) is when the messages are made."""
    zone = ZoneInfo(settings.timezone())
    at = (now or audit.now_utc()).replace(tzinfo=dt.timezone.utc).astimezone(zone)
    as_of = as_of or campaign.default_as_of(at.date())
    as_of = min(campaign.week_end(as_of), campaign.end)
    level = level or template.report_level(tx, campaign.id)
    every = db.units.frame(tx, campaign.id)
    codes = list(every.loc[every["level"] == level, "code"])
    status = reporting.week_status(tx, campaign, as_of, source, codes)
    found = db.contacts.of_units(tx, campaign.id, codes)
    status["person"] = status["code"].map(lambda c: found.get(c, (None, None))[0])
    status["phone"] = status["code"].map(lambda c: found.get(c, (None, None))[1])
    week = campaign.week_number(as_of)
    deadline = campaign.deadline(as_of).astimezone(zone)
    out = Reminders(campaign, as_of, week, level, deadline, at, status)
    for row in status.to_dict("records"):
        if row["status"] not in CHASED:
            continue
        uploaded = row["uploaded_at"]
        uploaded = None if pd.isna(uploaded) else pd.Timestamp(uploaded).to_pydatetime().replace(
            tzinfo=dt.timezone.utc).astimezone(zone)
        out.due.append(Reminder(row["code"], row["name"], row["status"], _text(row["person"]),
                                _text(row["phone"]), message(row["status"], row["name"], week, deadline,
                                                      at, uploaded)))
    out.group_message = group_message(week, deadline, at, out.missing, out.late, len(status))
    return out
