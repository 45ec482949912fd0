"""The Friday upload: read a file, check every row, preview, then commit atomically.

`prepare` reads and checks without writing; `commit` stores the upload (raw bytes and all) and,
when it has no errors and its warnings were accepted, its rows as new report revisions, in one
transaction. The page and the CLI call the same two functions, so they show the same messages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from . import campaigns, reader, settings, units
from .campaigns import Campaign
from .problems import ERROR, WARNING, Problem, errors, to_json, warnings
from .reader import CellError, ReadError
from .storage import Store


@dataclass
class ReportRow:
    row: int
    code: str
    name: str
    level: str
    enrolled: int
    amount: float | None = None
    low_income_enrolled: int | None = None
    previous: int | None = None          # the unit's latest earlier figure, for the preview
    target: int | None = None


@dataclass
class Preview:
    campaign_id: str
    file_name: str
    sha256: str
    size: int
    report_date: dt.date | None
    rows: list[ReportRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    file_dates: list[tuple[int, dt.date]] = field(default_factory=list)
    sheet: str | None = None
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return errors(self.problems)

    @property
    def warnings(self) -> list[Problem]:
        return warnings(self.problems)

    @property
    def total_enrolled(self) -> int:
        return sum(r.enrolled for r in self.rows)

    def frame(self) -> pd.DataFrame:
        """Rows as the preview table shows them, each with its problems beside it."""
        by_row: dict[int, list[str]] = {}
        for p in self.problems:
            if p.row is not None:
                by_row.setdefault(p.row, []).append(str(p))
        return pd.DataFrame([{
            "行号": r.row, "单位代码": r.code, "单位": r.name,
            "累计参保人数": r.enrolled, "上次上报": r.previous, "任务数": r.target,
            "问题": "；".join(by_row.get(r.row, [])),
        } for r in self.rows])


@dataclass
class Receipt:
    upload_id: int
    campaign_id: str
    file_name: str
    report_date: dt.date
    rows: int
    units: int
    total_enrolled: int
    uploaded_at: dt.datetime          # UTC, naive
    on_time: bool
    uploader: str | None
    deadline: dt.datetime

    def summary(self) -> str:
        local = self.uploaded_at.replace(tzinfo=dt.timezone.utc).astimezone(self.deadline.tzinfo)
        timing = "按时上报" if self.on_time else f"逾期上报（截止时间 {self.deadline:%Y-%m-%d %H:%M}）"
        return (f"已接收第 {self.upload_id} 号上报：{self.file_name}，上报日期 {self.report_date}，"
                f"{self.rows} 行、{self.units} 个单位，累计参保人数合计 {self.total_enrolled:,}；"
                f"{local:%Y-%m-%d %H:%M} {timing}")


class UploadRejected(Exception):
    """The upload has errors (or unaccepted warnings) and changed nothing but the archive."""

    def __init__(self, preview: Preview, upload_id: int | None, warnings_only: bool):
        self.preview = preview
        self.upload_id = upload_id
        self.warnings_only = warnings_only
        super().__init__("；".join(str(p) for p in preview.problems))


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def prepare(con: duckdb.DuckDBPyConnection, campaign: Campaign, content: bytes, file_name: str,
            report_date: dt.date | None = None, allowed_units: Iterable[str] | None = None,
            today: dt.date | None = None) -> Preview:
    """Read and check an upload against the campaign; writes nothing."""
    preview = Preview(campaign.id, file_name, sha256(content), len(content), report_date)
    limit = settings.max_upload_bytes()
    if len(content) > limit:
        preview.problems.append(Problem(
            None, f"文件大小 {len(content) / 1048576:.1f} MB，超过上限 {limit / 1048576:.0f} MB"))
        return preview
    try:
        table = reader.read_table(content, reader.REPORT_ROLES, required=("enrolled",))
    except ReadError as exc:
        preview.problems.append(Problem(None, str(exc)))
        return preview
    preview.sheet, preview.header_row = table.sheet, table.header_row
    preview.columns = dict(table.headers)
    preview.file_dates = _file_dates(table, preview.problems)
    _settle_date(preview, campaign, today or dt.date.today())
    index = units.index(con, campaign.id)
    allowed = _scope(con, campaign.id, allowed_units)
    seen: dict[str, int] = {}
    for row in table.rows:
        code = _resolve_unit(index, row, preview.problems)
        values = _row_values(row, table, preview.problems)
        if code is None or values is None:
            continue
        name = index.names[code]
        if allowed is not None and code not in allowed:
            preview.problems.append(Problem(
                row.number, f"「{name}」不在您负责的单位范围内，不能上报", unit=code))
            continue
        if code in seen:
            preview.problems.append(Problem(
                row.number, f"「{name}」重复出现（第 {seen[code]} 行已填写）", unit=code))
            continue
        seen[code] = row.number
        preview.rows.append(ReportRow(row.number, code, name, index.levels[code], **values))
    if not preview.rows and not preview.errors:
        preview.problems.append(Problem(None, "表中没有任何单位的数据行"))
    _check_totals(table, preview)
    if preview.report_date is not None and preview.rows:
        _compare_with_history(con, campaign, preview)
        _check_duplicate_file(con, preview)
    return preview


def _file_dates(table: reader.Table, problems: list[Problem]) -> list[tuple[int, dt.date]]:
    dates = list(table.dates)
    if "report_date" in table.columns:
        for row in table.rows:
            value = row.values.get("report_date")
            if reader.cell_text(value):
                found = reader.parse_date(value)
                if found is None:
                    problems.append(Problem(row.number, f"填报日期「{reader.cell_text(value)}」无法识别"))
                else:
                    dates.append((row.number, found))
    return dates


def _settle_date(preview: Preview, campaign: Campaign, today: dt.date) -> None:
    """The report date from the form or the file; ask (a warning) when they disagree."""
    distinct = sorted({d for _, d in preview.file_dates})
    if preview.report_date is None:
        if len(distinct) == 1:
            preview.report_date = distinct[0]
        elif len(distinct) > 1:
            listed = "、".join(f"第 {r} 行 {d}" for r, d in preview.file_dates)
            preview.problems.append(Problem(None, f"文件中有多个不同的日期（{listed}），请指定上报日期"))
            return
        else:
            preview.problems.append(Problem(None, "请指定上报日期（文件中没有找到填报日期）"))
            return
    else:
        for row_number, found in preview.file_dates:
            if found != preview.report_date:
                preview.problems.append(Problem(
                    row_number, f"文件中的日期为 {found}，与所选上报日期 {preview.report_date} 不一致，"
                    "请确认使用哪个日期", WARNING))
                break
    day = preview.report_date
    if not campaign.in_window(day):
        preview.problems.append(Problem(
            None, f"上报日期 {day} 不在集中参保期（{campaign.start} 至 {campaign.end}）内"))
    elif day > today:
        preview.problems.append(Problem(None, f"上报日期 {day} 晚于今天（{today}）"))


def _scope(con, campaign_id: str, allowed_units: Iterable[str] | None) -> set[str] | None:
    """The allowed units and all their descendants; None means no restriction."""
    if allowed_units is None:
        return None
    codes = list(allowed_units)
    rows = con.execute("""
        WITH RECURSIVE scope(code) AS (
            SELECT code FROM units WHERE campaign_id = $c AND list_contains($codes, code)
            UNION
            SELECT u.code FROM units u JOIN scope s ON u.parent_code = s.code
            WHERE u.campaign_id = $c)
        SELECT code FROM scope""", {"c": campaign_id, "codes": codes}).fetchall()
    return {r[0] for r in rows}


def _resolve_unit(index, row: reader.Row, problems: list[Problem]) -> str | None:
    """The unit code of a row, by code first, then by name; problems say why not."""
    code_text = reader.cell_text(row.values.get("unit_code"))
    name_text = reader.cell_text(row.values.get("unit_name"))
    by_code = index.resolve(code_text) if code_text else []
    by_name = index.resolve(name_text) if name_text else []
    if len(by_code) == 1:
        if name_text and by_name and by_code[0] not in by_name:
            problems.append(Problem(
                row.number, f"单位代码 {code_text}（{index.names[by_code[0]]}）与单位名称「{name_text}」"
                "不一致，请核对"))
            return None
        return by_code[0]
    if code_text and not by_name:
        problems.append(Problem(row.number, f"单位代码「{code_text}」不存在"))
        return None
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        names = "、".join(f"{index.names[c]}（{c}）" for c in by_name[:5])
        problems.append(Problem(row.number, f"「{name_text}」对应多个单位：{names}，请填写单位代码"))
        return None
    suggestions = index.suggest(name_text)
    hint = f"。您是否要填：{'、'.join(suggestions)}？" if suggestions else ""
    problems.append(Problem(row.number, f"未知单位「{name_text or row.unit_text}」{hint}"))
    return None


def _row_values(row: reader.Row, table: reader.Table, problems: list[Problem]) -> dict | None:
    label = table.headers.get("enrolled", "累计参保人数")
    ok = True
    values: dict = {}
    try:
        values["enrolled"] = reader.parse_count(row.values.get("enrolled"))
        if values["enrolled"] is None:
            problems.append(Problem(row.number, f"「{row.unit_text}」缺少{label}"))
            ok = False
    except CellError as exc:
        problems.append(Problem(row.number, f"「{row.unit_text}」的{label}{exc}"))
        ok = False
    for key, parse in (("amount", reader.parse_amount),
                       ("low_income_enrolled", reader.parse_count)):
        if key not in table.columns:
            continue
        try:
            values[key] = parse(row.values.get(key))
        except CellError as exc:
            problems.append(Problem(row.number, f"「{row.unit_text}」的{table.headers[key]}{exc}"))
            ok = False
    return values if ok else None


def _check_totals(table: reader.Table, preview: Preview) -> None:
    """A 合计/总计 row must equal the sum of the rows; 小计 rows cover a part and are skipped."""
    if preview.errors:
        return
    for total in table.totals:
        if reader.normalize(total.unit_text).startswith("小计"):
            continue
        try:
            stated = reader.parse_count(total.values.get("enrolled"))
        except CellError as exc:
            preview.problems.append(Problem(total.number, f"合计行的{exc}"))
            continue
        if stated is not None and stated != preview.total_enrolled:
            preview.problems.append(Problem(
                total.number, f"合计行为 {stated:,}，但各单位之和为 {preview.total_enrolled:,}，"
                f"相差 {stated - preview.total_enrolled:+,}；请核对各行数字或合计行"))


def _compare_with_history(con, campaign: Campaign, preview: Preview) -> None:
    codes = [r.code for r in preview.rows]
    previous = dict(con.execute("""
        WITH latest AS (
            SELECT unit_code, report_date, arg_max(enrolled, revision) AS enrolled
            FROM reports WHERE campaign_id = $c AND source = 'upload'
              AND report_date < $d AND list_contains($codes, unit_code)
            GROUP BY unit_code, report_date)
        SELECT unit_code, arg_max(enrolled, report_date) FROM latest
        WHERE enrolled IS NOT NULL GROUP BY unit_code""",
        {"c": campaign.id, "d": preview.report_date, "codes": codes}).fetchall())
    target = dict(con.execute(
        "SELECT unit_code, task FROM current_targets WHERE campaign_id = ? "
        "AND list_contains(?, unit_code)", [campaign.id, codes]).fetchall())
    margin = settings.over_target_margin()
    for r in preview.rows:
        r.previous, r.target = previous.get(r.code), target.get(r.code)
        if r.previous is not None and r.enrolled < r.previous:
            preview.problems.append(Problem(
                r.row, f"「{r.name}」累计参保人数 {r.enrolled:,} 低于上次上报的 {r.previous:,}"
                "（累计数一般不会减少），请确认", WARNING, r.code))
        if r.target and r.enrolled > r.target * (1 + margin):
            preview.problems.append(Problem(
                r.row, f"「{r.name}」累计参保人数 {r.enrolled:,} 超过任务数 {r.target:,} 的 "
                f"{1 + margin:.0%}，请确认", WARNING, r.code))


def _check_duplicate_file(con, preview: Preview) -> None:
    row = con.execute(
        "SELECT id, uploader, uploaded_at FROM uploads WHERE campaign_id = ? AND sha256 = ? "
        "AND kind = 'report' AND status = 'accepted' AND report_date = ? ORDER BY id LIMIT 1",
        [preview.campaign_id, preview.sha256, preview.report_date]).fetchone()
    if row:
        who = f"由 {row[1]} " if row[1] else ""
        preview.problems.append(Problem(
            None, f"同一文件已于 {row[2]:%Y-%m-%d %H:%M}（UTC）{who}上传过（第 {row[0]} 号上报），"
                  "不会重复计入"))


def commit(store: Store, campaign_id: str, content: bytes, file_name: str, *,
           report_date: dt.date | None = None, uploader: str | None = None,
           accept_warnings: bool = False, allowed_units: Iterable[str] | None = None,
           now: dt.datetime | None = None, today: dt.date | None = None) -> Receipt:
    """Check the file again inside one write transaction and store it.

    On errors (or warnings not accepted) the upload is archived as rejected, no report changes,
    and UploadRejected is raised.
    """
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.write() as con:
        campaign = campaigns.get(con, campaign_id)
        preview = prepare(con, campaign, content, file_name, report_date, allowed_units, today)
        blocked = bool(preview.errors) or (bool(preview.warnings) and not accept_warnings)
        upload_id = con.execute("SELECT nextval('upload_ids')").fetchone()[0]
        on_time = (campaign.is_on_time(preview.report_date, now)
                   if preview.report_date and not blocked else None)
        con.execute(
            "INSERT INTO uploads VALUES (?, ?, 'report', 'upload', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [upload_id, campaign_id, file_name, preview.sha256, len(content), content, uploader,
             now, preview.report_date, "rejected" if blocked else "accepted",
             to_json(preview.problems), len(preview.rows), len({r.code for r in preview.rows}),
             preview.total_enrolled, on_time])
        if not blocked:
            _insert_reports(con, campaign_id, "upload", preview.report_date, preview.rows, upload_id)
    if blocked:
        raise UploadRejected(preview, upload_id, warnings_only=not preview.errors)
    return Receipt(upload_id, campaign_id, file_name, preview.report_date, len(preview.rows),
                   len({r.code for r in preview.rows}), preview.total_enrolled, now, on_time,
                   uploader, campaign.deadline(preview.report_date))


def _insert_reports(con, campaign_id: str, source: str, report_date: dt.date,
                    rows: list[ReportRow], upload_id: int) -> None:
    """Append each row as the next revision of its unit's figure for that date."""
    frame = pd.DataFrame({
        "unit_code": [r.code for r in rows],
        "enrolled": pd.array([r.enrolled for r in rows], dtype="Int64"),
        "amount": pd.array([r.amount for r in rows], dtype="Float64"),
        "low_income_enrolled": pd.array([r.low_income_enrolled for r in rows], dtype="Int64"),
    })
    con.register("new_rows", frame)
    try:
        con.execute("""
            INSERT INTO reports
            SELECT $c, $s, n.unit_code, $d, coalesce(r.revision, 0) + 1, n.enrolled,
                   n.amount, n.low_income_enrolled, $u
            FROM new_rows n LEFT JOIN (
                SELECT unit_code, max(revision) AS revision FROM reports
                WHERE campaign_id = $c AND source = $s AND report_date = $d
                GROUP BY unit_code) r ON r.unit_code = n.unit_code""",
            {"c": campaign_id, "s": source, "d": report_date, "u": upload_id})
    finally:
        con.unregister("new_rows")
