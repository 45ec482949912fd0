"""Unit names as people write them: normalisation, aliases and lookup.

泽州 = 泽州县 = 140525; 天子湖 = 天子湖社区 = 天子湖社区居民委员会. Names are compared after NFKC
normalisation (full-width letters and digits become half-width) with all white space removed, so
「城 区」 in a typed table matches 城区.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

# Longest first: the first suffix that matches is stripped, then the rest is tried again.
SUFFIXES = (
    "社区居民委员会", "社区居委会", "村民委员会", "居民委员会", "街道办事处", "村委会", "居委会",
    "办事处", "自治县", "自治旗", "街道", "社区",
    "村", "镇", "乡", "县", "市", "区", "旗",
)
_CODE = re.compile(r"^(?:\d{2}|\d{4}|\d{6}|\d{9}|\d{12}|L\d+)$")


def normalize(text: object) -> str:
    """NFKC, no white space: the form in which names are compared."""
    if text is None:
        return ""
    return _normalized(text if type(text) is str else str(text))


@functools.lru_cache(maxsize=1 << 16)
def _normalized(text: str) -> str:
    # A file's cells are normalised by the reader and again by the checks: the cache answers
    # the second time. str.split() splits on exactly what \s matches, faster than re.sub.
    return "".join(unicodedata.normalize("NFKC", text).split())


_COMMITTEE = (("社区居民委员会", "社区"), ("社区居委会", "社区"), ("居民委员会", "社区"),
              ("村民委员会", "村"), ("居委会", "社区"), ("村委会", "村"))


def display_name(name: str) -> str:
    """The name people say: 天子湖社区居民委员会 → 天子湖社区, 东关村民委员会 → 东关村."""
    for suffix, short in _COMMITTEE:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + short
    return name


def looks_like_code(text: str) -> bool:
    """A statistical division code (2–12 digits) or a local code such as L140500."""
    return bool(_CODE.match(text))


def variants(name: str) -> list[str]:
    """The name and every shorter form people use, keeping at least two characters."""
    seen = [normalize(name)]
    i = 0
    while i < len(seen):
        current = seen[i]
        for suffix in SUFFIXES:
            if current.endswith(suffix) and len(current) - len(suffix) >= 2:
                shorter = current[: -len(suffix)]
                if shorter not in seen:
                    seen.append(shorter)
        i += 1
    return [v for v in seen if v]


@dataclass
class UnitIndex:
    """Resolves what a user typed (code, full or short name) to unit codes of one campaign."""

    names: dict[str, str] = field(default_factory=dict)       # code -> official name
    levels: dict[str, str] = field(default_factory=dict)      # code -> level
    by_alias: dict[str, set[str]] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)   # code -> parent (from_aliases)

    @classmethod
    def build(cls, units: Iterable[tuple[str, str, str]],
              aliases: Iterable[tuple[str, str]] = ()) -> "UnitIndex":
        """From (code, name, level) triples and extra (alias, code) pairs."""
        index = cls()
        for code, name, level in units:
            index.names[code] = name
            index.levels[code] = level
            for variant in variants(name):
                index.by_alias.setdefault(variant, set()).add(code)
        for alias, code in aliases:
            if code in index.names:
                index.by_alias.setdefault(normalize(alias), set()).add(code)
        return index

    @classmethod
    def from_aliases(cls, units: Iterable[tuple[str, str, str, str | None]],
                     aliases: Iterable[tuple[str, Iterable[str]]]) -> "UnitIndex":
        """From (code, name, level, parent code) and (alias, codes) groups that already hold
        every name variant in normalised form, as the unit_aliases table does
        (units.insert_tree stores variants(name) of each unit): nothing is recomputed per
        unit."""
        index = cls()
        shared: dict[str | None, str | None] = {}   # one string per parent (a country's 44k)
        for code, name, level, parent in units:
            index.names[code] = name
            index.levels[code] = level
            index.parents[code] = shared.setdefault(parent, parent)
        for alias, codes in aliases:
            index.by_alias[alias] = {c for c in codes if c in index.names}
        return index

    def resolve(self, text: object, level: str | None = None) -> list[str]:
        """Codes that the text may mean (none, one, or several when ambiguous)."""
        key = normalize(text)
        if not key:
            return []
        if key.endswith(".0") and key[:-2].isdigit():
            key = key[:-2]  # a code typed into a number cell
        if key in self.names:
            return [key]
        if looks_like_code(key):
            return []
        for variant in variants(key):
            codes = self.by_alias.get(variant)
            if codes:
                if level is not None:
                    codes = {c for c in codes if self.levels[c] == level} or codes
                return sorted(codes)
        return []

    def suggest(self, text: object, limit: int = 3) -> list[str]:
        """The official names closest to what was typed, for an 'unknown unit' message."""
        key = normalize(text)
        if not key:
            return []
        matches = difflib.get_close_matches(key, list(self.by_alias), n=limit * 3, cutoff=0.5)
        out: list[str] = []
        for alias in matches:
            for code in sorted(self.by_alias[alias]):
                name = self.names[code]
                if name not in out:
                    out.append(name)
        return out[:limit]


SUGGESTED_NAMES = 20


class Suggestions:
    """Closest official names for the unknown names of one file: the first `limit` unknown
    names get them, the rest none.

    Each lookup compares the name with every alias of the campaign (about 16 ms in Jincheng,
    more in a province): a file of 20,000 unknown names is the wrong file, not 20,000 typos,
    and must be refused in seconds, not minutes.
    """

    def __init__(self, index: UnitIndex, limit: int = SUGGESTED_NAMES):
        self.index = index
        self.left = limit

    def __call__(self, text: object, limit: int = 3) -> list[str]:
        if self.left <= 0 or not normalize(text):
            return []
        self.left -= 1
        return self.index.suggest(text, limit)
