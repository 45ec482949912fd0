"""The upload log and every revision of a unit's figure: what was sent, by whom, when.

Read-only views over the `uploads` and `reports` tables for the 数据上报 page and the CLI. Times are
stored in UTC and shown in the bureau's time zone (ENROLLMENT_TIMEZONE).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from .. import db, settings
from ..db import Session
from ..files.problems import (
    ERROR,
    STORED_LIMIT,
    WARNING,
    Problem,
    bounded,
    from_json,
    total,
)
from ..labels import UPLOAD_KIND_LABELS, UPLOAD_STATUS_LABELS

# 编号 is the upload's number in its campaign (第 N 号), not its id.
HISTORY_COLUMNS = {
    "number": "编号", "uploaded_at": "上报时间", "uploader": "填报人", "kind": "类型",
    "file_name": "文件", "report_date": "上报日期", "status": "状态", "unit_count": "单位数",
    "total_enrolled": "累计参保人数合计", "timing": "是否按时", "remark": "说明",
}
REVISION_COLUMNS = {
    "report_date": "上报日期", "revision": "版本", "enrolled": "累计参保人数",
    "amount": "缴费金额（元）", "low_income_enrolled": "低收入人口参保人数", "upload_number": "上报编号",
    "kind": "类型", "file_name": "文件", "uploader": "填报人", "uploaded_at": "上报时间",
    "current": "当前有效", "note": "说明",
}


def _local(frame: pd.DataFrame, column: str) -> None:
    """UTC timestamps (naive) to the bureau's local time (naive, for display)."""
    if frame.empty:
        return
    zone = ZoneInfo(settings.timezone())
    frame[column] = (pd.to_datetime(frame[column]).dt.tz_localize("UTC").dt.tz_convert(zone)
                     .dt.tz_localize(None))


# Messages stored before they were bounded (STORED_LIMIT) may be huge: the log leaves them alone.
MESSAGES_READ = 1_000_000


def history(tx: Session, campaign_id: str, uploader: str | None = None,
            limit: int = 200) -> pd.DataFrame:
    """The newest uploads of a campaign (real ones, not demo data), with their outcome.

    status is 'accepted', 'rejected' or 'withdrawn' (accepted, then withdrawn by a later entry);
    `id` keys an upload, `number` is what people see (第 N 号, counting within the campaign).
    Stored messages are bounded (STORED_LIMIT entries, the last one standing for the rest); a
    list stored before that bound, longer than MESSAGES_READ characters, is not read at all.
    """
    frame = db.uploads.log(tx, campaign_id, uploader, limit, MESSAGES_READ)
    _local(frame, "uploaded_at")
    frame["remark"] = [_remark(r) for r in frame.to_dict("records")]
    frame = frame.drop(columns=["messages", "messages_length"])
    frame["timing"] = [
        "" if r["kind"] != "report" or r["status"] == "rejected" or pd.isna(r["on_time"])
        else ("按时" if r["on_time"] else "逾期") for r in frame.to_dict("records")]
    for column in ("number", "row_count", "unit_count", "total_enrolled", "withdraws",
                   "withdraws_number", "withdrawn_by", "withdrawn_by_number"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _remark(row: dict) -> str:
    if row["kind"] == "withdrawal":
        return f"撤回第 {row['withdraws_number']} 号上报"
    too_many = pd.isna(row["messages"]) and not pd.isna(row["messages_length"])
    stored = [] if too_many else from_json(None if pd.isna(row["messages"]) else row["messages"])
    errors, warnings = total(stored, ERROR), total(stored, WARNING)
    if row["status"] == "rejected":
        if too_many:
            return "未保存：问题过多，未能列出"
        if errors:
            first = next(p for p in stored if p.severity == ERROR).text
            more = f"等 {errors:,} 处错误" if errors > 1 else ""
            return f"未保存：{first}{more}"
        return f"未保存：有 {warnings} 条提醒未确认"
    parts = []
    if row["status"] == "withdrawn":
        parts.append(f"已由第 {row['withdrawn_by_number']} 号撤回")
    if warnings:
        parts.append(f"已确认 {warnings} 条提醒")
    return "；".join(parts)


def history_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The upload log with Chinese headers and labels, for the page and the CLI."""
    out = frame.copy()
    out["kind"] = out["kind"].map(UPLOAD_KIND_LABELS).fillna(out["kind"])
    out["status"] = out["status"].map(UPLOAD_STATUS_LABELS).fillna(out["status"])
    out["report_date"] = pd.to_datetime(out["report_date"]).dt.date
    out["uploaded_at"] = pd.to_datetime(out["uploaded_at"]).dt.strftime("%Y-%m-%d %H:%M")
    out["uploader"] = out["uploader"].fillna("")
    return out[list(HISTORY_COLUMNS)].rename(columns=HISTORY_COLUMNS)


def problems(tx: Session, upload_id: int) -> list[Problem]:
    """The messages stored with an upload (the reasons a rejected one was refused): at most
    STORED_LIMIT, then how many more there were."""
    found = db.uploads.messages(tx, upload_id, MESSAGES_READ)
    if found is None:
        return []
    stored, length = found
    if stored is None and length:
        return [Problem(None, f"这次上传记录的问题过多（{length:,} 个字符），无法列出；"
                              "请下载原始文件核查")]
    return bounded(from_json(stored), STORED_LIMIT)


def raw_file(tx: Session, campaign_id: str, number: int) -> tuple[str, bytes] | None:
    """The file of upload 第 `number` 号 exactly as it was uploaded (None when there is no such
    upload or it kept no bytes)."""
    upload_id = db.uploads.id_of(tx, campaign_id, number)
    found = None if upload_id is None else db.uploads.content(tx, campaign_id, upload_id)
    if found is None or found[1] is None:
        return None
    return found[0] or f"上报{number}", found[1]


def unit_history(tx: Session, campaign_id: str, code: str) -> pd.DataFrame:
    """Every revision of a unit's figure, newest date first, each with the upload that made it.

    `current` marks the revision that counts for its date; a revision without a figure
    (enrolled NULL) comes from a withdrawal and means "no figure for that date".
    """
    frame = db.reports.unit_revisions(tx, campaign_id, code)
    _local(frame, "uploaded_at")
    for column in ("enrolled", "low_income_enrolled", "upload_id", "upload_number", "withdraws",
                   "withdraws_number"):
        frame[column] = frame[column].astype("Int64")
    return frame


def revision_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A unit's revisions with Chinese headers: withdrawals say which upload they undid."""
    out = frame.copy()
    out["kind"] = [
        f"撤回第 {w} 号" if k == "withdrawal" else UPLOAD_KIND_LABELS.get(k, k)
        for k, w in zip(out["kind"], out["withdraws_number"])]
    out["report_date"] = pd.to_datetime(out["report_date"]).dt.date
    out["uploaded_at"] = pd.to_datetime(out["uploaded_at"]).dt.strftime("%Y-%m-%d %H:%M")
    out["current"] = out["current"].map({True: "是", False: ""})
    out["note"] = [
        ("该日期不再有数字" if pd.isna(e) else "恢复为此前的数字") if k == "withdrawal" else ""
        for k, e in zip(frame["kind"], frame["enrolled"])]
    out["uploader"] = out["uploader"].fillna("")
    return out[list(REVISION_COLUMNS)].rename(columns=REVISION_COLUMNS)


def local_time(value: dt.datetime) -> dt.datetime:
    """A stored (UTC, naive) time in the bureau's time zone."""
    return value.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(settings.timezone()))
