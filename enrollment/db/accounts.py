"""Accounts (users) and the units a 填报员 answers for (user_units).

Only records: roles, password checks and who may change what live in enrollment/identity/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .engine import Session

# users.failed_logins and users.locked_until are not read: since schema version 3 a lock belongs
# to a login name and an address (db/logins.py).
_SELECT = """
    SELECT name, full_name, role, active, must_change_password, created_at, created_by,
           last_login_at,
           (SELECT array_agg(unit_code ORDER BY unit_code) FROM user_units
            WHERE user_name = u.name) AS units
    FROM users u"""


def count(tx: Session) -> int:
    """How many accounts exist, active or not."""
    return tx.value("SELECT count(*) FROM users")


def get(tx: Session, name: str) -> dict | None:
    """The account of exactly this name (its units a list, None when it has none), or None."""
    return tx.row(f"{_SELECT} WHERE name = :name", {"name": name})


def all_rows(tx: Session) -> list[dict]:
    """Every account, oldest first (as `get`)."""
    return tx.rows(f"{_SELECT} ORDER BY created_at, name")


def credentials(tx: Session, name: str) -> dict | None:
    """password_hash, role and active of an account, or None (never shown to anyone)."""
    return tx.row("SELECT password_hash, role, active FROM users WHERE name = :name",
                  {"name": name})


def insert(tx: Session, *, name: str, full_name: str | None, role: str, password_hash: str,
           must_change_password: bool, created_at: dt.datetime, created_by: str | None) -> None:
    """A new active account."""
    tx.run("""INSERT INTO users (name, full_name, role, password_hash, active,
                  must_change_password, failed_logins, locked_until, created_at, created_by,
                  updated_at, last_login_at)
              VALUES (:name, :full, :role, :hash, TRUE, :must, 0, NULL, :at, :by, NULL, NULL)""",
           {"name": name, "full": full_name, "role": role, "hash": password_hash,
            "must": must_change_password, "at": created_at, "by": created_by})


def set_role(tx: Session, name: str, role: str, full_name: str | None, now: dt.datetime) -> None:
    tx.run("UPDATE users SET role = :role, full_name = :full, updated_at = :now WHERE name = :name",
           {"role": role, "full": full_name, "now": now, "name": name})


def set_active(tx: Session, name: str, active: bool, now: dt.datetime) -> None:
    tx.run("UPDATE users SET active = :active, updated_at = :now WHERE name = :name",
           {"active": active, "now": now, "name": name})


def set_password(tx: Session, name: str, password_hash: str, must_change: bool,
                 now: dt.datetime) -> None:
    """A new password (as its hash), and whether it must be changed at the next login."""
    tx.run("UPDATE users SET password_hash = :hash, must_change_password = :must, "
           "updated_at = :now WHERE name = :name",
           {"hash": password_hash, "must": must_change, "now": now, "name": name})


def rehash(tx: Session, name: str, password_hash: str) -> None:
    """The same password under new hashing parameters (not a change: updated_at stays)."""
    tx.run("UPDATE users SET password_hash = :hash WHERE name = :name",
           {"hash": password_hash, "name": name})


def logged_in(tx: Session, name: str, now: dt.datetime) -> None:
    tx.run("UPDATE users SET last_login_at = :now WHERE name = :name", {"now": now, "name": name})


def last_campaign(tx: Session, name: str) -> str | None:
    """The campaign the account used last (None before its first use or without account)."""
    # column(): a fully read result (see next_number in uploads.py).
    found = tx.column("SELECT last_campaign FROM users WHERE name = :name", {"name": name})
    return found[0] if found else None


def set_last_campaign(tx: Session, name: str, campaign_id: str) -> None:
    tx.run("UPDATE users SET last_campaign = :c WHERE name = :name",
           {"c": campaign_id, "name": name})


def active_with_role(tx: Session, role: str, besides: str) -> int:
    """How many active accounts other than `besides` have the role."""
    return tx.value("SELECT count(*) FROM users WHERE role = :role AND active AND name <> :name",
                    {"role": role, "name": besides})


def set_units(tx: Session, name: str, codes: Iterable[str]) -> None:
    """The account's units are exactly `codes` (unit codes, shared by every campaign)."""
    tx.run("DELETE FROM user_units WHERE user_name = :name", {"name": name})
    for code in codes:
        tx.run("INSERT INTO user_units (user_name, unit_code) VALUES (:name, :code)",
               {"name": name, "code": code})
