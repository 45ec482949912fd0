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

from .engine import Session

_FIGURE_COLUMNS = ("campaign_id", "source", "week_end", "parent_code", "unit_code", "enrolled",
                   "enrolled_prev", "amount", "low_income_enrolled", "report_date", "reported_week")


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
    return (f"SELECT code, parent_code FROM units WHERE campaign_id = :c AND depth = :depth "
            f"{listed}")


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
          AND unit_code IN (SELECT code FROM ({todo}) t)""", params)
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
            SELECT parent_code AS code, week_end, sum(enrolled) AS enrolled,
                   sum(enrolled_prev) AS enrolled_prev, sum(amount) AS amount,
                   sum(low_income_enrolled) AS low_income_enrolled,
                   max(report_date) AS report_date, bool_or(reported_week) AS reported_week
            FROM weekly_figures
            WHERE campaign_id = :c AND source = :s AND week_end >= :since
              AND parent_code IN (SELECT code FROM todo)
            GROUP BY parent_code, week_end)
        SELECT :c, :s, w.week_end, t.parent_code, t.code,
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
        WHERE o.unit_code IS NOT NULL OR k.code IS NOT NULL
        ORDER BY w.week_end, t.parent_code, t.code""", params)


def refresh_targets(tx: Session, campaign_id: str, depth: int, codes: list[str] | None) -> None:
    """Recompute the rolled-up tasks of the units of one depth (all, or `codes`): a unit's own
    task (current_targets), else the sum of its children's kept ones."""
    params = {"c": campaign_id, "depth": depth, "codes": codes}
    todo = _todo(codes)
    tx.run(f"""DELETE FROM rolled_targets WHERE campaign_id = :c
               AND unit_code IN (SELECT code FROM ({todo}) t)""", params)
    tx.run(f"""
        INSERT INTO rolled_targets (campaign_id, parent_code, unit_code, target, baseline,
                                    low_income_target)
        WITH todo AS ({todo}),
        kids AS (
            SELECT parent_code AS code, sum(target) AS target, sum(baseline) AS baseline,
                   sum(low_income_target) AS low_income_target
            FROM rolled_targets
            WHERE campaign_id = :c AND parent_code IN (SELECT code FROM todo)
            GROUP BY parent_code)
        SELECT :c, t.parent_code, t.code,
               CASE WHEN o.unit_code IS NOT NULL THEN o.task ELSE k.target END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.baseline ELSE k.baseline END,
               CASE WHEN o.unit_code IS NOT NULL THEN o.low_income ELSE k.low_income_target END
        FROM todo t
        LEFT JOIN current_targets o ON o.campaign_id = :c AND o.unit_code = t.code
        LEFT JOIN kids k ON k.code = t.code
        WHERE o.unit_code IS NOT NULL OR k.code IS NOT NULL
        ORDER BY t.parent_code, t.code""", params)


# --- reading -----------------------------------------------------------------------------------

def _picked(table: str, code: str, columns: str, base: str, branches: Sequence[str]) -> str:
    """The rows of `table` that a read returns: one SELECT per branch (the unit itself, its
    children …), each a plain filter on constants, so that the engine skips the blocks of the
    table whose codes lie elsewhere (an OR of the two would make it read them all)."""
    return "\n            UNION ALL\n            ".join(
        f"SELECT {columns} FROM {table} WHERE {base} AND {branch.format(code=code)}"
        for branch in branches)


_UNIT_COLUMNS = "code, name, level, parent_code, depth, position"
_TASK_COLUMNS = "unit_code, target, baseline, low_income_target"
_WEEK_COLUMNS = ("unit_code, week_end, enrolled, enrolled_prev, amount, low_income_enrolled, "
                 "report_date, reported_week")


def _selection(root: str | None, only: str | None, view: str | None) -> tuple[str, str, str, str]:
    """(extra CTE, units, tasks, figures): the SELECTs of the rows of one read."""
    week = "campaign_id = :c AND source = :s AND week_end BETWEEN :first AND :last"
    if only is not None or view is not None:
        branches = (["{code} = :only"] if only is not None
                    else ["{code} = :view", "parent_code = :view"])
        return ("", _picked("units", "code", _UNIT_COLUMNS, "campaign_id = :c", branches),
                _picked("rolled_targets", "unit_code", _TASK_COLUMNS, "campaign_id = :c",
                        branches),
                _picked("weekly_figures", "unit_code", _WEEK_COLUMNS, week, branches))
    if root is not None:
        sub = """sub(code) AS (
            SELECT CAST(:root AS VARCHAR) UNION ALL
            SELECT x.code FROM units x JOIN sub ON x.parent_code = sub.code
            WHERE x.campaign_id = :c),"""
        within = ["{code} IN (SELECT code FROM sub)"]
    else:
        sub, within = "", ["true"]
    return (sub, _picked("units", "code", _UNIT_COLUMNS, "campaign_id = :c", within),
            _picked("rolled_targets", "unit_code", _TASK_COLUMNS, "campaign_id = :c", within),
            _picked("weekly_figures", "unit_code", _WEEK_COLUMNS, week, within))


def read(tx: Session, campaign_id: str, source: str, days: Sequence[dt.date],
         root: str | None = None, only: str | None = None, with_prev: bool = True,
         view: str | None = None) -> dict:
    """The kept rows of the units selected as in rollup.rollup (`root`: a subtree; `only`: one
    unit; `view`: a unit and its children) at each of the days, one numpy array per column
    (masked where NULL): code, name, level, parent_code, depth, position, as_of, target,
    baseline, enrolled, enrolled_prev, amount, low_income_target, low_income_enrolled,
    report_date, reported_week; ordered as the roll-up orders its rows. A unit without a
    figure at a day has NULLs there. Callers check `state` first."""
    sub, units, tasks, figures = _selection(root, only, view)
    prev = "w.enrolled_prev" if with_prev else "CAST(NULL AS BIGINT)"
    return tx.arrays(f"""
        WITH RECURSIVE {sub}
        u AS ({units}),
        t AS ({tasks}),
        w AS ({figures}),
        d AS (SELECT unnest(CAST(:days AS DATE[])) AS as_of)
        SELECT u.code, u.name, u.level, u.parent_code, u.depth, u.position, d.as_of,
               t.target, t.baseline, w.enrolled, {prev} AS enrolled_prev,
               CAST(w.amount AS DOUBLE PRECISION) AS amount, t.low_income_target,
               w.low_income_enrolled, w.report_date, coalesce(w.reported_week, false) AS reported_week
        FROM u CROSS JOIN d
        LEFT JOIN t ON t.unit_code = u.code
        LEFT JOIN w ON w.unit_code = u.code AND w.week_end = d.as_of
        ORDER BY d.as_of, u.depth, u.parent_code, u.position, u.code""",
        {"c": campaign_id, "s": source, "root": root, "only": only, "view": view,
         "days": list(days), "first": min(days), "last": max(days)})


def state(tx: Session, campaign_id: str, source: str) -> tuple[dict, bool]:
    """({week end: (week start, day a week earlier)} kept for the campaign, whether the kept
    rows reflect every report of the source and every target row), in one statement."""
    rows = tx.tuples("""
        SELECT 'date' AS kind, week_end, week_start, prev_day,
               CAST(NULL AS BIGINT) AS n, CAST(NULL AS BIGINT) AS last
        FROM weekly_dates WHERE campaign_id = :c
        UNION ALL
        SELECT 'mark:' || what, NULL, NULL, NULL, row_count, last_id
        FROM weekly_marks WHERE campaign_id = :c AND what IN (:mark, :targets_mark)
        UNION ALL
        SELECT 'now:' || :mark, NULL, NULL, NULL, count(*), max(upload_id)
        FROM reports WHERE campaign_id = :c AND source = :s
        UNION ALL
        SELECT 'now:' || :targets_mark, NULL, NULL, NULL, count(*), max(set_id)
        FROM targets WHERE campaign_id = :c""",
        {"c": campaign_id, "s": source, "mark": report_mark(source),
         "targets_mark": TARGETS_MARK})
    dates = {end: (start, prev) for kind, end, start, prev, _, _ in rows if kind == "date"}
    counts = {kind: (n, last) for kind, _, _, _, n, last in rows if kind != "date"}
    fresh = all(counts.get(f"mark:{what}", (0, None)) == counts[f"now:{what}"]
                for what in (report_mark(source), TARGETS_MARK))
    return dates, fresh


def is_kept(tx: Session, campaign_id: str, source: str, dates: dict) -> bool:
    """Whether every date (the roll-up's date columns: as_of, week_start, prev) is kept with
    the same week start and previous day, and the kept rows reflect every report of the source
    and every target row."""
    kept, fresh = state(tx, campaign_id, source)
    return fresh and all(kept.get(d) == (s, p) for d, s, p in
                         zip(dates["as_of"], dates["week_start"], dates["prev"]))


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
