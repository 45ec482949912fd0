"""The audit log (操作日志): append-only; this module only inserts and reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from .engine import Session


def insert(tx: Session, logged_at: dt.datetime, actor: str | None, role: str | None,
           action: str, detail: str | None, address: str | None,
           campaign_id: str | None) -> int:
    """Append one entry; returns its id."""
    entry_id = tx.next_id("audit_ids")
    tx.run("INSERT INTO audit_log VALUES (:id, :at, :actor, :role, :action, :detail, :address, "
           ":campaign)", {"id": entry_id, "at": logged_at, "actor": actor, "role": role,
                          "action": action, "detail": detail, "address": address,
                          "campaign": campaign_id})
    return entry_id


def entries(tx: Session, *, actor: str | None = None, actions: Sequence[str] | None = None,
            since: dt.datetime | None = None, until: dt.datetime | None = None,
            text: str | None = None, campaign_id: str | None = None,
            limit: int | None = None) -> pd.DataFrame:
    """Entries newest first; times are UTC bounds (since inclusive, until exclusive).

    `text` matches the detail, actor or address (case-insensitive, literally: % and _ are not
    wildcards).
    """
    where, params = ["TRUE"], {}
    if actor:
        where.append("actor = :actor")
        params["actor"] = actor
    if actions:
        where.append("action IN (SELECT unnest(CAST(:actions AS VARCHAR[])))")
        params["actions"] = list(actions)
    if since:
        where.append("logged_at >= :since")
        params["since"] = since
    if until:
        where.append("logged_at < :until")
        params["until"] = until
    if text:
        where.append("(strpos(lower(coalesce(detail, '')), lower(:text)) > 0 "
                     "OR strpos(lower(coalesce(actor, '')), lower(:text)) > 0 "
                     "OR strpos(lower(coalesce(address, '')), lower(:text)) > 0)")
        params["text"] = text
    if campaign_id:
        where.append("campaign_id = :campaign")
        params["campaign"] = campaign_id
    sql = (f"SELECT id, logged_at, actor, role, action, detail, address, campaign_id "
           f"FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = int(limit)
    return tx.frame(sql, params)


def actors(tx: Session) -> list[str]:
    """Everyone who appears in the log, for a filter."""
    return tx.column("SELECT DISTINCT actor FROM audit_log WHERE actor IS NOT NULL ORDER BY actor")
