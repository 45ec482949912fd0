"""Transitional: accounts and backup still use these names until their SQL moves to db/."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .db import (  # noqa: F401
    LATEST_VERSION,
    MIGRATIONS,
    DatabaseBusy,
    DatabaseDamaged,
    DiskFull,
    Migration,
    NotInitialized,
    StorageError,
    Store,
    explain,
    migrate,
    require_schema,
    schema_version,
)
from .db.engine import write_lock as _write_lock  # noqa: F401


def _raw(con):
    return getattr(con, "raw", con)


@contextmanager
def registered(con, **frames) -> Iterator:
    raw = _raw(con)
    for name, frame in frames.items():
        raw.register(name, frame)
    try:
        yield con
    finally:
        for name in frames:
            raw.unregister(name)


def fetch_dicts(con, sql: str, params: Sequence | dict | None = None) -> list[dict]:
    cur = _raw(con).execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]
