"""What a backup or a database holds (Snapshot) and what backup and restore report, for both
engines (db/backup.py for the DuckDB file, db/dumps.py for PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .core import StorageError


class BackupError(StorageError):
    """A backup or restore that cannot be done (message in Chinese); nothing was changed."""


@dataclass
class Snapshot:
    """What a database file holds: its schema version, data version and rows per table."""
    path: Path
    schema_version: int
    data_version: int
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def summary(self) -> str:
        return (f"结构版本 {self.schema_version}，数据版本 {self.data_version}，{len(self.tables)} 张表共 "
                f"{self.rows:,} 行（上报记录 {self.tables.get('uploads', 0):,} 条，"
                f"上报数字 {self.tables.get('reports', 0):,} 条）")


@dataclass
class BackupResult:
    snapshot: Snapshot
    bytes: int
    seconds: float
    locked_seconds: float         # how long the app had to wait for the file

    def summary(self) -> str:
        return (f"已备份到 {self.snapshot.path}（{self.bytes / 1048576:.1f} MB，用时 "
                f"{self.seconds:.1f} 秒，其中占用数据库 {self.locked_seconds:.2f} 秒）：{self.snapshot.summary()}")


@dataclass
class RestoreResult:
    snapshot: Snapshot
    replaced: Snapshot | None
    migrations: list[int]
    set_aside: Path | None = None      # where a damaged database file was moved and kept

    def summary(self) -> str:
        text = f"已从 {self.snapshot.path} 恢复：{self.snapshot.summary()}"
        if self.replaced is not None:
            text += f"。原数据库（{self.replaced.summary()}）已被替换"
        if self.set_aside is not None:
            text += f"。无法打开的原数据库文件已移到 {self.set_aside} 保留"
        if self.migrations:
            text += f"；数据库结构已升级到第 {self.migrations[-1]} 版"
        return text


def place_checked(partial: Path, out: Path, original: Snapshot,
                  inspect: Callable[[Path], Snapshot]) -> Snapshot:
    """Read the written copy back (`inspect`, the engine's), compare its tables, schema and data
    version with what the database held when it was copied, and only then give it its name."""
    copy = inspect(partial)
    if (copy.tables, copy.schema_version, copy.data_version) != \
            (original.tables, original.schema_version, original.data_version):
        raise BackupError("备份文件与数据库核对不一致，备份未完成，请重试")
    os.replace(partial, out)
    copy.path = out
    return copy
