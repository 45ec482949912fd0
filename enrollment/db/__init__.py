"""The data layer: the only place that opens connections or holds SQL.

`engine` gives the Store (a DuckDB file, `duckfile`, or a PostgreSQL database, `postgres`) and
the Session every statement runs through; `schema` the tables, views and migrations; every other module one kind of record
(units, reports, targets, uploads, accounts, login sessions, failed logins, audit …), returning
dataclasses or frames. `backup` copies and restores the whole database.
"""

from . import (
               accounts,
               audit,
               campaigns,
               divisions,
               logins,
               reports,
               rollup,
               sessions,
               targets,
               units,
               uploads,
)
from .engine import (
               DatabaseBusy,
               DatabaseDamaged,
               DatabaseUnavailable,
               DiskFull,
               EngineError,
               NotInitialized,
               Session,
               Spelling,
               StorageError,
               Store,
               explain,
               open_store,
)
from .schema import (
               LATEST_VERSION,
               MIGRATIONS,
               Migration,
               migrate,
               require_schema,
               schema_version,
)

__all__ = ["accounts", "audit", "campaigns", "divisions", "logins", "reports", "rollup",
           "sessions", "targets", "units", "uploads",
           "DatabaseBusy", "DatabaseDamaged", "DatabaseUnavailable", "DiskFull", "EngineError",
           "NotInitialized", "Session", "Spelling", "StorageError", "Store", "explain",
           "open_store",
           "LATEST_VERSION", "MIGRATIONS", "Migration", "migrate", "require_schema",
           "schema_version"]
