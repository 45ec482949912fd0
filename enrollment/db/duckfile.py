"""The DuckDB file: its connections, the unit of work on it, and its faults.

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
(`explain`), raised from opening, reading and writing alike.
"""

from __future__ import annotations

import random
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from .. import settings
from . import holding
from .core import (
    BUMP,
    Database,
    DatabaseBusy,
    DatabaseDamaged,
    DiskFull,
    Session,
    Spelling,
    StorageError,
    translate,
)


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
    """Raise the explanation of a file fault in place of DuckDB's error, if it is one."""
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


class DuckSession(Session):
    """A unit of work on a cursor of the open DuckDB file."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.raw = con   # the engine's own connection, for the data layer and tests only

    def _execute(self, sql: str | Spelling, params: Mapping | None):
        text, names = translate(self.text(sql), "dollar")
        values = {k: v for k, v in (params or {}).items() if k in names}
        missing = names - values.keys()
        if missing:
            raise KeyError(f"SQL parameters without a value: {sorted(missing)}")
        return self.raw.execute(text, values) if names else self.raw.execute(text)

    def frame(self, sql: str | Spelling, params: Mapping | None = None) -> pd.DataFrame:
        return self._execute(sql, params).df()

    def arrays(self, sql: str | Spelling, params: Mapping | None = None) -> dict:
        return self._execute(sql, params).fetchnumpy()

    def next_ids(self, sequence: str, count: int = 1) -> list[int]:
        # range() is DuckDB's table function; PostgreSQL's is generate_series.
        return self.column(f"SELECT nextval('{sequence}') FROM range(:n)", {"n": count})

    @contextmanager
    def relations(self, **frames: pd.DataFrame) -> Iterator[Session]:
        """DuckDB reads a registered frame in place (PostgreSQL: a temporary table)."""
        for name, frame in frames.items():
            self.raw.register(name, frame)
        try:
            yield self
        finally:
            for name in frames:
                self.raw.unregister(name)

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        with self.relations(_new_rows=frame):
            self.run(f"INSERT INTO {table} SELECT * FROM _new_rows")

    def lock(self, key: str, shared: bool = False) -> None:
        """Nothing to do: every write of this process holds its write lock, and no other
        process has the file meanwhile."""

    def checkpoint(self) -> None:
        self.run("CHECKPOINT")


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.I)


class DuckStore(Database):
    """A DuckDB database file, held open by a process while it uses it (see above)."""

    dialect = "duckdb"

    def __init__(self, path: str | Path | None = None, lock_timeout: float | None = None):
        self.path = Path(path).expanduser().resolve() if path else settings.db_path().resolve()
        self.lock_timeout = settings.lock_timeout() if lock_timeout is None else lock_timeout

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @property
    def target(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return str(self.path)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (bounded) while another process holds it; the wait is marked
        beside the file so that the holder lets go as soon as its work under way is done."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        marker = holding.marker(self.path)
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
        held = holding.held_for(str(self.path))
        with held.cond:
            if holding.depth() == 0 and holding.someone_waits(self.path):
                # Another process waits: finish what is under way, let go, and give it time
                # to take the file before opening it again.
                while held.users:
                    held.cond.wait()
                held.close()
                deadline = time.monotonic() + holding.WAIT_FRESH
                while holding.someone_waits(self.path) and time.monotonic() < deadline:
                    held.cond.wait(0.02)
            if held.con is None:
                held.con = self.connect()
            try:
                cur = held.con.cursor()
            except duckdb.Error:
                held.close()
                raise
            held.users += 1
            holding.enter()
        try:
            yield cur
        finally:
            holding.leave()
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
                yield DuckSession(con)
            except duckdb.Error as exc:
                raise_explained(exc, self.path)
                raise

    @contextmanager
    def write(self, bump: bool = True) -> Iterator[Session]:
        """One transaction: committed (and the data version bumped) only if the block succeeds.

        `bump=False` for writes that change nothing a cached query shows (a login, an audit
        entry of an export), so they do not throw the app's caches away.
        """
        with holding.write_lock(str(self.path)), self._cursor() as con:
            con.begin()
            try:
                yield DuckSession(con)
                if bump:
                    con.execute(BUMP)
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


def _limit_memory(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Bound the engine's memory (ENROLLMENT_DB_MEMORY): a national query spills to disk
    instead of taking gigabytes from the server it shares with everything else."""
    limit = settings.db_memory()
    if not _MEMORY.match(limit):
        con.close()
        raise StorageError(f"ENROLLMENT_DB_MEMORY 的值「{limit}」无效，应为数字加单位，例如 1GB 或 512MB")
    con.execute(f"SET memory_limit = '{limit}'")
    return con
