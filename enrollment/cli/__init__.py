"""Command line: `python -m enrollment [--db PATH] COMMAND`. A thin layer over the package.

This module holds the `cli` group (its `--db` option and the storage-fault handling every command
shares) and registers the commands; each command group lives in its own module beside it.
"""

from __future__ import annotations

import errno
from pathlib import Path

import click

from .. import db
from ..db import StorageError, Store
from . import accounts, campaigns, cycle, reports, storage, targets, uploads
from .common import fail


class Context:
    """What every command gets as `ctx.obj`: the store the global --db option names."""

    def __init__(self, db: str | None):
        self.store = Store(db) if db else Store()


class Commands(click.Group):
    """The command group: a fault of the database file or the disk ends in its Chinese
    explanation and exit 1 (db.explain), never in a traceback, whichever command met it."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StorageError as exc:
            fail(str(exc))
        except db.EngineError as exc:
            explained = db.explain(exc, ctx.obj.store if ctx.obj else Path("?"))
            if explained is None:
                raise
            fail(str(explained))
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            fail(f"服务器磁盘已满，无法写入 {exc.filename or ''}：请清理磁盘空间后重试。"
                 "数据库中已保存的数据不受影响。")


@click.group(cls=Commands)
@click.option("--db", envvar="ENROLLMENT_DB", type=click.Path(dir_okay=False),
              help="The database: a DuckDB file (default: data/enrollment.duckdb) or a postgresql:// URL.")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """参保进度看板: enrollment-campaign progress tracking."""
    ctx.obj = Context(db)


COMMANDS = (
    # campaigns.py: setting up
    campaigns.init, campaigns.list_campaigns, campaigns.campaign_group,
    campaigns.regions_command, campaigns.demo_command,
    # uploads.py: weekly reports
    uploads.ingest_command, uploads.template_command, uploads.uploads_command,
    uploads.history_command, uploads.withdraw_command, uploads.upload_file_command,
    # targets.py: target tables
    targets.targets_group, targets.allocate_command,
    # reports.py: what leaders and the clerk read
    reports.progress_command, reports.groups_command, reports.export_command,
    # cycle.py: the Friday cycle (催报, publishing, locked weeks, contacts, the archive)
    cycle.remind_command, cycle.publish_command, cycle.week_group, cycle.contacts_group,
    cycle.bulletins_group,
    # accounts.py: accounts and the audit log
    accounts.users_group, accounts.audit_command,
    # storage.py: the database file
    storage.backup_command, storage.restore_command, storage.migrate_storage_command,
    storage.rebuild_figures_command,
)
for command in COMMANDS:
    cli.add_command(command)
