"""Moving a DuckDB file into an empty PostgreSQL database (`migrate-storage --to URL`).

The target gets the schema from the same migrations as any new database, then every table of
the file is copied into it row for row (raw upload bytes included) with COPY, in one
transaction: a failure leaves the target as empty as it was. Sequences continue where the
file's stopped. Then both sides are read again and compared per table: the row count and a
checksum of the rows (the sum of a SHA-256 per row, so the order the engines return rows in
does not matter).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .engine import Session, StorageError, Store, is_url
from .schema import apply, require_schema

BATCH = 5000


class TransferError(StorageError):
    """The data cannot be moved (message in Chinese); the target was left as it was."""


@dataclass
class TableCopy:
    name: str
    rows: int
    checksum: str


@dataclass
class TransferResult:
    source: str
    target: str
    tables: list[TableCopy]
    seconds: float

    def summary(self) -> str:
        listed = "；".join(f"{t.name} {t.rows:,} 行" for t in self.tables)
        return (f"已把 {self.source} 的 {len(self.tables)} 张表复制到 {self.target}，用时 "
                f"{self.seconds:.1f} 秒，逐表核对行数和校验和一致：{listed}")


def _plain(value) -> str:
    """One value in a spelling both engines' results share."""
    if value is None:
        return "\\N"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "x" + bytes(value).hex()
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return json.dumps([_plain(v) for v in value], ensure_ascii=False)
    if hasattr(value, "tolist"):                    # numpy arrays and scalars
        return _plain(value.tolist())
    return str(value)


def checksum(rows: Iterable[tuple]) -> tuple[int, str]:
    """(count, checksum) of rows in any order."""
    total, count = 0, 0
    for row in rows:
        digest = hashlib.sha256("\t".join(_plain(v) for v in row).encode()).digest()
        total = (total + int.from_bytes(digest[:16], "big")) % (1 << 128)
        count += 1
    return count, f"{total:032x}"


def _stream(tx: Session, table: str) -> Iterator[tuple]:
    cur = tx._execute(f'SELECT * FROM "{table}"', None)
    while True:
        batch = cur.fetchmany(BATCH)
        if not batch:
            return
        yield from batch


def tables(tx: Session) -> list[str]:
    """The base tables of the database, by name."""
    return tx.column("SELECT table_name FROM information_schema.tables "
                     "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
                     "ORDER BY table_name")


def _columns(tx: Session, table: str) -> list[str]:
    return tx.column("SELECT column_name FROM information_schema.columns "
                     "WHERE table_schema = current_schema() AND table_name = :t "
                     "ORDER BY ordinal_position", {"t": table})


def copy_to_server(source: Store, url: str) -> TransferResult:
    """Copy every table of the DuckDB file `source` into the empty PostgreSQL database `url`."""
    import time

    started = time.perf_counter()
    if source.dialect != "duckdb":
        raise TransferError("migrate-storage 把 DuckDB 数据库文件搬到 PostgreSQL：--db 应为 DuckDB 文件")
    if not is_url(url):
        raise TransferError(f"--to 应为 PostgreSQL 数据库地址（postgresql://用户:密码@主机:5432/库名），"
                            f"而不是「{url}」")
    if not source.path.exists():
        raise TransferError(f"数据库文件 {source.path} 不存在")
    require_schema(source)
    target = Store(url)
    with target.read() as tx:
        existing = tx.column("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = current_schema() ORDER BY table_name")
    if existing:
        raise TransferError(
            f"目标数据库 {target.name} 不是空的（已有 {len(existing)} 张表或视图："
            f"{'、'.join(existing[:8])}{'…' if len(existing) > 8 else ''}）。为免覆盖数据，只能迁移到"
            "新建的空数据库（createdb 新库名）。")
    with source.read() as src:
        names = tables(src)
        sequences = src.tuples("SELECT sequence_name, last_value FROM duckdb_sequences()")
    with target.write(bump=False) as dst:
        apply(dst)
        missing = set(names) - set(tables(dst))
        if missing:
            raise TransferError(f"目标数据库的结构缺少数据表：{'、'.join(sorted(missing))}")
        for table in names:
            dst.run(f'DELETE FROM "{table}"')      # what the migrations put there (meta …)
            with source.read() as src:
                columns = _columns(src, table)
                listed = ", ".join(f'"{c}"' for c in columns)
                with dst.con.cursor().copy(f'COPY "{table}" ({listed}) FROM STDIN') as copy:
                    for row in _stream(src, table):
                        copy.write_row(row)
        for name, last in sequences:
            if last is not None:
                dst.run("SELECT setval(:s, :v)", {"s": name, "v": last})
    copies = []
    for table in names:
        with source.read() as src:
            expected = checksum(_stream(src, table))
        with target.read() as dst:
            found = checksum(_stream(dst, table))
        if found != expected:
            raise TransferError(
                f"核对不一致：表 {table} 在 DuckDB 中 {expected[0]:,} 行（校验和 {expected[1][:12]}），"
                f"在 PostgreSQL 中 {found[0]:,} 行（校验和 {found[1][:12]}）。请清空目标数据库后重试。")
        copies.append(TableCopy(table, found[0], found[1]))
    return TransferResult(str(source.path), target.name, copies, time.perf_counter() - started)
