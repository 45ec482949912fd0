"""Backup and restore of the database, also while the app is serving.

A PostgreSQL database is backed up with pg_dump and restored with pg_restore (db/dumps.py), with
the same checks, refusals and messages; the rest of this docstring is about the DuckDB file.

DuckDB lets one process at a time open the file, and the app opens it only for each unit of
work (db/engine.py). A backup therefore takes the file like any writer — the process's write
lock, then the file lock, waiting a bounded time while someone else holds it — runs CHECKPOINT
so that every committed write is in the main file and the write-ahead log is empty, and copies
the file's bytes while it still holds the lock. Nobody can change the file during the copy, so
the copy is the database as of one instant. The app waits for as long as the copy takes (about
a second per 200 MB here); `COPY FROM DATABASE` into an attached file gives the same snapshot
but holds the lock some twenty times longer, so it is not used (docs/scaling.md has the figures).
The copy is then opened on its own and its row counts compared with the original's before it
is put in place under its final name.

Restore checks the file first (a DuckDB database with our schema, not newer than this program,
every table readable), refuses to replace a database that holds data unless told to, copies the
file next to the database, raises its data version above the replaced one's (so no cached page
shows figures of the old file), and moves it into place in one rename. An older schema is
migrated after the rename. A current file that cannot be opened at all (a damaged file or
write-ahead log) is never opened again: it is moved aside under a new name, with its log, and
kept, and the backup takes its place — restore is the way out of a damaged database.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from . import dumps
from .engine import DatabaseDamaged, DuckSession, Store
from .holding import release, write_lock
from .schema import LATEST_VERSION, migrate, schema_version
from .snapshots import BackupError, BackupResult, RestoreResult, Snapshot, place_checked

__all__ = ["BackupError", "BackupResult", "RestoreResult", "Snapshot", "backup", "current",
           "inspect", "restore"]


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]


def _snapshot(con: duckdb.DuckDBPyConnection, path: Path) -> Snapshot:
    counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _tables(con)}
    version = schema_version(DuckSession(con))
    data = -1
    if "meta" in counts:
        row = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        data = int(row[0]) if row else -1
    return Snapshot(path, version, data, counts)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def inspect(path: Path) -> Snapshot:
    """Check that a file is a database of this program (a DuckDB file or a pg_dump archive) and
    read it through; BackupError if not."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}")
    if dumps.is_archive(path):
        return dumps.inspect(path)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise BackupError(f"{path} 不是本系统的数据库备份文件（无法作为 DuckDB 数据库打开：{exc}）") from exc
    try:
        snapshot = _snapshot(con, path)
        if snapshot.schema_version == 0 or "meta" not in snapshot.tables:
            raise BackupError(f"{path} 是 DuckDB 数据库，但不是本系统的数据库（没有结构版本信息）")
        if snapshot.schema_version > LATEST_VERSION:
            raise BackupError(
                f"{path} 的数据库结构版本为 {snapshot.schema_version}，高于本程序支持的 "
                f"{LATEST_VERSION}，请升级程序后再恢复")
        missing = {"campaigns", "units", "uploads", "reports", "targets"} - set(snapshot.tables)
        if missing:
            raise BackupError(f"{path} 缺少数据表：{'、'.join(sorted(missing))}，不能用于恢复")
        for table in snapshot.tables:      # every block read once: a damaged file fails here
            con.execute(f'SELECT max(hash(COLUMNS(*))) FROM "{table}"').fetchall()
    except duckdb.Error as exc:
        raise BackupError(f"备份文件 {path} 已损坏，无法读取：{exc}") from exc
    finally:
        con.close()
    return snapshot


def backup(store: Store, out: Path) -> BackupResult:
    """A consistent copy of the database at `out` (which must not exist yet)."""
    out = Path(out).expanduser().resolve()
    if out.exists():
        raise BackupError(f"{out} 已存在，不会覆盖；请换一个文件名")
    if store.dialect == "postgresql":
        out.parent.mkdir(parents=True, exist_ok=True)
        return dumps.backup(store, out)
    if out == store.path:
        raise BackupError("备份文件不能是数据库文件本身")
    if not store.path.exists():
        raise BackupError(f"数据库文件 {store.path} 不存在，无法备份")
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    partial = Path(name)
    try:
        with write_lock(str(store.path)):
            con = store.connect()
            locked = time.perf_counter()
            try:
                con.execute("CHECKPOINT")
                original = _snapshot(con, store.path)
                shutil.copyfile(store.path, partial)
            finally:
                con.close()
            locked_seconds = time.perf_counter() - locked
        _fsync(partial)
        copy = place_checked(partial, out, original, inspect)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(copy, out.stat().st_size, time.perf_counter() - started, locked_seconds)


def current(store: Store) -> Snapshot | None:
    """What the database holds now; None when there is no file or no schema."""
    if store.dialect == "postgresql":
        with store.read() as tx:
            snapshot = dumps.snapshot_of(tx, store.name)
        return snapshot if snapshot.schema_version else None
    if not store.path.exists():
        return None
    with store.read() as con:
        snapshot = _snapshot(con.raw, store.path)
    return snapshot if snapshot.schema_version else None


def restore(store: Store, source: Path, *, replace: bool = False) -> RestoreResult:
    """Replace the database with a backup. A database that holds uploads, targets or campaigns
    is replaced only with `replace`; BackupError (nothing changed) otherwise."""
    source = Path(source).expanduser().resolve()
    if source == store.path:
        raise BackupError("备份文件就是当前数据库文件本身，无需恢复")
    snapshot = inspect(source)
    archive = dumps.is_archive(source)
    if store.dialect == "postgresql":
        if not archive:
            raise BackupError(f"{source} 是 DuckDB 数据库文件，不是 PostgreSQL 备份；要把它的数据搬到 "
                              "PostgreSQL，请用 migrate-storage --to 数据库地址")
        replaced = current(store)
        if replaced is not None and replaced.rows and not replace:
            raise BackupError(
                f"数据库 {store.name} 中已有数据（{replaced.summary()}）。恢复会用备份替换全部数据；"
                "确认要替换，请加 --yes 再运行")
        dumps.restore_archive(store, source, snapshot, replaced)
        migrations = migrate(store) if snapshot.schema_version < LATEST_VERSION else []
        restored = current(store)
        restored.path = source
        return RestoreResult(restored, replaced, migrations)
    if archive:
        raise BackupError(f"{source} 是 PostgreSQL 的备份（pg_dump），只能恢复到 PostgreSQL 数据库")
    try:
        replaced, damaged = current(store), False
    except DatabaseDamaged:
        replaced, damaged = None, True      # nothing can be lost: the file is kept aside
    if replaced is not None and replaced.rows and not replace:
        raise BackupError(
            f"数据库 {store.path} 中已有数据（{replaced.summary()}）。恢复会用备份替换全部数据；"
            "确认要替换，请加 --yes 再运行")
    store.path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{store.path.name}.", suffix=".restore",
                                dir=store.path.parent)
    os.close(fd)
    staged = Path(name)
    try:
        shutil.copyfile(source, staged)
        con = duckdb.connect(str(staged))
        try:
            # Above both files' versions: no cached query of the old file can be taken for
            # one of the restored file. A damaged file's version is unknown: a clock reading in
            # milliseconds is above any count of writes it can have had.
            version = max(snapshot.data_version, replaced.data_version if replaced else -1) + 1
            if damaged:
                version = max(version, time.time_ns() // 1_000_000)
            con.execute("UPDATE meta SET value = ? WHERE key = 'data_version'", [str(version)])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        Path(f"{staged}.wal").unlink(missing_ok=True)
        _fsync(staged)
        set_aside = None
        with write_lock(str(store.path)):
            release(store.path)         # this process's open instance refers to the old file
            if damaged:
                set_aside = _set_aside(store.path)
            elif store.path.exists():
                # Wait until no other process holds the file, and leave no log behind.
                con = store.connect()
                try:
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            os.replace(staged, store.path)
            Path(f"{store.path}.wal").unlink(missing_ok=True)
            release(store.path)         # a reader may have opened the old file meanwhile
    finally:
        staged.unlink(missing_ok=True)
        Path(f"{staged}.wal").unlink(missing_ok=True)
    migrations = migrate(store) if snapshot.schema_version < LATEST_VERSION else []
    restored = current(store)
    restored.path = source
    return RestoreResult(restored, replaced, migrations, set_aside)


def _set_aside(path: Path) -> Path:
    """Move a database file that cannot be opened, and its log, to a new name beside it."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, aside)
    wal = Path(f"{path}.wal")
    if wal.exists():
        os.replace(wal, Path(f"{aside}.wal"))
    return aside
