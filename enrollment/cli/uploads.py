"""Weekly reports: ingest, template, uploads, history, withdraw and upload-file."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from .. import text as txt
from ..db import StorageError
from ..identity import audit
from ..labels import LEVEL_LABELS
from ..uploads import ingest, rights, withdrawals
from ..uploads import log as upload_log
from ..uploads import template as templates
from .common import (
    CONFIRM_WARNINGS,
    LEVEL_CHOICES,
    cli_actor,
    cli_address,
    fail,
    find_campaign,
    parse_day,
    print_problems,
    ready,
)
from .common import (
    uploader as find_uploader,
)
from .output import echo_frame, output_options, text_table


@click.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--report-date", callback=parse_day, help="Report date YYYY-MM-DD (default: from the file).")
@click.option("--uploader", help="Who uploads (recorded with the upload).")
@click.option("--dry-run", is_flag=True, help="Check and show the result; store nothing.")
@click.option("--accept-warnings", is_flag=True, help="Commit although there are warnings.")
@click.pass_context
def ingest_command(ctx: click.Context, file: Path, campaign_id: str, report_date: dt.date | None,
                   uploader: str | None, dry_run: bool, accept_warnings: bool) -> None:
    """Read a progress report (CSV/Excel) and store it; exit 1 on errors, 2 on warnings."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    actor = find_uploader(store, uploader, rights.UPLOAD)
    uploader, scope, role = actor.name, actor.units, actor.role
    content = file.read_bytes()
    if dry_run:
        preview = ingest.preview(store, campaign.id, content, file.name, report_date, scope)
        if preview.lines:
            frame = preview.frame()
            click.echo(text_table(frame.astype(object).where(frame.notna(), "")))
        print_problems(preview.problems)
        if preview.errors:
            sys.exit(1)
        click.echo(f"检查通过（未保存）：{len(preview.rows)} 个单位，上报日期 {preview.report_date}，"
                   f"累计参保人数合计 {preview.total_enrolled:,}")
        if preview.warnings and not accept_warnings:
            _date_hint(preview)
        sys.exit(2 if preview.warnings and not accept_warnings else 0)
    try:
        receipt = ingest.commit(store, campaign_id, content, file.name, report_date=report_date,
                                uploader=uploader, accept_warnings=accept_warnings,
                                allowed_units=scope, address=cli_address(), role=role)
    except ingest.UploadRejected as rejected:
        print_problems(rejected.preview.problems)
        if rejected.warnings_only:
            _date_hint(rejected.preview)
            fail(CONFIRM_WARNINGS, 2)
        fail(f"文件有 {len(rejected.preview.errors)} 处错误，未保存任何数据。", 1)
    except StorageError as exc:
        fail(str(exc))
    click.echo(receipt.summary())


def _date_hint(preview: ingest.Preview) -> None:
    """When the file's dates and --report-date disagree: how to choose either of them."""
    question = preview.date_question
    if question:
        form, others = question
        click.echo(f"文件中的日期（{'、'.join(map(str, others))}）与 --report-date {form} 不一致："
                   "加 --accept-warnings 使用 --report-date；去掉 --report-date 则使用文件中的日期。",
                   err=True)


@click.command("template")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--scope", help="Unit (code or name) whose units the template lists (default: all).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]),
              help="Level of the listed units (default: the level that reports).")
@click.option("--report-date", callback=parse_day,
              help="Fill 上次上报数 with the figures before this date (default: the latest).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the .xlsx.")
@click.pass_context
def template_command(ctx: click.Context, campaign_id: str, scope: str | None, level: str | None,
                     report_date: dt.date | None, out: Path) -> None:
    """Write the upload template (.xlsx) with the units pre-filled."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    level = "community" if level == "village" else level
    try:
        with store.read() as con:
            made = templates.build(con, campaign, scope, level, report_date)
    except templates.TemplateError as exc:
        fail(str(exc))
    out.write_bytes(made.content)
    click.echo(f"已生成上报模板：{out}（{made.scope_name}，{LEVEL_LABELS.get(made.level, made.level)}，"
               f"{made.units} 个单位）")


@click.command("uploads")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--uploader", help="Only this uploader's uploads.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
              help="How many of the newest uploads.")
@output_options
@click.pass_context
def uploads_command(ctx: click.Context, campaign_id: str, uploader: str | None, limit: int,
                    fmt: str) -> None:
    """The upload log: who uploaded what and when, accepted, rejected or withdrawn."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.read() as con:
        frame = upload_log.history(con, campaign_id, txt.identity(uploader) or None, limit)
    if frame.empty:
        click.echo("还没有任何上报记录")
        return
    echo_frame(upload_log.history_table(frame) if fmt == "table" else frame, fmt)


@click.command("history")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--unit", required=True, help="Unit code or name.")
@output_options
@click.pass_context
def history_command(ctx: click.Context, campaign_id: str, unit: str, fmt: str) -> None:
    """Every revision of a unit's uploaded figure, with the upload that made it."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.read() as con:
        try:
            found = templates.resolve_scope(con, campaign_id, unit)
        except templates.TemplateError as exc:
            fail(str(exc))
        frame = upload_log.unit_history(con, campaign_id, found.code)
    if frame.empty:
        click.echo(f"「{found.name}」（{found.code}）还没有上报过数字")
        return
    click.echo(f"{found.name}（{found.code}）", err=fmt != "table")
    echo_frame(upload_log.revision_table(frame) if fmt == "table" else frame, fmt)


@click.command("withdraw")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--uploader", required=True, help="Whose latest upload to withdraw.")
@click.option("--upload", "number", type=int,
              help="The upload number (第 N 号 in the campaign's log) expected to be withdrawn "
                   "(refused if it is not the latest).")
@click.pass_context
def withdraw_command(ctx: click.Context, campaign_id: str, uploader: str,
                     number: int | None) -> None:
    """Withdraw an uploader's latest upload: restore the figures it replaced (logged, history kept)."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    actor = find_uploader(store, uploader, rights.WITHDRAW)
    uploader, scope, role = actor.name, actor.units, actor.role
    try:
        result = withdrawals.withdraw(store, campaign_id, uploader, number, allowed_units=scope,
                                 address=cli_address(), role=role)
    except (withdrawals.WithdrawError, StorageError) as exc:
        fail(str(exc))
    click.echo(result.summary())


@click.command("upload-file")
@click.argument("number", type=int)
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the file exactly as it was uploaded.")
@click.pass_context
def upload_file_command(ctx: click.Context, number: int, campaign_id: str, out: Path) -> None:
    """Write the raw bytes of a stored upload (第 NUMBER 号 in the log; accepted or rejected)."""
    store = ready(ctx)
    with store.read() as con:
        found = upload_log.raw_file(con, campaign_id, number)
    if found is None:
        fail(f"第 {number} 号上报不存在，或没有保存文件内容")
    out.write_bytes(found[1])
    audit.log(store, cli_actor(), "export", f"写出第 {number} 号上报的原始文件「{found[0]}」",
              cli_address(), campaign_id=campaign_id)
    click.echo(f"已写出第 {number} 号上报的原始文件「{found[0]}」到 {out}（{len(found[1]):,} 字节）")
