"""The shipped statistical division codes (data/divisions) as unit hierarchies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import db, settings
from ..labels import LEVEL_CODE_LENGTHS

FILES = {
    "province": "china-provinces.csv",
    "city": "china-cities.csv",
    "county": "china-counties.csv",
    "township": "china-townships.csv.gz",
    "community": "china-villages.csv.gz",
}
LEVELS = tuple(LEVEL_CODE_LENGTHS)
NATION_CODE = "CN"
NATION_NAME = "全国"


class DivisionError(ValueError):
    """An unknown region code or level (message in Chinese)."""


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str
    parent_code: str | None


def level_of(code: str) -> str:
    """The level of a division code, from its length."""
    if code == NATION_CODE:
        return "nation"
    for level, length in LEVEL_CODE_LENGTHS.items():
        if len(code) == length and code.isdigit():
            return level
    raise DivisionError(f"「{code}」不是有效的统计用区划代码（应为 2、4、6、9 或 12 位数字）")


def _path(level: str, data_dir: Path | None) -> Path:
    return (data_dir or settings.data_dir()) / "divisions" / FILES[level]


def lookup(code: str, data_dir: Path | None = None) -> Division:
    """One division by its code."""
    level = level_of(code)
    if level == "nation":
        return Division(NATION_CODE, NATION_NAME, "nation", None)
    rows = [r for r in db.divisions.with_prefix([_path(level, data_dir)], code)[0] if r[0] == code]
    if not rows:
        raise DivisionError(f"区划代码 {code} 不存在")
    return Division(code, rows[0][1], level, None)


def search(text: str, data_dir: Path | None = None, limit: int = 20) -> list[Division]:
    """Divisions down to township level whose name contains the text, for picking a region."""
    levels = ("province", "city", "county", "township")
    found = db.divisions.named_like([_path(level, data_dir) for level in levels], text, limit)
    out = [Division(c, n, level, None) for level, rows in zip(levels, found) for c, n in rows]
    return out[:limit]


def region_tree(region_code: str, levels: list[str],
                data_dir: Path | None = None) -> list[Division]:
    """The region itself and its descendants at the given levels, parents before children.

    A unit's parent is its nearest ancestor in the tree (codes nest by prefix), so a level may be
    skipped, and the townships of a city without counties (东莞) hang from the city.
    """
    root_level = level_of(region_code)
    order = list(LEVEL_CODE_LENGTHS)
    for level in levels:
        if level not in LEVEL_CODE_LENGTHS:
            raise DivisionError(f"未知层级「{level}」，可选：{'、'.join(order)}")
        if root_level != "nation" and order.index(level) <= order.index(root_level):
            raise DivisionError(f"层级「{level}」不在区划 {region_code} 之下")
    root = lookup(region_code, data_dir)
    prefix = "" if root_level == "nation" else region_code
    tree = [root]
    present = {root.code}
    wanted = sorted(set(levels), key=order.index)
    found = db.divisions.with_prefix([_path(level, data_dir) for level in wanted], prefix)
    for level, rows in zip(wanted, found):
        for code, name in rows:
            parent = _nearest_ancestor(code, present, root.code)
            tree.append(Division(code, name, level, parent))
            present.add(code)
    return tree


def _nearest_ancestor(code: str, present: set[str], root_code: str) -> str:
    for length in sorted(LEVEL_CODE_LENGTHS.values(), reverse=True):
        if length < len(code) and code[:length] in present:
            return code[:length]
    return root_code


def count_below(region_code: str, levels: list[str] | tuple[str, ...],
                data_dir: Path | None = None) -> dict[str, int]:
    """How many divisions of each level lie in the region (for a set-up preview)."""
    prefix = "" if level_of(region_code) == "nation" else region_code
    return {level: db.divisions.count_with_prefix(_path(level, data_dir), prefix)
            for level in levels}


def names_of(codes: list[str], data_dir: Path | None = None) -> dict[str, str]:
    """The names of many division codes at once (one read per level file)."""
    by_level: dict[str, list[str]] = {}
    for code in set(codes):
        try:
            level = level_of(code)
        except DivisionError:
            continue
        if level != "nation":
            by_level.setdefault(level, []).append(code)
    out: dict[str, str] = {}
    for level, wanted in by_level.items():
        out.update(db.divisions.names(_path(level, data_dir), wanted))
    return out
