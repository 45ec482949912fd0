"""Backup and restore of a PostgreSQL database, with PostgreSQL's own tools (pg_dump, pg_restore,
psql from Debian's postgresql-client).

A backup is a pg_dump archive (custom format) of one instant: this module opens a REPEATABLE
READ transaction, counts every table's rows in it, exports its snapshot and lets pg_dump read
that very snapshot (`--snapshot`), so the counts and the archive agree while the app servers go
on reading and writing (pg_dump takes no lock that holds up a writer). The archive is then read
back through (`pg_restore` to SQL, every COPY block counted) and compared with the counts before
it is put in place under its final name.

Restore checks the archive the same way first, refuses to replace a database that holds data
unless told to, and then runs, in ONE transaction (psql --single-transaction): drop this
program's tables, views and sequences, the archive's SQL, and a data version above both the
archive's and the replaced database's. If anything fails, nothing has changed. An older schema
is migrated after.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .core import Database, schema_version
from .schema import LATEST_VERSION
from .snapshots import BackupError, BackupResult, Snapshot, place_checked

MAGIC = b"PGDMP"          # the first bytes of a pg_dump archive (custom format)


def is_archive(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def tool(name: str) -> str:
    """A PostgreSQL client program: the newest installed version's, else the one on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if versions:
        return str(versions[-1])
    found = shutil.which(name)
    if found:
        return found
    raise BackupError(f"找不到 PostgreSQL 的 {name} 程序：请安装 postgresql-client（apt-get install "
                      "postgresql-client），或运行 scripts/install.sh")


def _run(args: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{what}失败：{detail[-1] if detail else done.returncode}")
    return done


_COPY = re.compile(r'^COPY (?:[\w"]+\.)?"?(\w+)"? \(')


def archive_rows(path: Path) -> tuple[dict[str, int], dict[str, list[list[str]]]]:
    """Rows per table of an archive (read through: a damaged archive fails here), and the
    rows of the small tables meta and schema_version."""
    counts: dict[str, int] = {}
    kept: dict[str, list[list[str]]] = {"meta": [], "schema_version": []}
    process = subprocess.Popen([tool("pg_restore"), "--data-only", "--file=-", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    table = None
    for raw in process.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if table is None:
            found = _COPY.match(line)
            if found:
                table = found.group(1)
                counts[table] = 0
            continue
        if line == "\\.":
            table = None
            continue
        counts[table] += 1
        if table in kept:
            kept[table].append(line.split("\t"))
    error = process.stderr.read().decode("utf-8", "replace").strip()
    if process.wait() != 0:
        raise BackupError(f"备份文件 {path} 已损坏或不是 pg_dump 备份，无法读取：{error.splitlines()[-1:] or ''}")
    return counts, kept


def inspect(path: Path):
    """What an archive holds (a Snapshot), read through; BackupError if it is not ours."""
    counts, kept = archive_rows(path)
    versions = [int(r[0]) for r in kept["schema_version"] if r and r[0].isdigit()]
    data = [int(r[1]) for r in kept["meta"] if len(r) > 1 and r[0] == "data_version"]
    snapshot = Snapshot(path, max(versions, default=0), data[0] if data else -1, counts)
    if snapshot.schema_version == 0 or "meta" not in counts:
        raise BackupError(f"{path} 是 PostgreSQL 备份，但不是本系统的数据库（没有结构版本信息）")
    if snapshot.schema_version > LATEST_VERSION:
        raise BackupError(f"{path} 的数据库结构版本为 {snapshot.schema_version}，高于本程序支持的 "
                          f"{LATEST_VERSION}，请升级程序后再恢复")
    missing = {"campaigns", "units", "uploads", "reports", "targets"} - set(counts)
    if missing:
        raise BackupError(f"{path} 缺少数据表：{'、'.join(sorted(missing))}，不能用于恢复")
    return snapshot


def _tables(tx) -> list[str]:
    return tx.column("SELECT table_name FROM information_schema.tables "
                     "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                     "ORDER BY table_name")


def snapshot_of(tx, name: str):
    """What the database holds as the session sees it (a Snapshot)."""
    counts = {t: tx.value(f'SELECT count(*) FROM "{t}"') for t in _tables(tx)}
    data = tx.value("SELECT value FROM meta WHERE key = 'data_version'") if "meta" in counts else None
    return Snapshot(name, schema_version(tx), int(data) if data is not None else -1, counts)


def backup(store: Database, out: Path):
    """A consistent pg_dump archive of the database at `out` (which must not exist yet)."""
    started = time.perf_counter()
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    partial = Path(name)
    try:
        with store.read() as tx:
            tx.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            exported = tx.value("SELECT pg_export_snapshot()")
            original = snapshot_of(tx, store.name)
            if not original.schema_version:
                raise BackupError(f"数据库 {store.name} 尚未初始化，没有可备份的内容")
            _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={exported}", f"--file={partial}", f"--dbname={store.target}"],
                 "pg_dump 备份")
        copy = place_checked(partial, out, original, inspect)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(copy, out.stat().st_size, time.perf_counter() - started, 0.0)


def restore_archive(store: Database, source: Path, snapshot, replaced) -> None:
    """Replace the database's objects with the archive's, in one transaction."""
    with store.read() as tx:
        objects = tx.tuples("""
            SELECT table_name, table_type FROM information_schema.tables
            WHERE table_schema = current_schema()""")
        sequences = tx.column("SELECT sequence_name FROM information_schema.sequences "
                              "WHERE sequence_schema = current_schema()")
    version = max(snapshot.data_version, replaced.data_version if replaced else -1) + 1
    with tempfile.TemporaryDirectory(prefix="enrollment-restore-") as folder:
        before, script, after = (Path(folder) / n for n in ("drop.sql", "archive.sql", "version.sql"))
        before.write_text("".join(
            f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} IF EXISTS "{name}" CASCADE;\n'
            for name, kind in sorted(objects, key=lambda o: o[1] != "VIEW"))
            + "".join(f'DROP SEQUENCE IF EXISTS "{name}" CASCADE;\n' for name in sequences),
            encoding="utf-8")
        _run([tool("pg_restore"), "--no-owner", "--no-privileges", f"--file={script}",
              str(source)], "读取备份文件")
        after.write_text("RESET search_path;\n"
                         f"UPDATE meta SET value = '{version}' WHERE key = 'data_version';\n",
                         encoding="utf-8")
        _run([tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
              "--set=ON_ERROR_STOP=1", f"--dbname={store.target}", "-f", str(before),
              "-f", str(script), "-f", str(after)], "恢复（数据库未改动）")
