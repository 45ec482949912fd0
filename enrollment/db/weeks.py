"""Locked weeks: a week's figures locked when its bulletin is published (or by hand), the
exceptions granted for single units, and unlocking. Nothing is deleted: an unlock or a revoked
exception is a time stamp on its row."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session


def current_lock(tx: Session, campaign_id: str, week_end: dt.date) -> dict | None:
    """The lock in force on the week that ends on `week_end`, or None."""
    return tx.row("""
        SELECT id, campaign_id, week_end, locked_by, locked_at, bulletin_id FROM week_locks
        WHERE campaign_id = :c AND week_end = :w AND unlocked_at IS NULL
        ORDER BY id DESC LIMIT 1""", {"c": campaign_id, "w": week_end})


def insert_lock(tx: Session, campaign_id: str, week_end: dt.date, by: str | None,
                at: dt.datetime, bulletin_id: int | None) -> int:
    lock_id = tx.next_id("week_lock_ids")
    tx.run("""INSERT INTO week_locks (id, campaign_id, week_end, locked_by, locked_at, bulletin_id)
              VALUES (:id, :c, :w, :by, :at, :b)""",
           {"id": lock_id, "c": campaign_id, "w": week_end, "by": by, "at": at, "b": bulletin_id})
    return lock_id


def attach_bulletin(tx: Session, lock_id: int, bulletin_id: int) -> None:
    """A week locked by hand and then published: the lock now belongs to the bulletin."""
    tx.run("UPDATE week_locks SET bulletin_id = :b WHERE id = :id AND bulletin_id IS NULL",
           {"b": bulletin_id, "id": lock_id})


def unlock(tx: Session, lock_id: int, by: str | None, at: dt.datetime, reason: str | None) -> None:
    tx.run("""UPDATE week_locks SET unlocked_by = :by, unlocked_at = :at, unlock_reason = :r
              WHERE id = :id""", {"by": by, "at": at, "r": reason, "id": lock_id})


def exceptions(tx: Session, lock_id: int) -> list[dict]:
    """The exceptions in force under a lock, oldest first."""
    return tx.rows("""
        SELECT id, unit_code, reason, granted_by, granted_at FROM week_exceptions
        WHERE lock_id = :l AND revoked_at IS NULL ORDER BY id""", {"l": lock_id})


def insert_exception(tx: Session, lock_id: int, campaign_id: str, week_end: dt.date,
                     unit_code: str, reason: str, by: str | None, at: dt.datetime) -> int:
    exception_id = tx.next_id("week_exception_ids")
    tx.run("""INSERT INTO week_exceptions (id, lock_id, campaign_id, week_end, unit_code, reason,
                                           granted_by, granted_at)
              VALUES (:id, :l, :c, :w, :u, :r, :by, :at)""",
           {"id": exception_id, "l": lock_id, "c": campaign_id, "w": week_end, "u": unit_code,
            "r": reason, "by": by, "at": at})
    return exception_id


def revoke_exception(tx: Session, exception_id: int, by: str | None, at: dt.datetime) -> None:
    tx.run("UPDATE week_exceptions SET revoked_by = :by, revoked_at = :at WHERE id = :id",
           {"by": by, "at": at, "id": exception_id})


def locked_weeks(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every lock in force with its bulletin's time and the number of exceptions, by week."""
    return tx.frame("""
        SELECT l.id, l.week_end, l.locked_by, l.locked_at, l.bulletin_id,
               (SELECT count(*) FROM week_exceptions e
                WHERE e.lock_id = l.id AND e.revoked_at IS NULL) AS exceptions
        FROM week_locks l
        WHERE l.campaign_id = :c AND l.unlocked_at IS NULL
        ORDER BY l.week_end""", {"c": campaign_id})


def all_exceptions(tx: Session, campaign_id: str) -> pd.DataFrame:
    """The exceptions in force under every lock in force."""
    return tx.frame("""
        SELECT e.id, e.week_end, e.unit_code, u.name AS unit_name, e.reason, e.granted_by,
               e.granted_at
        FROM week_exceptions e
        JOIN week_locks l ON l.id = e.lock_id AND l.unlocked_at IS NULL
        LEFT JOIN units u ON u.campaign_id = e.campaign_id AND u.code = e.unit_code
        WHERE e.campaign_id = :c AND e.revoked_at IS NULL
        ORDER BY e.week_end, e.id""", {"c": campaign_id})
