"""The Friday upload: read a file, check every row, preview, then commit atomically.

`read` parses the file in the sandbox (a child process with limits, `enrollment/files/sandbox.py`)
before any database connection is opened; `check` then checks it against the campaign with a
connection, writing nothing. `preview` does both for the page and `ingest --dry-run`. `commit`
reads and checks first, holding no lock, then takes the write lock for what another write may
have changed since (the stored figures, tasks and uploads the file was compared with) and the
insert: the upload (raw bytes and all) and, when it has no errors and its warnings were
accepted, its rows as new report revisions and the figures kept per week end, in one
transaction (withdrawals.py undoes an upload). The page and the CLI call the same functions,
so they show the same messages.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import hashlib
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .. import campaigns, db, settings
from ..campaigns import units
from ..campaigns.model import Campaign
from ..db import Session, Store
from ..files import bounds, cellvalues, matching, reader, sandbox, totals
from ..files.cellvalues import CellError
from ..files.names import UnitIndex
from ..files.problems import WARNING, Problem, bounded, to_json
from ..files.reader import ReadError
from ..identity import audit
from ..metrics import weekly
from ..text import clean_file_name  # one cleaner for uploads and target tables
from . import checks, rights, stored
from .preview import Line, Preview, Receipt, ReportRow, UploadRejected

SOURCE = "upload"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def default_report_date(campaign: Campaign, today: dt.date | None = None) -> dt.date:
    """The form's default: this week's Friday within the window (the last day after it)."""
    return campaign.default_as_of(today or local_today())


def local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone())).date()


# --- prepare -------------------------------------------------------------------------------

_gc_guard = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextmanager
def _cycle_collection_paused():
    """Checking a province's file makes some 200,000 short-lived lists, dicts and rows, none in
    a reference cycle; the cycle collector would walk them (and every long-lived object) again
    and again for nothing: a quarter of the time. Reference counting frees them all the same.
    The pause spans reading and checking (`preview`, `commit`): the table read in the sandbox
    lives from one to the other. Shared by threads: collection resumes when the last of them is
    done."""
    global _gc_pausers, _gc_was_enabled
    with _gc_guard:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_guard:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _without_cycle_collection(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _cycle_collection_paused():
            return function(*args, **kwargs)
    return wrapper


@dataclass
class Parsed:
    """An upload read before any database connection is opened: its table, or why it has none."""
    sha256: str
    size: int
    table: reader.Table | None = None
    problem: Problem | None = None


@_without_cycle_collection
def read(content: bytes) -> Parsed:
    """Read an upload in the sandbox, holding nothing; a file that cannot be read (too large,
    damaged, refused by the limits) gives a Parsed with the reason as its problem. Groups'
    columns are read for every group a campaign can have (checks.roles)."""
    parsed = Parsed(sha256(content), len(content))
    if message := bounds.size_problem(len(content)):
        parsed.problem = Problem(None, message)
        return parsed
    try:
        parsed.table = sandbox.read(reader.read_table, content, checks.roles(), ("enrolled",))
    except ReadError as exc:
        parsed.problem = Problem(None, str(exc))
    return parsed


@_without_cycle_collection
def prepare(tx: Session, campaign: Campaign, content: bytes, file_name: str,
            report_date: dt.date | None = None, allowed_units: Iterable[str] | None = None,
            today: dt.date | None = None, *, date_confirmed: bool = False) -> Preview:
    """`read` and `check` in one call; writes nothing. The file is read while the caller holds
    `tx`: with a Store, use `preview` (or `commit`), which read first."""
    return check(tx, campaign, read(content), file_name, report_date, allowed_units, today,
                 date_confirmed=date_confirmed)


@_without_cycle_collection
def preview(store: Store, campaign_id: str, content: bytes, file_name: str,
            report_date: dt.date | None = None, allowed_units: Iterable[str] | None = None,
            today: dt.date | None = None, *, date_confirmed: bool = False) -> Preview:
    """Read the upload (no connection open), then check it with a short read connection."""
    parsed = read(content)
    with store.read() as tx:
        campaign = campaigns.get(tx, campaign_id)
        return check(tx, campaign, parsed, file_name, report_date, allowed_units, today,
                     date_confirmed=date_confirmed)


@_without_cycle_collection
def check(tx: Session, campaign: Campaign, parsed: Parsed, file_name: str,
          report_date: dt.date | None = None, allowed_units: Iterable[str] | None = None,
          today: dt.date | None = None, *, date_confirmed: bool = False) -> Preview:
    """Check a read upload against the campaign; writes nothing.

    `report_date` comes from the form; when the file names another date the preview asks
    (a warning and `Preview.date_question`) unless `date_confirmed` says the user chose.
    """
    preview = Preview(campaign.id, file_name, parsed.sha256, parsed.size, report_date,
                      form_date=report_date)
    if parsed.table is None:
        preview.problems.append(parsed.problem or Problem(None, "无法读取文件"))
        return preview
    table = parsed.table
    checks.campaign_groups(table, campaign)
    preview.sheet, preview.header_row = table.sheet, table.header_row
    preview.columns = dict(table.headers)
    preview.ignored_columns = list(table.ignored_columns)
    if table.other_sheets:
        preview.problems.append(Problem(
            None, f"工作簿中的工作表「{'」「'.join(table.other_sheets)}」也有数据，本次只读取了第一个"
                  f"工作表「{table.sheet}」。如需上报其他工作表，请分别另存为文件上传", WARNING))
    preview.file_dates = _file_dates(table, campaign, preview.problems)
    _settle_date(preview, campaign, today or local_today(), date_confirmed)
    index = units.index(tx, campaign.id)
    parents = index.parents
    allowed = rights.scope(tx, campaign.id, allowed_units)
    scope_text = rights.scope_text(tx, campaign.id, allowed_units) if allowed is not None else ""
    if not _common_rows(preview, table, index, allowed):
        _each_row(preview, table, index, allowed, scope_text)
    for total in table.totals:
        preview.lines.append(Line(total.number, total.unit_text,
                                  enrolled=total.values.get("enrolled"), kind="total"))
    preview.lines.sort(key=lambda line: line.row)
    _check_blank_counts(preview)
    if not preview.rows and not preview.errors:
        preview.problems.append(Problem(None, "表中没有任何单位的数据行，请检查是否选错了文件或工作表"))
    preview.top_codes = _top_codes(preview.rows, parents)
    checks.unit_windows(preview, campaign, parents)
    _check_hierarchy(preview, parents)
    _check_totals(table, preview)
    checks.groups(tx, preview, campaign, table)
    checks.amounts(preview, campaign)
    stored.check(tx, campaign, preview)
    return preview


# The columns of the usual Friday file: a unit, its count, perhaps a date (templates).
_COMMON_COLUMNS = {"unit_code", "unit_name", "enrolled", "report_date"}


def _common_rows(preview: Preview, table: reader.Table, index: UnitIndex,
                 allowed: set[str] | None) -> bool:
    """The usual file (a template filled in) in a few passes per column instead of the checks
    of each row: every row gives a unit exactly as the campaign stores its code (and one of
    its names, if any; matching.exact), a whole count of at least 0 typed as a number, and no
    other figures; every unit once, all within the uploader's scope. The rows and lines are
    then exactly what `_each_row` makes of it, with no problem to report; False (nothing
    added) for any other file, which `_each_row` explains row by row."""
    if not set(table.columns) <= _COMMON_COLUMNS:
        return False
    codes = matching.exact(table, index)
    if codes is None or (allowed is not None and not allowed.issuperset(codes)):
        return False
    counts = [row.values.get("enrolled") for row in table.rows]
    if not all(type(v) is int or type(v) is float for v in counts):
        return False
    values = np.array(counts, dtype="float64")
    if len(values) and not ((values >= 0) & (values < 1e15) & (values == np.floor(values))).all():
        return False
    names, levels = index.names, index.levels
    enrolled = values.astype("int64").tolist()
    preview.lines.extend(Line(row.number, row.unit_text, code, names[code], written)
                         for row, code, written in zip(table.rows, codes, counts))
    preview.rows.extend(ReportRow(row.number, code, names[code], levels[code], count)
                        for row, code, count in zip(table.rows, codes, enrolled))
    return True


def _each_row(preview: Preview, table: reader.Table, index: UnitIndex,
              allowed: set[str] | None, scope_text: str) -> None:
    """Every row matched, parsed and checked on its own, each problem naming its row."""
    matches = matching.match(table, index, index.parents)
    for row in table.rows:
        code = matches.codes.get(row.number)
        if code is None:
            preview.problems.append(matches.problems[row.number])
        line = Line(row.number, row.unit_text, code, index.names.get(code) if code else None,
                    row.values.get("enrolled"))
        preview.lines.append(line)
        name = index.names[code] if code else row.unit_text
        values = _row_values(row, table, name, preview.problems)
        if code is None or values is None:
            continue
        if values.get("enrolled") is None:
            line.kind = "skipped"
            continue
        if allowed is not None and code not in allowed:
            preview.problems.append(Problem(
                row.number, f"「{name}」不在您负责的单位范围内（{scope_text}），不能上报", unit=code))
            continue
        if duplicate := matches.claim(code, row.number):
            preview.problems.append(duplicate)
            continue
        preview.rows.append(ReportRow(row.number, code, name, index.levels[code], **values))


def _file_dates(table: reader.Table, campaign: Campaign,
                problems: list[Problem]) -> list[tuple[int, dt.date]]:
    """Dates the file states: titles, 填报日期 lines, notes and a date column."""
    dates = list(table.dates)
    for row_number, (month, day) in table.month_days:
        # 截至11月19日: the year that puts the day inside the campaign's window.
        for year in sorted({campaign.start.year, campaign.end.year}):
            try:
                candidate = dt.date(year, month, day)
            except ValueError:
                continue
            if campaign.in_window(candidate):
                dates.append((row_number, candidate))
                break
    if "report_date" in table.columns:
        for row in table.rows:
            value = row.values.get("report_date")
            if cellvalues.cell_text(value):
                found = cellvalues.parse_date(value)
                if found is None:
                    problems.append(Problem(row.number, f"填报日期「{cellvalues.cell_text(value)}」无法识别，"
                                                        "请写成 2021-11-19 或 2021年11月19日"))
                else:
                    dates.append((row.number, found))
    return sorted(set(dates))


def _settle_date(preview: Preview, campaign: Campaign, today: dt.date, confirmed: bool) -> None:
    """The report date from the form or the file; ask (a warning) when they disagree."""
    distinct = sorted({d for _, d in preview.file_dates})
    if preview.report_date is None:
        if len(distinct) == 1:
            preview.report_date = distinct[0]
            preview.date_source = "file"
        elif len(distinct) > 1:
            listed = "、".join(f"第 {r} 行 {d}" for r, d in preview.file_dates)
            preview.problems.append(Problem(None, f"文件中有多个不同的日期（{listed}），请指定上报日期"))
            return
        else:
            preview.problems.append(Problem(None, "请指定上报日期（文件中没有找到填报日期）"))
            return
    else:
        preview.date_source = "form"
        if not confirmed:
            for row_number, found in preview.file_dates:
                if found != preview.report_date:
                    preview.problems.append(Problem(
                        row_number, f"文件中的日期为 {found}，与所选上报日期 {preview.report_date} 不一致，"
                        "请确认使用哪个日期", WARNING))
                    break
    refusal = rights.date_refusal(campaign, preview.report_date, today)
    if refusal:
        preview.problems.append(Problem(None, refusal))


# --- values --------------------------------------------------------------------------------

def _row_values(row: reader.Row, table: reader.Table, name: str,
                problems: list[Problem]) -> dict | None:
    """Parsed numbers of a row; None (with problems) when one is wrong."""
    label = table.headers.get("enrolled", "累计参保人数")
    ok = True
    values: dict = {}
    try:
        values["enrolled"] = cellvalues.parse_count(row.values.get("enrolled"))
    except CellError as exc:
        problems.append(Problem(row.number, checks.cell_message(name, label, exc)))
        ok = False
    for key, parse in (("amount", cellvalues.parse_amount),
                       ("low_income_enrolled", cellvalues.parse_count)):
        if key not in table.columns:
            continue
        try:
            values[key] = parse(row.values.get(key))
        except CellError as exc:
            problems.append(Problem(row.number, checks.cell_message(name, table.headers[key], exc)))
            ok = False
    values["groups"], groups_ok = checks.group_values(row, table, name, problems)
    ok = ok and groups_ok
    if ok and values.get("enrolled") is None and (values["groups"] or any(
            values.get(k) is not None for k in ("amount", "low_income_enrolled"))):
        problems.append(Problem(row.number, f"「{name}」填写了其他数字，但缺少{label}"))
        ok = False
    return values if ok else None


def _check_blank_counts(preview: Preview) -> None:
    """Units listed without a count (a template row left empty): not reported, user confirms."""
    blank = [line for line in preview.lines if line.kind == "skipped"]
    if not blank:
        return
    if not preview.rows:
        preview.problems.append(Problem(
            blank[0].row, "表中列出的单位都没有填写累计参保人数，请填写后再上传"))
        return
    for line in blank:
        preview.problems.append(Problem(
            line.row, f"「{line.name}」没有填写累计参保人数，本行不上报（如需上报请填写后重新上传）",
            WARNING, line.code))


def _top_codes(rows: list[ReportRow], parents: dict) -> set[str]:
    """The file's units that have no ancestor in the file."""
    codes = {r.code for r in rows}
    covered: dict[str | None, bool] = {None: False}   # a unit is, or is below, one of the file
    for code in codes:
        path, current = [], parents.get(code)
        while current not in covered:
            path.append(current)
            current = parents.get(current)
        found = covered[current]
        for unit in reversed(path):
            found = found or unit in codes
            covered[unit] = found
    return {c for c in codes if not covered[parents.get(c)]}


def _check_hierarchy(preview: Preview, parents: dict) -> None:
    """A county listed with its townships must not report less than they add up to."""
    by_code = {r.code: r for r in preview.rows}
    children: dict[str, list[ReportRow]] = {}
    for r in preview.rows:
        parent = parents.get(r.code)
        if parent in by_code:
            children.setdefault(parent, []).append(r)
    for code, kids in children.items():
        parent = by_code[code]
        total = sum(k.enrolled for k in kids)
        all_listed = {k.code for k in kids} == {c for c, p in parents.items() if p == code}
        if parent.enrolled < total or (all_listed and parent.enrolled != total):
            preview.problems.append(Problem(
                parent.row, f"「{parent.name}」填写 {parent.enrolled:,}，但表中其下属单位之和为 "
                f"{total:,}（{len(kids)} 个），请核对", WARNING, code))


def _check_totals(table: reader.Table, preview: Preview) -> None:
    """合计/总计 rows against the file's top units, 小计 rows against their group
    (files/totals.py). Only a file without errors: until every row is accepted, which rows make
    up the sum (one outside the uploader's scope, a county beside its townships) is not settled."""
    if preview.errors or not table.totals:
        return
    columns = [totals.Column("enrolled", "累计参保人数", cellvalues.parse_count)]
    if "amount" in table.columns:
        columns.append(totals.Column("amount", table.headers["amount"], cellvalues.parse_amount))
    if "low_income_enrolled" in table.columns:
        columns.append(totals.Column("low_income_enrolled", table.headers["low_income_enrolled"],
                                     cellvalues.parse_count))
    for key in table.columns:
        if key.startswith(reader.GROUP):
            columns.append(totals.Column(key, table.headers[key], cellvalues.parse_count))
        elif key.startswith(reader.GROUP_AMOUNT):
            columns.append(totals.Column(key, table.headers[key], cellvalues.parse_amount))
    inner = {r.row for r in preview.rows if r.code not in preview.top_codes}
    preview.problems.extend(totals.check(table, columns, inner))


# --- commit --------------------------------------------------------------------------------

@_without_cycle_collection
def commit(store: Store, campaign_id: str, content: bytes, file_name: str, *,
           report_date: dt.date | None = None, uploader: str | None = None,
           accept_warnings: bool = False, allowed_units: Iterable[str] | None = None,
           now: dt.datetime | None = None, today: dt.date | None = None,
           date_confirmed: bool = False, address: str | None = None,
           role: str | None = None) -> Receipt:
    """Read and check the file holding no lock, then store it in one write transaction.

    Inside the write lock only what another write may have changed since the check is checked
    again (the figures, tasks and uploads the check compared with; everything, should the
    campaign or its units have changed), so ten confirmations at once queue for milliseconds
    each rather than for a whole file's check.

    On errors (or warnings not accepted) the upload is archived as rejected, with its first
    200 problems and a count of the rest, no report changes, and UploadRejected (with every
    problem) is raised. A file over the size limit is archived without its bytes. Either way the
    attempt is in the audit log (uploader, `role`, `address`).
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    uploader = audit.clean(uploader, 100) or None
    file_name = clean_file_name(file_name)
    parsed = read(content)
    with store.read() as tx:
        # The version first: a write that lands during the check changes it.
        checked = (db.engine.data_version(tx), db.units.fingerprint(tx, campaign_id))
        campaign = campaigns.get(tx, campaign_id)
        preview = check(tx, campaign, parsed, file_name, report_date, allowed_units, today,
                        date_confirmed=date_confirmed)
    with store.write() as tx:
        db.reports.lock_for_upload(tx, campaign_id, preview.sha256)   # PostgreSQL: per file
        if db.engine.data_version(tx) != checked[0]:
            # Something was written since: check again what it may have changed.
            current = campaigns.get(tx, campaign_id)
            if current != campaign or db.units.fingerprint(tx, campaign_id) != checked[1]:
                campaign = current
                preview = check(tx, campaign, parsed, file_name, report_date, allowed_units,
                                today, date_confirmed=date_confirmed)
            else:
                stored.check(tx, campaign, preview)
        blocked = bool(preview.errors) or (bool(preview.warnings) and not accept_warnings)
        upload_id = db.uploads.new_id(tx)
        on_time = (campaign.is_on_time(preview.report_date, now)
                   if preview.report_date and not blocked else None)
        kept_content = content if len(content) <= settings.max_upload_bytes() else None
        number = db.uploads.insert(
            tx, id=upload_id, campaign_id=campaign_id, kind="report", source="upload",
            file_name=file_name, sha256=preview.sha256, size=len(content), content=kept_content,
            uploader=uploader, uploaded_at=now, report_date=preview.report_date,
            status="rejected" if blocked else "accepted",
            messages=to_json(bounded(preview.problems)), row_count=len(preview.rows),
            unit_count=preview.units, total_enrolled=preview.total_enrolled, on_time=on_time)
        if not blocked:
            _insert_reports(tx, campaign_id, SOURCE, preview.report_date, preview.rows, upload_id)
            weekly.after_reports(tx, campaign_id, SOURCE, [r.code for r in preview.rows],
                                 preview.report_date, len(preview.rows))
            audit.record(tx, uploader, "upload",
                         f"第 {number} 号上报「{file_name}」，上报日期 {preview.report_date}，"
                         f"{preview.units} 个单位，累计参保人数合计 {preview.total_enrolled:,}",
                         address, campaign_id=campaign_id, role=role, now=now)
        else:
            first = (preview.errors or preview.warnings)[0]
            audit.record(tx, uploader, "upload_rejected",
                         f"第 {number} 号上传「{file_name}」未通过（{len(preview.errors)} 处错误、"
                         f"{len(preview.warnings)} 条未确认的提醒），未保存任何数字；{first}",
                         address, campaign_id=campaign_id, role=role, now=now)
    if blocked:
        raise UploadRejected(preview, upload_id, warnings_only=not preview.errors, number=number)
    return Receipt(upload_id, campaign_id, file_name, preview.report_date, len(preview.rows),
                   preview.units, preview.total_enrolled, now, on_time,
                   uploader, campaign.deadline(preview.report_date), preview.total_amount,
                   preview.total_low_income,
                   sum(1 for r in preview.rows if r.replaces not in (None, r.enrolled)),
                   len(preview.warnings), number)


def _insert_reports(tx: Session, campaign_id: str, source: str, report_date: dt.date,
                    rows: list[ReportRow], upload_id: int) -> None:
    """Append each row as the next revision of its unit's figure for that date."""
    db.reports.append(tx, campaign_id, source, pd.DataFrame({
        "unit_code": [r.code for r in rows],
        "report_date": [report_date] * len(rows),
        "enrolled": pd.array([r.enrolled for r in rows], dtype="Int64"),
        "amount": pd.array([r.amount for r in rows], dtype="Float64"),
        "low_income_enrolled": pd.array([r.low_income_enrolled for r in rows], dtype="Int64"),
    }), upload_id)
    db.groups.append(tx, campaign_id, source, pd.DataFrame(
        [(r.code, report_date, upload_id, key, count, amount) for r in rows
         for key, (count, amount) in r.groups.items()],
        columns=["unit_code", "report_date", "upload_id", "group_key", "enrolled", "amount"]))
