"""What an upload check finds, as the page and the CLI show it: each row of the file and the
unit it maps to (Line, ReportRow), the problems beside them (Preview), the receipt of a stored
upload (Receipt) and the refusal of one with errors (UploadRejected)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from ..files import cellvalues
from ..files.problems import ERROR, Problem, errors, warnings


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
    previous_date: dt.date | None = None
    target: int | None = None
    replaces: int | None = None          # the figure already stored for the same date (a correction)
    groups: dict[str, tuple[int | None, float | None]] = field(default_factory=dict)
    # group key -> (enrolled, amount) of the groups (分类人群) the file has columns for


@dataclass
class Line:
    """One row of the file as the preview shows it: what was written, what it maps to, problems."""
    row: int
    written: str                          # the unit as written in the file
    code: str | None = None
    name: str | None = None
    enrolled: object = None               # the count as written (parsed when it could be)
    kind: str = "data"                    # data | total | skipped
    note: str = ""


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
    form_date: dt.date | None = None      # the date the form (or --report-date) gave
    date_source: str | None = None        # 'form' or 'file'
    sheet: str | None = None
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    top_codes: set[str] = field(default_factory=set)    # rows with no ancestor in the file
    # The problems found against stored figures, tasks and uploads (also in `problems`): what
    # `ingest.commit` checks again when other writes came between the check and the commit.
    against_stored: list[Problem] = field(default_factory=list, repr=False)

    @property
    def errors(self) -> list[Problem]:
        return errors(self.problems)

    @property
    def warnings(self) -> list[Problem]:
        return warnings(self.problems)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def units(self) -> int:
        return len({r.code for r in self.rows})

    def _top(self) -> list[ReportRow]:
        return [r for r in self.rows if r.code in self.top_codes] if self.top_codes else self.rows

    @property
    def total_enrolled(self) -> int:
        """The sum over the file's top units (a county and its townships count once)."""
        return sum(r.enrolled for r in self._top())

    @property
    def total_amount(self) -> float | None:
        values = [r.amount for r in self._top() if r.amount is not None]
        return round(sum(values), 2) if values else None

    @property
    def total_low_income(self) -> int | None:
        values = [r.low_income_enrolled for r in self._top() if r.low_income_enrolled is not None]
        return sum(values) if values else None

    @property
    def date_question(self) -> tuple[dt.date, list[dt.date]] | None:
        """(form date, other dates in the file) when the two disagree and the user must choose."""
        if self.form_date is None:
            return None
        others = sorted({d for _, d in self.file_dates if d != self.form_date})
        return (self.form_date, others) if others else None

    def frame(self) -> pd.DataFrame:
        """Every row of the file as the preview shows it, each with its problems beside it."""
        by_row: dict[int, list[Problem]] = {}
        for p in self.problems:
            if p.row is not None:
                by_row.setdefault(p.row, []).append(p)
        by_code = {r.row: r for r in self.rows}
        records = []
        for line in self.lines:
            found = by_row.get(line.row, [])
            report = by_code.get(line.row)
            if any(p.severity == ERROR for p in found):
                status = "错误"
            elif found:
                status = "需确认"
            elif line.kind == "total":
                status = "合计行"
            elif line.kind == "skipped":
                status = "不上报"
            else:
                status = "通过"
            messages = [p.message for p in found]
            if line.note:
                messages.append(line.note)
            records.append({
                "行号": line.row,
                "文件中的单位": line.written,
                "对应单位": line.name or "",
                "单位代码": line.code or "",
                "累计参保人数": _count(report.enrolled) if report else _written(line.enrolled),
                "上次上报": _count(report.previous) if report else "",
                "任务数": _count(report.target) if report else "",
                "检查结果": status,
                "说明": "；".join(messages),
            })
        return pd.DataFrame(records, columns=[
            "行号", "文件中的单位", "对应单位", "累计参保人数", "检查结果", "说明", "单位代码",
            "上次上报", "任务数"])


def _count(value: int | None) -> str:
    """A count as the preview shows it: with thousands separators, blank when unknown."""
    return "" if value is None else f"{value:,}"


def _written(value: object) -> str:
    """A count as written in a row that was not taken (an error): a whole number gets its
    thousands separators like the others, anything else stays as written."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    text = cellvalues.cell_text(value)
    return f"{int(text):,}" if cellvalues.NUMBER.match(text) and text.lstrip("+-").isdigit() else text


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
    total_amount: float | None = None
    total_low_income: int | None = None
    corrected: int = 0                # units whose figure for the date changed (a correction)
    warnings_accepted: int = 0
    number: int | None = None         # 第 N 号: the upload's number in its campaign (the id keys it)

    @property
    def shown_number(self) -> int:
        return self.upload_id if self.number is None else self.number

    @property
    def uploaded_local(self) -> dt.datetime:
        return self.uploaded_at.replace(tzinfo=dt.timezone.utc).astimezone(self.deadline.tzinfo)

    @property
    def timing(self) -> str:
        if self.on_time:
            return f"按时上报（截止时间 {self.deadline:%Y-%m-%d %H:%M}）"
        return f"逾期上报（截止时间 {self.deadline:%Y-%m-%d %H:%M}）"

    def summary(self) -> str:
        return (f"已接收第 {self.shown_number} 号上报：{self.file_name}，上报日期 {self.report_date}，"
                f"{self.rows} 行、{self.units} 个单位，累计参保人数合计 {self.total_enrolled:,}；"
                f"{self.uploaded_local:%Y-%m-%d %H:%M} {self.timing}")

    def details(self) -> list[tuple[str, str]]:
        """The receipt as label/value pairs, for the page."""
        out = [("上报编号", f"第 {self.shown_number} 号"), ("文件名", self.file_name),
               ("上报日期", f"{self.report_date:%Y-%m-%d}"), ("数据行数", f"{self.rows} 行"),
               ("单位数", f"{self.units} 个"), ("累计参保人数合计", f"{self.total_enrolled:,}")]
        if self.total_amount is not None:
            out.append(("缴费金额合计（元）", f"{self.total_amount:,.2f}"))
        if self.total_low_income is not None:
            out.append(("低收入人口参保人数合计", f"{self.total_low_income:,}"))
        if self.corrected:
            out.append(("更正", f"{self.corrected} 个单位该日期的数字已更正（原数字保留在历史中）"))
        out += [("填报人", self.uploader or "（未填写）"),
                ("上报时间", f"{self.uploaded_local:%Y-%m-%d %H:%M:%S}"), ("是否按时", self.timing)]
        return out


class UploadRejected(Exception):
    """The upload has errors (or unaccepted warnings) and changed nothing but the archive."""

    def __init__(self, preview: Preview, upload_id: int | None, warnings_only: bool,
                 number: int | None = None):
        self.preview = preview
        self.upload_id = upload_id
        self.number = number              # 第 N 号 of the archived attempt
        self.warnings_only = warnings_only
        super().__init__("；".join(str(p) for p in preview.problems))
