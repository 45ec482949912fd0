"""The units of a campaign: hierarchy, aliases and lookups."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pandas as pd

from .divisions import Division
from .names import UnitIndex, variants
from .storage import fetch_dicts, registered


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: str
    parent_code: str | None
    depth: int
    is_division: bool


def insert_tree(con: duckdb.DuckDBPyConnection, campaign_id: str, tree: Iterable[Division],
                extra: Iterable[dict] = (), is_division: bool = True) -> int:
    """Store a campaign's units (parents first) and their name variants; returns the count.

    `extra` are non-division units from the campaign file: code (starting with L), name, parent,
    level and position (their index among their siblings; at the end when absent).
    """
    siblings: dict[str | None, list[tuple[str, str, str, bool]]] = {}
    for division in tree:
        siblings.setdefault(division.parent_code, []).append(
            (division.code, division.name, division.level, is_division))
    for item in sorted(extra, key=lambda e: e.get("position", 1_000_000)):
        if not str(item["code"]).startswith("L"):
            raise ValueError(f"非区划单位「{item['name']}」的代码应以 L 开头")
        group = siblings.setdefault(str(item["parent"]), [])
        group.insert(min(item.get("position", len(group)), len(group)),
                     (str(item["code"]), item["name"], item["level"], False))
    rows: list[tuple] = []
    stack: list[tuple[str | None, int]] = [(None, 0)]
    while stack:  # depth-first from the root, parents before children
        parent, depth = stack.pop()
        group = siblings.get(parent, [])
        for position, (code, name, level, division) in enumerate(group, start=1):
            rows.append((campaign_id, code, name, level, parent, depth, division, position))
        stack.extend((code, depth + 1) for code, *_ in reversed(group))
    frame = pd.DataFrame(rows, columns=["campaign_id", "code", "name", "level", "parent_code",
                                        "depth", "is_division", "position"])
    aliases = pd.DataFrame(
        [(campaign_id, v, row[1]) for row in rows for v in variants(row[2])],
        columns=["campaign_id", "alias", "code"])
    with registered(con, new_units=frame, new_aliases=aliases):
        con.execute("INSERT INTO units SELECT * FROM new_units")
        con.execute("INSERT INTO unit_aliases SELECT * FROM new_aliases")
    return len(rows)


# Built indexes by campaign and content fingerprint: a campaign's units and aliases are written
# once (campaigns.create), and a province's index takes a tenth of a second to build.
_indexes: dict[tuple, UnitIndex] = {}
_indexes_guard = threading.Lock()


def index(con: duckdb.DuckDBPyConnection, campaign_id: str) -> UnitIndex:
    """A name/code resolver for the campaign's units, from their stored aliases (shared and
    reused while the units and aliases are unchanged: treat it as read-only)."""
    key = (campaign_id, *con.execute("""
        SELECT (SELECT count(*) FROM units WHERE campaign_id = $c),
               (SELECT sum(hash(code, name, level, parent_code)) FROM units WHERE campaign_id = $c),
               (SELECT count(*) FROM unit_aliases WHERE campaign_id = $c),
               (SELECT sum(hash(alias, code)) FROM unit_aliases WHERE campaign_id = $c)""",
        {"c": campaign_id}).fetchone())
    with _indexes_guard:
        found = _indexes.get(key)
    if found is not None:
        return found
    units = con.execute(
        "SELECT code, name, level FROM units WHERE campaign_id = ?", [campaign_id]).fetchall()
    aliases = con.execute(
        "SELECT alias, list(DISTINCT code) FROM unit_aliases WHERE campaign_id = ? GROUP BY alias",
        [campaign_id]).fetchall()
    built = UnitIndex.from_aliases(units, aliases)
    with _indexes_guard:
        if len(_indexes) >= 8:
            _indexes.pop(next(iter(_indexes)))
        _indexes[key] = built
    return built


def _unit(row: dict) -> Unit:
    return Unit(row["code"], row["name"], row["level"], row["parent_code"], row["depth"],
                row["is_division"])


def get(con: duckdb.DuckDBPyConnection, campaign_id: str, code: str) -> Unit | None:
    rows = fetch_dicts(con, "SELECT * FROM units WHERE campaign_id = ? AND code = ?",
                       [campaign_id, code])
    return _unit(rows[0]) if rows else None


def root(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Unit:
    rows = fetch_dicts(con, "SELECT * FROM units WHERE campaign_id = ? AND parent_code IS NULL",
                       [campaign_id])
    return _unit(rows[0])


def children(con: duckdb.DuckDBPyConnection, campaign_id: str, code: str) -> list[Unit]:
    rows = fetch_dicts(con, "SELECT * FROM units WHERE campaign_id = ? AND parent_code = ? "
                            "ORDER BY position, code", [campaign_id, code])
    return [_unit(r) for r in rows]


def ancestors(con: duckdb.DuckDBPyConnection, campaign_id: str, code: str) -> list[Unit]:
    """The path from the root down to the unit itself (for a breadcrumb)."""
    path: list[Unit] = []
    current = get(con, campaign_id, code)
    while current is not None:
        path.append(current)
        current = get(con, campaign_id, current.parent_code) if current.parent_code else None
    return list(reversed(path))


def descendants(con: duckdb.DuckDBPyConnection, campaign_id: str,
                codes: Iterable[str]) -> set[str]:
    """The units and every unit below them."""
    rows = con.execute("""
        WITH RECURSIVE sub(code) AS (
            SELECT code FROM units WHERE campaign_id = $c AND list_contains($codes, code)
            UNION
            SELECT u.code FROM units u JOIN sub ON u.parent_code = sub.code
            WHERE u.campaign_id = $c)
        SELECT code FROM sub""", {"c": campaign_id, "codes": list(codes)}).fetchall()
    return {r[0] for r in rows}


def level_counts(con: duckdb.DuckDBPyConnection, campaign_id: str) -> dict[str, int]:
    rows = con.execute("SELECT level, count(*) FROM units WHERE campaign_id = ? GROUP BY level "
                       "ORDER BY min(depth)", [campaign_id]).fetchall()
    return dict(rows)


def levels_by_depth(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[str]:
    """The campaign's levels from the top down."""
    rows = con.execute("SELECT level FROM units WHERE campaign_id = ? GROUP BY level "
                       "ORDER BY min(depth)", [campaign_id]).fetchall()
    return [r[0] for r in rows]
