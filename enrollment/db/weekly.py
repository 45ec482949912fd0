"""Figures kept per week: every unit's figure at every week end, and every unit's task, stored.

The roll-up (rollup.py) computes a unit's figure at a date from the raw reports, summing
children level by level. Views ask the same few dates over and over (the week ends of the
campaign calendar), so the answers are kept in three tables (schema.py, migration 5), written
in the transaction of every write that changes them (metrics/weekly.py says when):

* `weekly_dates`: the week ends the kept figures were computed for, with the first day of each
  week (for "reported this week") and the day a week earlier (for "last week's figure"). A
  campaign without rows here is not kept (e.g. just after the migration): views use the roll-up.
* `weekly_figures`: per (campaign, source, unit, week end) the figure that counts on that day,
  exactly as the roll-up gives it: the unit's own latest figure on or before the week end, else
  the sum of its children's kept figures; last week's figure, amount, low-income enrolled,
  report date and "reported this week" the same way. A unit without a figure has no row.
* `rolled_targets`: per unit the task that counts (its own, else the sum of its children's);
* `weekly_marks`: how many report rows of each source (and target rows) the kept rows were
  computed from, and the highest upload (target set) among them. Every write appends, so a
  count that differs means rows written past the kept tables (by hand, or by a write path that
  forgot them): views then roll up from the reports, and the next write or `rebuild` repairs.

A write refreshes the rows of the units it touched and of their ancestors, at the week ends on
or after the earliest date it changed, level by level from the bottom: a unit's row comes from
its own figures and its children's kept rows. `read` answers a view from the kept rows, with the
status, pace and gap computed at read time from the calendar (exact integer comparisons).

All of it is standard SQL that PostgreSQL also runs (window functions, recursive CTEs, arrays
unnested side by side, CAST to DECIMAL/DOUBLE PRECISION); nothing here is DuckDB-only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd

from .engine import Session

_FIGURE_COLUMNS = ("campaign_id", "source", "unit_code", "week_end", "enrolled", "enrolled_prev",
                   "amount", "low_income_enrolled", "report_date", "reported_week")


# --- the calendar the figures are kept for -----------------------------------------------------

def kept_dates(tx: Session, campaign_id: str) -> dict[dt.date, tuple[dt.date, dt.date]]:
    """{week end: (week start, day a week earlier)} the campaign's figures are kept for; empty
    when they are not kept."""
    return {end: (start, prev) for end, start, prev in tx.tuples(
        "SELECT week_end, week_start, prev_day FROM weekly_dates WHERE campaign_id = :c",
        {"c": campaign_id})}


def set_dates(tx: Session, campaign_id: str, ends: Sequence[dt.date],
              starts: Sequence[dt.date], prevs: Sequence[dt.date]) -> None:
    """Replace the campaign's kept calendar (the figures must be rebuilt for it)."""
    tx.run("DELETE FROM weekly_dates WHERE campaign_id = :c", {"c": campaign_id})
    tx.run("""
        INSERT INTO weekly_dates (campaign_id, week_end, week_start, prev_day)
        SELECT :c, e, s, p FROM (
            SELECT unnest(CAST(:ends AS DATE[])) AS e, unnest(CAST(:starts AS DATE[])) AS s,
                   unnest(CAST(:prevs AS DATE[])) AS p) d""",
           {"c": campaign_id, "ends": list(ends), "starts": list(starts), "prevs": list(prevs)})


def forget(tx: Session, campaign_id: str) -> None:
    """Nothing kept for the campaign any more (views use the roll-up until it is rebuilt)."""
    for table in ("weekly_dates", "weekly_figures", "rolled_targets", "weekly_marks"):
        tx.run(f"DELETE FROM {table} WHERE campaign_id = :c", {"c": campaign_id})


# --- marks: what the kept rows were computed from ---------------------------------------------

def report_mark(source: str) -> str:
    return f"reports:{source}"


TARGETS_MARK = "targets"


def current_marks(tx: Session, campaign_id: str, sources: Iterable[str]) -> dict[str, tuple]:
    """(row count, highest id) of the campaign's reports of each source and of its targets."""
    out = {TARGETS_MARK: tx.tuples(
        "SELECT count(*), max(set_id) FROM targets WHERE campaign_id = :c", {"c": campaign_id})[0]}
    for source in sources:
        out[report_mark(source)] = tx.tuples(
            "SELECT count(*), max(upload_id) FROM reports WHERE campaign_id = :c AND source = :s",
            {"c": campaign_id, "s": source})[0]
    return out


def stored_marks(tx: Session, campaign_id: str) -> dict[str, tuple]:
    """The marks the kept rows were computed from (a source without reports has none)."""
    return {what: (rows, last) for what, rows, last in tx.tuples(
        "SELECT what, row_count, last_id FROM weekly_marks WHERE campaign_id = :c",
        {"c": campaign_id})}


def set_marks(tx: Session, campaign_id: str, marks: dict[str, tuple]) -> None:
    """Record what the kept rows now reflect (marks of nothing are left out)."""
    tx.run("DELETE FROM weekly_marks WHERE campaign_id = :c "
           "AND what IN (SELECT unnest(CAST(:what AS VARCHAR[])))",
           {"c": campaign_id, "what": list(marks)})
    kept = {k: v for k, v in marks.items() if v[0]}
    if kept:
        tx.run("""
            INSERT INTO weekly_marks (campaign_id, what, row_count, last_id)
            SELECT :c, w, n, l FROM (
                SELECT unnest(CAST(:what AS VARCHAR[])) AS w, unnest(CAST(:n AS BIGINT[])) AS n,
                       unnest(CAST(:last AS BIGINT[])) AS l) m""",
               {"c": campaign_id, "what": list(kept), "n": [v[0] for v in kept.values()],
                "last": [v[1] for v in kept.values()]})


def clear_figures(tx: Session, campaign_id: str, source: str | None = None) -> None:
    """Remove the kept figures of one source (or all) before they are rebuilt."""
    tx.run("DELETE FROM weekly_figures WHERE campaign_id = :c "
           "AND (CAST(:s AS VARCHAR) IS NULL OR source = :s)", {"c": campaign_id, "s": source})


def clear_targets(tx: Session, campaign_id: str) -> None:
    tx.run("DELETE FROM rolled_targets WHERE campaign_id = :c", {"c": campaign_id})


# --- which units a change reaches --------------------------------------------------------------

def with_ancestors(tx: Session, campaign_id: str, codes: Iterable[str]) -> dict[int, list[str]]:
    """The units and every ancestor of them, by depth (deepest first when iterated sorted
    in reverse)."""
    rows = tx.tuples("""
        WITH RECURSIVE up(code) AS (
            SELECT code FROM units
            WHERE campaign_id = :c AND code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))
            UNION
            SELECT u.parent_code FROM units u JOIN up ON u.code = up.code
            WHERE u.campaign_id = :c AND u.parent_code IS NOT NULL)
        SELECT u.depth, u.code FROM units u JOIN up ON u.code = up.code
        WHERE u.campaign_id = :c""", {"c": campaign_id, "codes": list(codes)})
    out: dict[int, list[str]] = {}
    for depth, code in rows:
        out.setdefault(depth, []).append(code)
    return out


def depths(tx: Session, campaign_id: str) -> list[int]:
    """The depths of the campaign's hierarchy, deepest first."""
    return tx.column("SELECT DISTINCT depth FROM units WHERE campaign_id = :c ORDER BY depth DESC",
                     {"c": campaign_id})


def sources(tx: Session, campaign_id: str) -> list[str]:
    """The sources that have reports (the ones whose figures a rebuild keeps)."""
    return tx.column("SELECT DISTINCT source FROM reports WHERE campaign_id = :c ORDER BY source",
                     {"c": campaign_id})


def _todo(codes: list[str] | None) -> str:
    """The units of one depth to recompute (all of it, or the listed ones), as a SELECT."""
    listed = "" if codes is None else "AND code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))"
    return f"SELECT code FROM units WHERE campaign_id = :c AND depth = :depth {listed}"


# --- figures -----------------------------------------------------------------------------------

def refresh_figures(tx: Session, campaign_id: str, source: str, depth: int,
                    codes: list[str] | None, since: dt.date | None) -> None:
    """Recompute the kept figures of the units of one depth (all, or `codes`) at the week ends
    on or after `since` (all when None), from their own figures and their children's kept rows.

    The units below must be up to date already (callers go from the deepest level up).
    """
    params = {"c": campaign_id, "s": source, "depth": depth, "codes": codes,
              "since": since or dt.date.min}
    todo = _todo(codes)
    tx.run(f"""
        DELETE FROM weekly_figures
        WHERE campaign_id = :c AND source = :s AND week_end >= :since
          AND unit_code IN ({todo})""", params)
    tx.run(f"""
        INSERT INTO weekly_figures ({", ".join(_FIGURE_COLUMNS)})
        WITH todo AS ({todo}),
        wk AS (
            SELECT week_end, week_start, prev_day FROM weekly_dates
            WHERE campaign_id = :c AND week_end >= :since),
        f AS (   -- each figure that counts, valid until the unit's next one
            SELECT unit_code, report_date, enrolled, amount, low_income_enrolled,
                   coalesce(lead(report_date) OVER (PARTITION BY unit_code ORDER BY report_date),
                            DATE '9999-12-31') AS until
            FROM figures
            WHERE campaign_id = :c AND source = :s AND unit_code IN (SELECT code FROM todo)
              AND report_date <= (SELECT max(week_end) FROM wk)),
        own AS (   -- a unit's own figure at each week end: the latest on or before it
            SELECT f.unit_code, w.week_end, f.enrolled, f.amount, f.low_income_enrolled,
                   f.report_date, f.report_date >= w.week_start AS in_week
            FROM f JOIN wk w ON f.report_date <= w.week_end AND w.week_end < f.until),
        own_prev AS (   -- and a week earlier
            SELECT f.unit_code, w.week_end, f.enrolled
            FROM f JOIN wk w ON f.report_date <= w.prev_day AND w.prev_day < f.until),
        kids AS (   -- the sums of the children's kept figures
            SELECT u.parent_code AS code, k.week_end, sum(k.enrolled) AS enrolled,
                   sum(k.enrolled_prev) AS enrolled_prev, sum(k.amount) AS amount,
                   sum(k.low_income_enrolled) AS low_income_enrolled,
                   max(k.report_date) AS report_date, bool_or(k.reported_week) AS reported_week
            FROM units u JOIN weekly_figures k
              ON k.campaign_id = u.campaign_id AND k.unit_code = u.code
            WHERE u.campaign_id = :c AND u.parent_code IN (SELECT code FROM todo)
              AND k.source = :s AND k.week_end >= :since
            GROUP BY u.parent_code, k.week_end)
        SELECT :c, :s, t.code, w.week_end,
               CASE WHEN o.unit_code IS NOT NULL THEN o.enrolled ELSE k.enrolled END,
               CASE WHEN p.unit_code IS NOT NULL THEN p.enrolled ELSE k.enrolled_prev END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.amount ELSE k.amount END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.low_income_enrolled
                    ELSE k.low_income_enrolled END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.report_date ELSE k.report_date END,
               coalesce(o.in_week, false) OR coalesce(k.reported_week, false)
        FROM todo t CROSS JOIN wk w
        LEFT JOIN own o ON o.unit_code = t.code AND o.week_end = w.week_end
        LEFT JOIN own_prev p ON p.unit_code = t.code AND p.week_end = w.week_end
        LEFT JOIN kids k ON k.code = t.code AND k.week_end = w.week_end
        WHERE o.unit_code IS NOT NULL OR k.code IS NOT NULL""", params)


def refresh_targets(tx: Session, campaign_id: str, depth: int, codes: list[str] | None) -> None:
    """Recompute the rolled-up tasks of the units of one depth (all, or `codes`): a unit's own
    task (current_targets), else the sum of its children's kept ones."""
    params = {"c": campaign_id, "depth": depth, "codes": codes}
    todo = _todo(codes)
    tx.run(f"""DELETE FROM rolled_targets WHERE campaign_id = :c
               AND unit_code IN ({todo})""", params)
    tx.run(f"""
        INSERT INTO rolled_targets (campaign_id, unit_code, target, baseline, low_income_target)
        WITH todo AS ({todo}),
        kids AS (
            SELECT u.parent_code AS code, sum(r.target) AS target, sum(r.baseline) AS baseline,
                   sum(r.low_income_target) AS low_income_target
            FROM units u JOIN rolled_targets r
              ON r.campaign_id = u.campaign_id AND r.unit_code = u.code
            WHERE u.campaign_id = :c AND u.parent_code IN (SELECT code FROM todo)
            GROUP BY u.parent_code)
        SELECT :c, t.code,
               CASE WHEN o.unit_code IS NOT NULL THEN o.task ELSE k.target END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.baseline ELSE k.baseline END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.low_income ELSE k.low_income_target END
        FROM todo t
        LEFT JOIN current_targets o ON o.campaign_id = :c AND o.unit_code = t.code
        LEFT JOIN kids k ON k.code = t.code
        WHERE o.unit_code IS NOT NULL OR k.code IS NOT NULL""", params)


# --- reading -----------------------------------------------------------------------------------

def _units_sql(root: str | None, only: str | None, view: str | None) -> str:
    """CTE `u`: the units a read returns."""
    if only is not None:
        return "u AS (SELECT * FROM units WHERE campaign_id = :c AND code = :only)"
    if view is not None:
        return ("u AS (SELECT * FROM units WHERE campaign_id = :c "
                "AND (code = :view OR parent_code = :view))")
    if root is not None:
        return """sub(code) AS (
            SELECT CAST(:root AS VARCHAR) UNION ALL
            SELECT x.code FROM units x JOIN sub ON x.parent_code = sub.code
            WHERE x.campaign_id = :c),
        u AS (SELECT * FROM units WHERE campaign_id = :c AND code IN (SELECT code FROM sub))"""
    return "u AS (SELECT * FROM units WHERE campaign_id = :c)"


def read(tx: Session, campaign_id: str, source: str, goal_bp: int, window_days: int,
         dates: dict, root: str | None = None, only: str | None = None,
         with_prev: bool = True, view: str | None = None) -> pd.DataFrame | None:
    """The roll-up's frame (rollup.rollup, same columns and order) from the kept rows, or None
    when one of the dates is not kept with the same calendar (the caller rolls up instead).

    `dates` holds the roll-up's date columns (as_of, prev, week_start, pace, elapsed,
    after_end, weeks_left); a date is kept when weekly_dates has it with the same week start
    and previous day. `root`, `only` and `view` select units as in rollup.rollup.
    """
    prev = "w.enrolled_prev" if with_prev else "CAST(NULL AS BIGINT)"
    frame = tx.frame(f"""
        WITH RECURSIVE dates AS (
            SELECT unnest(CAST(:as_of AS DATE[])) AS as_of, unnest(CAST(:prev AS DATE[])) AS prev,
                   unnest(CAST(:week_start AS DATE[])) AS week_start,
                   unnest(CAST(:pace AS DOUBLE PRECISION[])) AS pace,
                   unnest(CAST(:elapsed AS INTEGER[])) AS elapsed,
                   unnest(CAST(:after_end AS BOOLEAN[])) AS after_end,
                   unnest(CAST(:weeks_left AS INTEGER[])) AS weeks_left),
        kept AS (   -- the dates kept for the same calendar
            SELECT count(DISTINCT d.as_of) AS n FROM dates d JOIN weekly_dates k
              ON k.campaign_id = :c AND k.week_end = d.as_of AND k.week_start = d.week_start
             AND k.prev_day = d.prev),
        {_FRESH},
        {_units_sql(root, only, view)},
        r AS (
            SELECT u.code, u.name, u.level, u.parent_code, u.depth, u.position, d.as_of,
                   t.target, t.baseline, w.enrolled, {prev} AS enrolled_prev,
                   w.amount, t.low_income_target, w.low_income_enrolled, w.report_date,
                   coalesce(w.reported_week, false) AS reported_week,
                   d.pace, d.elapsed, d.after_end, d.weeks_left
            FROM u CROSS JOIN dates d
            LEFT JOIN rolled_targets t ON t.campaign_id = :c AND t.unit_code = u.code
            LEFT JOIN weekly_figures w
              ON w.campaign_id = :c AND w.source = :s AND w.unit_code = u.code
             AND w.week_end = d.as_of)
        SELECT r.code, r.name, r.level, r.parent_code, r.depth, r.position, r.as_of,
               r.target, r.baseline, r.enrolled, r.enrolled_prev,
               r.enrolled - r.enrolled_prev AS week_delta,
               CAST(r.enrolled AS DOUBLE PRECISION) / r.target AS completion,
               r.pace,
               (CAST(r.enrolled AS DOUBLE PRECISION) / r.target - r.pace) * 100 AS gap_pp,
               CASE
                 WHEN r.target IS NULL OR r.target = 0 THEN 'no_target'
                 WHEN NOT r.reported_week OR r.enrolled IS NULL THEN 'not_reported'
                 WHEN CAST(r.enrolled AS DECIMAL(38, 0)) * 10000
                      >= CAST(:goal_bp AS DECIMAL(38, 0)) * r.target THEN 'achieved'
                 WHEN r.after_end THEN 'behind'
                 WHEN CAST(r.enrolled AS DECIMAL(38, 0)) * 10000 * :window_days
                      >= CAST(:goal_bp AS DECIMAL(38, 0)) * r.target * r.elapsed THEN 'on_track'
                 ELSE 'behind'
               END AS status,
               CASE WHEN r.weeks_left > 0 AND r.target IS NOT NULL
                    THEN greatest(ceil(CAST(:goal_bp AS DOUBLE PRECISION) * r.target / 10000)
                                  - coalesce(r.enrolled, 0), 0)
                         / CAST(r.weeks_left AS DOUBLE PRECISION) END AS needed_per_week,
               r.report_date, r.reported_week,
               CAST(r.amount AS DOUBLE PRECISION) AS amount, r.low_income_target,
               r.low_income_enrolled,
               CAST(r.low_income_enrolled AS DOUBLE PRECISION) / r.low_income_target
                   AS low_income_completion,
               (SELECT n FROM kept) AS kept, (SELECT ok FROM fresh) AS fresh
        FROM r
        ORDER BY r.as_of, r.depth, r.parent_code, r.position, r.code""",
        {"c": campaign_id, "s": source, "goal_bp": goal_bp, "window_days": window_days,
         "root": root, "only": only, "view": view, "mark": report_mark(source),
         "targets_mark": TARGETS_MARK, **dates})
    if frame.empty:
        return frame.drop(columns=["kept", "fresh"]) if is_kept(
            tx, campaign_id, source, dates) else None
    if int(frame["kept"].iloc[0]) < len(set(dates["as_of"])) or not frame["fresh"].iloc[0]:
        return None
    return frame.drop(columns=["kept", "fresh"])


# Whether the kept rows reflect every report of the source and every target row (weekly_marks).
_FRESH = """fresh AS (
            SELECT coalesce(m.row_count, 0) = n.row_count AND m.last_id IS NOT DISTINCT FROM n.last_id
                   AND coalesce(t.row_count, 0) = tn.row_count
                   AND t.last_id IS NOT DISTINCT FROM tn.last_id AS ok
            FROM (SELECT count(*) AS row_count, max(upload_id) AS last_id FROM reports
                  WHERE campaign_id = :c AND source = :s) n
            CROSS JOIN (SELECT count(*) AS row_count, max(set_id) AS last_id FROM targets
                        WHERE campaign_id = :c) tn
            LEFT JOIN weekly_marks m ON m.campaign_id = :c AND m.what = :mark
            LEFT JOIN weekly_marks t ON t.campaign_id = :c AND t.what = :targets_mark)"""


def is_kept(tx: Session, campaign_id: str, source: str, dates: dict) -> bool:
    """Whether every date is kept with the same week start and previous day, and the kept rows
    reflect every report of the source and every target row."""
    kept = kept_dates(tx, campaign_id)
    if not all(kept.get(d) == (s, p)
               for d, s, p in zip(dates["as_of"], dates["week_start"], dates["prev"])):
        return False
    mark, targets = report_mark(source), TARGETS_MARK
    now = current_marks(tx, campaign_id, [source])
    stored = stored_marks(tx, campaign_id)
    return all(stored.get(k, (0, None)) == now[k] for k in (mark, targets))


def figure_rows(tx: Session, campaign_id: str, source: str | None = None) -> list[tuple]:
    """Every kept figure of the campaign (of one source), sorted: for checks and tests."""
    return tx.tuples(f"""
        SELECT {", ".join(_FIGURE_COLUMNS[1:])} FROM weekly_figures
        WHERE campaign_id = :c AND (CAST(:s AS VARCHAR) IS NULL OR source = :s)
        ORDER BY source, unit_code, week_end""", {"c": campaign_id, "s": source})


def target_rows(tx: Session, campaign_id: str) -> list[tuple]:
    """Every kept task of the campaign, sorted."""
    return tx.tuples("""
        SELECT unit_code, target, baseline, low_income_target FROM rolled_targets
        WHERE campaign_id = :c ORDER BY unit_code""", {"c": campaign_id})


def count_figures(tx: Session, campaign_id: str) -> int:
    return tx.value("SELECT count(*) FROM weekly_figures WHERE campaign_id = :c", {"c": campaign_id})


def count_targets(tx: Session, campaign_id: str) -> int:
    return tx.value("SELECT count(*) FROM rolled_targets WHERE campaign_id = :c", {"c": campaign_id})
