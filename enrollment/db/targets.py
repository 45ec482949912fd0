"""Target tables as versions (target sets): every set kept; what counts is `current_targets`."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session

TARGET_COLUMNS = ("set_id", "campaign_id", "unit_code", "task", "baseline",
                  "registered_population", "resident_population", "low_income")
COUNTS = ("task", "baseline", "registered_population", "resident_population", "low_income")


def insert_set(tx: Session, *, campaign_id: str, level: str, scope_code: str, source: str,
               note: str | None, file_name: str | None, sha256: str | None,
               upload_id: int | None, created_by: str | None, created_at: dt.datetime,
               rows: pd.DataFrame) -> int:
    """A new target set with its rows (unit_code and COUNTS); returns its id.

    Its number (第 N 版) counts the campaign's sets; the id, global, orders them."""
    set_id = tx.next_id("target_set_ids")
    tx.lock(f"target-numbers:{campaign_id}")    # PostgreSQL: numbering takes turns, to commit
    number = tx.column("SELECT coalesce(max(number), 0) + 1 FROM target_sets "
                       "WHERE campaign_id = :c", {"c": campaign_id})[0]
    tx.run("""INSERT INTO target_sets (id, campaign_id, level, scope_code, source, note,
                  file_name, sha256, upload_id, created_by, created_at, number)
              VALUES (:id, :c, :level, :scope, :source, :note, :file, :sha, :upload, :by, :at,
                      :number)""",
           {"id": set_id, "c": campaign_id, "level": level, "scope": scope_code,
            "source": source, "note": note, "file": file_name, "sha": sha256,
            "upload": upload_id, "by": created_by, "at": created_at, "number": number})
    frame = rows.assign(set_id=set_id, campaign_id=campaign_id)
    tx.insert_frame("targets", frame[list(TARGET_COLUMNS)].astype({c: "Int64" for c in COUNTS}))
    return set_id


def set_row(tx: Session, campaign_id: str, set_id: int) -> dict | None:
    return tx.row("SELECT * FROM target_sets WHERE campaign_id = :c AND id = :id",
                  {"c": campaign_id, "id": set_id})


def number(tx: Session, set_id: int) -> int | None:
    """A set's number in its campaign (第 N 版)."""
    # column(): a fully read result (see next_number in uploads.py).
    found = tx.column("SELECT number FROM target_sets WHERE id = :id", {"id": set_id})
    return found[0] if found else None


def id_of(tx: Session, campaign_id: str, number: int) -> int | None:
    """The id of a campaign's set numbered `number`, or None."""
    # column(): a fully read result (see next_number in uploads.py).
    found = tx.column("SELECT id FROM target_sets WHERE campaign_id = :c AND number = :n",
                      {"c": campaign_id, "n": number})
    return found[0] if found else None


def set_checksum(tx: Session, set_id: int, sha256: str | None) -> None:
    tx.run("UPDATE target_sets SET sha256 = :s WHERE id = :id", {"s": sha256, "id": set_id})


def has_targets(tx: Session, campaign_id: str) -> bool:
    return tx.value("SELECT count(*) FROM targets WHERE campaign_id = :c", {"c": campaign_id}) > 0


def current_tasks(tx: Session, campaign_id: str) -> dict[str, int]:
    """The task that counts, per unit that has one of its own."""
    return dict(tx.tuples("SELECT unit_code, task FROM current_targets WHERE campaign_id = :c",
                          {"c": campaign_id}))


def tasks_of(tx: Session, campaign_id: str, codes: list[str]) -> dict[str, int]:
    """The task that counts of each of the units that has one of its own."""
    if not codes:
        return {}
    # The range of the codes is a filter the engine can push below the view's grouping, so
    # that a province's file does not group the tasks of a whole country.
    with tx.relations(wanted_tasks=pd.DataFrame({"unit_code": codes})):
        return dict(tx.tuples("""
            SELECT t.unit_code, t.task FROM current_targets t
            JOIN wanted_tasks w ON w.unit_code = t.unit_code
            WHERE t.campaign_id = :c AND t.unit_code BETWEEN :lo AND :hi""",
            {"c": campaign_id, "lo": min(codes), "hi": max(codes)}))


def current_values(tx: Session, campaign_id: str) -> dict[str, tuple]:
    """Every count (COUNTS order) of each unit's current target row."""
    rows = tx.tuples(f"SELECT unit_code, {', '.join(COUNTS)} FROM current_targets "
                     "WHERE campaign_id = :c", {"c": campaign_id})
    return {row[0]: tuple(row[1:]) for row in rows}


def current(tx: Session, campaign_id: str, level: str | None = None) -> pd.DataFrame:
    """Each unit's current target row, with the unit's name and level (of one level, or all)."""
    return tx.frame("""
        SELECT u.code, u.name, u.level, u.parent_code, t.task, t.baseline,
               t.registered_population, t.resident_population, t.low_income, t.set_id,
               s.number
        FROM current_targets t JOIN units u ON u.campaign_id = t.campaign_id AND u.code = t.unit_code
        JOIN target_sets s ON s.id = t.set_id
        WHERE t.campaign_id = :c AND (CAST(:level AS VARCHAR) IS NULL OR u.level = :level)
        ORDER BY u.depth, u.position""", {"c": campaign_id, "level": level})


def leaf_targets(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Units with a target of their own and no child with one (those that report), top down:
    unit_code, level, task, low_income."""
    return tx.frame("""
        SELECT t.unit_code, u.level, t.task, t.low_income
        FROM current_targets t JOIN units u ON u.campaign_id = t.campaign_id AND u.code = t.unit_code
        WHERE t.campaign_id = :c AND NOT EXISTS (
            SELECT 1 FROM current_targets ct JOIN units cu
              ON cu.campaign_id = ct.campaign_id AND cu.code = ct.unit_code
            WHERE ct.campaign_id = :c AND cu.parent_code = u.code)
        ORDER BY u.depth, u.position""", {"c": campaign_id})


def against_hierarchy(tx: Session, campaign_id: str, scope_code: str | None,
                      new: pd.DataFrame) -> tuple[list[tuple], list[tuple]]:
    """New tasks (code, task, row) against current ones: (scope name, its task, the new sum) of
    the scope unit, and (row, name, task, children's sum, children, their level) of each new row
    whose current children's tasks add up to something else."""
    with tx.relations(new_tasks=new[["code", "task", "row"]]):
        above = tx.tuples("""
            SELECT u.name, c.task, (SELECT sum(task) FROM new_tasks) AS total
            FROM current_targets c JOIN units u ON u.campaign_id = c.campaign_id AND u.code = c.unit_code
            WHERE c.campaign_id = :c AND c.unit_code = :scope""",
            {"c": campaign_id, "scope": scope_code})
        below = tx.tuples("""
            SELECT n.row, p.name, n.task, sum(c.task) AS children, count(*) AS n,
                   min(k.level) AS level
            FROM new_tasks n
            JOIN units k ON k.campaign_id = :c AND k.parent_code = n.code
            JOIN current_targets c ON c.campaign_id = :c AND c.unit_code = k.code
            JOIN units p ON p.campaign_id = :c AND p.code = n.code
            GROUP BY n.row, p.name, n.task HAVING sum(c.task) <> n.task
            ORDER BY n.row""", {"c": campaign_id})
    return above, below


def history(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every target set of the campaign, newest first, with how many of its units it still
    gives the current task (current_units) of all its units (units)."""
    return tx.frame("""
        SELECT s.id AS set_id, s.number, s.level, s.scope_code, min(su.name) AS scope_name,
               s.source, s.note, s.file_name, s.upload_id, s.created_by, s.created_at,
               count(t.unit_code) AS units, sum(t.task) AS total_task,
               count(c.unit_code) AS current_units
        FROM target_sets s
        JOIN targets t ON t.set_id = s.id
        LEFT JOIN current_targets c
               ON c.campaign_id = s.campaign_id AND c.unit_code = t.unit_code AND c.set_id = s.id
        LEFT JOIN units su ON su.campaign_id = s.campaign_id AND su.code = s.scope_code
        WHERE s.campaign_id = :c
        GROUP BY s.id, s.number, s.level, s.scope_code, s.source, s.note, s.file_name, s.upload_id,
                 s.created_by, s.created_at
        ORDER BY s.id DESC""", {"c": campaign_id})


def version(tx: Session, campaign_id: str, set_id: int) -> pd.DataFrame:
    """The rows of one target set, in the order of the units."""
    return tx.frame("""
        SELECT u.code, u.name, u.level, t.task, t.baseline, t.registered_population,
               t.resident_population, t.low_income FROM targets t
        JOIN units u ON u.campaign_id = t.campaign_id AND u.code = t.unit_code
        WHERE t.campaign_id = :c AND t.set_id = :id ORDER BY u.depth, u.position""",
        {"c": campaign_id, "id": set_id})


def original_file(tx: Session, campaign_id: str, set_id: int) -> tuple[str, bytes] | None:
    """The file a set was loaded from (name, bytes), when it was kept."""
    rows = tx.tuples("SELECT u.file_name, u.content FROM target_sets s "
                     "JOIN uploads u ON u.id = s.upload_id "
                     "WHERE s.campaign_id = :c AND s.id = :id", {"c": campaign_id, "id": set_id})
    return (rows[0][0], bytes(rows[0][1])) if rows and rows[0][1] is not None else None


def units_with_values(tx: Session, campaign_id: str, level: str,
                      scope_code: str | None = None) -> pd.DataFrame:
    """The units of a level (under a scope unit, or all), with their current values."""
    return tx.frame("""
        WITH RECURSIVE scope(code) AS (
            SELECT code FROM units WHERE campaign_id = :c
              AND ((CAST(:s AS VARCHAR) IS NULL AND parent_code IS NULL) OR code = :s)
            UNION ALL
            SELECT u.code FROM units u JOIN scope ON u.parent_code = scope.code
            WHERE u.campaign_id = :c)
        SELECT u.code, u.name, t.task, t.baseline, t.registered_population,
               t.resident_population, t.low_income
        FROM units u JOIN scope ON scope.code = u.code
        LEFT JOIN current_targets t ON t.campaign_id = u.campaign_id AND t.unit_code = u.code
        WHERE u.campaign_id = :c AND u.level = :level
        ORDER BY u.depth, u.position""", {"c": campaign_id, "s": scope_code, "level": level})


def coverage(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Per level, top down: units, units with a task of their own, and the sum of those tasks."""
    return tx.frame("""
        SELECT u.level, min(u.depth) AS depth, count(*) AS units, count(t.task) AS with_task,
               sum(t.task) AS total_task, sum(t.low_income) AS low_income,
               count(t.low_income) AS with_low_income
        FROM units u LEFT JOIN current_targets t
          ON t.campaign_id = u.campaign_id AND t.unit_code = u.code
        WHERE u.campaign_id = :c GROUP BY u.level ORDER BY min(u.depth)""",
        {"c": campaign_id}).astype({"total_task": "Int64", "low_income": "Int64"})


def scopes(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Units that have children, top down, with their own current task and the sum of their
    children's."""
    return tx.frame("""
        SELECT p.code, p.name, p.level, p.depth, min(k.level) AS child_level,
               count(*) AS children, min(t.task) AS task, sum(kt.task) AS children_task
        FROM units p JOIN units k ON k.campaign_id = p.campaign_id AND k.parent_code = p.code
        LEFT JOIN current_targets t ON t.campaign_id = p.campaign_id AND t.unit_code = p.code
        LEFT JOIN current_targets kt ON kt.campaign_id = k.campaign_id AND kt.unit_code = k.code
        WHERE p.campaign_id = :c
        GROUP BY p.code, p.name, p.level, p.depth, p.position
        ORDER BY p.depth, p.position""", {"c": campaign_id}).astype(
        {"task": "Int64", "children_task": "Int64"})


def children_values(tx: Session, campaign_id: str, scope_code: str) -> pd.DataFrame:
    """A unit's children with their current task and base data (for allocation)."""
    return tx.frame("""
        SELECT u.code, u.name, t.task AS current_task, t.baseline, t.registered_population,
               t.resident_population, t.low_income
        FROM units u LEFT JOIN current_targets t
          ON t.campaign_id = u.campaign_id AND t.unit_code = u.code
        WHERE u.campaign_id = :c AND u.parent_code = :s ORDER BY u.position""",
        {"c": campaign_id, "s": scope_code})


def shipped_checksums(tx: Session, campaign_id: str) -> set[str]:
    """Checksums of the shipped target tables already loaded (to load each once)."""
    return set(tx.column("SELECT sha256 FROM target_sets WHERE campaign_id = :c "
                         "AND source = 'shipped'", {"c": campaign_id}))
