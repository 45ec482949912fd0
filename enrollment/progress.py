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


def _source_sql() -> str:
    return """
    u AS (SELECT code, name, level, parent_code, depth, position
          FROM units WHERE campaign_id = $campaign),
    revisions AS (
        SELECT unit_code, report_date,
               arg_max({'enrolled': enrolled, 'amount': amount,
                        'low_income_enrolled': low_income_enrolled}, revision) AS r
        FROM reports
        WHERE campaign_id = $campaign AND source = $source AND report_date <= $as_of
        GROUP BY unit_code, report_date),
    valid AS (
        SELECT unit_code, report_date, r.enrolled AS enrolled, r.amount AS amount,
               r.low_income_enrolled AS low_income_enrolled
        FROM revisions WHERE r.enrolled IS NOT NULL),
    own AS (
        SELECT unit_code,
               arg_max({'enrolled': enrolled, 'amount': amount,
                        'low_income_enrolled': low_income_enrolled}, report_date) AS latest,
               max(report_date) AS report_date,
               max(report_date) >= $week_start AS reported_week,
               arg_max(enrolled, report_date) FILTER (WHERE report_date <= $prev) AS enrolled_prev
        FROM valid GROUP BY unit_code),
    tgt AS (
        SELECT unit_code, task, baseline, low_income FROM current_targets
        WHERE campaign_id = $campaign),
    base AS (
        SELECT u.*, own.latest.enrolled AS own_enrolled, own.enrolled_prev AS own_enrolled_prev,
               own.latest.amount AS own_amount,
               own.latest.low_income_enrolled AS own_low_income_enrolled,
               own.report_date AS own_report_date, coalesce(own.reported_week, false) AS own_week,
               tgt.task AS own_target, tgt.baseline AS own_baseline,
               tgt.low_income AS own_low_income_target
        FROM u LEFT JOIN own ON own.unit_code = u.code LEFT JOIN tgt ON tgt.unit_code = u.code)"""


def _depth_sql(depth: int, deepest: bool) -> str:
    if deepest:
        cols = ",\n".join(f"own_{c} AS {c}" for c in _SUMMED)
        return f"""
    d{depth} AS (
        SELECT code, name, level, parent_code, depth, position, {cols},
               own_report_date AS report_date, own_week AS reported_week
        FROM base WHERE depth = {depth})"""
    # A parent keeps its own figure when it has one; otherwise the sum of its children's.
    # The enrolled figures come as a group (own report or children), as do the targets.
    own_report = "b.own_enrolled IS NOT NULL"
    cols = []
    for c in _SUMMED:
        flag = "b.own_target IS NOT NULL" if c in ("target", "baseline", "low_income_target") \
            else own_report
        if c == "enrolled_prev":
            flag = "b.own_enrolled_prev IS NOT NULL"
        cols.append(f"CASE WHEN {flag} THEN any_value(b.own_{c}) ELSE sum(k.{c}) END AS {c}")
    return f"""
    d{depth} AS (
        SELECT b.code, any_value(b.name) AS name, any_value(b.level) AS level,
               any_value(b.parent_code) AS parent_code, any_value(b.depth) AS depth,
               any_value(b.position) AS position,
               {", ".join(cols)},
               CASE WHEN {own_report} THEN any_value(b.own_report_date)
                    ELSE max(k.report_date) END AS report_date,
               any_value(b.own_week) OR coalesce(bool_or(k.reported_week), false) AS reported_week
        FROM base b LEFT JOIN d{depth + 1} k ON k.parent_code = b.code
        WHERE b.depth = {depth}
        GROUP BY b.code, b.own_enrolled IS NOT NULL, b.own_target IS NOT NULL,
                 b.own_enrolled_prev IS NOT NULL)"""


_FINAL = """
SELECT code, name, level, parent_code, depth, position,
       target, baseline, enrolled, enrolled_prev,
       enrolled - enrolled_prev AS week_delta,
       enrolled / target AS completion,
       $pace AS pace,
       (enrolled / target - $pace) * 100 AS gap_pp,
       CASE
         WHEN target IS NULL OR target = 0 THEN 'no_target'
         WHEN NOT reported_week OR enrolled IS NULL THEN 'not_reported'
         WHEN enrolled::HUGEINT * 10000 >= $goal_bp::HUGEINT * target THEN 'achieved'
         WHEN $after_end THEN 'behind'
         WHEN enrolled::HUGEINT * 10000 * $window_days
              >= $goal_bp::HUGEINT * target * $elapsed THEN 'on_track'
         ELSE 'behind'
       END AS status,
       CASE WHEN $weeks_left > 0 AND target IS NOT NULL
            THEN greatest(ceil($goal_bp::HUGEINT * target / 10000) - coalesce(enrolled, 0), 0)
                 / $weeks_left END AS needed_per_week,
       report_date, reported_week,
       amount, low_income_target, low_income_enrolled,
       low_income_enrolled / low_income_target AS low_income_completion
FROM ({union})
ORDER BY depth, parent_code, position, code
"""


def max_depth(con: duckdb.DuckDBPyConnection, campaign_id: str) -> int:
    return con.execute("SELECT coalesce(max(depth), 0) FROM units WHERE campaign_id = ?",
                       [campaign_id]).fetchone()[0]


def compute(con: duckdb.DuckDBPyConnection, campaign: Campaign, as_of: dt.date,
            source: str = "upload") -> Progress:
    """Metrics of every unit of the campaign as of the date, from one data source."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    deepest = max_depth(con, campaign.id)
    parts = [_source_sql()] + [_depth_sql(d, d == deepest) for d in range(deepest, -1, -1)]
    union = " UNION ALL ".join(f"SELECT * FROM d{d}" for d in range(deepest + 1))
    sql = "WITH " + ",".join(parts) + _FINAL.format(union=union)
    week = campaign.week_number(as_of)
    week_start = campaign.week_start_of(week) if week else campaign.start
    days_left = (campaign.end - as_of).days
    params = {
        "campaign": campaign.id,
        "source": source,
        "as_of": as_of,
        "prev": as_of - dt.timedelta(days=7),
        "week_start": week_start,
        "pace": float(campaign.pace(as_of)),
        "goal_bp": campaign.goal_basis_points(),
        "window_days": campaign.window_days,
        "elapsed": campaign.elapsed_days(as_of),
        "after_end": as_of > campaign.end,
        "weeks_left": math.ceil(days_left / 7) if days_left > 0 else 0,
    }
    frame = con.execute(sql, params).df()
    for column in ("target", "baseline", "enrolled", "enrolled_prev", "week_delta", "amount",
                   "low_income_target", "low_income_enrolled"):
        if column != "amount":
            frame[column] = frame[column].astype("Int64")
    frame["needed_per_week"] = frame["needed_per_week"].astype("Float64").round(0).astype("Int64")
    return Progress(campaign, as_of, source, frame)


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
