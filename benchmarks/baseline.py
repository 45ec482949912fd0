"""Hand-written DuckDB SQL over the same tables: the floor that our layer's queries are measured
against.

Each query answers exactly the question one view asks and nothing more, the way an analyst would
write it for the benchmark's shape: only communities report, at most one revision counts. It
takes a unit's latest row per date by (report_date, revision) and ignores withdrawals (a revision
without a figure) and parents' own reports, which the layer handles; on the benchmark data the
answers are the same, and the benchmark checks that they are.
"""

from __future__ import annotations

import datetime as dt

import duckdb


def _ancestor_joins(hops: int) -> tuple[str, str]:
    """Joins from a leaf `leaf` up `hops` levels; returns (SQL, alias of the last ancestor)."""
    sql, current = "", "leaf"
    for i in range(hops):
        sql += (f" JOIN units a{i} ON a{i}.campaign_id = leaf.campaign_id"
                f" AND a{i}.code = {current}.parent_code")
        current = f"a{i}"
    return sql, current


def _latest(within: str = "") -> str:
    """CTE `latest`: each unit's newest figure by $d and by $prev (of the units `within`, SQL)."""
    return f"""
    latest AS (
        SELECT unit_code,
               arg_max(enrolled, (report_date, revision)) AS enrolled,
               arg_max(enrolled, (report_date, revision)) FILTER (report_date <= $prev) AS prev
        FROM reports
        WHERE campaign_id = $c AND source = 'upload' AND report_date <= $d {within}
        GROUP BY unit_code)"""


def top_level(con: duckdb.DuckDBPyConnection, campaign_id: str, as_of: dt.date,
              leaf_depth: int) -> list[tuple]:
    """The units below the top: (code, name, enrolled, enrolled a week before, target)."""
    joins, top = _ancestor_joins(leaf_depth - 1)
    return con.raw.execute(f"""
        WITH {_latest()}
        SELECT {top}.code, any_value({top}.name), sum(l.enrolled), sum(l.prev), sum(t.task)
        FROM units leaf {joins}
        LEFT JOIN latest l ON l.unit_code = leaf.code
        LEFT JOIN current_targets t ON t.campaign_id = leaf.campaign_id AND t.unit_code = leaf.code
        WHERE leaf.campaign_id = $c AND leaf.depth = {leaf_depth}
        GROUP BY {top}.code ORDER BY {top}.code""",
        {"c": campaign_id, "d": as_of, "prev": as_of - dt.timedelta(days=7)}).fetchall()


def county_communities(con: duckdb.DuckDBPyConnection, campaign_id: str, county: str,
                       as_of: dt.date) -> list[tuple]:
    """One county's communities: (code, name, enrolled, enrolled a week before, target)."""
    return con.raw.execute(f"""
        WITH villages AS (
            SELECT v.code, v.name FROM units v
            JOIN units t ON t.campaign_id = v.campaign_id AND t.code = v.parent_code
            WHERE v.campaign_id = $c AND t.parent_code = $county),
        {_latest("AND unit_code IN (SELECT code FROM villages)")}
        SELECT v.code, v.name, l.enrolled, l.prev, t.task
        FROM villages v LEFT JOIN latest l ON l.unit_code = v.code
        LEFT JOIN current_targets t ON t.campaign_id = $c AND t.unit_code = v.code
        ORDER BY v.code""",
        {"c": campaign_id, "d": as_of, "prev": as_of - dt.timedelta(days=7),
         "county": county}).fetchall()


def root_trend(con: duckdb.DuckDBPyConnection, campaign_id: str,
               days: list[dt.date]) -> list[tuple]:
    """The whole campaign week by week: (date, enrolled), the as-of sum over all communities."""
    return con.raw.execute("""
        WITH figures AS (
            SELECT unit_code, report_date, arg_max(enrolled, revision) AS enrolled
            FROM reports WHERE campaign_id = $c AND source = 'upload'
            GROUP BY unit_code, report_date),
        grid AS (SELECT u.unit_code, d.as_of
                 FROM (SELECT DISTINCT unit_code FROM figures) u
                 CROSS JOIN (SELECT unnest($days) AS as_of) d)
        SELECT g.as_of, sum(f.enrolled) FROM grid g
        ASOF JOIN figures f ON f.unit_code = g.unit_code AND f.report_date <= g.as_of
        GROUP BY g.as_of ORDER BY g.as_of""", {"c": campaign_id, "days": days}).fetchall()


# --- PostgreSQL: the same questions in its own idiom (DISTINCT ON, array_agg ORDER BY, lead) ---

def _latest_pg(within: str = "") -> str:
    return f"""
    latest AS (
        SELECT unit_code,
               (array_agg(enrolled ORDER BY report_date DESC, revision DESC))[1] AS enrolled,
               (array_agg(enrolled ORDER BY report_date DESC, revision DESC)
                    FILTER (WHERE report_date <= :prev))[1] AS prev
        FROM reports
        WHERE campaign_id = :c AND source = 'upload' AND report_date <= :d {within}
        GROUP BY unit_code)"""


def top_level_pg(con, campaign_id: str, as_of: dt.date, leaf_depth: int) -> list[tuple]:
    joins, top = _ancestor_joins(leaf_depth - 1)
    return con.tuples(f"""
        WITH {_latest_pg()}
        SELECT {top}.code, min({top}.name), sum(l.enrolled), sum(l.prev), sum(t.task)
        FROM units leaf {joins}
        LEFT JOIN latest l ON l.unit_code = leaf.code
        LEFT JOIN current_targets t ON t.campaign_id = leaf.campaign_id AND t.unit_code = leaf.code
        WHERE leaf.campaign_id = :c AND leaf.depth = {leaf_depth}
        GROUP BY {top}.code ORDER BY {top}.code""",
        {"c": campaign_id, "d": as_of, "prev": as_of - dt.timedelta(days=7)})


def county_communities_pg(con, campaign_id: str, county: str, as_of: dt.date) -> list[tuple]:
    return con.tuples(f"""
        WITH villages AS (
            SELECT v.code, v.name FROM units v
            JOIN units t ON t.campaign_id = v.campaign_id AND t.code = v.parent_code
            WHERE v.campaign_id = :c AND t.parent_code = :county),
        {_latest_pg("AND unit_code IN (SELECT code FROM villages)")}
        SELECT v.code, v.name, l.enrolled, l.prev, t.task
        FROM villages v LEFT JOIN latest l ON l.unit_code = v.code
        LEFT JOIN current_targets t ON t.campaign_id = :c AND t.unit_code = v.code
        ORDER BY v.code""",
        {"c": campaign_id, "d": as_of, "prev": as_of - dt.timedelta(days=7), "county": county})


def root_trend_pg(con, campaign_id: str, days: list[dt.date]) -> list[tuple]:
    return con.tuples("""
        WITH figures AS (
            SELECT DISTINCT ON (unit_code, report_date) unit_code, report_date, enrolled
            FROM reports WHERE campaign_id = :c AND source = 'upload'
            ORDER BY unit_code, report_date, revision DESC),
        spans AS (
            SELECT enrolled, report_date,
                   lead(report_date) OVER (PARTITION BY unit_code ORDER BY report_date) AS next_date
            FROM figures)
        SELECT d.as_of, sum(s.enrolled)
        FROM unnest(CAST(:days AS DATE[])) AS d(as_of)
        JOIN spans s ON s.report_date <= d.as_of AND (s.next_date IS NULL OR d.as_of < s.next_date)
        GROUP BY d.as_of ORDER BY d.as_of""", {"c": campaign_id, "days": days})


def for_dialect(dialect: str) -> dict:
    """The three baselines in the engine's own SQL."""
    if dialect == "postgresql":
        return {"top_level": top_level_pg, "county_communities": county_communities_pg,
                "root_trend": root_trend_pg}
    return {"top_level": top_level, "county_communities": county_communities,
            "root_trend": root_trend}


def kept_top(con, campaign_id: str, top: str, as_of: dt.date) -> list[tuple]:
    """The rows 进度总览 shows, read from the kept tables (db/weekly.py) as plainly as they can
    be: the top unit and its children at one week end, (code, name, enrolled, enrolled a week
    before, target). Standard SQL: the same on both engines."""
    return con.tuples("""
        SELECT u.code, u.name, w.enrolled, w.enrolled_prev, r.target
        FROM units u
        LEFT JOIN weekly_figures w ON w.campaign_id = u.campaign_id AND w.unit_code = u.code
         AND w.source = 'upload' AND w.week_end = :d
        LEFT JOIN rolled_targets r ON r.campaign_id = u.campaign_id AND r.unit_code = u.code
        WHERE u.campaign_id = :c AND (u.code = :top OR u.parent_code = :top)
        ORDER BY u.code""", {"c": campaign_id, "d": as_of, "top": top})
