"""The DuckDB file: connections, schema, migrations and the data version.

Connection strategy. DuckDB lets one process at a time open a database file (read-write or
read-only alike), and inside a process every connection to the same path shares one database
instance. The Streamlit server (one process, one thread per browser session) and the CLI must be
able to use the same file one after the other, so nobody holds the file longer than one unit of
work:

* every read and every write opens a connection, does its work and closes it; when the last
  connection of a process closes, DuckDB releases the file lock;
* a process that finds the file locked by another process retries with back-off for a bounded time
  (`ENROLLMENT_LOCK_TIMEOUT`), then raises `DatabaseBusy` with a Chinese message;
* writes inside one process are serialised by a lock, run in one transaction, bump the data
  version (which keys every cached query) and end with a CHECKPOINT, so the WAL stays short and a
  crash loses nothing that was committed.

Faults of the file or the disk (a damaged write-ahead log, a damaged file, a full disk, no
permission) become a StorageError with a Chinese explanation and the command that recovers
(`explain`), raised from opening, reading and writing alike; the CLI and the app show it
instead of a traceback.
"""

from __future__ import annotations

import random
import re
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from . import settings


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


def _raise_explained(exc: BaseException, path: Path) -> None:
    """Raise the explanation of a storage fault in place of the engine's error, if it is one."""
    explained = explain(exc, path)
    if explained is not None:
        raise explained from exc


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open. A commit that failed (a full disk) has already
    ended it, and the rollback's own error must not hide the one that matters."""
    try:
        con.rollback()
    except duckdb.Error:
        pass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


# Append new migrations at the end; never edit one that has been released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (
        """CREATE TABLE meta (
            key VARCHAR PRIMARY KEY,
            value VARCHAR NOT NULL)""",
        "INSERT INTO meta VALUES ('data_version', '0')",
        """CREATE TABLE campaigns (
            id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            programme VARCHAR NOT NULL,
            year INTEGER,
            region_code VARCHAR NOT NULL,
            levels VARCHAR[] NOT NULL,
            start_date DATE NOT NULL,
            end_date DATE NOT NULL,
            goal DECIMAL(6, 4) NOT NULL,
            low_income_goal DECIMAL(6, 4),
            deadline_weekday INTEGER NOT NULL,
            deadline_time TIME NOT NULL,
            contribution_yuan INTEGER,
            contribution_note VARCHAR,
            notice VARCHAR,
            source VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE units (
            campaign_id VARCHAR NOT NULL,
            code VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            parent_code VARCHAR,
            depth INTEGER NOT NULL,
            is_division BOOLEAN NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, code))""",
        """CREATE TABLE unit_aliases (
            campaign_id VARCHAR NOT NULL,
            alias VARCHAR NOT NULL,
            code VARCHAR NOT NULL)""",
        "CREATE SEQUENCE upload_ids START 1",
        # Every file that reached the app, accepted or rejected, with its raw bytes.
        """CREATE TABLE uploads (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            file_name VARCHAR,
            sha256 VARCHAR,
            size BIGINT,
            content BLOB,
            uploader VARCHAR,
            uploaded_at TIMESTAMP NOT NULL,
            report_date DATE,
            status VARCHAR NOT NULL,
            messages VARCHAR,
            row_count INTEGER,
            unit_count INTEGER,
            total_enrolled BIGINT,
            on_time BOOLEAN,
            withdraws BIGINT)""",
        # Append-only: the latest revision of (campaign, source, unit, date) counts; a NULL
        # enrolled is a withdrawal (the figure no longer exists for that date).
        """CREATE TABLE reports (
            campaign_id VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            report_date DATE NOT NULL,
            revision INTEGER NOT NULL,
            enrolled BIGINT,
            amount DECIMAL(18, 2),
            low_income_enrolled BIGINT,
            upload_id BIGINT NOT NULL)""",
        "CREATE SEQUENCE target_set_ids START 1",
        """CREATE TABLE target_sets (
            id BIGINT PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            level VARCHAR NOT NULL,
            scope_code VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            note VARCHAR,
            file_name VARCHAR,
            sha256 VARCHAR,
            upload_id BIGINT,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE targets (
            set_id BIGINT NOT NULL,
            campaign_id VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            task BIGINT NOT NULL,
            baseline BIGINT,
            registered_population BIGINT,
            resident_population BIGINT,
            low_income BIGINT,
            PRIMARY KEY (set_id, unit_code))""",
        # A unit's target is the row of the newest target set that names it.
        """CREATE VIEW current_targets AS
            SELECT campaign_id, unit_code,
                   arg_max(set_id, set_id) AS set_id,
                   arg_max(task, set_id) AS task,
                   arg_max(baseline, set_id) AS baseline,
                   arg_max(registered_population, set_id) AS registered_population,
                   arg_max(resident_population, set_id) AS resident_population,
                   arg_max(low_income, set_id) AS low_income
            FROM targets GROUP BY campaign_id, unit_code""",
    )),
    Migration(2, "accounts, login sessions and the audit log", (
        # Roles: admin, leader, reporter. A reporter's units are in user_units (codes, shared by
        # the campaigns whose hierarchies contain them).
        """CREATE TABLE users (
            name VARCHAR PRIMARY KEY,
            full_name VARCHAR,
            role VARCHAR NOT NULL,
            password_hash VARCHAR NOT NULL,
            active BOOLEAN NOT NULL,
            must_change_password BOOLEAN NOT NULL,
            failed_logins INTEGER NOT NULL,
            locked_until TIMESTAMP,
            created_at TIMESTAMP NOT NULL,
            created_by VARCHAR,
            updated_at TIMESTAMP,
            last_login_at TIMESTAMP)""",
        """CREATE TABLE user_units (
            user_name VARCHAR NOT NULL,
            unit_code VARCHAR NOT NULL,
            PRIMARY KEY (user_name, unit_code))""",
        # A login: the cookie carries a signed random token, the table only its SHA-256.
        """CREATE TABLE sessions (
            token_hash VARCHAR PRIMARY KEY,
            user_name VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP,
            address VARCHAR)""",
        "CREATE SEQUENCE audit_ids START 1",
        # 操作日志: append-only from the app (enrollment/audit.py only inserts).
        """CREATE TABLE audit_log (
            id BIGINT PRIMARY KEY,
            logged_at TIMESTAMP NOT NULL,
            actor VARCHAR,
            role VARCHAR,
            action VARCHAR NOT NULL,
            detail VARCHAR,
            address VARCHAR,
            campaign_id VARCHAR)""",
    )),
    Migration(3, "login throttling per address and login locks per name and address", (
        # One row per address that failed to log in (enrollment/accounts.py keeps it that way;
        # no key constraint, as DuckDB refuses deleting and inserting one key in a transaction).
        """CREATE TABLE login_addresses (
            address VARCHAR NOT NULL,
            failures INTEGER NOT NULL,
            window_start TIMESTAMP NOT NULL,
            last_failure TIMESTAMP NOT NULL,
            blocked_until TIMESTAMP)""",
        # One row per (login name, address): the name as SHA-256 (unknown names too).
        """CREATE TABLE login_locks (
            name_hash VARCHAR NOT NULL,
            address VARCHAR NOT NULL,
            failures INTEGER NOT NULL,
            last_failure TIMESTAMP NOT NULL,
            locked_until TIMESTAMP)""",
        # users.failed_logins and users.locked_until are no longer used: a lock now belongs to
        # an address, not to the whole account.
        "UPDATE users SET failed_logins = 0, locked_until = NULL",
    )),
)

LATEST_VERSION = MIGRATIONS[-1].version

# One write lock per database path, shared by every thread of this process.
_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(path, threading.Lock())


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


class Store:
    """A DuckDB database file, opened briefly for each unit of work."""

    def __init__(self, path: str | Path | None = None, lock_timeout: float | None = None):
        self.path = Path(path).expanduser().resolve() if path else settings.db_path().resolve()
        self.lock_timeout = settings.lock_timeout() if lock_timeout is None else lock_timeout

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (bounded) while another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
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
            # Jitter keeps two waiting processes from retrying in lock-step.
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for reading; the file is released when the block ends."""
        con = self._connect()
        try:
            yield con
        except duckdb.Error as exc:
            _raise_explained(exc, self.path)
            raise
        finally:
            con.close()

    @contextmanager
    def write(self, bump: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: committed (and the data version bumped) only if the block succeeds.

        `bump=False` for writes that change nothing a cached query shows (a login, an audit
        entry of an export), so they do not throw the app's caches away.
        """
        with _write_lock(str(self.path)):
            con = self._connect()
            try:
                con.begin()
                try:
                    yield con
                    if bump:
                        con.execute(
                            "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) "
                            "WHERE key = 'data_version'")
                    con.commit()
                except duckdb.Error as exc:
                    _rollback(con)
                    _raise_explained(exc, self.path)
                    raise
                except BaseException:
                    _rollback(con)
                    raise
                try:
                    con.execute("CHECKPOINT")
                except duckdb.Error:
                    pass  # another thread's transaction is open (or the disk is full): the
                    # commit is in the log, the next commit or close checkpoints
            finally:
                _close(con)

    def data_version(self) -> int:
        """A number that changes with every committed write; keys cached query results."""
        with self.read() as con:
            try:
                row = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
            except duckdb.CatalogException:
                return -1
        return int(row[0]) if row else -1

    def schema_version(self) -> int:
        with self.read() as con:
            return schema_version(con)


def _close(con: duckdb.DuckDBPyConnection) -> None:
    """Close after a write: what was committed is in the log even if the closing checkpoint
    cannot be written (a full disk), so that error is not the caller's."""
    try:
        con.close()
    except duckdb.Error:
        pass


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.I)


def _limit_memory(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Bound the engine's memory (ENROLLMENT_DB_MEMORY): a national query spills to disk
    instead of taking gigabytes from the server it shares with everything else."""
    limit = settings.db_memory()
    if not _MEMORY.match(limit):
        con.close()
        raise StorageError(f"ENROLLMENT_DB_MEMORY 的值「{limit}」无效，应为数字加单位，例如 1GB 或 512MB")
    con.execute(f"SET memory_limit = '{limit}'")
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database; 0 when it has no schema yet."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(store: Store, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the schema up to the newest migration; returns the versions applied."""
    latest = migrations[-1].version
    with _write_lock(str(store.path)):
        con = store._connect()
        try:
            current = schema_version(con)
            if current > latest:
                raise StorageError(
                    f"数据库结构版本为 {current}，高于本程序支持的 {latest}，请升级程序后再打开。")
            applied = []
            for migration in migrations:
                if migration.version <= current:
                    continue
                con.begin()
                try:
                    con.execute("""CREATE TABLE IF NOT EXISTS schema_version (
                        version INTEGER NOT NULL, description VARCHAR NOT NULL,
                        applied_at TIMESTAMP NOT NULL)""")
                    for statement in migration.statements:
                        con.execute(statement)
                    con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                                [migration.version, migration.description])
                    con.commit()
                except duckdb.Error as exc:
                    _rollback(con)
                    _raise_explained(exc, store.path)
                    raise
                except BaseException:
                    _rollback(con)
                    raise
                applied.append(migration.version)
            if applied:
                con.execute("CHECKPOINT")
            return applied
        finally:
            con.close()


def require_schema(store: Store) -> None:
    """Raise NotInitialized when the file has no schema; migrate an older one."""
    version = store.schema_version()
    if version == 0:
        raise NotInitialized(
            f"数据库 {store.path} 尚未初始化，请先运行：python -m enrollment init")
    if version < LATEST_VERSION:
        migrate(store)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, **frames) -> Iterator[duckdb.DuckDBPyConnection]:
    """Data frames visible to SQL under the given names for the block (e.g. to INSERT … SELECT)."""
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        yield con
    finally:
        for name in frames:
            con.unregister(name)


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str,
                params: Sequence | dict | None = None) -> list[dict]:
    """Run a query and return its rows as dictionaries."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]
