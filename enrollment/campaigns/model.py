"""Campaigns: their definition, their calendar (序时进度, weeks, deadlines) and the shipped ones."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from .. import db, settings
from ..db import Session, Store
from . import divisions, units

FRIDAY = 4


class CampaignError(ValueError):
    """An unknown campaign or an invalid definition (message in Chinese)."""


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    programme: str
    region_code: str
    start: dt.date
    end: dt.date
    goal: Decimal = Decimal("0.97")
    levels: tuple[str, ...] = ()
    year: int | None = None
    low_income_goal: Decimal | None = None
    deadline_weekday: int = FRIDAY
    deadline_time: dt.time = dt.time(17, 0)
    contribution_yuan: int | None = None
    contribution_note: str | None = None
    notice: str | None = None
    source: str = "created"
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    issuer: str | None = None          # 发文机关署名 of its bulletins, e.g. 晋城市医疗保障局

    # --- calendar -------------------------------------------------------------------------
    @property
    def window_days(self) -> int:
        """Days in the window, both ends included."""
        return (self.end - self.start).days + 1

    def elapsed_days(self, day: dt.date) -> int:
        """Days from the start to `day`, both included, clamped to the window."""
        return min(max((day - self.start).days + 1, 0), self.window_days)

    def time_progress(self, day: dt.date) -> Fraction:
        """序时进度: elapsed days / window days, exact."""
        return Fraction(self.elapsed_days(day), self.window_days)

    def pace(self, day: dt.date) -> Fraction:
        """The pace line: goal × time progress."""
        return Fraction(self.goal) * self.time_progress(day)

    def goal_basis_points(self) -> int:
        return int(self.goal * 10000)

    def week_end(self, day: dt.date) -> dt.date:
        """The deadline day (Friday) on or after `day`: the end of the week `day` belongs to."""
        return day + dt.timedelta(days=(self.deadline_weekday - day.weekday()) % 7)

    def first_week_end(self) -> dt.date:
        return self.week_end(self.start)

    def week_number(self, day: dt.date) -> int:
        """Campaign week N ends on the N-th Friday of the window; 0 before the window."""
        if day < self.start:
            return 0
        return (self.week_end(day) - self.first_week_end()).days // 7 + 1

    def week_end_of(self, number: int) -> dt.date:
        return self.first_week_end() + dt.timedelta(weeks=number - 1)

    def week_start_of(self, number: int) -> dt.date:
        """First day of week N: the day after the previous Friday, or the window's start."""
        return max(self.week_end_of(number) - dt.timedelta(days=6), self.start)

    @property
    def week_count(self) -> int:
        """Weeks that hold a day of the window (the last may end after the window)."""
        return self.week_number(self.end)

    def week_ends(self) -> list[dt.date]:
        return [self.week_end_of(n) for n in range(1, self.week_count + 1)]

    def deadline(self, day: dt.date) -> dt.datetime:
        """When the report for `day`'s week is due: its Friday at 17:00 local time (aware)."""
        tz = ZoneInfo(settings.timezone())
        return dt.datetime.combine(self.week_end(day), self.deadline_time, tzinfo=tz)

    def is_on_time(self, report_date: dt.date, uploaded_at: dt.datetime) -> bool:
        """Uploaded by the deadline of its week; naive times are taken as UTC."""
        if uploaded_at.tzinfo is None:
            uploaded_at = uploaded_at.replace(tzinfo=dt.timezone.utc)
        return uploaded_at <= self.deadline(report_date)

    def in_window(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def default_as_of(self, today: dt.date | None = None) -> dt.date:
        """The week's Friday for today, kept inside the window (the window's last day after it)."""
        today = today or dt.date.today()
        if today > self.end:
            return self.end
        return max(min(self.week_end(today), self.end), self.week_end(self.start))


# --- definitions on disk and in the database -------------------------------------------------

def from_toml(path: Path) -> Campaign:
    """A campaign definition file under data/campaigns."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    try:
        return Campaign(
            id=raw["id"], name=raw["name"], programme=raw["programme"],
            region_code=str(raw["region"]), start=raw["start"], end=raw["end"],
            goal=Decimal(str(raw.get("goal", "0.97"))), levels=tuple(raw.get("levels", ())),
            year=raw.get("year"),
            low_income_goal=(Decimal(str(raw["low_income_goal"]))
                             if "low_income_goal" in raw else None),
            contribution_yuan=raw.get("contribution_yuan"),
            contribution_note=raw.get("contribution_note"), notice=raw.get("notice"),
            source="shipped", issuer=raw.get("issuer"),
            extra={"extra_units": raw.get("extra_units", []), "targets": raw.get("targets", [])})
    except KeyError as exc:
        raise CampaignError(f"活动定义文件 {path.name} 缺少字段 {exc}") from exc


def validate(c: Campaign) -> None:
    if c.end < c.start:
        raise CampaignError(f"活动 {c.id} 的结束日期 {c.end} 早于开始日期 {c.start}")
    if not Decimal(0) < c.goal <= Decimal(1):
        raise CampaignError(f"活动 {c.id} 的目标参保率 {c.goal} 应在 0 到 1 之间")


def shipped_definitions(data_dir: Path | None = None) -> list[Campaign]:
    folder = (data_dir or settings.data_dir()) / "campaigns"
    return [from_toml(p) for p in sorted(folder.glob("*.toml"))]


def insert(tx: Session, c: Campaign) -> None:
    validate(c)
    db.campaigns.insert(tx, {
        "id": c.id, "name": c.name, "programme": c.programme, "year": c.year,
        "region_code": c.region_code, "levels": list(c.levels), "start_date": c.start,
        "end_date": c.end, "goal": c.goal, "low_income_goal": c.low_income_goal,
        "deadline_weekday": c.deadline_weekday, "deadline_time": c.deadline_time,
        "contribution_yuan": c.contribution_yuan, "contribution_note": c.contribution_note,
        "notice": c.notice, "source": c.source, "issuer": c.issuer})


def _from_row(row: dict) -> Campaign:
    return Campaign(
        id=row["id"], name=row["name"], programme=row["programme"], year=row["year"],
        region_code=row["region_code"], levels=tuple(row["levels"]), start=row["start_date"],
        end=row["end_date"], goal=row["goal"], low_income_goal=row["low_income_goal"],
        deadline_weekday=row["deadline_weekday"], deadline_time=row["deadline_time"],
        contribution_yuan=row["contribution_yuan"], contribution_note=row["contribution_note"],
        notice=row["notice"], source=row["source"], issuer=row["issuer"])


def list_campaigns(tx: Session) -> list[Campaign]:
    """Campaigns with targets first (they have something to show), then the most recent."""
    return [_from_row(r) for r in db.campaigns.all_rows(tx)]


def get(tx: Session, campaign_id: str) -> Campaign:
    row = db.campaigns.get(tx, campaign_id)
    if row is None:
        known = [c.id for c in list_campaigns(tx)]
        raise CampaignError(
            f"没有编号为「{campaign_id}」的参保活动。现有活动：{'、'.join(known) or '无'}")
    return _from_row(row)


def load(store: Store, campaign_id: str) -> Campaign:
    with store.read() as tx:
        return get(tx, campaign_id)


def create(tx: Session, c: Campaign, data_dir: Path | None = None) -> int:
    """Insert a campaign and its units (from the division codes); returns the unit count."""
    if db.campaigns.exists(tx, c.id):
        raise CampaignError(f"编号为「{c.id}」的参保活动已存在")
    insert(tx, c)
    tree = divisions.region_tree(c.region_code, list(c.levels), data_dir)
    return units.insert_tree(tx, c.id, tree, c.extra.get("extra_units", []))
