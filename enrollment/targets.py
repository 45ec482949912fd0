"""Target tables (任务分解表): reading, checking and storing them as versioned target sets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from . import reader, units
from .problems import ERROR, Problem
from .reader import CellError, ReadError

OPTIONAL_COUNTS = ("baseline", "registered_population", "resident_population", "low_income")
COLUMNS = ("task",) + OPTIONAL_COUNTS


@dataclass
class TargetRow:
    row: int
    code: str
    name: str
    task: int
    baseline: int | None = None
    registered_population: int | None = None
    resident_population: int | None = None
    low_income: int | None = None


@dataclass
class TargetTable:
    rows: list[TargetRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    level: str | None = None
    scope_code: str | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)


def parse(con: duckdb.DuckDBPyConnection, campaign_id: str, content: bytes) -> TargetTable:
    """Read and check a target table against the campaign's units; nothing is stored."""
    out = TargetTable()
    try:
        table = reader.read_table(content, reader.TARGET_ROLES, required=("task",))
    except ReadError as exc:
        out.problems.append(Problem(None, str(exc)))
        return out
    index = units.index(con, campaign_id)
    seen: dict[str, int] = {}
    for row in table.rows:
        code = _resolve(index, row, out.problems)
        values: dict[str, int | None] = {}
        for key in COLUMNS:
            if key not in table.columns:
                continue
            try:
                values[key] = reader.parse_count(row.values[key])
            except CellError as exc:
                out.problems.append(Problem(row.number, f"「{table.headers[key]}」{exc}", unit=code))
                values[key] = None
        if values.get("task") is None and "task" in table.columns and not any(
                p.row == row.number for p in out.problems):
            out.problems.append(Problem(row.number, f"「{row.unit_text}」缺少任务数", unit=code))
        if code is None:
            continue
        if code in seen:
            out.problems.append(Problem(
                row.number, f"「{index.names[code]}」重复出现（第 {seen[code]} 行已填写）", unit=code))
            continue
        seen[code] = row.number
        if values.get("task") is not None:
            out.rows.append(TargetRow(row.number, code, index.names[code], **values))
    if not out.rows and not out.problems:
        out.problems.append(Problem(None, "表中没有任何单位的任务数"))
    if out.rows:
        _check_level_and_scope(con, campaign_id, out, index)
    _check_totals(table, out)
    return out


def _resolve(index, row: reader.Row, problems: list[Problem]) -> str | None:
    for key in ("unit_code", "unit_name"):
        text = reader.cell_text(row.values.get(key))
        if not text:
            continue
        codes = index.resolve(text)
        if len(codes) == 1:
            return codes[0]
        if len(codes) > 1:
            names = "、".join(f"{index.names[c]}（{c}）" for c in codes[:5])
            problems.append(Problem(row.number, f"「{text}」对应多个单位：{names}，请填写单位代码"))
            return None
    suggestions = index.suggest(row.unit_text)
    hint = f"，是否为：{'、'.join(suggestions)}？" if suggestions else ""
    problems.append(Problem(row.number, f"未知单位「{row.unit_text}」{hint}"))
    return None


def _check_level_and_scope(con, campaign_id: str, out: TargetTable, index) -> None:
    levels = {index.levels[r.code] for r in out.rows}
    if len(levels) > 1:
        main = max(levels, key=lambda lv: sum(index.levels[r.code] == lv for r in out.rows))
        for r in out.rows:
            if index.levels[r.code] != main:
                out.problems.append(Problem(r.row, f"「{r.name}」与表中其他单位不在同一层级", unit=r.code))
        return
    out.level = levels.pop()
    parents = {units.get(con, campaign_id, r.code).parent_code for r in out.rows}
    if len(parents) == 1:
        out.scope_code = parents.pop()
        expected = [u for u in units.children(con, campaign_id, out.scope_code)
                    if u.level == out.level]
    else:
        out.scope_code = units.root(con, campaign_id).code
        expected = [units.Unit(c, index.names[c], out.level, None, 0, True)
                    for c, lv in index.levels.items() if lv == out.level]
    present = {r.code for r in out.rows}
    missing = [u.name for u in expected if u.code not in present]
    if missing:
        shown = "、".join(missing[:20]) + (f" 等 {len(missing)} 个" if len(missing) > 20 else "")
        out.problems.append(Problem(None, f"缺少以下单位的任务数：{shown}"))


def _check_totals(table: reader.Table, out: TargetTable) -> None:
    for total in table.totals:
        for key in COLUMNS:
            if key not in table.columns:
                continue
            try:
                stated = reader.parse_count(total.values[key])
            except CellError as exc:
                out.problems.append(Problem(total.number, f"合计行「{table.headers[key]}」{exc}"))
                continue
            if stated is None:
                continue
            values = [getattr(r, key) for r in out.rows]
            actual = sum(v for v in values if v is not None)
            if stated != actual:
                out.problems.append(Problem(
                    total.number,
                    f"合计行的「{table.headers[key]}」为 {stated}，但各单位之和为 {actual}，"
                    f"相差 {stated - actual}"))


def save(con: duckdb.DuckDBPyConnection, campaign_id: str, table: TargetTable, *, source: str,
         note: str | None = None, file_name: str | None = None, content: bytes | None = None,
         upload_id: int | None = None, created_by: str | None = None) -> int:
    """Store a checked table as a new target set (it becomes current); returns its id."""
    if not table.ok or not table.rows:
        raise ValueError("只能保存通过检查的目标任务表")
    sha = hashlib.sha256(content).hexdigest() if content is not None else None
    set_id = con.execute("SELECT nextval('target_set_ids')").fetchone()[0]
    con.execute(
        "INSERT INTO target_sets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [set_id, campaign_id, table.level, table.scope_code, source, note, file_name, sha,
         upload_id, created_by])
    frame = pd.DataFrame(
        [(set_id, campaign_id, r.code, r.task, r.baseline, r.registered_population,
          r.resident_population, r.low_income) for r in table.rows],
        columns=["set_id", "campaign_id", "unit_code", "task", "baseline",
                 "registered_population", "resident_population", "low_income"])
    frame = frame.astype({c: "Int64" for c in COLUMNS})
    con.register("new_targets", frame)
    try:
        con.execute("INSERT INTO targets SELECT * FROM new_targets")
    finally:
        con.unregister("new_targets")
    return set_id


def has_targets(con: duckdb.DuckDBPyConnection, campaign_id: str) -> bool:
    return con.execute("SELECT count(*) FROM targets WHERE campaign_id = ?",
                       [campaign_id]).fetchone()[0] > 0


def current(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """Each unit's current target row, with the unit's name and level."""
    return con.execute(
        "SELECT u.code, u.name, u.level, t.task, t.baseline, t.registered_population, "
        "t.resident_population, t.low_income, t.set_id "
        "FROM current_targets t JOIN units u ON u.campaign_id = t.campaign_id AND u.code = t.unit_code "
        "WHERE t.campaign_id = ? ORDER BY u.depth, u.position", [campaign_id]).df()
