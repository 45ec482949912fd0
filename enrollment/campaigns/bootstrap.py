"""`init`: create or migrate the schema and load the shipped campaigns, idempotently."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import campaigns, db, settings
from ..db import Store
from ..files.reader import ReadError
from ..identity import audit
from ..metrics import weekly
from ..targets import tables as targets
from . import windows


class ShippedDataError(Exception):
    """A shipped data file does not pass its own checks (a packaging bug)."""


@dataclass
class InitReport:
    migrations: list[int] = field(default_factory=list)
    campaigns_added: list[str] = field(default_factory=list)
    target_sets_added: list[str] = field(default_factory=list)
    figures_built: list[str] = field(default_factory=list)   # campaigns whose kept figures were built

    def summary(self) -> str:
        parts = []
        if self.migrations:
            parts.append(f"数据库结构已升级到第 {self.migrations[-1]} 版")
        if self.campaigns_added:
            parts.append(f"新增参保活动 {len(self.campaigns_added)} 个：{'、'.join(self.campaigns_added)}")
        if self.target_sets_added:
            parts.append(f"载入目标任务表 {len(self.target_sets_added)} 个")
        if self.figures_built:
            parts.append(f"重算每周数字 {len(self.figures_built)} 个活动：{'、'.join(self.figures_built)}")
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
            shipped_history = definition.extra.get("window_changes", [])
            # A database made before the campaign's terms (or its window history, or its
            # issuer: migration 8) were in its file gets them once; stored ones are kept.
            add_terms = exists and definition.terms.to_json() is not None and \
                db.campaigns.get(tx, definition.id)["terms"] is None
            add_history = exists and bool(shipped_history) and \
                not db.windows.has_changes(tx, definition.id)
            unsigned = exists and bool(definition.issuer) and \
                not db.campaigns.get(tx, definition.id)["issuer"]
        if add_terms or add_history or unsigned:
            with store.write() as tx:
                if add_terms:
                    db.campaigns.set_terms(tx, definition.id, definition.terms.to_json())
                if add_history:
                    windows.record_shipped(tx, campaigns.get(tx, definition.id), shipped_history)
                if unsigned:
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
                windows.record_shipped(tx, definition, definition.extra.get("window_changes", []))
                report.campaigns_added.append(definition.id)
                audit.record(tx, actor, "campaign_changed",
                             f"新增内置参保活动「{definition.name}」（{definition.id}），{count} 个单位",
                             address, campaign_id=definition.id)
            if not exists:
                weekly.rebuild(tx, definition.id)   # kept from the start, before its targets
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
    report.figures_built = [r.campaign_id for r in weekly.build_missing(store)]
    return report


def ensure_ready(store: Store) -> None:
    """For the app: initialise a missing database, migrate an old one, build figures kept per
    week that are missing (a database migrated by a command, a restored backup)."""
    if store.schema_version() < db.LATEST_VERSION or not _has_campaigns(store):
        init(store)
    else:
        weekly.build_missing(store)


def _has_campaigns(store: Store) -> bool:
    with store.read() as tx:
        return db.campaigns.count(tx) > 0
