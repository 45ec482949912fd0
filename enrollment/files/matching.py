"""Which unit each row of a file means: one matcher for Friday uploads and target tables.

A row names its unit by code (140525; 140525000000, the 12-digit form padded with zeros, means
the same), by a full or short name (泽州县, 泽州), or by a name under a parent column (县区 beside
乡镇). A name that fits several units (北义城 = 北义城镇 or 北义城村) is settled by the parent
column, then by the level most of the file's rows share. Each row that cannot be told gets one
problem, as does a unit given twice (`Matches.claim`), worded the same for every kind of file.
What a file may hold (the uploader's scope, a target table's one level) is its caller's rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..labels import LEVEL_LABELS
from . import cellvalues, reader
from .names import Suggestions, UnitIndex, variants
from .problems import Problem

Parents = Mapping[str, str | None]     # unit code -> parent code (None for the top)


@dataclass
class Matches:
    """The units of a file's data rows: a code for each row that names one unit, a problem for
    each that does not (every row has exactly one of the two)."""

    index: UnitIndex
    level: str | None = None                                    # the level most rows share
    codes: dict[int, str] = field(default_factory=dict)         # row number -> unit code
    problems: dict[int, Problem] = field(default_factory=dict)  # row number -> why no unit
    claimed: dict[str, int] = field(default_factory=dict)       # unit code -> the row that gave it

    def claim(self, code: str, row: int) -> Problem | None:
        """Take the unit for `row`; the problem to report when an earlier row already gave it.

        The caller claims only the rows it keeps (an upload's row without a count does not
        give its unit), so which rows count as a unit's figure stays the caller's rule.
        """
        first = self.claimed.setdefault(code, row)
        if first == row:
            return None
        return Problem(row, f"「{self.index.names[code]}」重复出现（第 {first} 行已填写），"
                            "每个单位只能填一行", unit=code)


def match(table: reader.Table, index: UnitIndex, parents: Parents) -> Matches:
    """Every data row's unit code, or the problem that says why it cannot be told; nothing is
    guessed (a wrong code beside a name is reported, not replaced by the name's unit)."""
    # The unit cells as text, once per row: every step below reads them.
    written = [(row, cellvalues.cell_text(row.values.get("unit_code")),
                cellvalues.cell_text(row.values.get("unit_name"))) for row in table.rows]
    found = [_candidates(index, code_text, name_text) for _, code_text, name_text in written]
    counts: dict[str, int] = {}
    for codes in found:
        if len(codes) == 1:
            level = index.levels[codes[0]]
            counts[level] = counts.get(level, 0) + 1
    hinted = _header_level(table)
    out = Matches(index, max(counts, key=lambda lv: (counts[lv], lv == hinted)) if counts else hinted)
    suggest = Suggestions(index)
    for (row, code_text, name_text), codes in zip(written, found):
        if len(codes) != 1:
            codes = _narrow(index, parents, row, name_text, codes, out.level)
        if len(codes) == 1:
            problem = _code_name_conflict(index, row.number, codes[0], code_text, name_text)
            if problem is None:
                out.codes[row.number] = codes[0]
                continue
        else:
            problem = _unresolved(index, row.number, code_text, name_text, codes, out.level, suggest)
        out.problems[row.number] = problem
    return out


def exact(table: reader.Table, index: UnitIndex) -> list[str] | None:
    """The units of a file in which every row gives a unit's code exactly as the campaign
    stores it, beside one of that unit's names or none, and each unit once (a template filled
    in): what `match` finds for such a file, one unit per row in order, without its work per
    row. None for any other file (`match` then explains each row)."""
    if "unit_code" not in table.columns:
        return None
    known, by_alias = index.names, index.by_alias
    # Cells as typed are nearly always in the stored form; any other is normalised first, as
    # `match` reads every cell (full-width brackets, spaces, a code typed as a number).
    codes = [code if type(code) is str and code in known else cellvalues.cell_text(code)
             for code in (row.values.get("unit_code") for row in table.rows)]
    if not all(code in known for code in codes):
        return None

    def named(code: str, name: object) -> bool:
        if type(name) is str and code in by_alias.get(name, ()):
            return True
        text = cellvalues.cell_text(name)
        return not text or code in by_alias.get(text, ())

    if "unit_name" in table.columns and not all(
            named(code, row.values.get("unit_name")) for code, row in zip(codes, table.rows)):
        return None
    return codes if len(set(codes)) == len(codes) else None


def ancestors(code: str, parents: Parents) -> list[str]:
    """The unit's parent, its parent's parent, … up to the top."""
    out, current = [], parents.get(code)
    while current:
        out.append(current)
        current = parents.get(current)
    return out


def code_candidates(index: UnitIndex, text: str) -> list[str]:
    """A code as typed; 12-digit codes padded with zeros (140525000000) mean the shorter one."""
    if text in index.names:
        return [text]
    found = index.resolve(text)
    if found or not text.isdigit():
        return found
    for length in (9, 6, 4, 2):
        if len(text) > length and set(text[length:]) == {"0"} and text[:length] in index.names:
            return [text[:length]]
    return []


def _candidates(index: UnitIndex, code_text: str, name_text: str) -> list[str]:
    """The units a row may mean: by its code when it has one, else by its name."""
    if code_text:
        by_code = code_candidates(index, code_text)
        if by_code:
            return by_code
        if name_text:
            return []   # a wrong code beside a name: explained as such, never guessed
    return index.resolve(name_text) if name_text else []


def _narrow(index: UnitIndex, parents: Parents, row: reader.Row, name_text: str,
            codes: list[str], level: str | None) -> list[str]:
    """Candidates settled by the row's parent column, then by the file's level."""
    parent_text = cellvalues.cell_text(row.values.get(reader.UNIT_PARENT))
    if parent_text:
        parent_codes = index.resolve(parent_text)
        if codes and parent_codes:
            narrowed = [c for c in codes if set(ancestors(c, parents)) & set(parent_codes)]
            direct = [c for c in narrowed if parents.get(c) in parent_codes]
            codes = direct if len(direct) == 1 else narrowed or codes
        elif not codes and parent_codes:
            codes = _names_under(index, parents, name_text, parent_codes)
    if len(codes) > 1 and level:
        codes = [c for c in codes if index.levels[c] == level] or codes
    return codes


def _names_under(index: UnitIndex, parents: Parents, name: str,
                 parent_codes: list[str]) -> list[str]:
    """A name that the index does not know outright, looked up among one parent's descendants."""
    key = reader.normalize(name)
    if not key:
        return []
    wanted = set(parent_codes)
    return [code for code, unit_name in index.names.items()
            if set(ancestors(code, parents)) & wanted and key in variants(unit_name)]


_HEADER_LEVELS = (("community", ("社区", "村", "居")), ("township", ("乡", "镇", "街道")),
                  ("county", ("县", "区", "市")))


def _header_level(table: reader.Table) -> str | None:
    """The level a unit column's title names: 村（社区） → community, 乡镇 → township, 县区 → county."""
    header = table.headers.get("unit_name", "")
    for level, words in _HEADER_LEVELS:
        if any(word in header for word in words):
            return level
    return None


def _code_name_conflict(index: UnitIndex, row: int, code: str, code_text: str,
                        name_text: str) -> Problem | None:
    if not (code_text and name_text):
        return None
    if code in index.by_alias.get(name_text, ()):
        return None     # the name as written is one of the code's own names: the usual case
    by_name = index.resolve(name_text)
    if by_name and code not in by_name:
        return Problem(row, f"单位代码 {code_text}（{index.names[code]}）与单位名称「{name_text}」"
                            "不一致，请核对是代码填错还是名称填错")
    return None


def _unresolved(index: UnitIndex, row: int, code_text: str, name_text: str, codes: list[str],
                level: str | None, suggest: Suggestions) -> Problem:
    """Why a row names no unit or several: no unit given, several units, a wrong code, or an
    unknown name with the closest official names (bounded per file by `Suggestions`)."""
    if not code_text and not name_text:
        return Problem(row, "缺少单位名称（或单位代码），无法确定是哪个单位")
    if len(codes) > 1:
        names = "、".join(f"{index.names[c]}（{c}，{LEVEL_LABELS.get(index.levels[c], index.levels[c])}）"
                         for c in codes[:5])
        return Problem(row, f"「{name_text or code_text}」对应多个单位：{names}，"
                            "请写全称、填写单位代码，或在表中加上「上级单位」列")
    if code_text and not code_candidates(index, code_text):
        by_name = index.resolve(name_text) if name_text else []
        hint = f"（单位名称「{name_text}」对应的代码是 {by_name[0]}）" if len(by_name) == 1 else ""
        return Problem(row, f"单位代码「{code_text}」不存在{hint}")
    suggestions = _suggest(index, suggest, name_text, level)
    hint = f"。您是否要填：{'、'.join(suggestions)}？" if suggestions else "。请核对单位名称，或使用模板"
    return Problem(row, f"未知单位「{name_text}」{hint}")


def _suggest(index: UnitIndex, suggest: Suggestions, text: str, level: str | None) -> list[str]:
    """The closest official names, those of the file's level first."""
    found = suggest(text, limit=12)
    rank = {lv: i for i, lv in enumerate(LEVEL_LABELS)}
    level_of: dict[str, str] = {}
    for code in {c for name in found for c in index.resolve(name)}:
        level_of.setdefault(index.names[code], index.levels[code])
    found.sort(key=lambda name: (level_of.get(name) != level, rank.get(level_of.get(name), 99)))
    return found[:3]
