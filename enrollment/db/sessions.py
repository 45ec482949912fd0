"""Login sessions: one row per login, keyed by the SHA-256 of its random token (never the token).

Whether a session still opens the app (not revoked, not expired, its account active) is decided
in enrollment/identity/accounts.py.
"""

from __future__ import annotations

import datetime as dt

from .engine import Session


def insert(tx: Session, token_hash: str, user_name: str, created_at: dt.datetime,
           expires_at: dt.datetime, address: str | None) -> None:
    tx.run("""INSERT INTO sessions (token_hash, user_name, created_at, expires_at, revoked_at,
                  address)
              VALUES (:token, :name, :at, :until, NULL, :address)""",
           {"token": token_hash, "name": user_name, "at": created_at, "until": expires_at,
            "address": address})


def get(tx: Session, token_hash: str) -> dict | None:
    """user_name, expires_at and revoked_at of a session, with its account's role and active;
    None when there is no such session (or no such account)."""
    return tx.row("""
        SELECT s.user_name, s.expires_at, s.revoked_at, u.role, u.active
        FROM sessions s JOIN users u ON u.name = s.user_name
        WHERE s.token_hash = :token""", {"token": token_hash})


def revoke(tx: Session, token_hash: str, now: dt.datetime) -> None:
    tx.run("UPDATE sessions SET revoked_at = :now WHERE token_hash = :token",
           {"now": now, "token": token_hash})


def revoke_all(tx: Session, user_name: str, now: dt.datetime, keep: str | None = None) -> None:
    """End every open session of an account, except the one whose token hash is `keep`."""
    tx.run("UPDATE sessions SET revoked_at = :now WHERE user_name = :name AND revoked_at IS NULL "
           "AND token_hash IS DISTINCT FROM CAST(:keep AS VARCHAR)",
           {"now": now, "name": user_name, "keep": keep})
