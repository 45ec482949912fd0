"""Progress metrics for a campaign at an as-of date: the calendar's inputs for the roll-up in
db/rollup.py, the result as a frame, a unit's trend and the projection to the window's end.

At the campaign's week ends (`report_days`) the figures are read from the rows kept per week
(db/weekly.py, kept up to date by every write: metrics/weekly.py): a view reads one week of
rows, a trend one row per week. Any other date is rolled up from the reports; both give the
same frame.

For every unit: target, enrolled (the figure that counts on or before the date), completion,
time progress, pace line, gap in percentage points, status, change since the previous week and
the weekly pace still needed. A parent without a report (or target) of its own takes the sum of
its children's.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import pandas as pd

from .. import db
from ..campaigns.model import Campaign
from ..db import Session
from ..labels import STATUS_LABELS
from . import money

SOURCES = ("upload", "demo")


@dataclass
class Progress:
    campaign: Campaign
    as_of: dt.date
    source: str
    units: pd.DataFrame        # one row per unit of the campaign, parents before children
    calendar: Campaign | None = None   # the window of the unit computed from (default: campaign's)

    @property
    def window(self) -> Campaign:
        """The campaign with the window of the top unit of the result (its own, if it has one)."""
        return self.calendar or self.campaign

    @property
    def time_progress(self) -> Fraction:
        return self.window.time_progress(self.as_of)

    @property
    def pace(self) -> Fraction:
        return self.window.pace(self.as_of)

    @property
    def own_windows(self) -> pd.DataFrame:
        """Units of the result whose window differs from the result's (their own or inherited)."""
        return self.units[self.units["window_id"].notna()]

    @property
    def week(self) -> int:
        return self.campaign.week_number(self.as_of)

    @property
    def total(self) -> dict:
        """The campaign as a whole (its top unit's row); in a view's result, the viewed unit."""
        return self.units.loc[self.units["depth"].idxmin()].to_dict()

    @property
    def targets_missing(self) -> bool:
        return bool(pd.isna(self.total["target"]))

    def level(self, level: str) -> pd.DataFrame:
        return self.units[self.units["level"] == level]

    def children(self, code: str) -> pd.DataFrame:
        return self.units[self.units["parent_code"] == code]

    def status_counts(self, frame: pd.DataFrame | None = None) -> dict[str, int]:
        frame = self.units if frame is None else frame
        counts = frame["status"].value_counts()
        return {key: int(counts.get(key, 0)) for key in STATUS_LABELS}


_INT_COLUMNS = ("target", "baseline", "enrolled", "enrolled_prev", "week_delta",
                "low_income_target", "low_income_enrolled")


def calendar_of(tx: Session, campaign: Campaign, code: str | None) -> Campaign:
    """The campaign with the window that applies to a unit (its own, an ancestor's, or the
    campaign's)."""
    if not campaign.unit_windows or code in (None, campaign.region_code):
        return campaign
    return campaign.window_of([u.code for u in db.units.ancestors(tx, campaign.id, code)])


def _spans(campaign: Campaign, root: str | None) -> dict[int, tuple[dt.date, dt.date]]:
    """The distinct windows of units (other than `root`) that have one, numbered from 1."""
    spans = sorted({(w.start, w.end) for w in campaign.unit_windows if w.code != root})
    return dict(enumerate(spans, 1))


def _window_frames(campaign: Campaign, base: Campaign, root: str | None,
                   days: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The roll-up's inputs for units below `root` with a window of their own (None: none)."""
    owners = [w for w in campaign.unit_windows if w.code != root]
    if not owners:
        return None
    ids = {span: i for i, span in _spans(campaign, root).items()}
    rows = []
    for span, window_id in ids.items():
        calendar = replace(base, start=span[0], end=span[1])
        params = date_params(calendar, days)
        for k, day in enumerate(days):
            rows.append((window_id, day, params["pace"][k], params["elapsed"][k],
                         calendar.window_days, params["after_end"][k], params["weeks_left"][k]))
    window_dates = pd.DataFrame(rows, columns=["window_id", "as_of", "pace", "elapsed",
                                               "window_days", "after_end", "weeks_left"])
    window_dates["as_of"] = pd.to_datetime(window_dates["as_of"])
    owner_frame = pd.DataFrame({"code": [w.code for w in owners],
                                "window_id": [ids[(w.start, w.end)] for w in owners]})
    return owner_frame.astype({"window_id": "int32"}), window_dates.astype(
        {"window_id": "int32", "elapsed": "int32", "window_days": "int32", "weeks_left": "int32"})


def date_params(campaign: Campaign, days: list[dt.date]) -> dict:
    """The calendar's inputs for the roll-up and the kept figures, one list per column: as_of,
    prev (a week earlier), week_start (first day of the date's week), pace, elapsed days,
    after_end and weeks_left."""
    def week_start(day: dt.date) -> dt.date:
        week = campaign.week_number(day)
        return campaign.week_start_of(week) if week else campaign.start

    def weeks_left(day: dt.date) -> int:
        left = (campaign.end - day).days
        return math.ceil(left / 7) if left > 0 else 0

    return {
        "as_of": days,
        "prev": [d - dt.timedelta(days=7) for d in days],
        "week_start": [week_start(d) for d in days],
        "pace": [float(campaign.pace(d)) for d in days],
        "elapsed": [campaign.elapsed_days(d) for d in days],
        "after_end": [d > campaign.end for d in days],
        "weeks_left": [weeks_left(d) for d in days],
    }


def compute_many(tx: Session, campaign: Campaign, days: list[dt.date],
                 source: str = "upload", root: str | None = None,
                 only: str | None = None, with_prev: bool = True,
                 view: str | None = None) -> pd.DataFrame:
    """Metrics of every unit (of the subtree under `root`, if given) at each of the dates.

    One query for all dates: the frame has an `as_of` column. Units outside the subtree are
    left out, which is exact because a unit's figures depend only on its descendants. `only`
    keeps one unit's rows, `view` that unit and its children (what a page shows);
    without `with_prev` the week's change is not computed (a trend takes it from consecutive
    rows instead). Week ends are read from the kept rows (db/weekly.py); other dates are
    rolled up (db/rollup.py: with `only == root` and without `with_prev`, a trend, the unit's
    rows are summed from the reporting units below it, far less work than every level).
    """
    return _metrics(tx, campaign, days, source, root=root, only=only, with_prev=with_prev,
                    view=view)


def _metrics(tx: Session, campaign: Campaign, days: list[dt.date], source: str,
             as_of: bool = True, **options) -> pd.DataFrame:
    """compute_many's frame; without its as_of column unless `as_of`."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if not days:
        raise ValueError("no dates")
    days = list(days)
    base = calendar_of(tx, campaign, options.get("root"))
    params = date_params(base, days)
    windows = _window_frames(campaign, base, options.get("root"), days)
    if windows is None and _kept_at(tx, campaign, source, params):
        # Kept rows carry no pace: they serve when every unit shares the window of `base`.
        frame = _derive(campaign, base, params, db.weekly.read(tx, campaign.id, source, days,
                                                                **options))
    else:
        # A date that is not a kept week end, nothing kept yet, or units below with a window
        # of their own: roll up from the reports.
        frame = db.rollup.rollup(tx, campaign.id, source, campaign.goal_basis_points(),
                                 base.window_days, params, windows=windows, **options)
    frame["time_progress"] = frame["elapsed"] / frame["window_days"]
    frame["window_start"], frame["window_end"] = base.start, base.end
    if campaign.unit_windows and frame["window_id"].notna().any():
        spans = _spans(campaign, options.get("root"))
        owned = frame["window_id"].notna()
        frame.loc[owned, "window_start"] = frame.loc[owned, "window_id"].map(
            lambda i: spans[int(i)][0])
        frame.loc[owned, "window_end"] = frame.loc[owned, "window_id"].map(
            lambda i: spans[int(i)][1])
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    frame["needed_per_week"] = frame["needed_per_week"].astype("Float64").round(0).astype("Int64")
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    frame = money.add_expected(frame, campaign.terms)
    return frame if as_of else frame.drop(columns="as_of")


def _kept_at(tx: Session, campaign: Campaign, source: str, params: dict) -> bool:
    """Whether the kept rows reflect every report and serve every date of `params` (each a kept
    week end of the same week start and previous day)."""
    kept, fresh = db.weekly.state(tx, campaign.id, source)
    return fresh and all(kept.get(d) == (start, prev) for d, start, prev in
                         zip(params["as_of"], params["week_start"], params["prev"]))


_COLUMNS = ("code", "name", "level", "parent_code", "depth", "position", "as_of", "target",
            "baseline", "enrolled", "enrolled_prev", "week_delta", "completion", "pace", "gap_pp",
            "status", "needed_per_week", "report_date", "reported_week", "amount",
            "low_income_target", "low_income_enrolled", "low_income_completion", "elapsed",
            "window_days", "window_id")
# Counts above this could overflow 64-bit products in the status comparison (enrolled × 10,000
# × window days); such a frame is compared in Python integers instead (never in practice).
_EXACT_IN_INT64 = 10 ** 11


def _derive(campaign: Campaign, base: Campaign, params: dict, kept: dict) -> pd.DataFrame:
    """The roll-up's frame from kept rows: completion, pace line, gap, status and the weekly
    pace still needed computed here from the calendar, as db/rollup.py's final SELECT does
    (the same rules in the same order; statuses compared in exact integers)."""
    def ints(name: str) -> tuple[np.ndarray, np.ndarray]:
        mask = np.ma.getmaskarray(kept[name]).copy()
        return np.where(mask, 0, np.ma.getdata(kept[name])).astype("int64"), mask

    def nullable(values: np.ndarray, mask: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(np.where(mask, 0, values).astype("int64"), mask)

    def ratio(top, top_mask, bottom, bottom_mask) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):   # x / 0 is inf, as in the SQL
            out = top.astype("float64") / bottom
        out[top_mask | bottom_mask] = np.nan
        return out

    def text(name: str):
        return _text(np.where(np.ma.getmaskarray(kept[name]), None, np.ma.getdata(kept[name])))

    def filled(name: str, empty):
        values = np.ma.getdata(kept[name]).copy()
        values[np.ma.getmaskarray(kept[name])] = empty
        return values

    rows = len(kept["code"])
    as_of = [d.date() for d in pd.DatetimeIndex(np.ma.getdata(kept["as_of"]))]
    at = np.array([params["as_of"].index(d) for d in as_of], dtype=np.intp)
    pace = np.asarray(params["pace"], dtype="float64")[at]
    elapsed = np.asarray(params["elapsed"], dtype="int64")[at]
    after_end = np.asarray(params["after_end"], dtype=bool)[at]
    weeks_left = np.asarray(params["weeks_left"], dtype="int64")[at]
    target, no_target = ints("target")
    enrolled, no_figure = ints("enrolled")
    prev, no_prev = ints("enrolled_prev")
    low, no_low = ints("low_income_enrolled")
    low_target, no_low_target = ints("low_income_target")
    reported = np.ma.getdata(kept["reported_week"]).astype(bool)
    goal = campaign.goal_basis_points()
    big = rows and max(np.abs(target).max(), np.abs(enrolled).max()) > _EXACT_IN_INT64
    e, t = (enrolled.astype(object), target.astype(object)) if big else (enrolled, target)
    status = np.select(
        [no_target | (target == 0), ~reported | no_figure, e * 10000 >= goal * t, after_end,
         e * 10000 * base.window_days >= goal * t * elapsed],
        ["no_target", "not_reported", "achieved", "behind", "on_track"], "behind")
    completion = ratio(enrolled, no_figure, target, no_target)
    needed = np.maximum(np.ceil((goal * target).astype("float64") / 10000) - enrolled, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.round(needed / weeks_left)
    no_need = (weeks_left <= 0) | no_target
    columns = {
        "code": text("code"), "name": text("name"), "level": text("level"),
        "parent_code": text("parent_code"),
        "depth": np.ma.getdata(kept["depth"]).astype("int32"),
        "position": np.ma.getdata(kept["position"]).astype("int32"),
        "as_of": np.array(as_of, dtype=object),
        "target": nullable(target, no_target),
        "baseline": nullable(*ints("baseline")),
        "enrolled": nullable(enrolled, no_figure),
        "enrolled_prev": nullable(prev, no_prev),
        "week_delta": nullable(enrolled - prev, no_figure | no_prev),
        "completion": completion, "pace": pace, "gap_pp": (completion - pace) * 100,
        "status": _text(status),
        "needed_per_week": nullable(np.where(no_need, 0, needed), no_need),
        "report_date": filled("report_date", np.datetime64("NaT")).astype("datetime64[us]"),
        "reported_week": reported,
        "amount": filled("amount", np.nan).astype("float64"),
        "low_income_target": nullable(low_target, no_low_target),
        "low_income_enrolled": nullable(low, no_low),
        "low_income_completion": ratio(low, no_low, low_target, no_low_target),
        "elapsed": elapsed.astype("int32"),
        "window_days": np.full(rows, base.window_days, dtype="int32"),
        "window_id": pd.array([None] * rows, dtype="Int32"),
    }
    return pd.DataFrame({name: columns[name] for name in _COLUMNS})


def _text(values: np.ndarray):
    """Texts as the roll-up's frame has them: strings, or objects when there is no text (no
    row, or a column of NULLs such as the top unit's parent)."""
    values = values.astype(object)
    return pd.array(values, dtype="str") if (values != None).any() else values  # noqa: E711


def compute(tx: Session, campaign: Campaign, as_of: dt.date,
            source: str = "upload", view: str | None = None) -> Progress:
    """Metrics of every unit of the campaign as of the date, from one data source.

    With `view` (a unit code) the result holds only what a page shows of it, the unit and its
    children: the roll-up runs over the unit's subtree only, and a campaign of 665,277 units
    does not become a frame of 665,277 rows. Its `total` is then the viewed unit.
    """
    root = None if view in (None, campaign.region_code) else view
    frame = _metrics(tx, campaign, [as_of], source, root=root, view=view)
    if any(g.contribution for g in campaign.terms.groups):
        # 应缴金额 with the people of groups that pay their own contribution (students) at it.
        counted = db.groups.rollup(tx, campaign.id, source, as_of, root or campaign.region_code,
                                   view is not None)
        frame = money.add_expected(frame, campaign.terms, counted)
    return Progress(campaign, as_of, source, frame.drop(columns="as_of"),
                    calendar_of(tx, campaign, root))


def trend(tx: Session, campaign: Campaign, code: str,
          source: str = "upload", days: list[dt.date] | None = None) -> pd.DataFrame:
    """One unit week by week: its metrics at every week's Friday in the window (and the end)."""
    days = days or report_days(campaign)
    frame = compute_many(tx, campaign, days, source, root=code, only=code, with_prev=False)
    frame = frame.sort_values("as_of").reset_index(drop=True)
    frame["enrolled_prev"] = frame["enrolled"].shift(1)
    frame["week_delta"] = frame["enrolled"] - frame["enrolled_prev"]
    return frame


def report_days(campaign: Campaign) -> list[dt.date]:
    """The last day of every week of the window: its Fridays, and the window's last day (the
    last week ends there, whatever the weekday)."""
    return campaign.week_ends()


def available_sources(tx: Session, campaign_id: str) -> list[str]:
    found = db.reports.sources(tx, campaign_id)
    return [s for s in SOURCES if s in found]


def default_source(tx: Session, campaign_id: str) -> str:
    """Real uploads when there are any; demo data only for a campaign with nothing else."""
    sources = available_sources(tx, campaign_id)
    return "demo" if sources == ["demo"] else "upload"


def projection(series: pd.DataFrame, campaign: Campaign, as_of: dt.date,
               weeks: int = 3) -> float | None:
    """Enrolled expected at the window's end if the last `weeks` weeks' average pace continues.

    `series` is a unit's trend (as_of, enrolled). None when there are fewer than three weekly
    figures (two weeks of change) or the window has ended.
    """
    known = series[(series["as_of"] <= as_of) & series["enrolled"].notna()]
    if len(known) < 3 or as_of >= campaign.end:
        return None
    recent = known.tail(weeks + 1)
    first, last = recent.iloc[0], recent.iloc[-1]
    days = (last["as_of"] - first["as_of"]).days
    if days <= 0:
        return None
    per_day = (int(last["enrolled"]) - int(first["enrolled"])) / days
    return int(last["enrolled"]) + max(per_day, 0.0) * (campaign.end - last["as_of"]).days
