"""The units of a campaign: storing a hierarchy in order, and the name index of its units."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pandas as pd

from .. import db
from ..db import Session
from ..files.names import UnitIndex, variants
from .divisions import Division


def insert_tree(tx: Session, campaign_id: str, tree: Iterable[Division],
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
    db.units.insert(tx, frame, aliases)
    return len(rows)


# Built indexes by campaign and content fingerprint: a campaign's units and aliases are written
# once (campaigns.create), and a province's index takes a tenth of a second to build.
_indexes: dict[tuple, UnitIndex] = {}
_indexes_guard = threading.Lock()


def index(tx: Session, campaign_id: str) -> UnitIndex:
    """A name/code resolver for the campaign's units, from their stored aliases, with every
    unit's parent (`.parents`): shared and reused while the units and aliases are unchanged,
    treat it as read-only."""
    key = (campaign_id, *db.units.fingerprint(tx, campaign_id))
    with _indexes_guard:
        found = _indexes.get(key)
    if found is not None:
        return found
    units, aliases = db.units.names_and_aliases(tx, campaign_id)
    built = UnitIndex.from_aliases(units, aliases)
    with _indexes_guard:
        if len(_indexes) >= 8:
            _indexes.pop(next(iter(_indexes)))
        _indexes[key] = built
    return built
