"""操作日志: who did what, when and from where. Append-only: this module only inserts and reads.

Every feature that changes data or lets data leave the app calls `record` inside the write
transaction of the change itself, so the log entry commits (or rolls back) with it:

    with store.write() as tx:
        ...                                   # the change
        audit.record(tx, actor, "targets_changed", "载入任务表 xxx.xlsx：6 个单位",
                     address, campaign_id=campaign.id, role=viewer.role)

Actions are the keys of `labels.AUDIT_ACTION_LABELS`. Nothing here updates or deletes a row;
a test checks that no module of the package issues UPDATE or DELETE on audit_log.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from zoneinfo import ZoneInfo

import pandas as pd

from .. import db, settings
from ..db import Session, Store
from ..labels import AUDIT_ACTION_LABELS, AUDIT_COLUMNS, ROLE_LABELS

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


def record(tx: Session, actor: str | None, action: str, detail: str = "",
           address: str | None = None, *, campaign_id: str | None = None,
           role: str | None = None, now: dt.datetime | None = None) -> int:
    """Append one entry to the audit log (inside the caller's transaction); returns its id.

    `actor` is the account name (or the name typed in open mode, or 命令行（os user）);
    `action` one of ACTIONS (ValueError otherwise); `address` the client address.
    """
    if action not in AUDIT_ACTION_LABELS:
        raise ValueError(f"unknown audit action {action!r}")
    return db.audit.insert(tx, now or now_utc(), clean(actor), clean(role), action,
                           clean(detail, MAX_DETAIL), clean(address), clean(campaign_id))


def log(store: Store, actor: str | None, action: str, detail: str = "",
        address: str | None = None, **kwargs) -> int:
    """`record` in a write transaction of its own (for actions that change nothing else, so
    the data version, which keys the app's cached queries, stays as it is)."""
    with store.write(bump=False) as tx:
        return record(tx, actor, action, detail, address, **kwargs)


def query(tx: Session, *, actor: str | None = None,
          actions: list[str] | tuple[str, ...] | None = None, since: dt.date | None = None,
          until: dt.date | None = None, text: str | None = None, campaign_id: str | None = None,
          limit: int | None = None) -> pd.DataFrame:
    """Entries newest first, filtered; dates are local days (ENROLLMENT_TIMEZONE), inclusive.

    `text` matches the detail, actor or address (case-insensitive, literally: % and _ are not
    wildcards).
    """
    return db.audit.entries(
        tx, actor=actor, actions=actions, since=_utc_start(since) if since else None,
        until=_utc_start(until + dt.timedelta(days=1)) if until else None, text=text,
        campaign_id=campaign_id, limit=limit)


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
