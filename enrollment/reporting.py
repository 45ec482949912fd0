"""Who reported in a week, on time or late, and who did not."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from .campaigns import Campaign

ON_TIME = "按时上报"
LATE = "逾期上报"
MISSING = "未上报"
VIA_CHILDREN = "由下级汇总"


def week_status(con: duckdb.DuckDBPyConnection, campaign: Campaign, as_of: dt.date,
                source: str, codes: list[str]) -> pd.DataFrame:
    """For each unit: its report of the week that ends with `as_of`, when it was first uploaded
    (on time: by Friday 17:00 Asia/Shanghai), by whom, and the unit's last report date.

    A unit without a report of its own whose descendants reported this week is 由下级汇总.
    """
    week = campaign.week_number(as_of)
    week_start = campaign.week_start_of(week) if week else campaign.start
    deadline = campaign.deadline(as_of).astimezone(dt.timezone.utc).replace(tzinfo=None)
    frame = con.execute("""
        WITH wanted AS (SELECT unnest($codes) AS code),
        latest AS (   -- the latest revision of every (unit, date) up to as_of
            SELECT unit_code, report_date, arg_max(enrolled, revision) AS enrolled
            FROM reports WHERE campaign_id = $c AND source = $s AND report_date <= $as_of
            GROUP BY unit_code, report_date),
        first_upload AS (   -- when a figure for the week first arrived
            SELECT r.unit_code, min(up.uploaded_at) AS uploaded_at,
                   arg_min(up.uploader, up.uploaded_at) AS uploader
            FROM reports r JOIN uploads up ON up.id = r.upload_id
            WHERE r.campaign_id = $c AND r.source = $s AND r.enrolled IS NOT NULL
              AND r.report_date BETWEEN $week_start AND $as_of
            GROUP BY r.unit_code),
        last_report AS (
            SELECT unit_code, max(report_date) AS last_date FROM latest
            WHERE enrolled IS NOT NULL GROUP BY unit_code),
        week_units AS (SELECT unit_code FROM latest
                       WHERE enrolled IS NOT NULL AND report_date >= $week_start),
        subtree_reported AS (   -- wanted units with a descendant that reported this week
            SELECT DISTINCT w.code FROM wanted w
            JOIN (WITH RECURSIVE up_tree(code, ancestor) AS (
                      SELECT u.code, u.parent_code FROM units u
                      WHERE u.campaign_id = $c AND u.code IN (SELECT unit_code FROM week_units)
                      UNION ALL
                      SELECT t.code, p.parent_code FROM up_tree t
                      JOIN units p ON p.campaign_id = $c AND p.code = t.ancestor
                      WHERE t.ancestor IS NOT NULL)
                  SELECT ancestor FROM up_tree) a ON a.ancestor = w.code)
        SELECT u.code, u.name, f.uploaded_at, f.uploader, l.last_date,
               s.code IS NOT NULL AS children_reported
        FROM wanted w JOIN units u ON u.campaign_id = $c AND u.code = w.code
        LEFT JOIN first_upload f ON f.unit_code = u.code
        LEFT JOIN last_report l ON l.unit_code = u.code
        LEFT JOIN subtree_reported s ON s.code = u.code
        ORDER BY u.position, u.code""",
        {"codes": codes, "c": campaign.id, "s": source, "as_of": as_of,
         "week_start": week_start}).df()

    def label(row) -> str:
        if pd.notna(row["uploaded_at"]):
            return ON_TIME if row["uploaded_at"] <= deadline else LATE
        return VIA_CHILDREN if row["children_reported"] else MISSING

    frame["status"] = frame.apply(label, axis=1) if len(frame) else pd.Series(dtype=str)
    return frame


def summary(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["status"].value_counts()
    return {k: int(counts.get(k, 0)) for k in (ON_TIME, LATE, VIA_CHILDREN, MISSING)}
