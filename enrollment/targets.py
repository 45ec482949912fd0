"""Target tables (任务分解表): reading, checking and storing them as versioned target sets.

A table is read in the sandbox (`read`, a child process with limits) before any database
connection is opened; `check_file` and `commit` do that, then check it against the campaign.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import xlsxwriter

from . import audit, campaigns, reader, sandbox, settings, units
from .labels import LEVEL_LABELS
from .names import Suggestions
from .problems import ERROR, WARNING, Problem, to_json, warnings
from .reader import CellError, ReadError
from .storage import Store, fetch_dicts, registered

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


def read(content: bytes) -> reader.Table:
    """Read a target table in the sandbox, holding no connection; ReadError says why it cannot
    be read (over ENROLLMENT_MAX_UPLOAD_MB, damaged, refused by the limits)."""
    return sandbox.read(reader.read_table, content, reader.TARGET_ROLES, ("task",))


def _unreadable(exc: ReadError) -> TargetTable:
    return TargetTable(problems=[Problem(None, str(exc))])


def parse(con: duckdb.DuckDBPyConnection, campaign_id: str, content: bytes) -> TargetTable:
    """`read` and `parse_table`; the file is read while the caller holds `con` (with a Store,
    use `check_file`)."""
    try:
        table = read(content)
    except ReadError as exc:
        return _unreadable(exc)
    return parse_table(con, campaign_id, table)


def parse_table(con: duckdb.DuckDBPyConnection, campaign_id: str, table: reader.Table) -> TargetTable:
    """Check a read target table against the campaign's units; nothing is stored."""
    out = TargetTable()
    index = units.index(con, campaign_id)
    candidates = [_candidates(index, row) for row in table.rows]
    level = _main_level(index, candidates)
    suggest = Suggestions(index)
    seen: dict[str, int] = {}
    for row, found in zip(table.rows, candidates):
        code = _resolve(index, row, found, level, out.problems, suggest)
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
        # A unit whose row has a bad cell is there (its row says what is wrong), not missing.
        _check_level_and_scope(con, campaign_id, out, index, present=set(seen))
    _check_totals(table, out)
    return out


def _candidates(index, row: reader.Row) -> list[str]:
    """The units a row may mean: by its code when it has one that resolves, else by its name."""
    for key in ("unit_code", "unit_name"):
        text = reader.cell_text(row.values.get(key))
        if text:
            codes = index.resolve(text)
            if codes:
                return codes
    return []


def _main_level(index, candidates: list[list[str]]) -> str | None:
    """The level of most rows that name one unit only: it settles names such as 周家坝, which
    is both the street and one of its communities."""
    levels = [index.levels[c[0]] for c in candidates if len(c) == 1]
    return max(set(levels), key=levels.count) if levels else None


def _resolve(index, row: reader.Row, codes: list[str], level: str | None,
             problems: list[Problem], suggest: Suggestions) -> str | None:
    if len(codes) > 1 and level is not None:
        same_level = [c for c in codes if index.levels[c] == level]
        if len(same_level) == 1:
            return same_level[0]
    if len(codes) == 1:
        return codes[0]
    if len(codes) > 1:
        names = "、".join(f"{index.names[c]}（{c}）" for c in codes[:5])
        problems.append(Problem(row.number, f"「{row.unit_text}」对应多个单位：{names}，请填写单位代码"))
        return None
    suggestions = suggest(row.unit_text)
    hint = f"，是否为：{'、'.join(suggestions)}？" if suggestions else ""
    problems.append(Problem(row.number, f"未知单位「{row.unit_text}」{hint}"))
    return None


def _check_level_and_scope(con, campaign_id: str, out: TargetTable, index,
                           present: set[str]) -> None:
    levels = {index.levels[r.code] for r in out.rows}
    if len(levels) > 1:
        main = max(levels, key=lambda lv: sum(index.levels[r.code] == lv for r in out.rows))
        for r in out.rows:
            if index.levels[r.code] != main:
                out.problems.append(Problem(r.row, f"「{r.name}」与表中其他单位不在同一层级", unit=r.code))
        return
    out.level = levels.pop()
    parent_of = dict(con.execute("SELECT code, parent_code FROM units WHERE campaign_id = ?",
                                 [campaign_id]).fetchall())
    parents = {parent_of[r.code] for r in out.rows}
    if parents == {None}:
        # The campaign's own total (the root unit alone): its scope is itself.
        out.scope_code = out.rows[0].code
        return
    if len(parents) == 1:
        out.scope_code = parents.pop()
        expected = [u for u in units.children(con, campaign_id, out.scope_code)
                    if u.level == out.level]
    else:
        out.scope_code = units.root(con, campaign_id).code
        expected = [units.Unit(c, index.names[c], out.level, None, 0, True)
                    for c, lv in index.levels.items() if lv == out.level]
    missing = [u.name for u in expected if u.code not in present]
    if missing:
        shown = "、".join(missing[:20]) + (f" 等 {len(missing)} 个" if len(missing) > 20 else "")
        out.problems.append(Problem(None, f"缺少以下单位的任务数：{shown}"))


def _check_totals(table: reader.Table, out: TargetTable) -> None:
    """A 合计/总计 row must equal the sum of the rows above it, column by column.

    This checks the file's own arithmetic, so it sums every row as written (an unknown unit's row
    too); a column with an unreadable cell is left out (its row already has a message).
    """
    for total in table.totals:
        if reader.normalize(total.unit_text).startswith("小计"):
            continue
        for key in COLUMNS:
            if key not in table.columns:
                continue
            try:
                stated = reader.parse_count(total.values[key])
            except CellError as exc:
                out.problems.append(Problem(total.number, f"合计行「{table.headers[key]}」{exc}"))
                continue
            try:
                values = [reader.parse_count(r.values[key]) for r in table.rows]
            except CellError:
                continue
            actual = sum(v for v in values if v is not None)
            if stated is not None and stated != actual:
                out.problems.append(Problem(
                    total.number,
                    f"合计行的「{table.headers[key]}」为 {stated:,}，但各单位之和为 {actual:,}，"
                    f"相差 {stated - actual:+,}；请核对各行数字或合计行"))


def save(con: duckdb.DuckDBPyConnection, campaign_id: str, table: TargetTable, *, source: str,
         note: str | None = None, file_name: str | None = None, content: bytes | None = None,
         upload_id: int | None = None, created_by: str | None = None,
         now: dt.datetime | None = None) -> int:
    """Store a checked table as a new target set (it becomes current); returns its id."""
    if not table.ok or not table.rows:
        raise ValueError("只能保存通过检查的目标任务表")
    sha = hashlib.sha256(content).hexdigest() if content is not None else None
    set_id = con.execute("SELECT nextval('target_set_ids')").fetchone()[0]
    con.execute(
        "INSERT INTO target_sets (id, campaign_id, level, scope_code, source, note, file_name, "
        "sha256, upload_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [set_id, campaign_id, table.level, table.scope_code, source, note, file_name, sha,
         upload_id, created_by, now or utc_now()])
    frame = pd.DataFrame(
        [(set_id, campaign_id, r.code, r.task, r.baseline, r.registered_population,
          r.resident_population, r.low_income) for r in table.rows],
        columns=["set_id", "campaign_id", "unit_code", "task", "baseline",
                 "registered_population", "resident_population", "low_income"])
    frame = frame.astype({c: "Int64" for c in COLUMNS})
    with registered(con, new_targets=frame):
        con.execute("INSERT INTO targets SELECT * FROM new_targets")
    return set_id


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def has_targets(con: duckdb.DuckDBPyConnection, campaign_id: str) -> bool:
    return con.execute("SELECT count(*) FROM targets WHERE campaign_id = ?",
                       [campaign_id]).fetchone()[0] > 0


def current(con: duckdb.DuckDBPyConnection, campaign_id: str,
            level: str | None = None) -> pd.DataFrame:
    """Each unit's current target row, with the unit's name and level (of one level, or all)."""
    return con.execute(
        "SELECT u.code, u.name, u.level, u.parent_code, t.task, t.baseline, "
        "t.registered_population, t.resident_population, t.low_income, t.set_id "
        "FROM current_targets t JOIN units u ON u.campaign_id = t.campaign_id AND u.code = t.unit_code "
        "WHERE t.campaign_id = $c AND ($level IS NULL OR u.level = $level) "
        "ORDER BY u.depth, u.position", {"c": campaign_id, "level": level}).df()


# --- consistency with the rest of the hierarchy --------------------------------------------

def check_hierarchy(con: duckdb.DuckDBPyConnection, campaign_id: str, table: TargetTable) -> None:
    """Warnings where the new table disagrees with current targets one level up or down.

    A parent's task that differs from the sum of its children's is allowed (a county may keep a
    reserve), but it is almost always a typing mistake or an old table, so the user is asked.
    """
    if not table.rows or table.level is None:
        return
    new = pd.DataFrame({"code": [r.code for r in table.rows], "task": [r.task for r in table.rows],
                        "row": [r.row for r in table.rows]})
    with registered(con, new_tasks=new):
        # The parent of the new rows (their scope) against the new sum.
        above = con.execute("""
            SELECT u.name, c.task, (SELECT sum(task) FROM new_tasks) AS total
            FROM current_targets c JOIN units u ON u.campaign_id = c.campaign_id AND u.code = c.unit_code
            WHERE c.campaign_id = ? AND c.unit_code = ?""",
            [campaign_id, table.scope_code]).fetchall()
        # Each new row against the current tasks of its children.
        below = con.execute("""
            SELECT n.row, p.name, n.task, sum(c.task) AS children, count(*) AS n,
                   any_value(k.level) AS level
            FROM new_tasks n
            JOIN units k ON k.campaign_id = $c AND k.parent_code = n.code
            JOIN current_targets c ON c.campaign_id = $c AND c.unit_code = k.code
            JOIN units p ON p.campaign_id = $c AND p.code = n.code
            GROUP BY n.row, p.name, n.task HAVING sum(c.task) <> n.task
            ORDER BY n.row""", {"c": campaign_id}).fetchall()
    level = LEVEL_LABELS.get(table.level, table.level)
    for name, task, total in above:
        if table.scope_code != table.rows[0].code and task != total:
            table.problems.append(Problem(
                None, f"各{level}任务数之和为 {total:,}，与{name}现行任务数 {task:,} 不一致"
                      f"（相差 {total - task:+,}），请确认", WARNING))
    for row, name, task, children, count, child_level in below:
        table.problems.append(Problem(
            row, f"「{name}」任务数 {task:,} 与其下 {count} 个{LEVEL_LABELS.get(child_level, '')}"
                 f"现行任务数之和 {children:,} 不一致（相差 {task - children:+,}），请确认", WARNING))


def _row_warnings(table: TargetTable) -> None:
    for r in table.rows:
        if r.task == 0:
            table.problems.append(Problem(r.row, f"「{r.name}」任务数为 0，请确认", WARNING, r.code))
        if r.baseline and r.task < r.baseline:
            table.problems.append(Problem(
                r.row, f"「{r.name}」任务数 {r.task:,} 低于上年参保人数 {r.baseline:,}，请确认",
                WARNING, r.code))
        if r.low_income is not None and r.low_income > r.task:
            table.problems.append(Problem(
                r.row, f"「{r.name}」低收入人口数 {r.low_income:,} 大于任务数 {r.task:,}，请确认",
                WARNING, r.code))


def _unchanged_warning(con: duckdb.DuckDBPyConnection, campaign_id: str,
                       table: TargetTable) -> None:
    """Loading the table that is already current would only add an identical version."""
    now = {row[0]: tuple(row[1:]) for row in con.execute(
        f"SELECT unit_code, {', '.join(COLUMNS)} FROM current_targets WHERE campaign_id = ?",
        [campaign_id]).fetchall()}
    if all(now.get(r.code) == tuple(getattr(r, c) for c in COLUMNS) for r in table.rows):
        table.problems.append(Problem(
            None, "表中各单位的数字与当前任务表完全相同，保存后只会多出一个相同的版本", WARNING))


def check(con: duckdb.DuckDBPyConnection, campaign_id: str, content: bytes) -> TargetTable:
    """`read` and `check_table`; the file is read while the caller holds `con` (with a Store,
    use `check_file`)."""
    try:
        table = read(content)
    except ReadError as exc:
        return _unreadable(exc)
    return check_table(con, campaign_id, table)


def check_file(store: Store, campaign_id: str, content: bytes) -> TargetTable:
    """Read the file (no connection open), then check it with a short read connection."""
    try:
        table = read(content)
    except ReadError as exc:
        return _unreadable(exc)
    with store.read() as con:
        return check_table(con, campaign_id, table)


def check_table(con: duckdb.DuckDBPyConnection, campaign_id: str, read_table: reader.Table) -> TargetTable:
    """parse_table, then the warnings that need the user's confirmation (nothing is stored)."""
    table = parse_table(con, campaign_id, read_table)
    if table.ok and table.rows:
        _unchanged_warning(con, campaign_id, table)
        _row_warnings(table)
        check_hierarchy(con, campaign_id, table)
    return table


# --- loading: one transaction, raw file kept -----------------------------------------------

class TargetsRejected(Exception):
    """The table has errors (or warnings that were not accepted); nothing was stored."""

    def __init__(self, table: TargetTable, warnings_only: bool):
        self.table = table
        self.warnings_only = warnings_only
        super().__init__("；".join(str(p) for p in table.problems))


@dataclass
class Saved:
    """The receipt of a stored target set."""

    set_id: int
    upload_id: int | None
    campaign_id: str
    level: str
    scope_code: str
    scope_name: str
    units: int
    total_task: int
    file_name: str | None
    created_by: str | None
    created_at: dt.datetime            # UTC, naive
    changed: int                       # units whose current task differs from before

    def summary(self) -> str:
        local = self.created_at.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(settings.timezone()))
        level = LEVEL_LABELS.get(self.level, self.level)
        what = (f"{self.scope_name}总任务" if self.units == 1 and self.scope_code else
                f"{self.scope_name}下属 {self.units} 个{level}")
        who = f"，录入人 {self.created_by}" if self.created_by else ""
        return (f"已保存目标任务表第 {self.set_id} 版：{what}，任务数合计 {self.total_task:,}"
                f"（{self.changed} 个单位的任务数有变化）{who}，{local:%Y-%m-%d %H:%M}")


def commit(store: Store, campaign_id: str, content: bytes, file_name: str, *,
           created_by: str | None = None, note: str | None = None, source: str = "upload",
           accept_warnings: bool = False, now: dt.datetime | None = None,
           address: str | None = None, role: str | None = None) -> Saved:
    """Read the file (in the sandbox, before any lock), then check it again inside one write
    transaction and store it as the current set.

    The raw file is kept as an upload of kind 'targets'. On errors, or warnings not accepted,
    TargetsRejected is raised and the database is left exactly as it was.
    """
    now = now or utc_now()
    try:
        read_table = read(content)
    except ReadError as exc:
        raise TargetsRejected(_unreadable(exc), warnings_only=False) from exc
    with store.write() as con:
        campaigns.get(con, campaign_id)
        table = check_table(con, campaign_id, read_table)
        blocked = not table.ok or (bool(warnings(table.problems)) and not accept_warnings)
        if blocked:
            raise TargetsRejected(table, warnings_only=table.ok)
        before = dict(con.execute(
            "SELECT unit_code, task FROM current_targets WHERE campaign_id = ?",
            [campaign_id]).fetchall())
        upload_id = con.execute("SELECT nextval('upload_ids')").fetchone()[0]
        con.execute(
            "INSERT INTO uploads (id, campaign_id, kind, source, file_name, sha256, size, content, "
            "uploader, uploaded_at, status, messages, row_count, unit_count) "
            "VALUES (?, ?, 'targets', 'upload', ?, ?, ?, ?, ?, ?, 'accepted', ?, ?, ?)",
            [upload_id, campaign_id, file_name, hashlib.sha256(content).hexdigest(),
             len(content), content, created_by, now, to_json(table.problems), len(table.rows),
             len(table.rows)])
        set_id = save(con, campaign_id, table, source=source, note=note, file_name=file_name,
                      content=content, upload_id=upload_id, created_by=created_by, now=now)
        scope = units.get(con, campaign_id, table.scope_code)
        changed = sum(1 for r in table.rows if before.get(r.code) != r.task)
        audit.record(con, created_by, "targets_changed",
                     f"保存目标任务表第 {set_id} 版「{file_name}」：{scope.name if scope else ''} "
                     f"{len(table.rows)} 个单位，任务数合计 {sum(r.task for r in table.rows):,}，"
                     f"{changed} 个单位有变化", address, campaign_id=campaign_id, role=role, now=now)
    return Saved(set_id, upload_id, campaign_id, table.level, table.scope_code,
                 scope.name if scope else "", len(table.rows), sum(r.task for r in table.rows),
                 file_name, created_by, now,
                 sum(1 for r in table.rows if before.get(r.code) != r.task))


def restore(store: Store, campaign_id: str, set_id: int, *, created_by: str | None = None,
            now: dt.datetime | None = None, address: str | None = None,
            role: str | None = None) -> Saved:
    """Make an earlier version current again: its rows become a new set (history is kept)."""
    now = now or utc_now()
    with store.write() as con:
        old = fetch_dicts(con, "SELECT * FROM target_sets WHERE campaign_id = ? AND id = ?",
                          [campaign_id, set_id])
        if not old:
            raise ValueError(f"本活动没有第 {set_id} 版目标任务表")
        old = old[0]
        rows = version(con, campaign_id, set_id)
        table = TargetTable(
            rows=[TargetRow(0, r["code"], r["name"], int(r["task"]),
                            **{k: (None if pd.isna(r[k]) else int(r[k])) for k in OPTIONAL_COUNTS})
                  for r in rows.to_dict("records")],
            level=old["level"], scope_code=old["scope_code"])
        before = dict(con.execute(
            "SELECT unit_code, task FROM current_targets WHERE campaign_id = ?",
            [campaign_id]).fetchall())
        new_id = save(con, campaign_id, table, source="restore",
                      note=f"恢复第 {set_id} 版" + (f"（{old['note']}）" if old["note"] else ""),
                      file_name=old["file_name"], upload_id=old["upload_id"],
                      created_by=created_by, now=now)
        con.execute("UPDATE target_sets SET sha256 = ? WHERE id = ?", [old["sha256"], new_id])
        scope = units.get(con, campaign_id, old["scope_code"])
        audit.record(con, created_by, "targets_changed",
                     f"恢复目标任务表第 {set_id} 版为当前版本（第 {new_id} 版），{len(table.rows)} 个单位",
                     address, campaign_id=campaign_id, role=role, now=now)
    return Saved(new_id, old["upload_id"], campaign_id, old["level"], old["scope_code"],
                 scope.name if scope else "", len(table.rows), sum(r.task for r in table.rows),
                 old["file_name"], created_by, now,
                 sum(1 for r in table.rows if before.get(r.code) != r.task))


# --- history -------------------------------------------------------------------------------

def history(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """Every target set of the campaign, newest first, with whether it is still in use.

    status: 'current' (every unit's current task comes from it), 'partly' (a newer set replaced
    some of its units), 'replaced' (none).
    """
    frame = con.execute("""
        SELECT s.id AS set_id, s.level, s.scope_code, any_value(su.name) AS scope_name,
               s.source, s.note, s.file_name, s.upload_id, s.created_by, s.created_at,
               count(t.unit_code) AS units, sum(t.task) AS total_task,
               count(c.unit_code) AS current_units
        FROM target_sets s
        JOIN targets t ON t.set_id = s.id
        LEFT JOIN current_targets c
               ON c.campaign_id = s.campaign_id AND c.unit_code = t.unit_code AND c.set_id = s.id
        LEFT JOIN units su ON su.campaign_id = s.campaign_id AND su.code = s.scope_code
        WHERE s.campaign_id = ?
        GROUP BY s.id, s.level, s.scope_code, s.source, s.note, s.file_name, s.upload_id,
                 s.created_by, s.created_at
        ORDER BY s.id DESC""", [campaign_id]).df()
    frame["status"] = [
        "current" if cur == n else ("replaced" if cur == 0 else "partly")
        for cur, n in zip(frame["current_units"], frame["units"])]
    frame["total_task"] = frame["total_task"].astype("Int64")
    return frame


def version(con: duckdb.DuckDBPyConnection, campaign_id: str, set_id: int) -> pd.DataFrame:
    """The rows of one target set, in the order of the units."""
    return con.execute(
        "SELECT u.code, u.name, u.level, t.task, t.baseline, t.registered_population, "
        "t.resident_population, t.low_income FROM targets t "
        "JOIN units u ON u.campaign_id = t.campaign_id AND u.code = t.unit_code "
        "WHERE t.campaign_id = ? AND t.set_id = ? ORDER BY u.depth, u.position",
        [campaign_id, set_id]).df()


def original_file(con: duckdb.DuckDBPyConnection, campaign_id: str,
                  set_id: int) -> tuple[str, bytes] | None:
    """The file a set was loaded from (name, bytes), when it was kept."""
    row = con.execute(
        "SELECT u.file_name, u.content FROM target_sets s JOIN uploads u ON u.id = s.upload_id "
        "WHERE s.campaign_id = ? AND s.id = ?", [campaign_id, set_id]).fetchone()
    return (row[0], bytes(row[1])) if row and row[1] is not None else None


# --- templates -----------------------------------------------------------------------------

TEMPLATE_HEADERS = {
    "code": "单位代码", "name": "单位名称", "task": "任务数", "baseline": "上年参保人数",
    "registered_population": "户籍人口数", "resident_population": "常住人口数",
    "low_income": "低收入人口及稳定脱贫人口数",
}
CURRENT_TASK_HEADER = "现行任务数"
TEMPLATE_NOTES = (
    "说明：1. 每个单位一行，「任务数」必填；其余各列可不填。单位代码与单位名称填写其一即可。",
    "说明：2. 「低收入人口及稳定脱贫人口数」指特困人员、低保对象、返贫致贫人口、脱贫不稳定户、边缘易致贫户、"
    "突发严重困难户、低保边缘户等低收入人口及稳定脱贫人口，其参保率要求达到100%。",
    "说明：3. 可以在表格末尾加「合计」行，系统会核对合计是否等于各单位之和。",
)


def template_units(con: duckdb.DuckDBPyConnection, campaign_id: str, level: str,
                   scope_code: str | None = None) -> pd.DataFrame:
    """The units of a level (under a scope unit, or all), with their current values."""
    return con.execute("""
        WITH RECURSIVE scope(code) AS (
            SELECT code FROM units WHERE campaign_id = $c
              AND (($s IS NULL AND parent_code IS NULL) OR code = $s)
            UNION ALL
            SELECT u.code FROM units u JOIN scope ON u.parent_code = scope.code
            WHERE u.campaign_id = $c)
        SELECT u.code, u.name, t.task, t.baseline, t.registered_population,
               t.resident_population, t.low_income
        FROM units u JOIN scope ON scope.code = u.code
        LEFT JOIN current_targets t ON t.campaign_id = u.campaign_id AND t.unit_code = u.code
        WHERE u.campaign_id = $c AND u.level = $level
        ORDER BY u.depth, u.position""",
        {"c": campaign_id, "s": scope_code, "level": level}).df()


def template(con: duckdb.DuckDBPyConnection, campaign_id: str, level: str,
             scope_code: str | None = None, fmt: str = "xlsx") -> bytes:
    """A target table to fill in: the units of a level pre-filled, with their current values."""
    campaign = campaigns.get(con, campaign_id)
    frame = template_units(con, campaign_id, level, scope_code)
    if frame.empty:
        raise ValueError(f"该范围内没有「{LEVEL_LABELS.get(level, level)}」层级的单位")
    scope = units.get(con, campaign_id, scope_code) if scope_code else None
    title = (f"{campaign.name} {scope.name + ' ' if scope else ''}"
             f"{LEVEL_LABELS.get(level, level)}目标任务分解表")
    headers = list(TEMPLATE_HEADERS.values())
    rows = [[r["code"], r["name"]] + [None if pd.isna(r[k]) else int(r[k])
                                      for k in list(TEMPLATE_HEADERS)[2:]]
            for r in frame.to_dict("records")]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    return _template_xlsx(title, headers, rows)


def _template_xlsx(title: str, headers: list[str], rows: list[list]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("目标任务")
    bold = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                            "align": "center", "valign": "vcenter"})
    text = book.add_format({"num_format": "@", "border": 1})
    number = book.add_format({"num_format": "#,##0", "border": 1})
    task = book.add_format({"num_format": "#,##0", "border": 1, "bg_color": "#FFF2CC"})
    note = book.add_format({"font_color": "#595959", "italic": True})
    sheet.write(0, 0, title, bold)
    sheet.write_row(2, 0, headers, head)
    for i, row in enumerate(rows, start=3):
        sheet.write_string(i, 0, str(row[0]), text)
        sheet.write_string(i, 1, str(row[1]), text)
        for j, value in enumerate(row[2:], start=2):
            fmt = task if j == 2 else number
            if value is None:
                sheet.write_blank(i, j, None, fmt)
            else:
                sheet.write_number(i, j, value, fmt)
    for k, line in enumerate(TEMPLATE_NOTES):
        sheet.write(len(rows) + 4 + k, 0, line, note)
    sheet.set_column(0, 0, 15)
    sheet.set_column(1, 1, 24)
    sheet.set_column(2, len(headers) - 1, 14)
    sheet.set_row(2, 32)
    sheet.freeze_panes(3, 2)
    book.close()
    return buffer.getvalue()


# --- what the page needs at a glance -------------------------------------------------------

def coverage(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """Per level, top down: units, units with a task of their own, and the sum of those tasks."""
    return con.execute("""
        SELECT u.level, min(u.depth) AS depth, count(*) AS units, count(t.task) AS with_task,
               sum(t.task) AS total_task, sum(t.low_income) AS low_income,
               count(t.low_income) AS with_low_income
        FROM units u LEFT JOIN current_targets t
          ON t.campaign_id = u.campaign_id AND t.unit_code = u.code
        WHERE u.campaign_id = ? GROUP BY u.level ORDER BY min(u.depth)""",
        [campaign_id]).df().astype({"total_task": "Int64", "low_income": "Int64"})


def scopes(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """Units that have children (what a task can be split over), top down, with their task:
    their own current task, or else the sum of their children's."""
    return con.execute("""
        SELECT p.code, p.name, p.level, p.depth, any_value(k.level) AS child_level,
               count(*) AS children, any_value(t.task) AS task, sum(kt.task) AS children_task
        FROM units p JOIN units k ON k.campaign_id = p.campaign_id AND k.parent_code = p.code
        LEFT JOIN current_targets t ON t.campaign_id = p.campaign_id AND t.unit_code = p.code
        LEFT JOIN current_targets kt ON kt.campaign_id = k.campaign_id AND kt.unit_code = k.code
        WHERE p.campaign_id = ?
        GROUP BY p.code, p.name, p.level, p.depth, p.position
        ORDER BY p.depth, p.position""", [campaign_id]).df().astype(
        {"task": "Int64", "children_task": "Int64"})


def base_template(con: duckdb.DuckDBPyConnection, campaign_id: str,
                  scope_code: str) -> pd.DataFrame:
    """The base data of a scope's children for the allocation tool, with the values known now."""
    frame = con.execute("""
        SELECT u.code, u.name, t.task AS current_task, t.baseline, t.registered_population,
               t.resident_population, t.low_income
        FROM units u LEFT JOIN current_targets t
          ON t.campaign_id = u.campaign_id AND t.unit_code = u.code
        WHERE u.campaign_id = ? AND u.parent_code = ? ORDER BY u.position""",
        [campaign_id, scope_code]).df()
    frame = frame.rename(columns={**TEMPLATE_HEADERS, "current_task": CURRENT_TASK_HEADER})
    frame = frame.astype({h: "Int64" for h in frame.columns[2:]})
    # The tasks in force, for comparison (read back as an extra column, never as the task).
    if frame[CURRENT_TASK_HEADER].isna().all():
        frame = frame.drop(columns=CURRENT_TASK_HEADER)
    return frame
