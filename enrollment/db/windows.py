"""Windows that move: every change of a campaign's or a unit's window, kept (`window_changes`);
a unit's own window is the view `unit_windows` (schema.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session


def insert(tx: Session, *, campaign_id: str, unit_code: str | None, start: dt.date | None,
           end: dt.date | None, previous_start: dt.date | None, previous_end: dt.date | None,
           reason: str, changed_by: str | None, changed_at: dt.datetime) -> int:
    """Record one change; returns its number."""
    change_id = tx.next_id("window_change_ids")
    tx.run("""INSERT INTO window_changes (id, campaign_id, unit_code, start_date, end_date,
                  previous_start, previous_end, reason, changed_by, changed_at)
              VALUES (:id, :c, :u, :s, :e, :ps, :pe, :r, :by, :at)""",
           {"id": change_id, "c": campaign_id, "u": unit_code, "s": start, "e": end,
            "ps": previous_start, "pe": previous_end, "r": reason, "by": changed_by,
            "at": changed_at})
    return change_id


def unit_windows(tx: Session, campaign_id: str | None = None) -> list[dict]:
    """Units with a window of their own (of one campaign, or all): campaign_id, unit_code,
    start_date, end_date, reason, change_id."""
    return tx.rows("""
        SELECT w.campaign_id, w.unit_code, w.start_date, w.end_date, w.reason, w.change_id
        FROM unit_windows w JOIN units u ON u.campaign_id = w.campaign_id AND u.code = w.unit_code
        WHERE CAST(:c AS VARCHAR) IS NULL OR w.campaign_id = :c
        ORDER BY w.campaign_id, u.depth, u.position, w.unit_code""", {"c": campaign_id})


def history(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every change of the campaign's windows, newest first, with the unit's name."""
    return tx.frame("""
        SELECT w.id, w.unit_code, u.name AS unit_name, w.start_date, w.end_date,
               w.previous_start, w.previous_end, w.reason, w.changed_by, w.changed_at
        FROM window_changes w
        LEFT JOIN units u ON u.campaign_id = w.campaign_id AND u.code = w.unit_code
        WHERE w.campaign_id = :c ORDER BY w.id DESC""", {"c": campaign_id})


def has_changes(tx: Session, campaign_id: str) -> bool:
    return tx.value("SELECT count(*) FROM window_changes WHERE campaign_id = :c",
                    {"c": campaign_id}) > 0


def reports_outside(tx: Session, campaign_id: str, codes: list[str] | None, start: dt.date,
                    end: dt.date) -> tuple[int, dt.date | None, dt.date | None]:
    """Uploaded figures that count, of the given units (all when None), dated outside
    [start, end]: how many, the earliest and the latest such date."""
    row = tx.row("""
        SELECT count(*) AS n, min(report_date) AS first, max(report_date) AS last FROM figures
        WHERE campaign_id = :c AND source = 'upload'
          AND (report_date < :s OR report_date > :e)
          AND (CAST(:all AS BOOLEAN) OR unit_code IN (SELECT unnest(CAST(:codes AS VARCHAR[]))))""",
        {"c": campaign_id, "s": start, "e": end, "all": codes is None, "codes": codes or []})
    return row["n"], row["first"], row["last"]
