"""Failed logins: per address (login_addresses) and per login name and address (login_locks).

Only records: the policy (how many failures, how long to wait or lock, when a record is stale)
is enrollment/identity/accounts.py's and arrives here as numbers and times. Each table holds one
row per key; there is no key constraint because DuckDB refuses deleting and inserting one key in
a transaction, so the callers look a row up before they insert it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .engine import Session

# --- per address ------------------------------------------------------------------------------


def address(tx: Session, client: str) -> dict | None:
    """failures, window_start, last_failure and blocked_until of an address, or None."""
    return tx.row("SELECT failures, window_start, last_failure, blocked_until "
                  "FROM login_addresses WHERE address = :a", {"a": client})


def forget_addresses(tx: Session, window_before: dt.datetime, now: dt.datetime) -> None:
    """Drop the addresses whose window began at or before `window_before` and whose wait, if
    any, is over at `now`."""
    tx.run("DELETE FROM login_addresses WHERE window_start <= :before "
           "AND coalesce(blocked_until, window_start) <= :now",
           {"before": window_before, "now": now})


def save_address(tx: Session, client: str, *, failures: int, window_start: dt.datetime,
                 last_failure: dt.datetime, blocked_until: dt.datetime | None,
                 new: bool) -> None:
    """Store an address's count (`new`: it has no row yet)."""
    values = {"a": client, "failures": failures, "start": window_start, "last": last_failure,
              "until": blocked_until}
    if new:
        tx.run("INSERT INTO login_addresses (address, failures, window_start, last_failure, "
               "blocked_until) VALUES (:a, :failures, :start, :last, :until)", values)
    else:
        tx.run("UPDATE login_addresses SET failures = :failures, window_start = :start, "
               "last_failure = :last, blocked_until = :until WHERE address = :a", values)


def clear_address(tx: Session, client: str) -> int:
    """Remove an address's count and every lock from it; returns how many rows that was."""
    cleared = (tx.value("SELECT count(*) FROM login_addresses WHERE address = :a", {"a": client})
               + tx.value("SELECT count(*) FROM login_locks WHERE address = :a", {"a": client}))
    tx.run("DELETE FROM login_addresses WHERE address = :a", {"a": client})
    tx.run("DELETE FROM login_locks WHERE address = :a", {"a": client})
    return cleared


# --- per login name and address ------------------------------------------------------------------


def lock(tx: Session, name_hash: str, client: str) -> dict | None:
    """failures, last_failure and locked_until of a name from an address, or None."""
    return tx.row("SELECT failures, last_failure, locked_until FROM login_locks "
                  "WHERE name_hash = :h AND address = :a", {"h": name_hash, "a": client})


def locks(tx: Session, name_hash: str) -> list[dict]:
    """address, failures, last_failure and locked_until of a name, from every address."""
    return tx.rows("SELECT address, failures, last_failure, locked_until FROM login_locks "
                   "WHERE name_hash = :h ORDER BY address", {"h": name_hash})


def by_name(tx: Session, name_hashes: Iterable[str]) -> dict[str, tuple[int, dt.datetime | None]]:
    """For each name with a record: (the most failures in a row from one address, the end of
    its latest lock or None)."""
    hashes = list(name_hashes)
    if not hashes:
        return {}
    rows = tx.tuples("SELECT name_hash, max(failures), max(locked_until) FROM login_locks "
                     "WHERE name_hash IN (SELECT unnest(CAST(:h AS VARCHAR[]))) "
                     "GROUP BY name_hash", {"h": hashes})
    return {h: (failures, until) for h, failures, until in rows}


def forget_locks(tx: Session, failed_before: dt.datetime, now: dt.datetime) -> None:
    """Drop the locks whose last failure was at or before `failed_before` and whose lock, if
    any, is over at `now`."""
    tx.run("DELETE FROM login_locks WHERE last_failure <= :before "
           "AND coalesce(locked_until, last_failure) <= :now",
           {"before": failed_before, "now": now})


def save_lock(tx: Session, name_hash: str, client: str, *, failures: int,
              last_failure: dt.datetime, locked_until: dt.datetime | None, new: bool) -> None:
    """Store a name's count from an address (`new`: it has no row yet)."""
    values = {"h": name_hash, "a": client, "failures": failures, "last": last_failure,
              "until": locked_until}
    if new:
        tx.run("INSERT INTO login_locks (name_hash, address, failures, last_failure, "
               "locked_until) VALUES (:h, :a, :failures, :last, :until)", values)
    else:
        tx.run("UPDATE login_locks SET failures = :failures, last_failure = :last, "
               "locked_until = :until WHERE name_hash = :h AND address = :a", values)


def clear_lock(tx: Session, name_hash: str, client: str) -> None:
    tx.run("DELETE FROM login_locks WHERE name_hash = :h AND address = :a",
           {"h": name_hash, "a": client})


def clear_name(tx: Session, name_hash: str) -> None:
    """Remove a name's locks and counts from every address."""
    tx.run("DELETE FROM login_locks WHERE name_hash = :h", {"h": name_hash})
