"""The upload log: every file that reached the app (accepted or rejected, with its bytes), every
withdrawal, and the demo data's stand-in uploads."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session

# The columns of `uploads`, in table order.
COLUMNS = ("id", "campaign_id", "kind", "source", "file_name", "sha256", "size", "content",
           "uploader", "uploaded_at", "report_date", "status", "messages", "row_count",
           "unit_count", "total_enrolled", "on_time", "withdraws")

# An accepted upload that a later withdrawal undid.
_WITHDRAWN = "EXISTS (SELECT 1 FROM uploads w WHERE w.kind = 'withdrawal' AND w.withdraws = {u}.id)"


def new_id(tx: Session) -> int:
    return tx.next_id("upload_ids")


def insert(tx: Session, **values) -> None:
    """One upload log entry; columns not given are NULL."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown upload columns {sorted(unknown)}")
    tx.run(f"INSERT INTO uploads ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join(':' + c for c in COLUMNS)})",
           {c: values.get(c) for c in COLUMNS})


def log(tx: Session, campaign_id: str, uploader: str | None, limit: int,
        messages_read: int) -> pd.DataFrame:
    """The newest real uploads and withdrawals of a campaign, with their outcome.

    status is 'accepted', 'rejected' or 'withdrawn' (accepted, then withdrawn by a later entry).
    The stored messages come along only up to `messages_read` characters (older uploads may hold
    huge lists); `messages_length` says how long they were.
    """
    return tx.frame("""
        WITH shown AS (
            SELECT id FROM uploads
            WHERE campaign_id = :c AND source = 'upload' AND kind IN ('report', 'withdrawal')
              AND (CAST(:who AS VARCHAR) IS NULL OR uploader = :who)
            ORDER BY id DESC LIMIT :n)
        SELECT u.id, u.uploaded_at, u.uploader, u.kind, u.file_name, u.report_date,
               CASE WHEN w.id IS NOT NULL THEN 'withdrawn' ELSE u.status END AS status,
               u.row_count, u.unit_count, u.total_enrolled, u.on_time, u.withdraws,
               w.id AS withdrawn_by, u.size,
               CASE WHEN length(u.messages) <= :most THEN u.messages END AS messages,
               length(u.messages) AS messages_length
        FROM uploads u JOIN shown s ON s.id = u.id
        LEFT JOIN uploads w ON w.kind = 'withdrawal' AND w.withdraws = u.id
        ORDER BY u.id DESC""",
        {"c": campaign_id, "who": uploader or None, "n": limit, "most": messages_read})


def messages(tx: Session, upload_id: int, most: int) -> tuple[str | None, int | None] | None:
    """(the messages stored with an upload, when at most `most` characters; their length), or
    None when there is no such upload."""
    rows = tx.tuples("SELECT CASE WHEN length(messages) <= :most THEN messages END, "
                     "length(messages) FROM uploads WHERE id = :id", {"id": upload_id, "most": most})
    return rows[0] if rows else None


def content(tx: Session, campaign_id: str, upload_id: int) -> tuple[str | None, bytes | None] | None:
    """(file name, bytes) of an upload; None when there is no such upload."""
    row = tx.tuples("SELECT file_name, content FROM uploads WHERE campaign_id = :c AND id = :id",
                    {"c": campaign_id, "id": upload_id})
    if not row:
        return None
    name, data = row[0]
    return name, None if data is None else bytes(data)


def same_file(tx: Session, campaign_id: str, sha256: str, report_date: dt.date | None) -> list[tuple]:
    """Accepted, not withdrawn report uploads with this checksum: (id, uploader, uploaded_at,
    report_date), those for `report_date` first."""
    return tx.tuples(f"""
        SELECT id, uploader, uploaded_at, report_date FROM uploads u
        WHERE campaign_id = :c AND sha256 = :s AND kind = 'report' AND status = 'accepted'
          AND source = 'upload' AND NOT {_WITHDRAWN.format(u='u')}
        ORDER BY report_date = :d DESC NULLS LAST, id""", {"c": campaign_id, "s": sha256, "d": report_date})


def latest_withdrawable(tx: Session, campaign_id: str, uploader: str | None) -> dict | None:
    """The uploader's latest accepted upload that has not been withdrawn, or None."""
    return tx.row(f"""
        SELECT id, file_name, report_date, uploaded_at, unit_count, total_enrolled FROM uploads u
        WHERE campaign_id = :c AND kind = 'report' AND source = 'upload' AND status = 'accepted'
          AND uploader IS NOT DISTINCT FROM CAST(:who AS VARCHAR)
          AND NOT {_WITHDRAWN.format(u='u')}
        ORDER BY id DESC LIMIT 1""", {"c": campaign_id, "who": uploader})


def insert_frame(tx: Session, rows: pd.DataFrame) -> None:
    """Many log entries at once (columns COLUMNS), e.g. the stand-ins of demo data."""
    tx.insert_frame("uploads", rows[list(COLUMNS)])
