"""The database file itself: backup and restore, and the figures kept per week."""

from __future__ import annotations

from pathlib import Path

import click

from .. import db
from ..db import StorageError
from ..metrics import weekly
from .common import fail, find_campaign, ready


@click.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (must not exist yet).")
@click.pass_context
def backup_command(ctx: click.Context, out: Path) -> None:
    """A consistent copy of the database, also while the app is serving it."""
    from ..db import backup

    store = ready(ctx)
    try:
        result = backup.backup(store, out)
    except StorageError as exc:
        fail(str(exc))
    click.echo(result.summary())


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that holds data without asking.")
@click.pass_context
def restore_command(ctx: click.Context, file: Path, yes: bool) -> None:
    """Replace the database with a backup made by `backup` (checked first)."""
    from ..db import backup

    store = ctx.obj.store
    try:
        snapshot = backup.inspect(file)
        try:
            existing = backup.current(store)
        except db.DatabaseDamaged as exc:
            # Never opened again: restore moves it aside (kept) and puts the backup in place.
            click.echo(f"{exc}\n当前数据库无法打开，将移到旁边保留后用备份恢复。", err=True)
            existing = None
        if existing is not None and existing.rows and not yes:
            click.echo(f"备份文件：{snapshot.summary()}")
            click.echo(f"当前数据库 {store.name}：{existing.summary()}")
            try:
                confirmed = click.confirm("恢复将用备份替换当前数据库的全部数据，确定吗？", default=False)
            except click.Abort:
                confirmed = False
            if not confirmed:
                fail("未恢复：当前数据库中已有数据。确认要替换，请加 --yes 再运行。")
            yes = True
        result = backup.restore(store, file, replace=yes)
        built = weekly.build_missing(store)    # a backup from before the kept figures
    except StorageError as exc:
        fail(str(exc))
    click.echo(result.summary())
    for rebuilt in built:
        click.echo(rebuilt.summary())


@click.command("migrate-storage")
@click.option("--to", "to", required=True, metavar="URL",
              help="An empty PostgreSQL database (postgresql://user:password@host:5432/name).")
@click.pass_context
def migrate_storage_command(ctx: click.Context, to: str) -> None:
    """Copy every table of the DuckDB file (--db) into an empty PostgreSQL database, checked."""
    from ..db import transfer
    from ..db.postgres import masked

    try:
        result = transfer.copy_to_server(ctx.obj.store, to)
    except StorageError as exc:
        fail(str(exc))
    click.echo(result.summary())
    click.echo(f"今后请把 ENROLLMENT_DB 设为该数据库地址（{masked(to)}）再启动应用。")


@click.command("rebuild-figures")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--source", type=click.Choice(("upload", "demo")),
              help="Only this source's figures (default: every source, and the tasks).")
@click.pass_context
def rebuild_figures_command(ctx: click.Context, campaign_id: str, source: str | None) -> None:
    """Recompute the figures kept per week end (and the tasks) from the stored reports."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.write() as tx:
        rebuilt = weekly.rebuild(tx, campaign_id, source)
    click.echo(rebuilt.summary())
