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

import pandas as pd

from .. import campaigns, db, settings
from ..campaigns import units
from ..db import Session, Store
from ..files import cellvalues, matching, reader, sandbox, totals
from ..files.cellvalues import CellError
from ..files.problems import ERROR, WARNING, Problem, to_json, warnings
from ..files.reader import ReadError
from ..identity import audit
from ..labels import LEVEL_LABELS
from ..metrics import weekly
from ..text import cells, clean_file_name, scrub, xlsx_workbook
from . import groups

OPTIONAL_COUNTS = ("baseline", "registered_population", "resident_population", "low_income")
COLUMNS = ("task",) + OPTIONAL_COUNTS
MAX_PERSON = 100           # characters of who loaded a table (as for uploaders)
MAX_NOTE = 500             # characters of the note kept with a version


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
    groups: dict[str, int] = field(default_factory=dict)    # group key -> population (分类人群)


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
    be read (over ENROLLMENT_MAX_UPLOAD_MB, damaged, refused by the limits). Populations are read
    for every group a campaign can have (groups.roles)."""
    return sandbox.read(reader.read_table, content, groups.roles(), ("task",))


def _unreadable(exc: ReadError) -> TargetTable:
    return TargetTable(problems=[Problem(None, str(exc))])


def parse_table(tx: Session, campaign_id: str, table: reader.Table) -> TargetTable:
    """Check a read target table against the campaign's units; nothing is stored."""
    out = TargetTable()
    groups.campaign_groups(table, campaigns.get(tx, campaign_id))
    index = units.index(tx, campaign_id)
    parents = index.parents
    matches = matching.match(table, index, parents)
    for row in table.rows:
        code = matches.codes.get(row.number)
        if code is None:
            out.problems.append(matches.problems[row.number])
        values: dict[str, int | None] = {}
        for key in COLUMNS:
            if key not in table.columns:
                continue
            try:
                values[key] = cellvalues.parse_count(row.values[key])
            except CellError as exc:
                out.problems.append(Problem(row.number, f"「{table.headers[key]}」{exc}", unit=code))
                values[key] = None
        populations = {}
        for column in table.columns:
            if not column.startswith(reader.GROUP):
                continue
            try:
                population = cellvalues.parse_count(row.values[column])
            except CellError as exc:
                out.problems.append(Problem(row.number, f"「{table.headers[column]}」{exc}",
                                            unit=code))
                continue
            if population is not None:
                populations[column[len(reader.GROUP):]] = population
        if values.get("task") is None and "task" in table.columns and not any(
                p.row == row.number for p in out.problems):
            out.problems.append(Problem(row.number, f"「{row.unit_text}」缺少任务数", unit=code))
        if code is None:
            continue
        if duplicate := matches.claim(code, row.number):
            out.problems.append(duplicate)
            continue
        if values.get("task") is not None:
            out.rows.append(TargetRow(row.number, code, index.names[code], **values,
                                      groups=populations))
    if not out.rows and not out.problems:
        out.problems.append(Problem(None, "表中没有任何单位的任务数"))
    if out.rows:
        # A unit whose row has a bad cell is there (its row says what is wrong), not missing.
        _check_level_and_scope(tx, campaign_id, out, index, parents, present=set(matches.claimed))
    # The file's own arithmetic, whatever else is wrong: every row as written, an unknown unit's too.
    columns = [totals.Column(key, table.headers[key], cellvalues.parse_count)
               for key in table.columns if key in COLUMNS or key.startswith(reader.GROUP)]
    out.problems.extend(totals.check(table, columns))
    return out


def _check_level_and_scope(tx: Session, campaign_id: str, out: TargetTable, index,
                           parent_of: matching.Parents, present: set[str]) -> None:
    levels = {index.levels[r.code] for r in out.rows}
    if len(levels) > 1:
        main = max(levels, key=lambda lv: sum(index.levels[r.code] == lv for r in out.rows))
        for r in out.rows:
            if index.levels[r.code] != main:
                out.problems.append(Problem(r.row, f"「{r.name}」与表中其他单位不在同一层级", unit=r.code))
        return
    out.level = levels.pop()
    parents = {parent_of[r.code] for r in out.rows}
    if parents == {None}:
        # The campaign's own total (the root unit alone): its scope is itself.
        out.scope_code = out.rows[0].code
        return
    if len(parents) == 1:
        out.scope_code = parents.pop()
        expected = [u for u in db.units.children(tx, campaign_id, out.scope_code)
                    if u.level == out.level]
    else:
        out.scope_code = db.units.root(tx, campaign_id).code
        expected = [db.units.Unit(c, index.names[c], out.level, None, 0, True)
                    for c, lv in index.levels.items() if lv == out.level]
    missing = [u.name for u in expected if u.code not in present]
    if missing:
        shown = "、".join(missing[:20]) + (f" 等 {len(missing)} 个" if len(missing) > 20 else "")
        out.problems.append(Problem(None, f"缺少以下单位的任务数：{shown}"))


def save(tx: Session, campaign_id: str, table: TargetTable, *, source: str,
         note: str | None = None, file_name: str | None = None, content: bytes | None = None,
         upload_id: int | None = None, created_by: str | None = None,
         now: dt.datetime | None = None) -> int:
    """Store a checked table as a new target set (it becomes current); returns its id."""
    if not table.ok or not table.rows:
        raise ValueError("只能保存通过检查的目标任务表")
    sha = hashlib.sha256(content).hexdigest() if content is not None else None
    rows = pd.DataFrame([(r.code, *(getattr(r, c) for c in COLUMNS)) for r in table.rows],
                        columns=["unit_code", *COLUMNS])
    set_id = db.targets.insert_set(
        tx, campaign_id=campaign_id, level=table.level, scope_code=table.scope_code,
        source=source, note=note, file_name=file_name, sha256=sha, upload_id=upload_id,
        created_by=created_by, created_at=now or utc_now(), rows=rows)
    db.groups.insert_targets(tx, set_id, campaign_id, pd.DataFrame(
        [(r.code, key, population) for r in table.rows for key, population in r.groups.items()],
        columns=["unit_code", "group_key", "population"]))
    weekly.after_targets(tx, campaign_id, rows["unit_code"], len(rows))
    return set_id


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- consistency with the rest of the hierarchy --------------------------------------------

def check_hierarchy(tx: Session, campaign_id: str, table: TargetTable) -> None:
    """Warnings where the new table disagrees with current targets one level up or down.

    A parent's task that differs from the sum of its children's is allowed (a county may keep a
    reserve), but it is almost always a typing mistake or an old table, so the user is asked.
    """
    if not table.rows or table.level is None:
        return
    new = pd.DataFrame({"code": [r.code for r in table.rows], "task": [r.task for r in table.rows],
                        "row": [r.row for r in table.rows]})
    above, below = db.targets.against_hierarchy(tx, campaign_id, table.scope_code, new)
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


def _unchanged_warning(tx: Session, campaign_id: str,
                       table: TargetTable) -> None:
    """Loading the table that is already current would only add an identical version."""
    now = db.targets.current_values(tx, campaign_id)
    populations = db.groups.current_targets(tx, campaign_id)
    if all(now.get(r.code) == tuple(getattr(r, c) for c in COLUMNS)
           and {k: v for (code, k), v in populations.items() if code == r.code} == r.groups
           for r in table.rows):
        table.problems.append(Problem(
            None, "表中各单位的数字与当前任务表完全相同，保存后只会多出一个相同的版本", WARNING))


def check_file(store: Store, campaign_id: str, content: bytes) -> TargetTable:
    """Read the file (no connection open), then check it with a short read connection."""
    try:
        table = read(content)
    except ReadError as exc:
        return _unreadable(exc)
    with store.read() as tx:
        return check_table(tx, campaign_id, table)


def check_table(tx: Session, campaign_id: str, read_table: reader.Table) -> TargetTable:
    """parse_table, then the warnings that need the user's confirmation (nothing is stored)."""
    table = parse_table(tx, campaign_id, read_table)
    if table.ok and table.rows:
        groups.checks(table, campaigns.get(tx, campaign_id))
        _unchanged_warning(tx, campaign_id, table)
        _row_warnings(table)
        check_hierarchy(tx, campaign_id, table)
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
    """The receipt of a stored target set (its id keys it; people see its number, 第 N 版)."""

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
    number: int | None = None          # 第 N 版 within the campaign

    def summary(self) -> str:
        local = self.created_at.replace(tzinfo=dt.timezone.utc).astimezone(
            ZoneInfo(settings.timezone()))
        level = LEVEL_LABELS.get(self.level, self.level)
        what = (f"{self.scope_name}总任务" if self.units == 1 and self.scope_code else
                f"{self.scope_name}下属 {self.units} 个{level}")
        who = f"，录入人 {self.created_by}" if self.created_by else ""
        return (f"已保存目标任务表第 {self.number or self.set_id} 版：{what}，任务数合计 {self.total_task:,}"
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
    # Entry points validate what people type (text.clean_text); this keeps anything else a label.
    file_name = clean_file_name(file_name)
    created_by, note = scrub(created_by, MAX_PERSON), scrub(note, MAX_NOTE)
    try:
        read_table = read(content)
    except ReadError as exc:
        raise TargetsRejected(_unreadable(exc), warnings_only=False) from exc
    with store.write() as tx:
        campaigns.get(tx, campaign_id)
        table = check_table(tx, campaign_id, read_table)
        blocked = not table.ok or (bool(warnings(table.problems)) and not accept_warnings)
        if blocked:
            raise TargetsRejected(table, warnings_only=table.ok)
        before = db.targets.current_tasks(tx, campaign_id)
        upload_id = db.uploads.new_id(tx)
        db.uploads.insert(
            tx, id=upload_id, campaign_id=campaign_id, kind="targets", source="upload",
            file_name=file_name, sha256=hashlib.sha256(content).hexdigest(), size=len(content),
            content=content, uploader=created_by, uploaded_at=now, status="accepted",
            messages=to_json(table.problems), row_count=len(table.rows),
            unit_count=len(table.rows))
        set_id = save(tx, campaign_id, table, source=source, note=note, file_name=file_name,
                      content=content, upload_id=upload_id, created_by=created_by, now=now)
        scope = db.units.get(tx, campaign_id, table.scope_code)
        changed = sum(1 for r in table.rows if before.get(r.code) != r.task)
        number = db.targets.number(tx, set_id)
        audit.record(tx, created_by, "targets_changed",
                     f"保存目标任务表第 {number} 版「{file_name}」：{scope.name if scope else ''} "
                     f"{len(table.rows)} 个单位，任务数合计 {sum(r.task for r in table.rows):,}，"
                     f"{changed} 个单位有变化", address, campaign_id=campaign_id, role=role, now=now)
    return Saved(set_id, upload_id, campaign_id, table.level, table.scope_code,
                 scope.name if scope else "", len(table.rows), sum(r.task for r in table.rows),
                 file_name, created_by, now,
                 sum(1 for r in table.rows if before.get(r.code) != r.task), number)


def restore(store: Store, campaign_id: str, number: int, *, created_by: str | None = None,
            now: dt.datetime | None = None, address: str | None = None,
            role: str | None = None) -> Saved:
    """Make version 第 `number` 版 current again: its rows become a new set (history is kept)."""
    now = now or utc_now()
    created_by = scrub(created_by, MAX_PERSON)
    with store.write() as tx:
        set_id = db.targets.id_of(tx, campaign_id, number)
        old = None if set_id is None else db.targets.set_row(tx, campaign_id, set_id)
        if old is None:
            raise ValueError(f"本活动没有第 {number} 版目标任务表")
        rows = db.targets.version(tx, campaign_id, set_id)
        populations: dict[str, dict[str, int]] = {}
        for code, key, population in db.groups.set_targets(tx, campaign_id, set_id).itertuples(
                index=False):
            populations.setdefault(code, {})[key] = int(population)
        table = TargetTable(
            rows=[TargetRow(0, r["code"], r["name"], int(r["task"]),
                            **{k: (None if pd.isna(r[k]) else int(r[k])) for k in OPTIONAL_COUNTS},
                            groups=populations.get(r["code"], {}))
                  for r in rows.to_dict("records")],
            level=old["level"], scope_code=old["scope_code"])
        before = db.targets.current_tasks(tx, campaign_id)
        new_id = save(tx, campaign_id, table, source="restore",
                      note=f"恢复第 {number} 版" + (f"（{old['note']}）" if old["note"] else ""),
                      file_name=old["file_name"], upload_id=old["upload_id"],
                      created_by=created_by, now=now)
        db.targets.set_checksum(tx, new_id, old["sha256"])
        new_number = db.targets.number(tx, new_id)
        scope = db.units.get(tx, campaign_id, old["scope_code"])
        audit.record(tx, created_by, "targets_changed",
                     f"恢复目标任务表第 {number} 版为当前版本（第 {new_number} 版），{len(table.rows)} 个单位",
                     address, campaign_id=campaign_id, role=role, now=now)
    return Saved(new_id, old["upload_id"], campaign_id, old["level"], old["scope_code"],
                 scope.name if scope else "", len(table.rows), sum(r.task for r in table.rows),
                 old["file_name"], created_by, now,
                 sum(1 for r in table.rows if before.get(r.code) != r.task), new_number)


# --- history -------------------------------------------------------------------------------

def history(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every target set of the campaign, newest first, with whether it is still in use.

    status: 'current' (every unit's current task comes from it), 'partly' (a newer set replaced
    some of its units), 'replaced' (none).
    """
    frame = db.targets.history(tx, campaign_id)
    frame["status"] = [
        "current" if cur == n else ("replaced" if cur == 0 else "partly")
        for cur, n in zip(frame["current_units"], frame["units"])]
    frame["total_task"] = frame["total_task"].astype("Int64")
    return frame


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
GROUP_NOTE = ("说明：4. 「特困人员人数」等列是各类分类人群的人数，用于检查其参保率；各类低收入人口人数之和"
              "应等于低收入人口及稳定脱贫人口数，后者不填时按各类之和计算。")


def template(tx: Session, campaign_id: str, level: str,
             scope_code: str | None = None, fmt: str = "xlsx") -> bytes:
    """A target table to fill in: the units of a level pre-filled, with their current values."""
    campaign = campaigns.get(tx, campaign_id)
    frame = db.targets.units_with_values(tx, campaign_id, level, scope_code)
    if frame.empty:
        raise ValueError(f"该范围内没有「{LEVEL_LABELS.get(level, level)}」层级的单位")
    scope = db.units.get(tx, campaign_id, scope_code) if scope_code else None
    title = (f"{campaign.name} {scope.name + ' ' if scope else ''}"
             f"{LEVEL_LABELS.get(level, level)}目标任务分解表")
    headers = list(TEMPLATE_HEADERS.values())
    # One population column per group of the campaign (分类人群), with the current figures.
    shown = [g for g in campaign.terms.groups if g.in_template]
    headers += [f"{g.name}人数" for g in shown]
    populations = db.groups.current_targets(tx, campaign_id) if shown else {}
    rows = [[r["code"], r["name"]] + [None if pd.isna(r[k]) else int(r[k])
                                      for k in list(TEMPLATE_HEADERS)[2:]]
            + [populations.get((r["code"], g.key)) for g in shown]
            for r in frame.to_dict("records")]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(cells(headers))
        writer.writerows([cells("" if v is None else v for v in row) for row in rows])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    return _template_xlsx(title, headers, rows, TEMPLATE_NOTES + ((GROUP_NOTE,) if shown else ()))


def _template_xlsx(title: str, headers: list[str], rows: list[list],
                   notes: tuple[str, ...] = TEMPLATE_NOTES) -> bytes:
    buffer = io.BytesIO()
    book = xlsx_workbook(buffer)
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
    for k, line in enumerate(notes):
        sheet.write(len(rows) + 4 + k, 0, line, note)
    sheet.set_column(0, 0, 15)
    sheet.set_column(1, 1, 24)
    sheet.set_column(2, len(headers) - 1, 14)
    sheet.set_row(2, 32)
    sheet.freeze_panes(3, 2)
    book.close()
    return buffer.getvalue()


def base_template(tx: Session, campaign_id: str,
                  scope_code: str) -> pd.DataFrame:
    """The base data of a scope's children for the allocation tool, with the values known now."""
    frame = db.targets.children_values(tx, campaign_id, scope_code)
    frame = frame.rename(columns={**TEMPLATE_HEADERS, "current_task": CURRENT_TASK_HEADER})
    frame = frame.astype({h: "Int64" for h in frame.columns[2:]})
    # The tasks in force, for comparison (read back as an extra column, never as the task).
    if frame[CURRENT_TASK_HEADER].isna().all():
        frame = frame.drop(columns=CURRENT_TASK_HEADER)
    return frame
