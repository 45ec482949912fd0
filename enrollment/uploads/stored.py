"""An upload checked against what is stored: the figures of its units around its date (the
previous one, a later one, one already stored for the same date), their tasks, payment days
between reports, whether the week is locked (published), and earlier uploads of the same file.

These are the checks that other writes can change after the preview, so `ingest.commit` runs
them again inside the write lock when something was written since (`check` replaces what an
earlier run found). The stored figures come in one query for the whole file; the rows are then
compared with plain lookups, and only a row that is worth saying something about becomes a
message (which names its row, as every message does).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from .. import db, settings
from ..campaigns.model import Campaign
from ..db import Session
from ..files.problems import WARNING, Problem
from . import checks, rights
from .preview import Preview


def check(tx: Session, campaign: Campaign, preview: Preview) -> None:
    """Compare the preview's rows with the stored figures, tasks and uploads; replaces what an
    earlier call found (problems, previous figures, tasks, corrections, line notes)."""
    earlier = {id(p) for p in preview.against_stored}
    preview.problems = [p for p in preview.problems if id(p) not in earlier]
    for r in preview.rows:
        r.previous = r.previous_date = r.target = r.replaces = None
    for line in preview.lines:
        line.note = ""
    found: list[Problem] = []
    if preview.report_date is not None and preview.rows:
        # A published (locked) week refuses the file; it is archived with the reason.
        if refusal := rights.lock_refusal(tx, campaign, preview.report_date,
                                          [r.code for r in preview.rows]):
            found.append(Problem(None, refusal))
        _compare_with_history(tx, campaign, preview, found)
        _check_duplicate_file(tx, preview, found)
    preview.against_stored = found
    preview.problems.extend(found)
    preview.problems.sort(key=lambda p: (p.row is not None, p.row or 0))


def _known(around: pd.DataFrame, value: str, day: str | None = None) -> dict:
    """{unit: value} (or {unit: (value, date)}) of the units that have one."""
    known = around[around[value].notna()]
    codes = known["unit_code"].tolist()
    values = known[value].astype("int64").tolist()
    if day is None:
        return dict(zip(codes, values))
    return dict(zip(codes, zip(values, pd.to_datetime(known[day]).dt.date.tolist())))


def _compare_with_history(tx: Session, campaign: Campaign, preview: Preview,
                          problems: list[Problem]) -> None:
    """Each row against the unit's figures that count: the previous one, a later one, the one
    already stored for the same date (a correction), and the task."""
    codes = [r.code for r in preview.rows]
    around = db.reports.around(tx, campaign.id, pd.DataFrame({"unit_code": codes}),
                               preview.report_date)
    target = db.targets.tasks_of(tx, campaign.id, codes)
    previous = _known(around, "previous", "previous_date")
    following = _known(around, "following", "following_date")
    same_day = _known(around, "same_day")
    margin = settings.over_target_margin()
    over = 1 + margin
    lines = {line.row: line for line in preview.lines} if same_day else {}
    for r in preview.rows:
        code = r.code
        before = previous.get(code)
        if before is not None:
            r.previous, r.previous_date = before
            if r.enrolled < r.previous:
                problems.append(Problem(
                    r.row, f"「{r.name}」累计参保人数 {r.enrolled:,} 低于上次上报的 {r.previous:,}"
                    f"（{r.previous_date}），少了 {r.previous - r.enrolled:,}（累计数一般不会减少），请确认",
                    WARNING, code))
        later = following.get(code)
        if later is not None and r.enrolled > later[0]:
            value, day = later
            problems.append(Problem(
                r.row, f"「{r.name}」累计参保人数 {r.enrolled:,} 高于之后（{day}）已上报的 {value:,}，"
                "请确认上报日期是否正确", WARNING, code))
        if unpaid := checks.payment_days(preview, campaign, r):
            problems.append(unpaid)
        r.target = target.get(code)
        if r.target and r.enrolled > r.target * over:
            problems.append(Problem(
                r.row, f"「{r.name}」累计参保人数 {r.enrolled:,} 超过任务数 {r.target:,} 的 "
                f"{over:.0%}，请确认", WARNING, code))
        r.replaces = same_day.get(code)
        if r.replaces is not None and r.row in lines:
            lines[r.row].note = (f"{preview.report_date} 已上报过 {r.replaces:,}，本次作为更正"
                                 if r.replaces != r.enrolled
                                 else f"与 {preview.report_date} 已上报的数字相同")


def _check_duplicate_file(tx: Session, preview: Preview, problems: list[Problem]) -> None:
    rows = db.uploads.same_file(tx, preview.campaign_id, preview.sha256, preview.report_date)
    if not rows:
        return
    number, uploader, uploaded_at, day = rows[0]
    local = uploaded_at.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(settings.timezone()))
    who = f"由「{uploader}」" if uploader else ""
    if day == preview.report_date:
        problems.append(Problem(
            None, f"同一文件已于 {local:%Y-%m-%d %H:%M} {who}上传过（第 {number} 号上报，上报日期 {day}），"
                  "不会重复计入。如需更正，请修改文件后再上传"))
    else:
        problems.append(Problem(
            None, f"这个文件与第 {number} 号上报（上报日期 {day}）的文件完全相同，"
                  "是否误传了以前的文件？请确认", WARNING))
