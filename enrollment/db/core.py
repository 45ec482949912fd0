"""What both engines share: the faults, the Session (the unit of work every statement runs
through) and the Database every store is, with `:name` parameters in each engine's spelling and
`Spelling` for statements that differ. db/engine.py picks the engine; db/duckfile.py and
db/postgres.py are the two."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import psycopg
import psycopg_pool

# The engines' own errors, for callers that must tell them from their own.
EngineError = (duckdb.Error, psycopg.Error, psycopg_pool.PoolTimeout)


class StorageError(Exception):
    """A problem with the database that the user can act on (message in Chinese)."""


class DatabaseBusy(StorageError):
    """Another process held the database file for longer than the lock timeout."""


class NotInitialized(StorageError):
    """The database has no schema yet."""


class DatabaseDamaged(StorageError):
    """The database file or its write-ahead log cannot be read; `restore` is the way out."""


class DiskFull(StorageError):
    """The disk holding the database is full; nothing of the failed write was kept."""


class DatabaseUnavailable(StorageError):
    """The database server cannot be reached for the moment (restarting, refused); the
    connection pool keeps trying, so a page asks again by itself."""


def is_url(target: str | Path | None) -> bool:
    """Whether a database target names a PostgreSQL server rather than a DuckDB file."""
    return str(target or "").startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class Spelling:
    """One statement in each engine's dialect, side by side, where the two differ."""
    duckdb: str
    postgresql: str

    def of(self, dialect: str) -> str:
        return getattr(self, dialect)


# `:name` parameters, skipping string literals, comments and `::` casts; `%` and `?` are
# found too, as psycopg's spelling must escape a literal `%`.
_TOKENS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|::|:([A-Za-z_][A-Za-z0-9_]*)|(%)")


@functools.lru_cache(maxsize=4096)
def translate(sql: str, style: str) -> tuple[str, frozenset[str]]:
    """The statement with its `:name` parameters in an engine's spelling (`$name` for DuckDB,
    `%(name)s` for psycopg, which also needs a literal `%` doubled), and the names it uses."""
    names: set[str] = set()

    def swap(match: re.Match) -> str:
        if match.group(2) is not None:
            return "%%" if style == "pyformat" else "%"
        if match.group(1) is None:            # a literal, a comment or a cast
            return match.group(0).replace("%", "%%") if style == "pyformat" else match.group(0)
        names.add(match.group(1))
        return f"%({match.group(1)})s" if style == "pyformat" else "$" + match.group(1)

    return _TOKENS.sub(swap, sql), frozenset(names)


class Session:
    """One connection for one unit of work (a read, or one write transaction).

    Statements take named parameters (`:name`) from a mapping; parameters a statement does not
    use are ignored, so one mapping can serve several statements. A statement may be a
    `Spelling`: the session runs its own engine's text. Subclasses connect the engine.
    """

    dialect = ""        # "duckdb" or "postgresql"
    raw = None          # the engine's own connection, for the data layer and tests only

    def text(self, sql: str | Spelling) -> str:
        """A statement in this session's dialect."""
        return sql.of(self.dialect) if isinstance(sql, Spelling) else sql

    def _execute(self, sql: str | Spelling, params: Mapping | None):
        """Run a statement; returns a cursor-like object with fetchone/fetchall/description."""
        raise NotImplementedError

    def run(self, sql: str | Spelling, params: Mapping | None = None) -> None:
        """A statement whose result is not needed (INSERT, UPDATE, DDL)."""
        self._execute(sql, params)

    def tuples(self, sql: str | Spelling, params: Mapping | None = None) -> list[tuple]:
        return [tuple(r) for r in self._execute(sql, params).fetchall()]

    def rows(self, sql: str | Spelling, params: Mapping | None = None) -> list[dict]:
        cur = self._execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def row(self, sql: str | Spelling, params: Mapping | None = None) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str | Spelling, params: Mapping | None = None):
        """The first column of the first row (None when there is no row)."""
        row = self._execute(sql, params).fetchone()
        return None if row is None else row[0]

    def column(self, sql: str | Spelling, params: Mapping | None = None) -> list:
        return [r[0] for r in self._execute(sql, params).fetchall()]

    def frame(self, sql: str | Spelling, params: Mapping | None = None) -> pd.DataFrame:
        """The result as a frame: integers int64/int32 (Int64/Int32 with NULLs), DECIMAL and
        NUMERIC float64, DATE and TIMESTAMP datetime64[us], text str, booleans bool/boolean."""
        raise NotImplementedError

    def arrays(self, sql: str | Spelling, params: Mapping | None = None) -> dict:
        """The result as one numpy array per column, masked where NULL (DuckDB's fetchnumpy):
        for small results read often, without a DataFrame's fixed cost of building."""
        found = self.frame(sql, params)
        out = {}
        for name in found.columns:
            column = found[name]
            mask = column.isna().to_numpy()
            if column.dtype == object or str(column.dtype) == "str":
                values = column.to_numpy(dtype=object)
            elif hasattr(column.dtype, "numpy_dtype"):      # Int64, boolean: NA-aware
                values = column.to_numpy(dtype=column.dtype.numpy_dtype, na_value=0)
            else:
                values = column.to_numpy()
            out[name] = np.ma.masked_array(values, mask=mask)
        return out

    def next_ids(self, sequence: str, count: int = 1) -> list[int]:
        """`count` new numbers from a sequence (upload numbers, audit entries …)."""
        raise NotImplementedError

    def next_id(self, sequence: str) -> int:
        return self.value(f"SELECT nextval('{sequence}')")

    @contextmanager
    def relations(self, **frames: pd.DataFrame) -> Iterator[Session]:
        """Data frames visible to SQL under the given names for the block (to join or insert)."""
        raise NotImplementedError
        yield self

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Append a frame's rows to a table (its columns in the table's order)."""
        raise NotImplementedError

    def lock(self, key: str, shared: bool = False) -> None:
        """Until this transaction ends, no other writer that asks for the same key goes on
        (e.g. two withdrawals of one campaign); `shared` holders of a key go on side by side
        and only wait for (and hold off) an exclusive one. Other writers are not held up."""
        raise NotImplementedError

    def begin(self) -> None:
        self.raw.begin()

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def checkpoint(self) -> None:
        """Write what was committed into the main file (DuckDB; nothing to do for a server)."""


class Database:
    """A database: a DuckDB file (duckfile.DuckStore) or a PostgreSQL database
    (postgres.ServerStore); `engine.Store(target)` gives the right one."""

    dialect = ""
    path: Path | None = None      # the DuckDB file; None for a server

    @property
    def target(self) -> str:
        """What opens this database again (a file path or a URL): the key of cached queries."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The database as messages name it (a URL without its password)."""
        raise NotImplementedError

    def read(self):
        raise NotImplementedError

    def write(self, bump: bool = True):
        raise NotImplementedError

    def data_version(self) -> int:
        """A number that changes with every committed write; keys cached query results."""
        with self.read() as tx:
            exists = tx.value("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_schema = current_schema() AND table_name = 'meta'")
            if not exists:
                return -1
            value = tx.value("SELECT value FROM meta WHERE key = 'data_version'")
        return int(value) if value is not None else -1

    def schema_version(self) -> int:
        with self.read() as tx:
            return schema_version(tx)


BUMP = "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'"


def data_version(tx: Session) -> int:
    """The data version as seen inside a unit of work (see Database.data_version)."""
    value = tx.value("SELECT value FROM meta WHERE key = 'data_version'")
    return int(value) if value is not None else -1


def schema_version(tx: Session) -> int:
    """The schema version of an open database; 0 when it has no schema yet."""
    exists = tx.value("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_schema = current_schema() AND table_name = 'schema_version'")
    if not exists:
        return 0
    return tx.value("SELECT coalesce(max(version), 0) FROM schema_version")
