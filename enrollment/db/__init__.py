"""The data layer: the only place that opens connections or holds SQL.

`engine` owns the file, connections, write serialisation and the Session every statement runs
through; `schema` the tables, views and migrations; every other module one kind of record
(units, reports, targets, uploads, accounts, login sessions, failed logins, audit …), returning
dataclasses or frames; `weekly` the figures and tasks kept per week end. `backup` copies and
restores the whole database.
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
               weekly,
)
from .engine import (
               DatabaseBusy,
               DatabaseDamaged,
               DiskFull,
               EngineError,
               NotInitialized,
               Session,
               StorageError,
               Store,
               explain,
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
           "sessions", "targets", "units", "uploads", "weekly",
           "DatabaseBusy", "DatabaseDamaged", "DiskFull", "EngineError", "NotInitialized",
           "Session", "StorageError", "Store", "explain",
           "LATEST_VERSION", "MIGRATIONS", "Migration", "migrate", "require_schema",
           "schema_version"]
