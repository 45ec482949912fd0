"""The upload log and every revision of a unit's figure: what was sent, by whom, when.

Read-only views over the `uploads` and `reports` tables for the 数据上报 page and the CLI. Times are
stored in UTC and shown in the bureau's time zone (ENROLLMENT_TIMEZONE).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from . import settings
from .labels import UPLOAD_KIND_LABELS, UPLOAD_STATUS_LABELS
from .problems import STORED_LIMIT, Problem, bounded, from_json

HISTORY_COLUMNS = {
    "id": "编号", "uploaded_at": "上报时间", "uploader": "填报人", "kind": "类型",
    "file_name": "文件", "report_date": "上报日期", "status": "状态", "unit_count": "单位数",
    "total_enrolled": "累计参保人数合计", "timing": "是否按时", "remark": "说明",
}
REVISION_COLUMNS = {
    "report_date": "上报日期", "revision": "版本", "enrolled": "累计参保人数",
    "amount": "缴费金额（元）", "low_income_enrolled": "低收入人口参保人数", "upload_id": "上报编号",
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
_MESSAGES_READ = 1_000_000


def history(con: duckdb.DuckDBPyConnection, campaign_id: str, uploader: str | None = None,
            limit: int = 200) -> pd.DataFrame:
    """The newest uploads of a campaign (real ones, not demo data), with their outcome.

    status is 'accepted', 'rejected' or 'withdrawn' (accepted, then withdrawn by a later entry).
    Of the stored messages only what the remark shows is read: the first error and the number
    of errors and warnings (counted in SQL, a bounded list's closing entry standing for the rest).
    """
    frame = con.execute(f"""
        WITH shown AS (
            SELECT id FROM uploads
            WHERE campaign_id = $c AND source = 'upload' AND kind IN ('report', 'withdrawal')
              AND ($who IS NULL OR uploader = $who)
            ORDER BY id DESC LIMIT $n),
        listed AS (
            SELECT u.*, CASE WHEN length(u.messages) <= {_MESSAGES_READ}
                        THEN CAST(json_extract(u.messages, '$[*]') AS JSON[]) END AS items
            FROM uploads u JOIN shown USING (id))
        SELECT u.id, u.uploaded_at, u.uploader, u.kind, u.file_name, u.report_date,
               CASE WHEN w.id IS NOT NULL THEN 'withdrawn' ELSE u.status END AS status,
               u.row_count, u.unit_count, u.total_enrolled, u.on_time, u.withdraws,
               w.id AS withdrawn_by, u.size,
               coalesce(length(u.messages) > {_MESSAGES_READ}, false) AS too_many,
               CAST(list_filter(u.items, lambda x:
                   json_extract_string(x, '$.severity') = 'error')[1] AS VARCHAR) AS first_error,
               {_count_sql('error')} AS error_count,
               {_count_sql('warning')} AS warning_count
        FROM listed u
        LEFT JOIN uploads w ON w.kind = 'withdrawal' AND w.withdraws = u.id
        ORDER BY u.id DESC""",
        {"c": campaign_id, "who": uploader or None, "n": limit}).df()
    _local(frame, "uploaded_at")
    frame["remark"] = [_remark(r) for r in frame.to_dict("records")]
    frame = frame.drop(columns=["too_many", "first_error", "error_count", "warning_count"])
    frame["timing"] = [
        "" if r["kind"] != "report" or r["status"] == "rejected" or pd.isna(r["on_time"])
        else ("按时" if r["on_time"] else "逾期") for r in frame.to_dict("records")]
    for column in ("row_count", "unit_count", "total_enrolled", "withdraws", "withdrawn_by"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _count_sql(severity: str) -> str:
    return (f"coalesce(list_sum(list_transform(u.items, lambda x: CASE WHEN "
            f"json_extract_string(x, '$.severity') = '{severity}' THEN "
            f"coalesce(CAST(json_extract(x, '$.count') AS BIGINT), 1) ELSE 0 END)), 0)")


def _remark(row: dict) -> str:
    if row["kind"] == "withdrawal":
        return f"撤回第 {row['withdraws']} 号上报"
    errors, warnings = int(row["error_count"]), int(row["warning_count"])
    if row["status"] == "rejected":
        if row["too_many"]:
            return "未保存：问题过多，未能列出"
        if errors:
            first = str(from_json(f"[{row['first_error']}]")[0]).removeprefix("[错误] ")
            more = f"等 {errors:,} 处错误" if errors > 1 else ""
            return f"未保存：{first}{more}"
        return f"未保存：有 {warnings} 条提醒未确认"
    parts = []
    if row["status"] == "withdrawn":
        parts.append(f"已由第 {row['withdrawn_by']} 号撤回")
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


def problems(con: duckdb.DuckDBPyConnection, upload_id: int) -> list[Problem]:
    """The messages stored with an upload (the reasons a rejected one was refused): at most
    STORED_LIMIT, then how many more there were."""
    row = con.execute(f"SELECT CASE WHEN length(messages) <= {_MESSAGES_READ} THEN messages END, "
                      "length(messages) FROM uploads WHERE id = ?", [upload_id]).fetchone()
    if row is None:
        return []
    if row[0] is None and row[1]:
        return [Problem(None, f"这次上传记录的问题过多（{row[1]:,} 个字符），无法列出；"
                              "请下载原始文件核查")]
    return bounded(from_json(row[0]), STORED_LIMIT)


def raw_file(con: duckdb.DuckDBPyConnection, campaign_id: str,
             upload_id: int) -> tuple[str, bytes] | None:
    """The file exactly as it was uploaded (None when the upload kept no bytes)."""
    row = con.execute("SELECT file_name, content FROM uploads WHERE campaign_id = ? AND id = ?",
                      [campaign_id, upload_id]).fetchone()
    if row is None or row[1] is None:
        return None
    return row[0] or f"上报{upload_id}", bytes(row[1])


def reported_units(con: duckdb.DuckDBPyConnection, campaign_id: str) -> pd.DataFrame:
    """Units that have at least one uploaded figure: code, name, level, revisions."""
    return con.execute("""
        SELECT u.code, u.name, u.level, count(*) AS revisions, max(r.report_date) AS last_date
        FROM reports r JOIN units u ON u.campaign_id = r.campaign_id AND u.code = r.unit_code
        WHERE r.campaign_id = ? AND r.source = 'upload'
        GROUP BY u.code, u.name, u.level, u.depth, u.position
        ORDER BY u.depth, u.position, u.code""", [campaign_id]).df()


def unit_history(con: duckdb.DuckDBPyConnection, campaign_id: str, code: str) -> pd.DataFrame:
    """Every revision of a unit's figure, newest date first, each with the upload that made it.

    `current` marks the revision that counts for its date; a revision without a figure
    (enrolled NULL) comes from a withdrawal and means "no figure for that date".
    """
    frame = con.execute("""
        SELECT r.report_date, r.revision, r.enrolled, r.amount, r.low_income_enrolled,
               r.upload_id, u.kind, u.file_name, u.uploader, u.uploaded_at, u.withdraws,
               r.revision = max(r.revision) OVER (PARTITION BY r.report_date) AS current
        FROM reports r LEFT JOIN uploads u ON u.id = r.upload_id
        WHERE r.campaign_id = ? AND r.source = 'upload' AND r.unit_code = ?
        ORDER BY r.report_date DESC, r.revision DESC""", [campaign_id, code]).df()
    _local(frame, "uploaded_at")
    for column in ("enrolled", "low_income_enrolled", "upload_id", "withdraws"):
        frame[column] = frame[column].astype("Int64")
    return frame


def revision_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A unit's revisions with Chinese headers: withdrawals say which upload they undid."""
    out = frame.copy()
    out["kind"] = [
        f"撤回第 {w} 号" if k == "withdrawal" else UPLOAD_KIND_LABELS.get(k, k)
        for k, w in zip(out["kind"], out["withdraws"])]
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
