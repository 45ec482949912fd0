"""The database and the unit of work (Session) that all SQL runs through, whichever engine holds it.

Two engines sit behind one data layer. `ENROLLMENT_DB` (or `--db`) names either a file (DuckDB,
embedded, one process at a time: db/duckfile.py) or a `postgresql://` URL (PostgreSQL through
psycopg's connection pool, any number of processes and servers: db/postgres.py).
`Store(target)` (or `open_store`) returns the right one; both give the same ways in:

* `read()`: a Session for reading;
* `write(bump=True)`: one transaction, committed only if the block succeeds; the data version
  (a row of `meta`, keying every cached query of every app server) goes up with it;
* `data_version()`, `schema_version()`, `target` (what opens it again), `name` (for messages).

SQL is written once for both engines (db/core.py): named parameters as `:name` (translated to
the engine's spelling: `$name` for DuckDB, `%(name)s` for psycopg), standard SQL wherever the
engines agree. Where they differ a statement is a `Spelling` holding both side by side; the
Session picks its own. Sessions offer what the dialects do differently as methods:
`relations` (frames visible to SQL), `insert_frame`, `next_ids`, `lock` (one writer at a time
for a key), `checkpoint`.

Faults a user can act on (a damaged file, a full disk, a database server that is down for a
moment) become a StorageError with a Chinese explanation (`explain`), raised from opening,
reading and writing alike; the CLI and the app show it instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import psycopg_pool

from .. import settings
from . import duckfile, postgres
from .core import (
    BUMP,
    Database,
    DatabaseBusy,
    DatabaseDamaged,
    DatabaseUnavailable,
    DiskFull,
    EngineError,
    NotInitialized,
    Session,
    Spelling,
    StorageError,
    data_version,
    is_url,
    schema_version,
    translate,
)
from .duckfile import DuckSession, DuckStore, rollback
from .holding import release, write_lock
from .postgres import ServerSession, ServerStore


class Store(Database):
    """The database a target names: `Store(path)` is a DuckStore, `Store("postgresql://…")` a
    ServerStore, `Store()` the one ENROLLMENT_DB names. (Used as a type, it means either.)"""

    def __new__(cls, target: str | Path | None = None, *args, **kwargs):
        chosen = target if target else settings.db_target()
        if is_url(chosen):
            return ServerStore(str(chosen), *args, **kwargs)
        return DuckStore(chosen, *args, **kwargs)


def open_store(target: str | Path | None = None, **options) -> Database:
    """The database `target` names (a file path or a postgresql:// URL; default ENROLLMENT_DB)."""
    return Store(target, **options)


def explain(exc: BaseException, where: Database | Path | str) -> StorageError | None:
    """The Chinese explanation of a storage fault, with what to do; None for other errors."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, (psycopg.Error, psycopg_pool.PoolTimeout)):
        return postgres.explain(exc, where.name if isinstance(where, Database) else str(where))
    return duckfile.explain(exc, where.path if isinstance(where, Database) else Path(where))


def raise_explained(exc: BaseException, where: Database | Path | str) -> None:
    """Raise the explanation of a storage fault in place of the engine's error, if it is one."""
    explained = explain(exc, where)
    if explained is not None and explained is not exc:
        raise explained from exc


__all__ = ["BUMP", "Database", "DatabaseBusy", "DatabaseDamaged", "DatabaseUnavailable",
           "DiskFull", "DuckSession", "DuckStore", "EngineError", "NotInitialized",
           "ServerSession", "ServerStore", "Session", "Spelling", "StorageError", "Store",
           "data_version", "explain", "is_url", "open_store", "raise_explained", "release",
           "rollback", "schema_version", "translate", "write_lock"]

