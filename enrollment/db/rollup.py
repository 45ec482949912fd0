"""The roll-up: every unit's figures and task at one or more dates, parents summing children.

For every unit: target, enrolled (the figure that counts on or before the date), completion,
time progress, pace line, gap in percentage points, status, change since the previous week and the
weekly pace still needed. A parent without a report (or target) of its own takes the sum of its
children's, level by level from the bottom: the SQL is unrolled once per depth of the hierarchy.
The figures come from the view `figures` (schema.py), the tasks from `current_targets`.

Status comparisons are exact integer arithmetic (no floating point): a unit exactly on the pace
line is `on_track`.

Two spellings side by side, picked by the session's dialect. DuckDB's (faster there) uses
constructs PostgreSQL lacks; PostgreSQL's are standard SQL:
* the dates: `unnest` of list parameters side by side (PostgreSQL: `unnest(ARRAY, ARRAY …)` in
  FROM with a column list);
* each unit's latest figure on or before each date: struct literals `{'enrolled': …}` with
  `arg_max(struct, date)` for one or two dates, an `ASOF JOIN` for many (PostgreSQL: each
  figure counts from its date until the unit's next one, `lead()` over the unit, and joins
  the dates that fall in that interval: one pass, no sort per date);
* `any_value` of a value that is the same in the group (PostgreSQL 15: min, bool_or);
* `HUGEINT` for the exact status comparison (NUMERIC).

Units with a window of their own (吉林: three cities 2021-10-08 – 12-31 in a province window from
10-01) get their own calendar inputs: `window_owners` (code, window_id) names them and
`window_dates` (window_id, as_of, pace, elapsed, window_days, after_end, weeks_left) holds each
window's values at each date, both registered frames (temporary tables); `owned` hands an owner's
window down its subtree to every unit without one of its own, and the final select takes a unit's
own values where it has them, the dates' (the root's window) elsewhere.
"""

from __future__ import annotations

import pandas as pd

from .engine import Session

# Columns that a parent sums from its children when it has no value of its own.
_SUMMED = ("enrolled", "enrolled_prev", "amount", "low_income_enrolled",
           "target", "baseline", "low_income_target")

_DATES = {"duckdb": """
    dates AS (
        SELECT unnest(:as_of) AS as_of, unnest(:prev) AS prev, unnest(:week_start) AS week_start,
               unnest(:pace) AS pace, unnest(:elapsed) AS elapsed,
               unnest(:after_end) AS after_end, unnest(:weeks_left) AS weeks_left)""",
          "postgresql": """
    dates AS (
        SELECT * FROM unnest(CAST(:as_of AS DATE[]), CAST(:prev AS DATE[]),
                             CAST(:week_start AS DATE[]), CAST(:pace AS DOUBLE PRECISION[]),
                             CAST(:elapsed AS INTEGER[]), CAST(:after_end AS BOOLEAN[]),
                             CAST(:weeks_left AS INTEGER[]))
            AS d(as_of, prev, week_start, pace, elapsed, after_end, weeks_left))"""}

# PostgreSQL: the figures that count with the date from which the unit's next one counts
# instead; a figure is the unit's latest on a date when the date falls in [report_date, next).
_VALID_NEXT = """
    valid_next AS (
        SELECT v.*, lead(v.report_date) OVER (PARTITION BY v.unit_code ORDER BY v.report_date)
               AS next_date
        FROM valid v),"""


def _latest_at(figure: str, day: str) -> str:
    """The join condition: `figure` (a row of valid_next) is its unit's latest on `day`."""
    return (f"{figure}.report_date <= {day} "
            f"AND ({figure}.next_date IS NULL OR {day} < {figure}.next_date)")


# No unit with a window of its own: the same columns, no rows, no recursion.
_NO_WINDOWS = """
    owned AS (SELECT NULL::VARCHAR AS code, NULL::INTEGER AS window_id WHERE false),
    wdates AS (SELECT NULL::INTEGER AS window_id, NULL::DATE AS as_of,
                      NULL::DOUBLE PRECISION AS pace,
                      NULL::INTEGER AS elapsed, NULL::INTEGER AS window_days,
                      NULL::BOOLEAN AS after_end, NULL::INTEGER AS weeks_left WHERE false)"""


def _windows_sql(units: str) -> str:
    """CTEs `owned` (unit -> window of its own, inherited down its subtree within `units`) and
    `wdates` (each such window's calendar values at each date)."""
    return f"""
    owned(code, window_id) AS (
        SELECT o.code, o.window_id FROM window_owners o WHERE o.code IN (SELECT code FROM {units})
        UNION ALL
        SELECT x.code, w.window_id FROM owned w JOIN {units} x ON x.parent_code = w.code
        WHERE x.code NOT IN (SELECT code FROM window_owners)),
    wdates AS (SELECT window_id, as_of, pace, elapsed, window_days, after_end, weeks_left
               FROM window_dates)"""


def _valid_sql(units: str | None) -> str:
    """CTE `valid`: the figures that count (view `figures`) of the units in the relation
    `units`, if given, up to the last date."""
    within = f"AND unit_code IN (SELECT code FROM {units})" if units else ""
    # A subtree's figures are few: read once. A whole campaign's are many: read where used.
    keep = "MATERIALIZED" if units else "NOT MATERIALIZED"
    return f"""
    valid AS {keep} (
        SELECT unit_code, report_date, enrolled, amount, low_income_enrolled FROM figures
        WHERE campaign_id = :campaign AND source = :source
          AND report_date <= (SELECT max(as_of) FROM dates) {within})"""


def _source_sql(subtree: bool, with_prev: bool = True, by_date: bool = False,
                dialect: str = "duckdb") -> str:
    """The CTEs up to `base`: every unit (of the subtree) at every date with its own figures.

    `by_date` takes each unit's latest figure per date with one aggregate over the figures on or
    before it (fastest for one or two dates); otherwise with an as-of join (for many dates).
    """
    units = ("SELECT code, name, level, parent_code, depth, position FROM units "
             "WHERE campaign_id = :campaign")
    if subtree:
        units = f"""
        SELECT * FROM (
            WITH RECURSIVE sub(code) AS (
                SELECT CAST(:root AS VARCHAR) UNION
                SELECT x.code FROM units x JOIN sub ON x.parent_code = sub.code
                WHERE x.campaign_id = :campaign)
            {units} AND code IN (SELECT code FROM sub)) AS subtree"""
    latest = "own.latest."
    if dialect == "postgresql":
        latest = "own.latest_"
        prev_column, prev_join = "NULL::BIGINT AS enrolled_prev", ""
        if with_prev:
            prev_column = "p.enrolled AS enrolled_prev"
            prev_join = (f"LEFT JOIN valid_next p ON p.unit_code = v.unit_code "
                         f"AND {_latest_at('p', 'd.prev')}")
        own = f"""{_VALID_NEXT}
    own AS (   -- each reporting unit's latest figure on or before each date
        SELECT v.unit_code, d.as_of, v.enrolled AS latest_enrolled, v.amount AS latest_amount,
               v.low_income_enrolled AS latest_low_income_enrolled, v.report_date,
               v.report_date >= d.week_start AS reported_week, {prev_column}
        FROM valid_next v JOIN dates d ON {_latest_at('v', 'd.as_of')}
        {prev_join}),"""
    elif by_date:
        prev = ("arg_max(v.enrolled, v.report_date) FILTER (v.report_date <= d.prev)"
                if with_prev else "NULL::BIGINT")
        own = f"""
    own AS (   -- each reporting unit's latest figure on or before each date
        SELECT v.unit_code, d.as_of,
               arg_max({{'enrolled': v.enrolled, 'amount': v.amount,
                         'low_income_enrolled': v.low_income_enrolled}}, v.report_date) AS latest,
               max(v.report_date) AS report_date,
               max(v.report_date) >= any_value(d.week_start) AS reported_week,
               {prev} AS enrolled_prev
        FROM valid v JOIN dates d ON v.report_date <= d.as_of
        GROUP BY v.unit_code, d.as_of),"""
    else:
        prev_column, prev_join = "NULL::BIGINT AS enrolled_prev", ""
        if with_prev:
            prev_column = "p.enrolled_prev"
            prev_join = """LEFT JOIN (
            SELECT g2.unit_code, g2.as_of, v2.enrolled AS enrolled_prev
            FROM grid g2
            ASOF JOIN valid v2 ON v2.unit_code = g2.unit_code AND v2.report_date <= g2.prev
        ) p ON p.unit_code = g.unit_code AND p.as_of = g.as_of"""
        own = f"""
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
        {prev_join}),"""
    return f"""{_DATES[dialect]},
    u AS ({units}),{_valid_sql("u" if subtree else None)},{own}
    tgt AS (
        SELECT unit_code, task, baseline, low_income FROM current_targets
        WHERE campaign_id = :campaign),
    base AS (
        SELECT u.*, d.as_of, {latest}enrolled AS own_enrolled,
               own.enrolled_prev AS own_enrolled_prev, {latest}amount AS own_amount,
               {latest}low_income_enrolled AS own_low_income_enrolled,
               own.report_date AS own_report_date, coalesce(own.reported_week, false) AS own_week,
               tgt.task AS own_target, tgt.baseline AS own_baseline,
               tgt.low_income AS own_low_income_target
        FROM u CROSS JOIN dates d
        LEFT JOIN own ON own.unit_code = u.code AND own.as_of = d.as_of
        LEFT JOIN tgt ON tgt.unit_code = u.code)"""


def _unit_sql(blocking: bool = True, whole: bool = False, dialect: str = "duckdb") -> str:
    """One unit (:root) at every date, without computing every unit below it at every date.

    A parent without a figure of its own takes the sum of its children's, level by level; so
    the unit's figure at a date is the sum over the units below it (or itself) that have a
    figure by then and have no ancestor up to the unit that has one. A unit has a figure from
    its first report on (the latest on or before each date counts), so a reporting unit counts
    until the first report date of any reporting ancestor below the unit (`blocked`). The
    same holds for tasks, without dates. reported_week is any report in the week below the
    unit, as in the level-by-level query; the result is the same row for row.

    The units that always count (all of them, unless parents report too) are summed by their
    changes: each report adds its difference from the unit's previous one from its date on,
    so the sums at every date come from one pass in date order per unit, with no as-of join.
    The few blocked units take the as-of join, up to their blocking date. Without `blocking`
    (no unit with units below it has a report: see _parents_report) that part is left out;
    with `whole` (:root is the campaign's top unit) every report is below it.
    """
    if blocking:
        parents = """
    parents AS (   -- units with a figure of their own and units below them: first report
        SELECT * FROM (SELECT unit_code, min(report_date) AS first FROM valid GROUP BY unit_code)
            AS firsts
        WHERE unit_code IN (SELECT parent_code FROM sub)),
    below AS (   -- units under such a unit, with the date its own figure takes over
        SELECT c.code, p.first AS since FROM parents p JOIN sub c ON c.parent_code = p.unit_code
        UNION ALL
        SELECT c.code, b.since FROM below b JOIN sub c ON c.parent_code = b.code),
    blocked AS (SELECT code, min(since) AS since FROM below GROUP BY code),
    blocked_valid AS (SELECT * FROM valid WHERE unit_code IN (SELECT code FROM blocked)),"""
        free = "valid WHERE unit_code NOT IN (SELECT code FROM blocked)"
    else:
        parents = """
    blocked AS (SELECT NULL::VARCHAR AS code, NULL::DATE AS since WHERE false),
    blocked_valid AS (SELECT * FROM valid WHERE false),"""
        free = "valid"
    sub = "SELECT code, parent_code FROM units WHERE campaign_id = :campaign"
    if not whole:
        sub = f"""{sub} AND code = :root
        UNION ALL
        SELECT x.code, x.parent_code FROM units x JOIN sub ON x.parent_code = sub.code
        WHERE x.campaign_id = :campaign"""
    blocked_figure = """
        ASOF JOIN blocked_valid v ON v.unit_code = g.unit_code AND v.report_date <= g.as_of"""
    if dialect == "postgresql":
        blocked_figure = f"""
        JOIN (SELECT b.*, lead(b.report_date) OVER (PARTITION BY b.unit_code
                                                    ORDER BY b.report_date) AS next_date
              FROM blocked_valid b) v
          ON v.unit_code = g.unit_code AND {_latest_at('v', 'g.as_of')}"""
    return f"""{_DATES[dialect]},
    sub AS (
        {sub}),{_valid_sql(None if whole else "sub")},{parents}
    free AS (   -- every report of a unit that always counts, beside the unit's previous one
        SELECT report_date, enrolled, amount, low_income_enrolled,
               lag(enrolled) OVER w AS enrolled_before, lag(amount) OVER w AS amount_before,
               lag(low_income_enrolled) OVER w AS low_before
        FROM {free}
        WINDOW w AS (PARTITION BY unit_code ORDER BY report_date)),
    changes AS (   -- how the sums change on each report date
        SELECT report_date,
               sum((enrolled_before IS NULL)::INTEGER) AS units,
               sum(enrolled - coalesce(enrolled_before, 0)) AS enrolled,
               sum(coalesce(amount, 0) - coalesce(amount_before, 0)) AS amount,
               sum((amount IS NOT NULL)::INTEGER - (amount_before IS NOT NULL)::INTEGER) AS amounts,
               sum(coalesce(low_income_enrolled, 0) - coalesce(low_before, 0)) AS low,
               sum((low_income_enrolled IS NOT NULL)::INTEGER - (low_before IS NOT NULL)::INTEGER)
                   AS lows
        FROM free GROUP BY report_date),
    free_sums AS (
        SELECT d.as_of, sum(c.units) AS units, sum(c.enrolled) AS enrolled,
               sum(c.amount) AS amount, sum(c.amounts) AS amounts, sum(c.low) AS low,
               sum(c.lows) AS lows, max(c.report_date) AS report_date
        FROM dates d JOIN changes c ON c.report_date <= d.as_of GROUP BY d.as_of),
    blocked_sums AS (
        SELECT g.as_of, count(*) AS units, sum(v.enrolled) AS enrolled, sum(v.amount) AS amount,
               count(v.amount) AS amounts, sum(v.low_income_enrolled) AS low,
               count(v.low_income_enrolled) AS lows, max(v.report_date) AS report_date
        FROM (SELECT f.unit_code, d.as_of
              FROM (SELECT unit_code, min(report_date) AS first FROM blocked_valid
                    GROUP BY unit_code) f
              JOIN blocked b ON b.code = f.unit_code
              JOIN dates d ON f.first <= d.as_of AND d.as_of < b.since) g{blocked_figure}
        GROUP BY g.as_of),
    report_dates AS (
        SELECT report_date FROM changes UNION SELECT report_date FROM blocked_valid),
    sums AS (
        SELECT d.as_of,
               CASE WHEN coalesce(f.units, 0) + coalesce(b.units, 0) > 0
                    THEN coalesce(f.enrolled, 0) + coalesce(b.enrolled, 0) END AS enrolled,
               CASE WHEN coalesce(f.amounts, 0) + coalesce(b.amounts, 0) > 0
                    THEN coalesce(f.amount, 0) + coalesce(b.amount, 0) END AS amount,
               CASE WHEN coalesce(f.lows, 0) + coalesce(b.lows, 0) > 0
                    THEN coalesce(f.low, 0) + coalesce(b.low, 0) END AS low_income_enrolled,
               greatest(f.report_date, b.report_date) AS report_date,
               EXISTS (SELECT 1 FROM report_dates r
                       WHERE r.report_date BETWEEN d.week_start AND d.as_of) AS reported_week
        FROM dates d LEFT JOIN free_sums f ON f.as_of = d.as_of
        LEFT JOIN blocked_sums b ON b.as_of = d.as_of),
    tasks AS (
        SELECT unit_code, task, baseline, low_income FROM current_targets
        WHERE campaign_id = :campaign AND unit_code IN (SELECT code FROM sub)),
    under_task AS (   -- units under a unit that has a task of its own
        SELECT c.code FROM sub c
        WHERE c.parent_code IN (SELECT unit_code FROM tasks
                                WHERE unit_code IN (SELECT parent_code FROM sub))
        UNION
        SELECT c.code FROM under_task x JOIN sub c ON c.parent_code = x.code),
    task AS (
        SELECT sum(task) AS target, sum(baseline) AS baseline, sum(low_income) AS low_income_target
        FROM tasks WHERE unit_code NOT IN (SELECT code FROM under_task)),
    one AS (
        SELECT u.code, u.name, u.level, u.parent_code, u.depth, u.position, d.as_of,
               task.target, task.baseline, f.enrolled, NULL::BIGINT AS enrolled_prev, f.amount,
               f.low_income_enrolled, task.low_income_target, f.report_date,
               coalesce(f.reported_week, false) AS reported_week
        FROM units u CROSS JOIN dates d CROSS JOIN task LEFT JOIN sums f ON f.as_of = d.as_of
        WHERE u.campaign_id = :campaign AND u.code = :root)"""


def _depth_sql(depth: int, deepest: bool, dialect: str = "duckdb") -> str:
    if deepest:
        cols = ",\n".join(f"own_{c} AS {c}" for c in _SUMMED)
        return f"""
    d{depth} AS (
        SELECT code, name, level, parent_code, depth, position, as_of, {cols},
               own_report_date AS report_date, own_week AS reported_week
        FROM base WHERE depth = {depth})"""
    # A parent keeps its own figure when it has one; otherwise the sum of its children's.
    # The enrolled figures come as a group (own report or children), as do the targets.
    # One value of the group (the same in every row of it): any_value, or min / bool_or.
    same, same_bool = ("any_value", "any_value") if dialect == "duckdb" else ("min", "bool_or")
    cols = []
    for c in _SUMMED:
        if c in ("target", "baseline", "low_income_target"):
            flag = "b.own_target IS NOT NULL"
        elif c == "enrolled_prev":
            flag = "b.own_enrolled_prev IS NOT NULL"
        else:
            flag = "b.own_enrolled IS NOT NULL"
        cols.append(f"CASE WHEN {flag} THEN {same}(b.own_{c}) ELSE sum(k.{c}) END AS {c}")
    return f"""
    d{depth} AS (
        SELECT b.code, {same}(b.name) AS name, {same}(b.level) AS level,
               {same}(b.parent_code) AS parent_code, {same}(b.depth) AS depth,
               {same}(b.position) AS position, b.as_of,
               {", ".join(cols)},
               CASE WHEN b.own_enrolled IS NOT NULL THEN {same}(b.own_report_date)
                    ELSE max(k.report_date) END AS report_date,
               {same_bool}(b.own_week) OR coalesce(bool_or(k.reported_week), false) AS reported_week
        FROM base b LEFT JOIN d{depth + 1} k ON k.parent_code = b.code AND k.as_of = b.as_of
        WHERE b.depth = {depth}
        GROUP BY b.code, b.as_of, b.own_enrolled IS NOT NULL, b.own_target IS NOT NULL,
                 b.own_enrolled_prev IS NOT NULL)"""


_FINAL = """
SELECT r.code, r.name, r.level, r.parent_code, r.depth, r.position, r.as_of,
       r.target, r.baseline, r.enrolled, r.enrolled_prev,
       r.enrolled - r.enrolled_prev AS week_delta,
       CAST(r.enrolled AS DOUBLE PRECISION) / r.target AS completion,
       coalesce(w.pace, d.pace) AS pace,
       (CAST(r.enrolled AS DOUBLE PRECISION) / r.target - coalesce(w.pace, d.pace)) * 100 AS gap_pp,
       CASE
         WHEN r.target IS NULL OR r.target = 0 THEN 'no_target'
         WHEN NOT r.reported_week OR r.enrolled IS NULL THEN 'not_reported'
         WHEN r.enrolled::{exact} * 10000 >= :goal_bp::{exact} * r.target THEN 'achieved'
         WHEN coalesce(w.after_end, d.after_end) THEN 'behind'
         WHEN r.enrolled::{exact} * 10000 * coalesce(w.window_days, :window_days)
              >= :goal_bp::{exact} * r.target * coalesce(w.elapsed, d.elapsed) THEN 'on_track'
         ELSE 'behind'
       END AS status,
       CASE WHEN coalesce(w.weeks_left, d.weeks_left) > 0 AND r.target IS NOT NULL
            THEN greatest(ceil(:goal_bp::{exact} * r.target / 10000) - coalesce(r.enrolled, 0), 0)
                 / coalesce(w.weeks_left, d.weeks_left) END AS needed_per_week,
       r.report_date, r.reported_week,
       r.amount, r.low_income_target, r.low_income_enrolled,
       CAST(r.low_income_enrolled AS DOUBLE PRECISION) / r.low_income_target
           AS low_income_completion,
       coalesce(w.elapsed, d.elapsed) AS elapsed,
       coalesce(w.window_days, :window_days) AS window_days, ow.window_id
FROM ({union}) r JOIN dates d ON d.as_of = r.as_of
LEFT JOIN owned ow ON ow.code = r.code
LEFT JOIN wdates w ON w.window_id = ow.window_id AND w.as_of = r.as_of
{where}
ORDER BY r.as_of, r.depth, r.parent_code, r.position, r.code
"""

# The exact type of the status comparisons (enrolled × 10000 × window days overflows BIGINT).
_EXACT = {"duckdb": "HUGEINT", "postgresql": "NUMERIC"}


def max_depth(tx: Session, campaign_id: str) -> int:
    return tx.value("SELECT coalesce(max(depth), 0) FROM units WHERE campaign_id = :c",
                    {"c": campaign_id})


def _is_top(tx: Session, campaign_id: str, code: str) -> bool:
    return tx.value("SELECT parent_code IS NULL FROM units WHERE campaign_id = :c AND code = :code",
                    {"c": campaign_id, "code": code}) is True


def rollup(tx: Session, campaign_id: str, source: str, goal_bp: int, window_days: int,
           dates: dict, root: str | None = None, only: str | None = None,
           with_prev: bool = True, view: str | None = None,
           windows: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Metrics of every unit (of the subtree under `root`, if given) at each of the dates.

    `dates` holds one list per date column of the CTE `dates` (as_of, prev, week_start, pace,
    elapsed, after_end, weeks_left), for the window of `root` (or the campaign's), whose
    length is `window_days`. `windows`, when units below have windows of their own, is the
    frames (window_owners, window_dates) described above. `only` keeps one unit's rows, `view`
    that unit and its children. With `only == root` and without `with_prev` (a trend) the
    unit's rows are summed from the reporting units below it (_unit_sql) instead of rolling up
    every unit at every date: the same rows, far less work.
    """
    one_unit = only is not None and only == root and not with_prev
    params = {"campaign": campaign_id, "source": source, "goal_bp": goal_bp,
              "window_days": window_days, "root": root, "only": only, "view": view, **dates}
    if one_unit or windows is None:      # one unit: its own window is `dates`
        return tx.frame(_sql(tx, campaign_id, source, len(dates["as_of"]), root, only,
                             with_prev, view, one_unit, False), params)
    owners, window_dates = windows
    # Registered before any other statement: DuckDB refuses to register a frame while a
    # result of the connection is open.
    with tx.relations(window_owners=owners, window_dates=window_dates):
        return tx.frame(_sql(tx, campaign_id, source, len(dates["as_of"]), root, only,
                             with_prev, view, False, True), params)


def _sql(tx: Session, campaign_id: str, source: str, dates: int, root: str | None,
         only: str | None, with_prev: bool, view: str | None, one_unit: bool,
         windows: bool) -> str:
    from .reports import parents_report

    dialect = tx.dialect
    exact = _EXACT[dialect]
    if one_unit:
        return ("WITH RECURSIVE "
                + _unit_sql(parents_report(tx, campaign_id, source), _is_top(tx, campaign_id, root),
                            dialect)
                + "," + _NO_WINDOWS + _FINAL.format(union="SELECT * FROM one", where="",
                                                   exact=exact))
    deepest = max_depth(tx, campaign_id)
    # One or two dates: an aggregate per unit and date is cheaper than an as-of join's sort.
    parts = [_source_sql(root is not None, with_prev, by_date=dates <= 2, dialect=dialect)]
    parts += [_depth_sql(d, d == deepest, dialect) for d in range(deepest, -1, -1)]
    parts.append(_windows_sql("u") if windows else _NO_WINDOWS)
    union = " UNION ALL ".join(f"SELECT * FROM d{d}" for d in range(deepest + 1))
    where = ("WHERE r.code = :only" if only is not None else
             "WHERE r.code = :view OR r.parent_code = :view" if view is not None else "")
    return "WITH RECURSIVE " + ",".join(parts) + _FINAL.format(union=union, where=where,
                                                                 exact=exact)
