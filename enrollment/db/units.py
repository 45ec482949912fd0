"""Units of a campaign (the hierarchy) and their name variants (aliases)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from .engine import Session

UNIT_COLUMNS = ("campaign_id", "code", "name", "level", "parent_code", "depth", "is_division",
                "position")


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    parent_code: str | None
    depth: int
    is_division: bool


def _unit(row: dict) -> Unit:
    return Unit(row["code"], row["name"], row["level"], row["parent_code"], row["depth"],
                row["is_division"])


def insert(tx: Session, units: pd.DataFrame, aliases: pd.DataFrame) -> None:
    """Store units (columns UNIT_COLUMNS) and aliases (campaign_id, alias, code)."""
    tx.insert_frame("units", units[list(UNIT_COLUMNS)])
    tx.insert_frame("unit_aliases", aliases[["campaign_id", "alias", "code"]])


def fingerprint(tx: Session, campaign_id: str) -> tuple:
    """Tells a campaign's units and aliases from any others of the same id (keys cached name
    indexes and parent maps).

    They are written once, with the campaign (`insert`), and never changed: their counts and
    the campaign's creation time identify them (a restored file's campaign of the same id has
    another). Summing a hash of every row said the same, at 0.1 s a check for a country's
    665,277 units.
    """
    return tuple(tx.tuples("""
        SELECT (SELECT created_at FROM campaigns WHERE id = :c),
               (SELECT count(*) FROM units WHERE campaign_id = :c),
               (SELECT count(*) FROM unit_aliases WHERE campaign_id = :c)""",
        {"c": campaign_id})[0])


def names_and_aliases(tx: Session, campaign_id: str) -> tuple[list[tuple], list[tuple]]:
    """(code, name, level, parent code) of every unit, and (alias, [codes]) of every alias."""
    units = tx.tuples("SELECT code, name, level, parent_code FROM units WHERE campaign_id = :c",
                      {"c": campaign_id})
    aliases = tx.tuples("SELECT alias, array_agg(DISTINCT code) FROM unit_aliases "
                        "WHERE campaign_id = :c GROUP BY alias", {"c": campaign_id})
    return units, aliases


def get(tx: Session, campaign_id: str, code: str) -> Unit | None:
    row = tx.row("SELECT * FROM units WHERE campaign_id = :c AND code = :code",
                 {"c": campaign_id, "code": code})
    return _unit(row) if row else None


def root(tx: Session, campaign_id: str) -> Unit:
    return _unit(tx.row("SELECT * FROM units WHERE campaign_id = :c AND parent_code IS NULL",
                        {"c": campaign_id}))


def children(tx: Session, campaign_id: str, code: str) -> list[Unit]:
    rows = tx.rows("SELECT * FROM units WHERE campaign_id = :c AND parent_code = :code "
                   "ORDER BY position, code", {"c": campaign_id, "code": code})
    return [_unit(r) for r in rows]


def ancestors(tx: Session, campaign_id: str, code: str) -> list[Unit]:
    """The path from the root down to the unit itself (for a breadcrumb)."""
    path: list[Unit] = []
    current = get(tx, campaign_id, code)
    while current is not None:
        path.append(current)
        current = get(tx, campaign_id, current.parent_code) if current.parent_code else None
    return list(reversed(path))


def descendants(tx: Session, campaign_id: str, codes: Iterable[str]) -> set[str]:
    """The units and every unit below them."""
    return set(tx.column("""
        WITH RECURSIVE sub(code) AS (
            SELECT code FROM units
            WHERE campaign_id = :c AND code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))
            UNION
            SELECT u.code FROM units u JOIN sub ON u.parent_code = sub.code
            WHERE u.campaign_id = :c)
        SELECT code FROM sub""", {"c": campaign_id, "codes": list(codes)}))


def level_counts(tx: Session, campaign_id: str) -> dict[str, int]:
    return dict(tx.tuples("SELECT level, count(*) FROM units WHERE campaign_id = :c "
                          "GROUP BY level ORDER BY min(depth)", {"c": campaign_id}))


def levels_by_depth(tx: Session, campaign_id: str) -> list[str]:
    """The campaign's levels from the top down."""
    return tx.column("SELECT level FROM units WHERE campaign_id = :c GROUP BY level "
                     "ORDER BY min(depth)", {"c": campaign_id})


def parents(tx: Session, campaign_id: str) -> dict[str, str | None]:
    """Every unit's parent code."""
    return dict(tx.tuples("SELECT code, parent_code FROM units WHERE campaign_id = :c",
                          {"c": campaign_id}))


def names(tx: Session, campaign_id: str, codes: Iterable[str] | None = None) -> dict[str, str]:
    """Unit names by code (of the given codes, or of every unit)."""
    if codes is None:
        return dict(tx.tuples("SELECT code, name FROM units WHERE campaign_id = :c",
                              {"c": campaign_id}))
    return dict(tx.tuples(
        "SELECT code, name FROM units WHERE campaign_id = :c "
        "AND code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))",
        {"c": campaign_id, "codes": list(codes)}))


def frame(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every unit of the campaign, parents before children (depth, then sibling order)."""
    return tx.frame("SELECT code, name, level, parent_code, depth, position, is_division "
                    "FROM units WHERE campaign_id = :c ORDER BY depth, position, code",
                    {"c": campaign_id})


def at_levels(tx: Session, campaign_id: str, levels: Iterable[str], limit: int = 2000) -> list[Unit]:
    """Units of the given levels, top down (parents' order), at most `limit`."""
    rows = tx.rows("SELECT * FROM units WHERE campaign_id = :c "
                   "AND level IN (SELECT unnest(CAST(:levels AS VARCHAR[]))) "
                   "ORDER BY depth, parent_code NULLS FIRST, position LIMIT :n",
                   {"c": campaign_id, "levels": list(levels), "n": limit})
    return [_unit(r) for r in rows]


def under(tx: Session, campaign_id: str, scope_code: str, level: str) -> pd.DataFrame:
    """The units of a level under a unit (itself included), in tree order: code, name,
    parent_name."""
    return tx.frame("""
        WITH RECURSIVE tree(code, path) AS (
            SELECT code, ARRAY[position] FROM units WHERE campaign_id = :c AND code = :s
            UNION ALL
            SELECT u.code, array_append(t.path, u.position) FROM units u JOIN tree t
              ON u.parent_code = t.code WHERE u.campaign_id = :c)
        SELECT u.code, u.name, p.name AS parent_name
        FROM tree JOIN units u ON u.campaign_id = :c AND u.code = tree.code
        LEFT JOIN units p ON p.campaign_id = :c AND p.code = u.parent_code
        WHERE u.level = :lv ORDER BY tree.path""",
        {"c": campaign_id, "s": scope_code, "lv": level})


def names_in_any_campaign(tx: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of unit codes from whichever campaign has them (the first by campaign id)."""
    codes = list(codes)
    if not codes:
        return {}
    return dict(tx.tuples(
        "SELECT DISTINCT ON (code) code, name FROM units "
        "WHERE code IN (SELECT unnest(CAST(:codes AS VARCHAR[]))) ORDER BY code, campaign_id",
        {"codes": codes}))


def campaigns_of(tx: Session, codes: Iterable[str]) -> set[str]:
    """The campaigns whose hierarchies hold any of the unit codes."""
    codes = list(codes)
    if not codes:
        return set()
    return set(tx.column("SELECT DISTINCT campaign_id FROM units "
                         "WHERE code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))",
                         {"codes": codes}))


def across_campaigns(tx: Session) -> pd.DataFrame:
    """Every unit code of every campaign once (code, name, level, campaign_id: the first
    campaign holding it by id), top down: for forms that ask for a unit of any campaign."""
    return tx.frame("""
        SELECT code, name, level, depth, campaign_id FROM (
            SELECT DISTINCT ON (code) code, name, level, depth, position, campaign_id FROM units
            ORDER BY code, campaign_id) u
        ORDER BY depth, code""")


def codes_named(tx: Session, text: str) -> list[str]:
    """Codes of the units (of any campaign) whose code, name or alias is exactly `text`."""
    return tx.column("SELECT code FROM units WHERE code = :x OR name = :x "
                     "UNION SELECT code FROM unit_aliases WHERE alias = :x ORDER BY 1",
                     {"x": text})
