"""Command line: `python -m enrollment [--db PATH] COMMAND`. A thin layer over the package."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path

import click
import pandas as pd

from . import bootstrap, campaigns, demo, ingest, progress, storage, tables
from . import template as templates
from . import uploads as upload_log
from .labels import LEVEL_LABELS, TARGETS_MISSING
from .storage import Store, StorageError

LEVEL_CHOICES = ("city", "county", "township", "community", "village", "all")


class Context:
    def __init__(self, db: str | None):
        self.store = Store(db) if db else Store()


def fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def parse_day(ctx, param, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"日期「{value}」格式不对，应为 YYYY-MM-DD，例如 2021-11-19")


@click.group()
@click.option("--db", envvar="ENROLLMENT_DB", type=click.Path(dir_okay=False),
              help="DuckDB database file (default: data/enrollment.duckdb).")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """参保进度看板: enrollment-campaign progress tracking."""
    ctx.obj = Context(db)


def _ready(ctx: click.Context) -> Store:
    store = ctx.obj.store
    try:
        storage.require_schema(store)
    except StorageError as exc:
        fail(str(exc))
    return store


def _campaign(store: Store, campaign_id: str) -> campaigns.Campaign:
    try:
        return campaigns.load(store, campaign_id)
    except campaigns.CampaignError as exc:
        fail(str(exc))


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create or migrate the schema and load the shipped campaigns (idempotent)."""
    try:
        report = bootstrap.init(ctx.obj.store)
    except StorageError as exc:
        fail(str(exc))
    click.echo(f"{report.summary()}（数据库：{ctx.obj.store.path}）")


@cli.command("campaigns")
@click.pass_context
def list_campaigns(ctx: click.Context) -> None:
    """List campaigns: id, name, window, goal."""
    store = _ready(ctx)
    with store.read() as con:
        rows = campaigns.list_campaigns(con)
    for c in rows:
        click.echo(f"{c.id}\t{c.name}\t{c.start} 至 {c.end}\t目标 {c.goal:.0%}")


@cli.command("ingest")
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
    store = _ready(ctx)
    campaign = _campaign(store, campaign_id)
    content = file.read_bytes()
    if dry_run:
        with store.read() as con:
            preview = ingest.prepare(con, campaign, content, file.name, report_date)
        if preview.lines:
            with pd.option_context("display.unicode.east_asian_width", True,
                                   "display.max_rows", None, "display.width", 200):
                frame = preview.frame()
                click.echo(frame.astype(object).where(frame.notna(), "").to_string(index=False))
        for problem in preview.problems:
            click.echo(str(problem), err=True)
        if preview.errors:
            sys.exit(1)
        click.echo(f"检查通过（未保存）：{len(preview.rows)} 个单位，上报日期 {preview.report_date}，"
                   f"累计参保人数合计 {preview.total_enrolled:,}")
        if preview.warnings and not accept_warnings:
            _date_hint(preview)
        sys.exit(2 if preview.warnings and not accept_warnings else 0)
    try:
        receipt = ingest.commit(store, campaign_id, content, file.name, report_date=report_date,
                                uploader=uploader, accept_warnings=accept_warnings)
    except ingest.UploadRejected as rejected:
        for problem in rejected.preview.problems:
            click.echo(str(problem), err=True)
        if rejected.warnings_only:
            _date_hint(rejected.preview)
            fail("有需要确认的提醒，未保存。核对无误后请加 --accept-warnings 重新提交。", 2)
        fail(f"文件有 {len(rejected.preview.errors)} 处错误，未保存任何数据。", 1)
    except StorageError as exc:
        fail(str(exc))
    click.echo(receipt.summary())


def _date_hint(preview: ingest.Preview) -> None:
    question = preview.date_question
    if question:
        form, others = question
        click.echo(f"文件中的日期（{'、'.join(map(str, others))}）与 --report-date {form} 不一致："
                   "加 --accept-warnings 使用 --report-date；去掉 --report-date 则使用文件中的日期。",
                   err=True)


def _json_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.date().isoformat() if isinstance(value, pd.Timestamp) else value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


UNIT_FIELDS = ("code", "name", "level", "parent_code", "target", "enrolled", "completion", "pace",
               "gap_pp", "status", "week_delta", "report_date")


def _unit_dict(row: dict, fields=UNIT_FIELDS) -> dict:
    return {f: _json_value(row.get(f)) for f in fields}


def progress_json(result: progress.Progress, frame: pd.DataFrame) -> dict:
    c = result.campaign
    total_fields = UNIT_FIELDS + ("baseline", "needed_per_week")
    return {
        "campaign": c.id,
        "campaign_name": c.name,
        "as_of": result.as_of.isoformat(),
        "week": result.week,
        "source": result.source,
        "time_progress": float(result.time_progress),
        "elapsed_days": c.elapsed_days(result.as_of),
        "window_days": c.window_days,
        "goal": float(c.goal),
        "pace": float(result.pace),
        "targets_missing": result.targets_missing,
        "status_counts": result.status_counts(frame),
        "total": _unit_dict(result.total, total_fields),
        "units": [_unit_dict(r, UNIT_FIELDS + ("needed_per_week",))
                  for r in frame.to_dict("records")],
    }


@cli.command("progress")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, help="As-of date YYYY-MM-DD (default: this week's Friday).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES), help="Level to list (default: below the top).")
@click.option("--source", type=click.Choice(progress.SOURCES),
              help="upload or demo (default: uploads, demo only when nothing else exists).")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table")
@click.pass_context
def progress_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None,
                     level: str | None, source: str | None, fmt: str) -> None:
    """Progress of every unit of a level at a date: target, enrolled, completion, status."""
    store = _ready(ctx)
    campaign = _campaign(store, campaign_id)
    as_of = as_of or campaign.default_as_of()
    with store.read() as con:
        source = source or progress.default_source(con, campaign_id)
        result = progress.compute(con, campaign, as_of, source)
    levels = list(dict.fromkeys(result.units.sort_values("depth")["level"]))
    level = "community" if level == "village" else level
    if level is None:
        level = levels[1] if len(levels) > 1 else levels[0]
    if level != "all" and level not in levels:
        fail(f"该活动没有「{LEVEL_LABELS.get(level, level)}」层级，可选："
             f"{'、'.join(levels)}")
    frame = result.units if level == "all" else result.level(level)
    if fmt == "json":
        click.echo(json.dumps(progress_json(result, frame), ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        click.echo(frame[list(UNIT_FIELDS)].to_csv(index=False), nl=False)
        return
    total = result.total
    tag = "【示例数据】" if source == "demo" else ""
    click.echo(f"{tag}{campaign.name}  截至 {as_of}（第 {result.week} 周）  "
               f"序时进度 {float(result.time_progress):.2%}  目标 {campaign.goal:.0%}")
    if result.targets_missing:
        click.echo(f"{TARGETS_MISSING}：该活动还没有任务数，无法计算完成率。")
    else:
        enrolled = total["enrolled"]
        shown = "未上报" if pd.isna(enrolled) else f"{enrolled:,}"
        click.echo(f"合计：任务数 {total['target']:,}，累计参保 {shown}，"
                   f"完成率 {'' if pd.isna(total['completion']) else format(total['completion'], '.2%')}")
    with pd.option_context("display.unicode.east_asian_width", True,
                           "display.max_rows", None, "display.width", 200):
        click.echo(tables.as_text(tables.unit_table(frame)).to_string(index=False))


@cli.command("demo")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--clear", is_flag=True, help="Remove the campaign's demo data instead.")
@click.pass_context
def demo_command(ctx: click.Context, campaign_id: str, clear: bool) -> None:
    """Simulated weekly reports (示例数据), stored apart from real uploads."""
    store = _ready(ctx)
    campaign = _campaign(store, campaign_id)
    if clear:
        removed = demo.clear(store, campaign_id)
        click.echo(f"已删除 {campaign_id} 的示例数据 {removed} 条")
        return
    result = demo.generate(store, campaign)
    click.echo(result.summary())


FORMATS = click.Choice(("table", "json", "csv"))


def _echo_frame(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "json":
        def value(v):
            if isinstance(v, (pd.Timestamp, dt.datetime)) and not pd.isna(v) and \
                    (v.hour, v.minute, v.second) != (0, 0, 0):
                return v.isoformat(sep=" ", timespec="seconds")
            return _json_value(v)
        records = [{k: value(v) for k, v in row.items()} for row in frame.to_dict("records")]
        click.echo(json.dumps(records, ensure_ascii=False, indent=2, default=str))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        with pd.option_context("display.unicode.east_asian_width", True,
                               "display.max_rows", None, "display.width", 250):
            shown = frame.astype(object).where(frame.notna(), "")
            click.echo(shown.to_string(index=False))


@cli.command("template")
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
    store = _ready(ctx)
    campaign = _campaign(store, campaign_id)
    level = "community" if level == "village" else level
    try:
        with store.read() as con:
            made = templates.build(con, campaign, scope, level, report_date)
    except templates.TemplateError as exc:
        fail(str(exc))
    out.write_bytes(made.content)
    click.echo(f"已生成上报模板：{out}（{made.scope_name}，{LEVEL_LABELS.get(made.level, made.level)}，"
               f"{made.units} 个单位）")


@cli.command("uploads")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--uploader", help="Only this uploader's uploads.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
              help="How many of the newest uploads.")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_context
def uploads_command(ctx: click.Context, campaign_id: str, uploader: str | None, limit: int,
                    fmt: str) -> None:
    """The upload log: who uploaded what and when, accepted, rejected or withdrawn."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    with store.read() as con:
        frame = upload_log.history(con, campaign_id, uploader, limit)
    if frame.empty:
        click.echo("还没有任何上报记录")
        return
    if fmt == "table":
        _echo_frame(upload_log.history_table(frame), fmt)
    else:
        _echo_frame(frame.drop(columns=["messages"]), fmt)


@cli.command("history")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--unit", required=True, help="Unit code or name.")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_context
def history_command(ctx: click.Context, campaign_id: str, unit: str, fmt: str) -> None:
    """Every revision of a unit's uploaded figure, with the upload that made it."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
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
    _echo_frame(upload_log.revision_table(frame) if fmt == "table" else frame, fmt)


@cli.command("withdraw")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--uploader", required=True, help="Whose latest upload to withdraw.")
@click.option("--upload", "upload_id", type=int,
              help="The upload number expected to be withdrawn (refused if it is not the latest).")
@click.pass_context
def withdraw_command(ctx: click.Context, campaign_id: str, uploader: str,
                     upload_id: int | None) -> None:
    """Withdraw an uploader's latest upload: restore the figures it replaced (logged, history kept)."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    try:
        result = ingest.withdraw(store, campaign_id, uploader, upload_id)
    except ingest.WithdrawError as exc:
        fail(str(exc))
    except StorageError as exc:
        fail(str(exc))
    click.echo(result.summary())


@cli.command("upload-file")
@click.argument("upload_id", type=int)
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the file exactly as it was uploaded.")
@click.pass_context
def upload_file_command(ctx: click.Context, upload_id: int, campaign_id: str, out: Path) -> None:
    """Write the raw bytes of a stored upload (accepted or rejected) to a file."""
    store = _ready(ctx)
    with store.read() as con:
        found = upload_log.raw_file(con, campaign_id, upload_id)
    if found is None:
        fail(f"第 {upload_id} 号上报不存在，或没有保存文件内容")
    out.write_bytes(found[1])
    click.echo(f"已写出第 {upload_id} 号上报的原始文件「{found[0]}」到 {out}（{len(found[1]):,} 字节）")


@cli.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (must not exist yet).")
@click.pass_context
def backup_command(ctx: click.Context, out: Path) -> None:
    """A consistent copy of the database, also while the app is serving it."""
    from . import backup

    store = _ready(ctx)
    try:
        result = backup.backup(store, out)
    except StorageError as exc:
        fail(str(exc))
    click.echo(result.summary())


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that holds data without asking.")
@click.pass_context
def restore_command(ctx: click.Context, file: Path, yes: bool) -> None:
    """Replace the database with a backup made by `backup` (checked first)."""
    from . import backup

    store = ctx.obj.store
    try:
        snapshot = backup.inspect(file)
        existing = backup.current(store)
        if existing is not None and existing.rows and not yes:
            click.echo(f"备份文件：{snapshot.summary()}")
            click.echo(f"当前数据库 {store.path}：{existing.summary()}")
            try:
                confirmed = click.confirm("恢复将用备份替换当前数据库的全部数据，确定吗？", default=False)
            except click.Abort:
                confirmed = False
            if not confirmed:
                fail("未恢复：当前数据库中已有数据。确认要替换，请加 --yes 再运行。")
            yes = True
        result = backup.restore(store, file, replace=yes)
    except StorageError as exc:
        fail(str(exc))
    click.echo(result.summary())
