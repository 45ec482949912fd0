"""操作日志: who did what, when and from where. Append-only: this module only inserts and reads.

Every feature that changes data or lets data leave the app calls `record` inside the write
transaction of the change itself, so the log entry commits (or rolls back) with it:

    with store.write() as con:
        ...                                   # the change
        audit.record(con, actor, "targets_changed", "载入任务表 xxx.xlsx：6 个单位",
                     address, campaign_id=campaign.id, role=viewer.role)

Actions are the keys of `labels.AUDIT_ACTION_LABELS`. Nothing here updates or deletes a row;
a test checks that no module of the package issues UPDATE or DELETE on audit_log.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from . import settings
from .labels import AUDIT_ACTION_LABELS, AUDIT_COLUMNS, ROLE_LABELS
from .storage import Store

ACTIONS = tuple(AUDIT_ACTION_LABELS)
MAX_FIELD = 200           # actor, address
MAX_DETAIL = 2000


def clean(text: object, limit: int = MAX_FIELD) -> str | None:
    """Text safe to store and show: control characters replaced, at most `limit` characters.

    Log lines must not be forged with new lines or hidden by control characters, and a
    100,000-character user name must not flood the log.
    """
    if text is None:
        return None
    value = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
                    for ch in str(text))
    value = re.sub(r" {2,}", " ", value).strip()
    if len(value) > limit:
        value = value[:limit - 1] + "…"
    return value


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record(con: duckdb.DuckDBPyConnection, actor: str | None, action: str, detail: str = "",
           address: str | None = None, *, campaign_id: str | None = None,
           role: str | None = None, now: dt.datetime | None = None) -> int:
    """Append one entry to the audit log (inside the caller's transaction); returns its id.

    `actor` is the account name (or the name typed in open mode, or 命令行（os user）);
    `action` one of ACTIONS (ValueError otherwise); `address` the client address.
    """
    if action not in AUDIT_ACTION_LABELS:
        raise ValueError(f"unknown audit action {action!r}")
    entry_id = con.execute("SELECT nextval('audit_ids')").fetchone()[0]
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [entry_id, now or now_utc(), clean(actor), clean(role), action,
         clean(detail, MAX_DETAIL), clean(address), clean(campaign_id)])
    return entry_id


def log(store: Store, actor: str | None, action: str, detail: str = "",
        address: str | None = None, **kwargs) -> int:
    """`record` in a write transaction of its own (for actions that change nothing else, so
    the data version, which keys the app's cached queries, stays as it is)."""
    with store.write(bump=False) as con:
        return record(con, actor, action, detail, address, **kwargs)


def query(con: duckdb.DuckDBPyConnection, *, actor: str | None = None,
          actions: list[str] | tuple[str, ...] | None = None, since: dt.date | None = None,
          until: dt.date | None = None, text: str | None = None, campaign_id: str | None = None,
          limit: int | None = None) -> pd.DataFrame:
    """Entries newest first, filtered; dates are local days (ENROLLMENT_TIMEZONE), inclusive.

    `text` matches the detail, actor or address (case-insensitive, literally: % and _ are not
    wildcards).
    """
    where, params = ["TRUE"], {}
    if actor:
        where.append("actor = $actor")
        params["actor"] = actor
    if actions:
        where.append("list_contains($actions, action)")
        params["actions"] = list(actions)
    if since:
        where.append("logged_at >= $since")
        params["since"] = _utc_start(since)
    if until:
        where.append("logged_at < $until")
        params["until"] = _utc_start(until + dt.timedelta(days=1))
    if text:
        where.append("(contains(lower(coalesce(detail, '')), lower($text)) "
                     "OR contains(lower(coalesce(actor, '')), lower($text)) "
                     "OR contains(lower(coalesce(address, '')), lower($text)))")
        params["text"] = text
    if campaign_id:
        where.append("campaign_id = $campaign")
        params["campaign"] = campaign_id
    sql = (f"SELECT id, logged_at, actor, role, action, detail, address, campaign_id FROM audit_log "
           f"WHERE {' AND '.join(where)} ORDER BY id DESC")
    if limit:
        sql += " LIMIT $limit"
        params["limit"] = int(limit)
    return con.execute(sql, params).df()


def actors(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Everyone who appears in the log, for a filter."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT actor FROM audit_log WHERE actor IS NOT NULL ORDER BY actor").fetchall()]


def _utc_start(day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(), ZoneInfo(settings.timezone()))
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The log as users read it: local times, Chinese action and role names, Chinese headers."""
    out = frame.copy()
    zone = ZoneInfo(settings.timezone())
    out["logged_at"] = [pd.Timestamp(t).tz_localize("UTC").tz_convert(zone).strftime(
        "%Y-%m-%d %H:%M:%S") for t in out["logged_at"]]
    out["action"] = out["action"].map(lambda a: AUDIT_ACTION_LABELS.get(a, a))
    out["role"] = out["role"].map(lambda r: ROLE_LABELS.get(r, r) if isinstance(r, str) else "")
    out = out.astype(object).where(out.notna(), "")
    return out[list(AUDIT_COLUMNS)].rename(columns=AUDIT_COLUMNS)
