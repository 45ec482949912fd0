"""Figures and target populations per group (分类人群: 特困人员, 低保对象 …).

A report's group figures are written with its revision (the same upload); the view
`group_figures` keeps those of the revision that counts (`figures`), so a correction or a
withdrawal moves them with the unit's figure. A target set's populations per group are
`target_groups`; the view `current_group_targets` keeps those of each unit's current set.

The roll-up follows the one for enrolled and tasks (rollup.py): a unit with a figure (a task)
of its own keeps its own group figures (populations), others take the sum of their children's,
level by level from the bottom (the SQL is unrolled once per depth).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session

REPORT_COLUMNS = ("campaign_id", "source", "unit_code", "report_date", "upload_id", "group_key",
                  "enrolled", "amount")


def append(tx: Session, campaign_id: str, source: str, rows: pd.DataFrame) -> None:
    """Group figures of an upload: unit_code, report_date, upload_id, group_key, enrolled,
    amount (one row per unit and group the file gives)."""
    if rows.empty:
        return
    frame = rows.assign(campaign_id=campaign_id, source=source)[list(REPORT_COLUMNS)]
    frame = frame.astype({"enrolled": "Int64", "amount": "Float64", "upload_id": "int64"})
    tx.insert_frame("group_reports", frame)


def copy(tx: Session, campaign_id: str, source: str, keys: pd.DataFrame, to_upload: int) -> None:
    """A withdrawal restores figures: the group figures that `from_upload` wrote for each
    (unit_code, report_date) become the withdrawal's too."""
    if keys.empty:
        return
    with tx.relations(restored=keys[["unit_code", "report_date", "from_upload"]]):
        tx.run("""
            INSERT INTO group_reports
            SELECT g.campaign_id, g.source, g.unit_code, g.report_date, :to, g.group_key,
                   g.enrolled, g.amount
            FROM group_reports g JOIN restored r
              ON r.unit_code = g.unit_code AND r.report_date = g.report_date
             AND r.from_upload = g.upload_id
            WHERE g.campaign_id = :c AND g.source = :s""",
               {"c": campaign_id, "s": source, "to": to_upload})


def insert_targets(tx: Session, set_id: int, campaign_id: str, rows: pd.DataFrame) -> None:
    """A target set's populations per group: unit_code, group_key, population."""
    if rows.empty:
        return
    frame = rows.assign(set_id=set_id, campaign_id=campaign_id)
    tx.insert_frame("target_groups", frame[["set_id", "campaign_id", "unit_code", "group_key",
                                            "population"]].astype({"population": "int64"}))


def current_targets(tx: Session, campaign_id: str) -> dict[tuple[str, str], int]:
    """(unit, group) -> the population that counts."""
    return {(code, key): population for code, key, population in tx.tuples(
        "SELECT unit_code, group_key, population FROM current_group_targets "
        "WHERE campaign_id = :c", {"c": campaign_id})}


def set_targets(tx: Session, campaign_id: str, set_id: int) -> pd.DataFrame:
    """The populations of one target set: unit_code, group_key, population."""
    return tx.frame("SELECT unit_code, group_key, population FROM target_groups "
                    "WHERE campaign_id = :c AND set_id = :id ORDER BY unit_code, group_key",
                    {"c": campaign_id, "id": set_id})


def rollup(tx: Session, campaign_id: str, source: str, as_of: dt.date, root: str,
           view: bool = False) -> pd.DataFrame:
    """Each unit of the subtree under `root` (with `view`: the root and its children) and each
    group: enrolled and amount as of the date, and the target population; with the unit's
    name, level, parent, depth and position."""
    top, deepest = tx.tuples("""
        SELECT (SELECT depth FROM units WHERE campaign_id = :c AND code = :root),
               (SELECT coalesce(max(depth), 0) FROM units WHERE campaign_id = :c)""",
        {"c": campaign_id, "root": root})[0]
    if top is None:
        return pd.DataFrame(columns=["code", "name", "level", "parent_code", "depth", "position",
                                     "group_key", "enrolled", "amount", "population"])
    parts = ["""
    sub(code, parent_code, depth) AS (
        SELECT code, parent_code, depth FROM units WHERE campaign_id = :c AND code = :root
        UNION ALL
        SELECT x.code, x.parent_code, x.depth FROM units x JOIN sub ON x.parent_code = sub.code
        WHERE x.campaign_id = :c),
    own_report AS (   -- units with a figure of their own that counts on the date
        SELECT unit_code, max(report_date) AS report_date FROM figures
        WHERE campaign_id = :c AND source = :s AND report_date <= :as_of
          AND unit_code IN (SELECT code FROM sub)
        GROUP BY unit_code),
    own AS (
        SELECT g.unit_code, g.group_key, g.enrolled, g.amount FROM group_figures g
        JOIN own_report o ON o.unit_code = g.unit_code AND o.report_date = g.report_date
        WHERE g.campaign_id = :c AND g.source = :s),
    own_task AS (
        SELECT unit_code FROM current_targets
        WHERE campaign_id = :c AND unit_code IN (SELECT code FROM sub)),
    own_pop AS (
        SELECT unit_code, group_key, population FROM current_group_targets
        WHERE campaign_id = :c AND unit_code IN (SELECT code FROM sub))"""]
    for d in range(deepest, top - 1, -1):
        below = "" if d == deepest else f"""
        UNION ALL
        SELECT s.code, k.group_key, sum(k.enrolled), sum(k.amount)
        FROM e{d + 1} k JOIN sub c ON c.code = k.code JOIN sub s ON s.code = c.parent_code
        WHERE s.depth = {d} AND s.code NOT IN (SELECT unit_code FROM own_report)
        GROUP BY s.code, k.group_key"""
        parts.append(f"""
    e{d}(code, group_key, enrolled, amount) AS (
        SELECT o.unit_code, o.group_key, o.enrolled, o.amount
        FROM own o JOIN sub s ON s.code = o.unit_code WHERE s.depth = {d}{below})""")
        below = "" if d == deepest else f"""
        UNION ALL
        SELECT s.code, k.group_key, sum(k.population)
        FROM p{d + 1} k JOIN sub c ON c.code = k.code JOIN sub s ON s.code = c.parent_code
        WHERE s.depth = {d} AND s.code NOT IN (SELECT unit_code FROM own_task)
        GROUP BY s.code, k.group_key"""
        parts.append(f"""
    p{d}(code, group_key, population) AS (
        SELECT o.unit_code, o.group_key, o.population
        FROM own_pop o JOIN sub s ON s.code = o.unit_code WHERE s.depth = {d}{below})""")
    levels = range(top, deepest + 1)
    enrolled = " UNION ALL ".join(f"SELECT * FROM e{d}" for d in levels)
    population = " UNION ALL ".join(f"SELECT * FROM p{d}" for d in levels)
    keep = "WHERE u.code = :root OR u.parent_code = :root" if view else ""
    sql = "WITH RECURSIVE " + ",".join(parts) + f"""
    SELECT u.code, u.name, u.level, u.parent_code, u.depth, u.position,
           coalesce(e.group_key, p.group_key) AS group_key, e.enrolled, e.amount, p.population
    FROM ({enrolled}) e FULL OUTER JOIN ({population}) p
      ON p.code = e.code AND p.group_key = e.group_key
    JOIN units u ON u.campaign_id = :c AND u.code = coalesce(e.code, p.code)
    {keep}
    ORDER BY u.depth, u.position, u.code, group_key"""
    frame = tx.frame(sql, {"c": campaign_id, "s": source, "as_of": as_of, "root": root})
    return frame.astype({"enrolled": "Int64", "population": "Int64", "amount": "Float64"})
