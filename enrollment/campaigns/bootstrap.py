"""`init`: create or migrate the schema and load the shipped campaigns, idempotently."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import campaigns, db, settings
from ..db import Store
from ..files.reader import ReadError
from ..identity import audit
from ..targets import tables as targets


class ShippedDataError(Exception):
    """A shipped data file does not pass its own checks (a packaging bug)."""


@dataclass
class InitReport:
    migrations: list[int] = field(default_factory=list)
    campaigns_added: list[str] = field(default_factory=list)
    target_sets_added: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.migrations:
            parts.append(f"数据库结构已升级到第 {self.migrations[-1]} 版")
        if self.campaigns_added:
            parts.append(f"新增参保活动 {len(self.campaigns_added)} 个：{'、'.join(self.campaigns_added)}")
        if self.target_sets_added:
            parts.append(f"载入目标任务表 {len(self.target_sets_added)} 个")
        return "；".join(parts) or "数据库已是最新，内置参保活动均已载入"


def init(store: Store, data_dir: Path | None = None, actor: str = "系统",
         address: str | None = None) -> InitReport:
    """Migrate the schema, then add any shipped campaign or target table not yet in the file.

    Each campaign and target table added is in the audit log under `actor`.
    """
    data_dir = data_dir or settings.data_dir()
    report = InitReport(migrations=db.migrate(store))
    for definition in campaigns.shipped_definitions(data_dir):
        with store.read() as tx:
            exists = db.campaigns.exists(tx, definition.id)
            loaded = db.targets.shipped_checksums(tx, definition.id)
            # A file made before campaigns had an issuer (migration 8) gets the shipped one.
            unsigned = exists and definition.issuer and not db.campaigns.get(tx, definition.id)["issuer"]
        if unsigned:
            with store.write() as tx:
                db.campaigns.set_issuer(tx, definition.id, definition.issuer)
        pending = []
        for spec in definition.extra.get("targets", []):
            content = (data_dir / spec["file"]).read_bytes()
            if hashlib.sha256(content).hexdigest() not in loaded:
                try:                    # read before the write lock, like any table
                    pending.append((spec, content, targets.read(content)))
                except ReadError as exc:
                    raise ShippedDataError(f"{spec['file']}: {exc}") from exc
        if exists and not pending:
            continue
        with store.write() as tx:
            if not exists:
                count = campaigns.create(tx, definition, data_dir)
                report.campaigns_added.append(definition.id)
                audit.record(tx, actor, "campaign_changed",
                             f"新增内置参保活动「{definition.name}」（{definition.id}），{count} 个单位",
                             address, campaign_id=definition.id)
            for spec, content, read_table in pending:
                table = targets.parse_table(tx, definition.id, read_table)
                if not table.ok:
                    problems = "；".join(str(p) for p in table.problems)
                    raise ShippedDataError(f"{spec['file']}: {problems}")
                set_id = targets.save(tx, definition.id, table, source="shipped",
                                      note=spec.get("note"), file_name=Path(spec["file"]).name,
                                      content=content, created_by="系统内置")
                report.target_sets_added.append(spec["file"])
                audit.record(tx, actor, "targets_changed",
                             f"载入内置目标任务表「{Path(spec['file']).name}」"
                             f"（第 {db.targets.number(tx, set_id)} 版），"
                             f"{len(table.rows)} 个单位", address, campaign_id=definition.id)
    return report


def ensure_ready(store: Store) -> None:
    """For the app: initialise a missing database, migrate an old one."""
    if store.schema_version() < db.LATEST_VERSION or not _has_campaigns(store):
        init(store)


def _has_campaigns(store: Store) -> bool:
    with store.read() as tx:
        return db.campaigns.count(tx) > 0
