"""The data layer: the only place that opens connections or holds SQL.

`engine` gives the Store (a DuckDB file, `duckfile`, held open as `holding` says, or a
PostgreSQL database, `postgres`) and the Session every statement runs through; `schema` the
tables, views and migrations; every other module one kind of record (units, reports, targets,
uploads, accounts, login sessions, failed logins, audit …), returning dataclasses or frames;
`weekly` the figures and tasks kept per week end. `backup` copies and restores the whole
database.
"""

from . import (accounts, audit, bulletins, campaigns, contacts, divisions, groups,  # noqa: I001
               holding, logins, reports, rollup, sessions, targets, units, uploads, weekly,
               weeks, windows)
from .engine import (DatabaseBusy, DatabaseDamaged, DatabaseUnavailable, DiskFull, EngineError,
                     NotInitialized, Session, Spelling, StorageError, Store, explain, open_store)
from .schema import LATEST_VERSION, MIGRATIONS, Migration, migrate, require_schema, schema_version

__all__ = ["accounts", "audit", "bulletins", "campaigns", "contacts", "divisions", "groups",
           "holding", "logins", "reports", "rollup", "sessions", "targets", "units", "uploads",
           "weekly", "weeks", "windows",
           "DatabaseBusy", "DatabaseDamaged", "DatabaseUnavailable", "DiskFull", "EngineError",
           "NotInitialized", "Session", "Spelling", "StorageError", "Store", "explain",
           "open_store",
           "LATEST_VERSION", "MIGRATIONS", "Migration", "migrate", "require_schema",
           "schema_version"]
