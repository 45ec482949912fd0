"""Campaigns: their definition, their calendar (序时进度, weeks, deadlines) and the shipped ones."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from .. import db, settings
from ..db import Session, Store
from . import divisions, units
from .terms import Terms, TermsError, from_definition

FRIDAY = 4


class CampaignError(ValueError):
    """An unknown campaign or an invalid definition (message in Chinese)."""


@dataclass(frozen=True)
class UnitWindow:
    """A unit's own window (吉林: 长春市、吉林市、松原市 2021-10-08 – 12-31 「因系统切换原因」),
    inherited by every unit below it that has none of its own."""
    code: str
    start: dt.date
    end: dt.date
    reason: str = ""


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
    terms: Terms = Terms()               # contribution per tier and group, subsidies, payment days
    unit_windows: tuple[UnitWindow, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    issuer: str | None = None          # 发文机关署名 of its bulletins, e.g. 晋城市医疗保障局

    # --- windows of units -----------------------------------------------------------------
    def own_window(self, code: str) -> UnitWindow | None:
        return next((w for w in self.unit_windows if w.code == code), None)

    def window_of(self, path: Sequence[str]) -> Campaign:
        """The calendar of the last unit of `path` (codes from the top unit down): the window
        of the nearest unit of the path that has one of its own, else the campaign's."""
        for code in reversed(path):
            own = self.own_window(code)
            if own is not None:
                return replace(self, start=own.start, end=own.end)
        return self

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        """The earliest start and the latest end of the campaign's and its units' windows."""
        starts = [self.start] + [w.start for w in self.unit_windows]
        ends = [self.end] + [w.end for w in self.unit_windows]
        return min(starts), max(ends)

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

    def _friday(self, day: dt.date) -> dt.date:
        """The deadline weekday (Friday) on or after `day`."""
        return day + dt.timedelta(days=(self.deadline_weekday - day.weekday()) % 7)

    def week_end(self, day: dt.date) -> dt.date:
        """The end of the week `day` belongs to: its Friday, or the window's last day when the
        window ends before that Friday (the last week is cut short, never past the window)."""
        friday = self._friday(day)
        return self.end if day <= self.end < friday else friday

    def first_week_end(self) -> dt.date:
        return self.week_end(self.start)

    def week_number(self, day: dt.date) -> int:
        """Campaign week N ends on the N-th Friday of the window (the last week on the window's
        last day); 0 before the window."""
        if day < self.start:
            return 0
        return (self._friday(day) - self._friday(self.start)).days // 7 + 1

    def week_end_of(self, number: int) -> dt.date:
        """The last day of week N: its Friday, or the window's last day in the window's last week."""
        friday = self._friday(self.start) + dt.timedelta(weeks=number - 1)
        return self.end if friday - dt.timedelta(days=7) < self.end < friday else friday

    def week_start_of(self, number: int) -> dt.date:
        """First day of week N: the day after the previous Friday, or the window's start."""
        friday = self._friday(self.start) + dt.timedelta(weeks=number - 1)
        return max(friday - dt.timedelta(days=6), self.start)

    @property
    def week_count(self) -> int:
        """Weeks that hold a day of the window."""
        return self.week_number(self.end)

    def week_ends(self) -> list[dt.date]:
        """The last day of every week of the window: Fridays, and the window's last day."""
        return [self.week_end_of(n) for n in range(1, self.week_count + 1)]

    def deadline(self, day: dt.date) -> dt.datetime:
        """When the report for `day`'s week is due: the week's last day (its Friday, or the
        window's last day) at 17:00 local time (aware)."""
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
            source="shipped", terms=from_definition(raw, f"活动定义文件 {path.name} "),
            issuer=raw.get("issuer"),
            extra={"extra_units": raw.get("extra_units", []), "targets": raw.get("targets", []),
                   "window_changes": raw.get("window_changes", [])})
    except KeyError as exc:
        raise CampaignError(f"活动定义文件 {path.name} 缺少字段 {exc}") from exc
    except TermsError as exc:
        raise CampaignError(str(exc)) from exc


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
        "notice": c.notice, "source": c.source, "terms": c.terms.to_json(),
        "issuer": c.issuer})


def _terms(row: dict) -> Terms:
    """Stored terms; a campaign stored without them keeps its one contribution figure."""
    terms = Terms.from_json(row.get("terms"))
    if terms == Terms() and row.get("contribution_yuan") is not None:
        terms = from_definition({"contribution_yuan": row["contribution_yuan"]})
    return terms


def _from_row(row: dict, windows: Sequence[dict] = ()) -> Campaign:
    return Campaign(
        id=row["id"], name=row["name"], programme=row["programme"], year=row["year"],
        region_code=row["region_code"], levels=tuple(row["levels"]), start=row["start_date"],
        end=row["end_date"], goal=row["goal"], low_income_goal=row["low_income_goal"],
        deadline_weekday=row["deadline_weekday"], deadline_time=row["deadline_time"],
        contribution_yuan=row["contribution_yuan"], contribution_note=row["contribution_note"],
        notice=row["notice"], source=row["source"], terms=_terms(row),
        unit_windows=tuple(UnitWindow(w["unit_code"], w["start_date"], w["end_date"],
                                      w["reason"] or "") for w in windows),
        issuer=row["issuer"])


def list_campaigns(tx: Session) -> list[Campaign]:
    """Campaigns with targets first (they have something to show), then the most recent."""
    windows: dict[str, list[dict]] = {}
    for w in db.windows.unit_windows(tx):
        windows.setdefault(w["campaign_id"], []).append(w)
    return [_from_row(r, windows.get(r["id"], ())) for r in db.campaigns.all_rows(tx)]


def get(tx: Session, campaign_id: str) -> Campaign:
    row = db.campaigns.get(tx, campaign_id)
    if row is None:
        known = [c.id for c in list_campaigns(tx)]
        raise CampaignError(
            f"没有编号为「{campaign_id}」的参保活动。现有活动：{'、'.join(known) or '无'}")
    return _from_row(row, db.windows.unit_windows(tx, campaign_id))


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
