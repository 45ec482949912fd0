"""A PostgreSQL database (a `postgresql://` URL): connections from a pool, the unit of work on
one, and the server's faults.

Several app servers and the CLI use one database at the same time. Each process keeps one
psycopg connection pool per URL (at most `ENROLLMENT_DB_POOL` connections; a connection is
checked before it is handed out, so a restarted server costs a reconnection, not an error
per stale connection). A unit of work borrows one connection for one short transaction:

* reads see committed data (READ COMMITTED) and end with a rollback;
* writes are one transaction, committed with the data version (the row `data_version` of
  `meta`) raised at its very end, so concurrent writers hold that row only between their last
  statement and their commit; every app server reads the row on each page run and so learns of
  the change at once (a NOTIFY on `enrollment_data` tells listeners too);
* writers do not wait for each other, except where two of them could change the same figures:
  those take `lock(key)` (transaction-scoped advisory locks: an upload a shared one on its
  campaign, a withdrawal an exclusive one; numbering revisions an exclusive one for the few
  milliseconds from the insert to the commit, see db/reports.py).

Sessions are in UTC (`TimeZone=UTC`), so times are stored as the DuckDB file stores them.
Frames come back with the dtypes DuckDB gives (see Session.frame); numeric results that are
whole numbers (sum of BIGINT) come back as int, as DuckDB's HUGEINT does.

A server that is restarting, refuses connections or cannot be reached within a few seconds is
`DatabaseUnavailable` with the Chinese 「数据库暂时无法连接，正在重试……」; the pool keeps
reconnecting in the background, so the next page run finds it again by itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psycopg
import psycopg.types.numpy
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import NumericLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from .. import settings
from .core import (
    BUMP,
    Database,
    DatabaseUnavailable,
    DiskFull,
    Session,
    Spelling,
    StorageError,
    translate,
)

# Seconds a unit of work waits for a connection (all busy, or the server away) before the page
# says that the database is briefly unavailable; and for one new connection.
POOL_WAIT = 5.0
CONNECT_TIMEOUT = 5

UNAVAILABLE = "数据库暂时无法连接，正在重试……"
_GONE = {"57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006", "53300"}


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    url = re.sub(r"(://[^:/@?]*):[^@/?]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


def explain(exc: BaseException, name: str) -> StorageError | None:
    """The Chinese explanation of a server fault, with what to do; None for other errors."""
    state = getattr(exc, "sqlstate", None)
    text = str(exc)
    if state == "53100" or "No space left on device" in text:
        return DiskFull(
            f"数据库服务器（{masked(name)}）的磁盘已满，无法写入。本次操作没有保存，已保存的数据不受影响。"
            "请清理数据库服务器的磁盘空间后重试。")
    if state == "42501":
        return StorageError(f"数据库账号没有所需的权限（{masked(name)}：{text}）。请数据库管理员授予该账号"
                            "对本数据库的读写和建表权限。")
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return StorageError(f"数据库 {masked(name)} 不存在。请先在 PostgreSQL 中创建它（createdb），"
                            "再运行 python -m enrollment init。")
    if state in ("28P01", "28000") or "password authentication failed" in text:
        return StorageError(f"无法登录数据库 {masked(name)}：用户名或密码不对，或服务器不允许该账号从本机连接。")
    if isinstance(exc, PoolTimeout) or (
            isinstance(exc, psycopg.OperationalError) and (state is None or state in _GONE)):
        return DatabaseUnavailable(
            f"{UNAVAILABLE}（{masked(name)}）数据库服务器可能正在重启或网络中断，恢复后页面会自动刷新；"
            "已保存的数据不受影响。")
    return None


class _WholeOrDecimal(NumericLoader):
    """NUMERIC as int when it is a whole number written without a point (sum of BIGINT), else
    Decimal: DuckDB gives HUGEINT sums as int and DECIMAL values as Decimal."""

    def load(self, data):
        raw = bytes(data)
        if b"." not in raw and raw.lstrip(b"-").isdigit():
            return int(raw)
        return super().load(data)


def _configure(con: psycopg.Connection) -> None:
    con.adapters.register_loader("numeric", _WholeOrDecimal)
    psycopg.types.numpy.register_default_adapters(con)


# One pool per URL in this process; a forked child (the sandbox that reads uploads) must never
# use the parent's connections, nor close them (that would end the parent's sessions).
_pools: dict[str, ConnectionPool] = {}
_pools_guard = threading.Lock()
_inherited: list = []


def _after_fork_in_child() -> None:
    global _pools, _pools_guard
    _inherited.extend(_pools.values())
    _pools, _pools_guard = {}, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def pool(url: str) -> ConnectionPool:
    """This process's connection pool for a URL (opened on first use)."""
    with _pools_guard:
        found = _pools.get(url)
        if found is None:
            found = ConnectionPool(
                url, min_size=1, max_size=settings.db_pool(), open=True, timeout=POOL_WAIT,
                configure=_configure, check=ConnectionPool.check_connection,
                kwargs={"options": "-c TimeZone=UTC", "connect_timeout": CONNECT_TIMEOUT,
                        "application_name": "enrollment"},
                name=f"enrollment-{masked(url)}")
            _pools[url] = found
        return found


def close_pools() -> None:
    """Close every pool of this process (tests, and before dropping a database)."""
    with _pools_guard:
        pools = list(_pools.values())
        _pools.clear()
    for p in pools:
        p.close()


# `?` parameters (DuckDB's positional spelling) and literal `%`, outside strings and comments.
_QMARK = re.compile(r"'(?:[^']|'')*'|--[^\n]*|(\?)|(%)")


def _qmark(sql: str) -> str:
    return _QMARK.sub(lambda m: "%s" if m.group(1) else "%%" if m.group(2)
                      else m.group(0).replace("%", "%%"), sql)


class Raw:
    """The psycopg connection with DuckDB's call shape (`execute(sql, [values])` with `?`,
    `begin`), so that a test's raw statement in standard SQL runs on either engine."""

    def __init__(self, con: psycopg.Connection):
        self.connection = con

    def execute(self, sql: str, params=None) -> psycopg.Cursor:
        if params is None:
            return self.connection.execute(sql)
        return self.connection.execute(_qmark(sql), list(params))

    def executemany(self, sql: str, rows) -> psycopg.Cursor:
        cur = self.connection.cursor()
        cur.executemany(_qmark(sql), [list(r) for r in rows])
        return cur

    def begin(self) -> None:
        """A transaction is always open (psycopg starts one with the first statement)."""

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


# Result columns by PostgreSQL type: what DuckDB's .df() would give for the same SQL type.
_INT32 = {21, 23}
_INT64 = {20, 26}
_FLOAT = {700, 701, 1700}
_BOOL = {16}
_TIMES = {1082, 1114}
_TEXT = {18, 19, 25, 1042, 1043}


def _column(values: list, oid: int):
    has_null = any(v is None for v in values)
    if oid in _INT32 or oid in _INT64:
        wide = oid in _INT64
        if has_null:
            return pd.array(values, dtype="Int64" if wide else "Int32")
        return np.array(values, dtype=np.int64 if wide else np.int32)
    if oid in _FLOAT:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if oid in _BOOL:
        return pd.array(values, dtype="boolean") if has_null else np.array(values, dtype=bool)
    if oid in _TIMES:
        return pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[us]").array
    if oid in _TEXT:
        if all(v is None for v in values):        # as DuckDB: no text at all stays object
            return np.array(values, dtype=object)
        return pd.array(values, dtype="str")
    if oid == 17:                                   # BYTEA: DuckDB gives bytearray
        return np.array([None if v is None else bytearray(v) for v in values], dtype=object)
    out = np.empty(len(values), dtype=object)       # arrays as numpy arrays, as DuckDB's lists
    out[:] = [np.array(v) if isinstance(v, list) else v for v in values]
    return out


def _sql_type(series: pd.Series, known: Mapping[str, str]) -> str:
    """The type of a temporary table's column for a frame's column."""
    kind = series.dtype.kind
    if kind == "b":
        return "BOOLEAN"
    if kind in "iu":
        return "BIGINT"
    if kind == "M":
        return "TIMESTAMP"
    sample = next((v for v in series if v is not None and not pd.isna(v)), None)
    if sample is None:
        return known.get(series.name, "DOUBLE PRECISION" if kind == "f" else "TEXT")
    for python, sql in ((bool, "BOOLEAN"), (int, "BIGINT"), (float, "DOUBLE PRECISION"),
                        (np.integer, "BIGINT"), (np.floating, "DOUBLE PRECISION"),
                        (decimal.Decimal, "NUMERIC"), (dt.datetime, "TIMESTAMP"),
                        (dt.date, "DATE"), (bytes, "BYTEA"), (bytearray, "BYTEA")):
        if isinstance(sample, python):
            return sql
    return "TEXT"


def _python_rows(frame: pd.DataFrame) -> Iterator[list]:
    """The frame's rows as Python values, missing values None (NaN, NaT, NA)."""
    plain = frame.astype(object).where(frame.notna(), None)
    for row in plain.itertuples(index=False, name=None):
        yield list(row)


class ServerSession(Session):
    """A unit of work on one pooled PostgreSQL connection."""

    dialect = "postgresql"

    def __init__(self, con: psycopg.Connection):
        self.con = con
        self.raw = Raw(con)

    def _execute(self, sql: str | Spelling, params: Mapping | None):
        statement = self.text(sql)
        text, names = translate(statement, "pyformat")
        if not names:
            return self.con.execute(statement)
        values = {k: v for k, v in (params or {}).items() if k in names}
        missing = names - values.keys()
        if missing:
            raise KeyError(f"SQL parameters without a value: {sorted(missing)}")
        return self.con.execute(text, values)

    def frame(self, sql: str | Spelling, params: Mapping | None = None) -> pd.DataFrame:
        cur = self._execute(sql, params)
        described = cur.description
        rows = cur.fetchall()
        columns = list(zip(*rows)) if rows else [()] * len(described)
        return pd.DataFrame({d.name: _column(list(values), d.type_code)
                             for d, values in zip(described, columns)},
                            columns=[d.name for d in described])

    def next_ids(self, sequence: str, count: int = 1) -> list[int]:
        return self.column(f"SELECT nextval('{sequence}') FROM generate_series(1, :n)",
                           {"n": count})

    def _known_types(self) -> dict[str, str]:
        """Column types of the schema by column name (for a frame's column of only NULLs)."""
        return dict(self.tuples(
            "SELECT column_name, max(data_type) FROM information_schema.columns "
            "WHERE table_schema = current_schema() GROUP BY column_name "
            "HAVING count(DISTINCT data_type) = 1"))

    def _copy(self, table: str, columns: list[str], frame: pd.DataFrame) -> None:
        listed = ", ".join(f'"{c}"' for c in columns)
        with self.con.cursor().copy(f'COPY "{table}" ({listed}) FROM STDIN') as copy:
            for row in _python_rows(frame):
                copy.write_row(row)

    @contextmanager
    def relations(self, **frames: pd.DataFrame) -> Iterator[Session]:
        """Temporary tables (dropped after the block, or with the transaction)."""
        known: dict[str, str] | None = None
        for name, frame in frames.items():
            types = []
            for column in frame.columns:
                if known is None and not frame[column].notna().any():
                    known = self._known_types()
                types.append(_sql_type(frame[column], known or {}))
            listed = ", ".join(f'"{c}" {t}' for c, t in zip(frame.columns, types))
            self.con.execute(f'CREATE TEMPORARY TABLE "{name}" ({listed}) ON COMMIT DROP')
            self._copy(name, list(frame.columns), frame)
        try:
            yield self
        finally:
            if self.con.info.transaction_status == TransactionStatus.INTRANS:
                for name in frames:
                    self.con.execute(f'DROP TABLE IF EXISTS "{name}"')

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """COPY the rows in (the frame's columns are the table's first columns, in order)."""
        columns = self.column("SELECT column_name FROM information_schema.columns "
                              "WHERE table_schema = current_schema() AND table_name = :t "
                              "ORDER BY ordinal_position", {"t": table})
        self._copy(table, columns[:len(frame.columns)], frame)

    def lock(self, key: str, shared: bool = False) -> None:
        kind = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        self.run(f"SELECT {kind}(hashtextextended(:key, 0))", {"key": key})

    def begin(self) -> None:
        """psycopg opens a transaction with the first statement."""

    def commit(self) -> None:
        self.con.commit()

    def rollback(self) -> None:
        self.con.rollback()


def _rollback(con: psycopg.Connection) -> None:
    """Roll back if the connection still can; a broken one is the pool's to discard."""
    try:
        con.rollback()
    except psycopg.Error:
        pass


class ServerStore(Database):
    """A PostgreSQL database, used through this process's connection pool."""

    dialect = "postgresql"
    path = None

    def __init__(self, url: str | None = None, lock_timeout: float | None = None):
        self.url = str(url) if url else settings.db_target()

    def __repr__(self) -> str:
        return f"Store({masked(self.url)!r})"

    @property
    def target(self) -> str:
        return self.url

    @property
    def name(self) -> str:
        return masked(self.url)

    def _unavailable(self, exc: BaseException) -> StorageError:
        """Why no connection could be had: ask the server once directly for the reason (a
        missing database or a wrong password is not a passing fault)."""
        if isinstance(exc, PoolTimeout):
            try:
                psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT).close()
            except psycopg.Error as direct:
                exc = direct
        return explain(exc, self.url) or DatabaseUnavailable(f"{UNAVAILABLE}（{self.name}）")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            with pool(self.url).connection() as con:
                yield con
        except (PoolTimeout, psycopg.Error) as exc:
            explained = (self._unavailable(exc) if isinstance(exc, PoolTimeout)
                         else explain(exc, self.url))
            if explained is None:
                raise
            raise explained from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (one transaction, rolled back at the end)."""
        with self._connection() as con:
            try:
                yield ServerSession(con)
            finally:
                _rollback(con)

    @contextmanager
    def write(self, bump: bool = True) -> Iterator[Session]:
        """One transaction: committed (and the data version raised) only if the block succeeds."""
        with self._connection() as con:
            try:
                yield ServerSession(con)
                if bump:
                    con.execute(BUMP)
                    con.execute("NOTIFY enrollment_data")
                con.commit()
            except BaseException:
                _rollback(con)
                raise


def close_pool(url: str) -> None:
    """Close this process's pool for one URL, if it has one (before the database is dropped,
    replaced or used as a template)."""
    with _pools_guard:
        found = _pools.pop(url, None)
    if found is not None:
        found.close()
