"""The database file, its connections and the unit of work (Session) that all SQL runs through.

Connection strategy. DuckDB lets one process at a time open a database file (read-write or
read-only alike), and inside a process every connection to the same path shares one database
instance. The Streamlit server (one process, one thread per browser session) and the CLI must be
able to use the same file one after the other, so nobody holds the file longer than it needs:

* a process opens the file when a unit of work (a read, or one write transaction) needs it, and
  each unit of work gets its own cursor on that open instance (opening the file costs some
  15 ms, a cursor a fraction of one). The file stays open while units of work follow each
  other and for `ENROLLMENT_DB_HOLD` seconds after the last one, then it is closed and DuckDB
  releases the file lock;
* a process that finds the file locked by another process says so (a marker file beside the
  database, `<file>.wait`) and retries with short jittered delays for a bounded time
  (`ENROLLMENT_LOCK_TIMEOUT`), then raises `DatabaseBusy` with a Chinese message. The holder
  sees the marker, lets the units of work under way finish, closes the file and waits until
  the other process has had it, so the CLI never waits longer than the app's current work;
* writes inside one process are serialised by a lock, run in one transaction, bump the data
  version (which keys every cached query) and end with a CHECKPOINT, so the WAL stays short and a
  crash loses nothing that was committed.

Faults of the file or the disk (a damaged write-ahead log, a damaged file, a full disk, no
permission) become a StorageError with a Chinese explanation and the command that recovers
(`explain`), raised from opening, reading and writing alike; the CLI and the app show it
instead of a traceback.

SQL is written once for every engine: named parameters as `:name` (translated here to the
engine's own spelling), standard SQL wherever the engines agree. The few constructs that only
DuckDB has are marked where they are used, with their standard-SQL equivalent.
"""

from __future__ import annotations

import functools
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from .. import settings

# The database engine's own errors (the standard equivalent for a second engine: its driver's
# base error class), for callers that must tell them from their own.
EngineError = duckdb.Error


class StorageError(Exception):
    """A problem with the database file that the user can act on (message in Chinese)."""


class DatabaseBusy(StorageError):
    """Another process held the database file for longer than the lock timeout."""


class NotInitialized(StorageError):
    """The database has no schema yet."""


class DatabaseDamaged(StorageError):
    """The database file or its write-ahead log cannot be read; `restore` is the way out."""


class DiskFull(StorageError):
    """The disk holding the database is full; nothing of the failed write was kept."""


def explain(exc: BaseException, path: Path) -> StorageError | None:
    """The Chinese explanation of a storage fault, with what to do; None for other errors."""
    message = str(exc)
    wal = Path(f"{path}.wal")
    if "No space left on device" in message or "Disk full" in message:
        try:
            free = f"，目前剩余 {shutil.disk_usage(path.parent).free / 1048576:,.1f} MB"
        except OSError:
            free = ""
        return DiskFull(
            f"服务器磁盘已满，数据库 {path} 无法写入（{path.parent} 所在磁盘{free}）。"
            "本次操作没有保存，已保存的数据不受影响。请清理磁盘空间（可用 df -h 查看）后重试。")
    if "replaying WAL" in message or "Corrupt WAL" in message:
        return DatabaseDamaged(
            f"数据库文件的预写日志（{wal}）已损坏，数据库无法打开。恢复办法：用最近的备份恢复——"
            f"python -m enrollment --db {path} restore 备份文件（当前文件会被移到旁边保留，不会删除）；"
            f"或把 {wal} 移到别处后重试（本系统每次保存后都会把日志写入数据库文件，通常只会丢失最后一次"
            "未完成的保存）。")
    if ("not a valid DuckDB database file" in message or "Corrupt database file" in message
            or "checksum" in message.lower()):
        return DatabaseDamaged(
            f"数据库文件 {path} 已损坏，无法读取。请用最近的备份恢复：python -m enrollment --db "
            f"{path} restore 备份文件（损坏的文件会被移到旁边保留，不会删除）。")
    if "Permission denied" in message or "Read-only file system" in message:
        return StorageError(f"没有读写数据库文件 {path} 的权限（{message}）。请检查该文件及其目录的权限，"
                            "以及磁盘是否被设为只读。")
    return None


def raise_explained(exc: BaseException, path: Path) -> None:
    """Raise the explanation of a storage fault in place of the engine's error, if it is one."""
    explained = explain(exc, path)
    if explained is not None:
        raise explained from exc


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open. A commit that failed (a full disk) has already
    ended it, and the rollback's own error must not hide the one that matters."""
    try:
        con.rollback()
    except duckdb.Error:
        pass


def _close(con: duckdb.DuckDBPyConnection) -> None:
    """Close after a write: what was committed is in the log even if the closing checkpoint
    cannot be written (a full disk), so that error is not the caller's."""
    try:
        con.close()
    except duckdb.Error:
        pass


# `:name` parameters, skipping string literals, comments and `::` casts.
_TOKENS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|::|:([A-Za-z_][A-Za-z0-9_]*)")


@functools.lru_cache(maxsize=2048)
def _translate(sql: str) -> tuple[str, frozenset[str]]:
    """The statement in DuckDB's spelling ($name) and the parameter names it uses."""
    names: set[str] = set()

    def swap(match: re.Match) -> str:
        if match.group(1) is None:
            return match.group(0)
        names.add(match.group(1))
        return "$" + match.group(1)

    return _TOKENS.sub(swap, sql), frozenset(names)


class Session:
    """One connection for one unit of work (a read, or one write transaction).

    Statements take named parameters (`:name`) from a mapping; parameters a statement does not
    use are ignored, so one mapping can serve several statements.
    """

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.raw = con   # the engine's own connection, for the data layer and tests only

    def _execute(self, sql: str, params: Mapping | None):
        text, names = _translate(sql)
        values = {k: v for k, v in (params or {}).items() if k in names}
        missing = names - values.keys()
        if missing:
            raise KeyError(f"SQL parameters without a value: {sorted(missing)}")
        return self.raw.execute(text, values) if names else self.raw.execute(text)

    def run(self, sql: str, params: Mapping | None = None) -> None:
        """A statement whose result is not needed (INSERT, UPDATE, DDL)."""
        self._execute(sql, params)

    def tuples(self, sql: str, params: Mapping | None = None) -> list[tuple]:
        return self._execute(sql, params).fetchall()

    def rows(self, sql: str, params: Mapping | None = None) -> list[dict]:
        cur = self._execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def row(self, sql: str, params: Mapping | None = None) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Mapping | None = None):
        """The first column of the first row (None when there is no row)."""
        row = self._execute(sql, params).fetchone()
        return None if row is None else row[0]

    def column(self, sql: str, params: Mapping | None = None) -> list:
        return [r[0] for r in self._execute(sql, params).fetchall()]

    def frame(self, sql: str, params: Mapping | None = None) -> pd.DataFrame:
        return self._execute(sql, params).df()

    def arrays(self, sql: str, params: Mapping | None = None) -> dict:
        """The result as one numpy array per column (masked where NULL): for small results
        read often, without a DataFrame's fixed cost of building (milliseconds)."""
        return self._execute(sql, params).fetchnumpy()

    def next_ids(self, sequence: str, count: int = 1) -> list[int]:
        """`count` new numbers from a sequence (upload numbers, audit entries …)."""
        return self.column(f"SELECT nextval('{sequence}') FROM range(:n)", {"n": count})

    def next_id(self, sequence: str) -> int:
        return self.value(f"SELECT nextval('{sequence}')")

    @contextmanager
    def relations(self, **frames: pd.DataFrame) -> Iterator[Session]:
        """Data frames visible to SQL under the given names for the block (to join or insert).

        DuckDB reads a registered frame in place; the standard equivalent is a temporary table.
        """
        for name, frame in frames.items():
            self.raw.register(name, frame)
        try:
            yield self
        finally:
            for name in frames:
                self.raw.unregister(name)

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Append a frame's rows to a table (its columns in the table's order)."""
        with self.relations(_new_rows=frame):
            self.run(f"INSERT INTO {table} SELECT * FROM _new_rows")

    def checkpoint(self) -> None:
        self.run("CHECKPOINT")


# One write lock per database path, shared by every thread of this process.
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def write_lock(path: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(path, threading.Lock())


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.I)


class _Held:
    """The database file as this process holds it open: the instance, and how many units of
    work use it. While it is idle a watcher closes it after ENROLLMENT_DB_HOLD seconds, or as
    soon as another process waits for the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con: duckdb.DuckDBPyConnection | None = None
        self.users = 0
        self.cond = threading.Condition()
        self.idle_since = 0           # changes whenever the file falls idle (a watcher's ticket)

    def close(self) -> None:
        """Close now (the caller holds `cond` and no unit of work uses the file)."""
        if self.con is not None:
            _close(self.con)
            self.con = None
        self.cond.notify_all()

    def fall_idle(self, hold: float) -> None:
        """The last unit of work ended (the caller holds `cond`): close, or watch the idle file."""
        if hold <= 0 or _someone_waits(self.path):
            self.close()
            return
        self.idle_since += 1
        threading.Thread(target=self._watch, args=(self.idle_since, time.monotonic() + hold),
                         name="enrollment-db-idle", daemon=True).start()

    def _watch(self, ticket: int, until: float) -> None:
        while True:
            with self.cond:
                if self.idle_since != ticket or self.users or self.con is None:
                    return          # in use again (a later idle spell has its own watcher)
                if time.monotonic() >= until or _someone_waits(self.path):
                    self.close()
                    return
            time.sleep(0.05)


_held: dict[str, _Held] = {}
_held_guard = threading.Lock()
# Instances a forked child inherited: never used or closed there (closing could checkpoint into
# the parent's file), only kept from the garbage collector.
_inherited: list = []

WAIT_FRESH = 2.0        # seconds a waiter's marker counts as someone waiting


def _held_for(path: str) -> _Held:
    with _held_guard:
        if path not in _held:
            _held[path] = _Held(Path(path))
        return _held[path]


def _after_fork_in_child() -> None:
    global _held, _held_guard, _write_locks, _write_locks_guard
    _inherited.extend(h.con for h in _held.values() if h.con is not None)
    _held, _held_guard = {}, threading.Lock()
    _write_locks, _write_locks_guard = {}, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".wait")


def _someone_waits(path: Path) -> bool:
    """Whether another process said lately that it waits for the file."""
    try:
        return time.time() - _marker(path).stat().st_mtime < WAIT_FRESH
    except OSError:
        return False


def release(path: str | Path) -> None:
    """Close this process's open instance of the file once its units of work are done (before
    the file is replaced, e.g. by `restore`)."""
    held = _held_for(str(Path(path).expanduser().resolve()))
    with held.cond:
        while held.users:
            held.cond.wait()
        held.close()


class Store:
    """A DuckDB database file, held open by a process while it uses it (see above)."""

    def __init__(self, path: str | Path | None = None, lock_timeout: float | None = None):
        self.path = Path(path).expanduser().resolve() if path else settings.db_path().resolve()
        self.lock_timeout = settings.lock_timeout() if lock_timeout is None else lock_timeout

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (bounded) while another process holds it; the wait is marked
        beside the file so that the holder lets go as soon as its work under way is done."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        marker = _marker(self.path)
        waited = False
        try:
            while True:
                try:
                    con = duckdb.connect(str(self.path))
                except duckdb.Error as exc:
                    if not _is_lock_conflict(exc):
                        raise (explain(exc, self.path)
                               or StorageError(f"无法打开数据库文件 {self.path}：{exc}")) from exc
                    if time.monotonic() >= deadline:
                        raise DatabaseBusy(
                            f"数据库文件 {self.path} 正被另一个程序占用，已等待 "
                            f"{self.lock_timeout:g} 秒，请稍后重试。") from exc
                else:
                    return _limit_memory(con)
                try:
                    marker.touch()
                    waited = True
                except OSError:
                    pass
                # Jitter keeps two waiting processes from retrying in lock-step.
                time.sleep(0.02 + 0.06 * random.random())
        finally:
            if waited:
                marker.unlink(missing_ok=True)

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of this process's open instance of the file for one unit of work."""
        held = _held_for(str(self.path))
        with held.cond:
            if _someone_waits(self.path):
                # Another process waits: finish what is under way, let go, and give it time
                # to take the file before opening it again.
                while held.users:
                    held.cond.wait()
                held.close()
                deadline = time.monotonic() + WAIT_FRESH
                while _someone_waits(self.path) and time.monotonic() < deadline:
                    held.cond.wait(0.02)
            if held.con is None:
                held.con = self.connect()
            try:
                cur = held.con.cursor()
            except duckdb.Error:
                held.close()
                raise
            held.users += 1
        try:
            yield cur
        finally:
            try:
                cur.close()
            except duckdb.Error:
                pass
            with held.cond:
                held.users -= 1
                if held.users == 0:
                    held.fall_idle(settings.db_hold())
                held.cond.notify_all()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading."""
        with self._cursor() as con:
            try:
                yield Session(con)
            except duckdb.Error as exc:
                raise_explained(exc, self.path)
                raise

    @contextmanager
    def write(self, bump: bool = True) -> Iterator[Session]:
        """One transaction: committed (and the data version bumped) only if the block succeeds.

        `bump=False` for writes that change nothing a cached query shows (a login, an audit
        entry of an export), so they do not throw the app's caches away.
        """
        with write_lock(str(self.path)), self._cursor() as con:
            con.begin()
            try:
                yield Session(con)
                if bump:
                    con.execute(
                        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) "
                        "WHERE key = 'data_version'")
                con.commit()
            except duckdb.Error as exc:
                rollback(con)
                raise_explained(exc, self.path)
                raise
            except BaseException:
                rollback(con)
                raise
            try:
                con.execute("CHECKPOINT")
            except duckdb.Error:
                pass  # another thread's transaction is open (or the disk is full): the
                # commit is in the log, the next commit or close checkpoints

    @contextmanager
    def exclusive(self) -> Iterator[Session]:
        """The file for one writer of this process, outside any transaction (migrations)."""
        with write_lock(str(self.path)), self._cursor() as con:
            try:
                yield Session(con)
            except duckdb.Error as exc:
                raise_explained(exc, self.path)
                raise

    def data_version(self) -> int:
        """A number that changes with every committed write; keys cached query results."""
        with self.read() as tx:
            try:
                value = tx.value("SELECT value FROM meta WHERE key = 'data_version'")
            except duckdb.CatalogException:
                return -1
        return int(value) if value is not None else -1

    def schema_version(self) -> int:
        with self.read() as tx:
            return schema_version(tx)


def data_version(tx: Session) -> int:
    """The data version as seen inside a unit of work (see Store.data_version)."""
    value = tx.value("SELECT value FROM meta WHERE key = 'data_version'")
    return int(value) if value is not None else -1


def schema_version(tx: Session) -> int:
    """The schema version of an open database; 0 when it has no schema yet."""
    exists = tx.value("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_name = 'schema_version'")
    if not exists:
        return 0
    return tx.value("SELECT coalesce(max(version), 0) FROM schema_version")


def _limit_memory(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Bound the engine's memory (ENROLLMENT_DB_MEMORY): a national query spills to disk
    instead of taking gigabytes from the server it shares with everything else."""
    limit = settings.db_memory()
    if not _MEMORY.match(limit):
        con.close()
        raise StorageError(f"ENROLLMENT_DB_MEMORY 的值「{limit}」无效，应为数字加单位，例如 1GB 或 512MB")
    con.execute(f"SET memory_limit = '{limit}'")
    return con
