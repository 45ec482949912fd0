"""The upload log: every file that reached the app (accepted or rejected, with its bytes), every
withdrawal, and the demo data's stand-in uploads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from .engine import Session

# The columns of `uploads` a caller gives, in table order; `number` (the last column) is given
# here: it counts the uploads of a campaign and source, in two series (TARGETS_SERIES).
COLUMNS = ("id", "campaign_id", "kind", "source", "file_name", "sha256", "size", "content",
           "uploader", "uploaded_at", "report_date", "status", "messages", "row_count",
           "unit_count", "total_enrolled", "on_time", "withdraws")
# Friday reports and their withdrawals are numbered together (第 1 号上报, 撤回第 1 号 …);
# the files of target tables apart.
TARGETS_SERIES = "(kind = 'targets') = (CAST(:kind AS VARCHAR) = 'targets')"

# An accepted upload that a later withdrawal undid.
_WITHDRAWN = "EXISTS (SELECT 1 FROM uploads w WHERE w.kind = 'withdrawal' AND w.withdraws = {u}.id)"


def new_id(tx: Session) -> int:
    return tx.next_id("upload_ids")


def next_number(tx: Session, campaign_id: str, source: str, kind: str) -> int:
    """The number the next upload of this kind gets in its campaign (1 for the first).

    Computed inside the writing transaction. DuckDB's writers take turns anyway; on PostgreSQL
    uploads of a campaign write side by side, so numbering takes turns per campaign (a lock
    held to the commit) and two uploads never get the same number.
    """
    tx.lock(f"numbers:{campaign_id}")
    # column(), not value(): a half-read result would block registering a frame afterwards.
    return tx.column(f"SELECT coalesce(max(number), 0) + 1 FROM uploads "
                     f"WHERE campaign_id = :c AND source = :s AND {TARGETS_SERIES}",
                     {"c": campaign_id, "s": source, "kind": kind})[0]


def insert(tx: Session, **values) -> int:
    """One upload log entry; columns not given are NULL. Returns its number in the campaign."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown upload columns {sorted(unknown)}")
    number = next_number(tx, values["campaign_id"], values["source"], values["kind"])
    tx.run(f"INSERT INTO uploads ({', '.join(COLUMNS)}, number) "
           f"VALUES ({', '.join(':' + c for c in COLUMNS)}, :number)",
           {**{c: values.get(c) for c in COLUMNS}, "number": number})
    return number


def id_of(tx: Session, campaign_id: str, number: int) -> int | None:
    """The id of a campaign's report or withdrawal numbered `number` (real uploads)."""
    # column(): a fully read result (see next_number in uploads.py).
    found = tx.column("SELECT id FROM uploads WHERE campaign_id = :c AND source = 'upload' "
                      "AND kind <> 'targets' AND number = :n", {"c": campaign_id, "n": number})
    return found[0] if found else None


def numbers(tx: Session, ids: Iterable[int]) -> dict[int, int]:
    """The numbers of uploads, by id."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    return dict(tx.tuples("SELECT id, number FROM uploads "
                          "WHERE id IN (SELECT unnest(CAST(:ids AS BIGINT[])))", {"ids": ids}))


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
        SELECT u.id, u.number, u.uploaded_at, u.uploader, u.kind, u.file_name, u.report_date,
               CASE WHEN w.id IS NOT NULL THEN 'withdrawn' ELSE u.status END AS status,
               u.row_count, u.unit_count, u.total_enrolled, u.on_time, u.withdraws,
               o.number AS withdraws_number, w.id AS withdrawn_by,
               w.number AS withdrawn_by_number, u.size,
               CASE WHEN length(u.messages) <= :most THEN u.messages END AS messages,
               length(u.messages) AS messages_length
        FROM uploads u JOIN shown s ON s.id = u.id
        LEFT JOIN uploads w ON w.kind = 'withdrawal' AND w.withdraws = u.id
        LEFT JOIN uploads o ON o.id = u.withdraws
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
    """Accepted, not withdrawn report uploads with this checksum: (number, uploader,
    uploaded_at, report_date), those for `report_date` first."""
    return tx.tuples(f"""
        SELECT number, uploader, uploaded_at, report_date FROM uploads u
        WHERE campaign_id = :c AND sha256 = :s AND kind = 'report' AND status = 'accepted'
          AND source = 'upload' AND NOT {_WITHDRAWN.format(u='u')}
        ORDER BY report_date = :d DESC NULLS LAST, id""", {"c": campaign_id, "s": sha256, "d": report_date})


def latest_withdrawable(tx: Session, campaign_id: str, uploader: str | None) -> dict | None:
    """The uploader's latest accepted upload that has not been withdrawn, or None."""
    return tx.row(f"""
        SELECT id, number, file_name, report_date, uploaded_at, unit_count, total_enrolled
        FROM uploads u
        WHERE campaign_id = :c AND kind = 'report' AND source = 'upload' AND status = 'accepted'
          AND uploader IS NOT DISTINCT FROM CAST(:who AS VARCHAR)
          AND NOT {_WITHDRAWN.format(u='u')}
        ORDER BY id DESC LIMIT 1""", {"c": campaign_id, "who": uploader})


def last_activity(tx: Session) -> dict[str, dt.datetime]:
    """Per campaign, when its latest real upload (report or withdrawal) arrived."""
    return dict(tx.tuples("SELECT campaign_id, max(uploaded_at) FROM uploads "
                          "WHERE source = 'upload' AND kind IN ('report', 'withdrawal') "
                          "GROUP BY campaign_id"))


def insert_frame(tx: Session, rows: pd.DataFrame) -> None:
    """Many log entries of one campaign, source and kind at once (columns COLUMNS), e.g. the
    stand-ins of demo data; numbered after the campaign's last one, in id order."""
    if rows.empty:
        return
    first = rows.iloc[0]
    start = next_number(tx, first["campaign_id"], first["source"], first["kind"])
    frame = rows[list(COLUMNS)].sort_values("id").assign(number=range(start, start + len(rows)))
    tx.insert_frame("uploads", frame)
