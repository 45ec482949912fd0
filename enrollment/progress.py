"""Progress metrics for a campaign at an as-of date, computed in DuckDB SQL.

For every unit: target, enrolled (latest report on or before the date, latest revision), completion,
time progress, pace line, gap in percentage points, status, change since the previous week and the
weekly pace still needed. A parent without a report (or target) of its own takes the sum of its
children's, level by level from the bottom: the SQL is unrolled once per depth of the hierarchy.

Status comparisons are exact integer arithmetic (no floating point): a unit exactly on the pace
line is `on_track`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction

import duckdb
import pandas as pd

from .campaigns import Campaign
from .labels import LEVEL_LABELS, STATUS_LABELS

SOURCES = ("upload", "demo")
# Columns that a parent sums from its children when it has no value of its own.
_SUMMED = ("enrolled", "enrolled_prev", "amount", "low_income_enrolled",
           "target", "baseline", "low_income_target")


@dataclass
class Progress:
    campaign: Campaign
    as_of: dt.date
    source: str
    units: pd.DataFrame        # one row per unit of the campaign, parents before children

    @property
    def time_progress(self) -> Fraction:
        return self.campaign.time_progress(self.as_of)

    @property
    def pace(self) -> Fraction:
        return self.campaign.pace(self.as_of)

    @property
    def week(self) -> int:
        return self.campaign.week_number(self.as_of)

    @property
    def total(self) -> dict:
        """The campaign as a whole: its root unit's row."""
        return self.units[self.units["parent_code"].isna()].iloc[0].to_dict()

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


def _source_sql(subtree: bool, with_prev: bool = True) -> str:
    units = ("SELECT code, name, level, parent_code, depth, position FROM units "
             "WHERE campaign_id = $campaign")
    if subtree:
        units = f"""
        SELECT * FROM (
            WITH RECURSIVE sub(code) AS (
                SELECT $root UNION
                SELECT x.code FROM units x JOIN sub ON x.parent_code = sub.code
                WHERE x.campaign_id = $campaign)
            {units} AND code IN (SELECT code FROM sub))"""
    prev_column, prev_join = "NULL::BIGINT AS enrolled_prev", ""
    if with_prev:
        prev_column = "p.enrolled_prev"
        prev_join = """LEFT JOIN (
            SELECT g2.unit_code, g2.as_of, v2.enrolled AS enrolled_prev
            FROM grid g2
            ASOF JOIN valid v2 ON v2.unit_code = g2.unit_code AND v2.report_date <= g2.prev
        ) p ON p.unit_code = g.unit_code AND p.as_of = g.as_of"""
    return f"""
    dates AS (
        SELECT unnest($as_of) AS as_of, unnest($prev) AS prev, unnest($week_start) AS week_start,
               unnest($pace) AS pace, unnest($elapsed) AS elapsed,
               unnest($after_end) AS after_end, unnest($weeks_left) AS weeks_left),
    u AS ({units}),
    revisions AS (
        SELECT unit_code, report_date,
               arg_max({{'enrolled': enrolled, 'amount': amount,
                        'low_income_enrolled': low_income_enrolled}}, revision) AS r
        FROM reports
        WHERE campaign_id = $campaign AND source = $source
          AND report_date <= (SELECT max(as_of) FROM dates)
        GROUP BY unit_code, report_date),
    valid AS (
        SELECT unit_code, report_date, r.enrolled AS enrolled, r.amount AS amount,
               r.low_income_enrolled AS low_income_enrolled
        FROM revisions WHERE r.enrolled IS NOT NULL),
    reporting AS (SELECT DISTINCT unit_code FROM valid),
    grid AS (SELECT r.unit_code, d.as_of, d.prev, d.week_start
             FROM reporting r CROSS JOIN dates d),
    own AS (   -- each reporting unit's latest figure on or before each date (an as-of join)
        SELECT g.unit_code, g.as_of,
               {{'enrolled': v.enrolled, 'amount': v.amount,
                 'low_income_enrolled': v.low_income_enrolled}} AS latest,
               v.report_date, v.report_date >= g.week_start AS reported_week, {prev_column}
        FROM grid g
        ASOF JOIN valid v ON v.unit_code = g.unit_code AND v.report_date <= g.as_of
        {prev_join}),
    tgt AS (
        SELECT unit_code, task, baseline, low_income FROM current_targets
        WHERE campaign_id = $campaign),
    base AS (
        SELECT u.*, d.as_of, own.latest.enrolled AS own_enrolled,
               own.enrolled_prev AS own_enrolled_prev, own.latest.amount AS own_amount,
               own.latest.low_income_enrolled AS own_low_income_enrolled,
               own.report_date AS own_report_date, coalesce(own.reported_week, false) AS own_week,
               tgt.task AS own_target, tgt.baseline AS own_baseline,
               tgt.low_income AS own_low_income_target
        FROM u CROSS JOIN dates d
        LEFT JOIN own ON own.unit_code = u.code AND own.as_of = d.as_of
        LEFT JOIN tgt ON tgt.unit_code = u.code)"""


def _depth_sql(depth: int, deepest: bool) -> str:
    if deepest:
        cols = ",\n".join(f"own_{c} AS {c}" for c in _SUMMED)
        return f"""
    d{depth} AS (
        SELECT code, name, level, parent_code, depth, position, as_of, {cols},
               own_report_date AS report_date, own_week AS reported_week
        FROM base WHERE depth = {depth})"""
    # A parent keeps its own figure when it has one; otherwise the sum of its children's.
    # The enrolled figures come as a group (own report or children), as do the targets.
    cols = []
    for c in _SUMMED:
        if c in ("target", "baseline", "low_income_target"):
            flag = "b.own_target IS NOT NULL"
        elif c == "enrolled_prev":
            flag = "b.own_enrolled_prev IS NOT NULL"
        else:
            flag = "b.own_enrolled IS NOT NULL"
        cols.append(f"CASE WHEN {flag} THEN any_value(b.own_{c}) ELSE sum(k.{c}) END AS {c}")
    return f"""
    d{depth} AS (
        SELECT b.code, any_value(b.name) AS name, any_value(b.level) AS level,
               any_value(b.parent_code) AS parent_code, any_value(b.depth) AS depth,
               any_value(b.position) AS position, b.as_of,
               {", ".join(cols)},
               CASE WHEN b.own_enrolled IS NOT NULL THEN any_value(b.own_report_date)
                    ELSE max(k.report_date) END AS report_date,
               any_value(b.own_week) OR coalesce(bool_or(k.reported_week), false) AS reported_week
        FROM base b LEFT JOIN d{depth + 1} k ON k.parent_code = b.code AND k.as_of = b.as_of
        WHERE b.depth = {depth}
        GROUP BY b.code, b.as_of, b.own_enrolled IS NOT NULL, b.own_target IS NOT NULL,
                 b.own_enrolled_prev IS NOT NULL)"""


_FINAL = """
SELECT r.code, r.name, r.level, r.parent_code, r.depth, r.position, r.as_of,
       r.target, r.baseline, r.enrolled, r.enrolled_prev,
       r.enrolled - r.enrolled_prev AS week_delta,
       r.enrolled / r.target AS completion,
       d.pace AS pace,
       (r.enrolled / r.target - d.pace) * 100 AS gap_pp,
       CASE
         WHEN r.target IS NULL OR r.target = 0 THEN 'no_target'
         WHEN NOT r.reported_week OR r.enrolled IS NULL THEN 'not_reported'
         WHEN r.enrolled::HUGEINT * 10000 >= $goal_bp::HUGEINT * r.target THEN 'achieved'
         WHEN d.after_end THEN 'behind'
         WHEN r.enrolled::HUGEINT * 10000 * $window_days
              >= $goal_bp::HUGEINT * r.target * d.elapsed THEN 'on_track'
         ELSE 'behind'
       END AS status,
       CASE WHEN d.weeks_left > 0 AND r.target IS NOT NULL
            THEN greatest(ceil($goal_bp::HUGEINT * r.target / 10000) - coalesce(r.enrolled, 0), 0)
                 / d.weeks_left END AS needed_per_week,
       r.report_date, r.reported_week,
       r.amount, r.low_income_target, r.low_income_enrolled,
       r.low_income_enrolled / r.low_income_target AS low_income_completion
FROM ({union}) r JOIN dates d ON d.as_of = r.as_of
{where}
ORDER BY r.as_of, r.depth, r.parent_code, r.position, r.code
"""

_INT_COLUMNS = ("target", "baseline", "enrolled", "enrolled_prev", "week_delta",
                "low_income_target", "low_income_enrolled")


def max_depth(con: duckdb.DuckDBPyConnection, campaign_id: str) -> int:
    return con.execute("SELECT coalesce(max(depth), 0) FROM units WHERE campaign_id = ?",
                       [campaign_id]).fetchone()[0]


def _date_params(campaign: Campaign, days: list[dt.date]) -> dict:
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


def compute_many(con: duckdb.DuckDBPyConnection, campaign: Campaign, days: list[dt.date],
                 source: str = "upload", root: str | None = None,
                 only: str | None = None, with_prev: bool = True) -> pd.DataFrame:
    """Metrics of every unit (of the subtree under `root`, if given) at each of the dates.

    One query for all dates: the frame has an `as_of` column. Units outside the subtree are
    left out, which is exact because a unit's figures depend only on its descendants. `only`
    keeps one unit's rows; without `with_prev` the week's change is not computed (a trend
    takes it from consecutive rows instead, saving a second as-of join).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if not days:
        raise ValueError("no dates")
    deepest = max_depth(con, campaign.id)
    parts = [_source_sql(root is not None, with_prev)]
    parts += [_depth_sql(d, d == deepest) for d in range(deepest, -1, -1)]
    union = " UNION ALL ".join(f"SELECT * FROM d{d}" for d in range(deepest + 1))
    where = "WHERE r.code = $only" if only is not None else ""
    sql = "WITH RECURSIVE " + ",".join(parts) + _FINAL.format(union=union, where=where)
    params = {"campaign": campaign.id, "source": source,
              "goal_bp": campaign.goal_basis_points(), "window_days": campaign.window_days,
              **_date_params(campaign, list(days))}
    if root is not None:
        params["root"] = root
    if only is not None:
        params["only"] = only
    frame = con.execute(sql, params).df()
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    frame["needed_per_week"] = frame["needed_per_week"].astype("Float64").round(0).astype("Int64")
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame


def compute(con: duckdb.DuckDBPyConnection, campaign: Campaign, as_of: dt.date,
            source: str = "upload") -> Progress:
    """Metrics of every unit of the campaign as of the date, from one data source."""
    frame = compute_many(con, campaign, [as_of], source).drop(columns="as_of")
    return Progress(campaign, as_of, source, frame)


def trend(con: duckdb.DuckDBPyConnection, campaign: Campaign, code: str,
          source: str = "upload", days: list[dt.date] | None = None) -> pd.DataFrame:
    """One unit week by week: its metrics at every week's Friday in the window (and the end)."""
    days = days or report_days(campaign)
    frame = compute_many(con, campaign, days, source, root=code, only=code, with_prev=False)
    frame = frame.sort_values("as_of").reset_index(drop=True)
    frame["enrolled_prev"] = frame["enrolled"].shift(1)
    frame["week_delta"] = frame["enrolled"] - frame["enrolled_prev"]
    return frame


def report_days(campaign: Campaign) -> list[dt.date]:
    """The Fridays of the window, plus its last day when that is not a Friday."""
    days = [d for d in campaign.week_ends() if d <= campaign.end]
    if campaign.end not in days:
        days.append(campaign.end)
    return days


def available_sources(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[str]:
    rows = con.execute("SELECT DISTINCT source FROM reports WHERE campaign_id = ?",
                       [campaign_id]).fetchall()
    return [s for s in SOURCES if (s,) in rows]


def default_source(con: duckdb.DuckDBPyConnection, campaign_id: str) -> str:
    """Real uploads when there are any; demo data only for a campaign with nothing else."""
    sources = available_sources(con, campaign_id)
    return "demo" if sources == ["demo"] else "upload"


def level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, level)


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
