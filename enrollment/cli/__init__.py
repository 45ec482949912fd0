"""Command line: `python -m enrollment [--db PATH] COMMAND`. A thin layer over the package."""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
import sys
from pathlib import Path

import click
import duckdb
import pandas as pd

from .. import campaigns, db, settings
from .. import text as txt
from ..campaigns import bootstrap, demo, regions
from ..db import StorageError, Store
from ..export import bundles, tables
from ..export import model as exports
from ..files import bounds
from ..files.problems import bounded
from ..files.reader import ReadError
from ..identity import accounts, audit
from ..labels import LEVEL_LABELS, TARGETS_MISSING
from ..metrics import progress
from ..targets import allocation
from ..targets import tables as targets
from ..uploads import ingest
from ..uploads import log as upload_log
from ..uploads import template as templates

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


class Commands(click.Group):
    """The command group: a fault of the database file or the disk ends in its Chinese
    explanation and exit 1 (db.explain), never in a traceback, whichever command met it."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StorageError as exc:
            fail(str(exc))
        except duckdb.Error as exc:
            explained = db.explain(exc, ctx.obj.store.path if ctx.obj else Path("?"))
            if explained is None:
                raise
            fail(str(explained))
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            fail(f"服务器磁盘已满，无法写入 {exc.filename or ''}：请清理磁盘空间后重试。"
                 "数据库中已保存的数据不受影响。")


def _check_secret() -> None:
    """Refuse to set up login with an unusable cookie-signing secret (too short)."""
    try:
        settings.secret()
    except settings.SettingError as exc:
        fail(f"{exc}（请设置 ENROLLMENT_SECRET 或 ENROLLMENT_SECRET_FILE 后重试；未做任何修改。）")


@click.group(cls=Commands)
@click.option("--db", envvar="ENROLLMENT_DB", type=click.Path(dir_okay=False),
              help="DuckDB database file (default: data/enrollment.duckdb).")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """参保进度看板: enrollment-campaign progress tracking."""
    ctx.obj = Context(db)


def _ready(ctx: click.Context) -> Store:
    store = ctx.obj.store
    try:
        db.require_schema(store)
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
    _check_secret()
    try:
        report = bootstrap.init(ctx.obj.store, actor=cli_actor(), address=cli_address())
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
    uploader, scope, role = _uploader_scope(store, uploader, "upload")
    content = file.read_bytes()
    if dry_run:
        preview = ingest.preview(store, campaign.id, content, file.name, report_date, scope)
        if preview.lines:
            with pd.option_context("display.unicode.east_asian_width", True,
                                   "display.max_rows", None, "display.width", 200):
                frame = preview.frame()
                click.echo(frame.astype(object).where(frame.notna(), "").to_string(index=False))
        _print_problems(preview.problems)
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
        _print_problems(rejected.preview.problems)
        if rejected.warnings_only:
            _date_hint(rejected.preview)
            fail("有需要确认的提醒，未保存。核对无误后请加 --accept-warnings 重新提交。", 2)
        fail(f"文件有 {len(rejected.preview.errors)} 处错误，未保存任何数据。", 1)
    except StorageError as exc:
        fail(str(exc))
    click.echo(receipt.summary())


def cli_address() -> str:
    """Where a command-line action comes from, for the audit log."""
    import getpass
    import socket

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return f"命令行 {who}@{socket.gethostname()}"


def cli_actor() -> str:
    """Who runs an account command on the server (the operating-system account)."""
    return cli_address().replace("命令行 ", "命令行:").split("@")[0]


PERMISSION_WORDS = {"upload": "上报或撤回数据", "withdraw": "上报或撤回数据",
                    "manage_targets": "修改目标任务"}


def _uploader_scope(store: Store, uploader: str | None, permission: str
                    ) -> tuple[str | None, tuple[str, ...] | None, str | None]:
    """(name, units, role) of the person --uploader names, for an action that needs `permission`.

    The name is compared after NFKC (full-width ｒｅｐ１ is rep1) and may not contain control or
    invisible characters. Once accounts exist it must be an active account whose role has the
    permission, and the account's scope applies as on the page (access.Viewer decides both): a
    填报员's rows outside their units are errors. An unknown name is refused, so a look-alike of
    an account cannot pass as a free-text name. In open mode (no account) any name is recorded.
    """
    if uploader is None:
        return None, None, None
    from ..identity.access import Viewer

    try:
        name = txt.clean_text(uploader, what="--uploader", limit=ingest.MAX_UPLOADER, fold=True)
    except txt.TextError as exc:
        fail(str(exc))
    with store.read() as con:
        if not accounts.any_account(con):
            return name, None, None
        user = accounts.get(con, name)
    what = PERMISSION_WORDS.get(permission, permission)
    if user is None:
        fail(f"账号「{name}」不存在。已启用账号后，--uploader 须是账号的用户名（可用 users list 查看）。")
    if not user.active:
        fail(f"账号「{user.name}」已停用，不能{what}。")
    viewer = Viewer(user, open_mode=False)
    if not viewer.can(permission):
        fail(f"账号「{user.name}」是{user.role_label}，没有{what}的权限。")
    return user.name, viewer.scope, user.role


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
# Low-income and stable post-poverty residents (their goal is 100%): target, enrolled, rate.
LOW_INCOME_FIELDS = ("low_income_target", "low_income_enrolled", "low_income_completion")


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
        "total": _unit_dict(result.total, total_fields + LOW_INCOME_FIELDS),
        "units": [_unit_dict(r, UNIT_FIELDS + ("needed_per_week",) + LOW_INCOME_FIELDS)
                  for r in frame.to_dict("records")],
        "low_income_goal": None if c.low_income_goal is None else float(c.low_income_goal),
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
        click.echo(txt.csv_text(frame[list(UNIT_FIELDS)]), nl=False)
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


# --- region set-up -------------------------------------------------------------------------

@cli.group("campaign")
def campaign_group() -> None:
    """Set up campaigns."""


@campaign_group.command("create")
@click.option("--id", "campaign_id", required=True, help="Campaign id, e.g. yangcheng-2022-residents.")
@click.option("--name", required=True, help="Campaign name (Chinese).")
@click.option("--region", required=True, help="Statistical division code of the region (see `regions`).")
@click.option("--levels", required=True,
              help="Levels below the region to track: county,township,village (village = community).")
@click.option("--start", required=True, callback=parse_day, help="First day of the window, YYYY-MM-DD.")
@click.option("--end", required=True, callback=parse_day, help="Last day of the window, YYYY-MM-DD.")
@click.option("--goal", default="0.97", show_default=True, help="Coverage goal (0.97 or 97%).")
@click.option("--programme", type=click.Choice(("residents", "employees")), default="residents",
              show_default=True, help="Insurance programme.")
@click.option("--low-income-goal", help="Goal for low-income residents (e.g. 1 for 100%).")
@click.pass_context
def campaign_create(ctx: click.Context, campaign_id: str, name: str, region: str, levels: str,
                    start: dt.date, end: dt.date, goal: str, programme: str,
                    low_income_goal: str | None) -> None:
    """Create a campaign for any region from the national division codes."""
    store = _ready(ctx)
    try:
        definition = regions.define(id=campaign_id, name=name, region_code=region, levels=levels,
                                    start=start, end=end, goal=goal, programme=programme,
                                    low_income_goal=low_income_goal)
        created = regions.create(store, definition, actor=cli_actor(), address=cli_address())
    except (regions.SetupError, StorageError) as exc:
        fail(str(exc))
    click.echo(created.summary())


@cli.command("regions")
@click.argument("text")
@click.option("--limit", default=20, show_default=True, help="Most results to list.")
def regions_command(text: str, limit: int) -> None:
    """Find division codes by name (province to township) or check a code."""
    found = regions.search(text, limit=limit)
    if not found:
        fail(f"没有找到名称包含「{text}」的区划")
    names = regions.full_names([d.code for d in found])
    for d in found:
        click.echo(f"{d.code}\t{LEVEL_LABELS.get(d.level, d.level)}\t{names.get(d.code, d.name)}")


# --- targets -------------------------------------------------------------------------------

@cli.group("targets")
def targets_group() -> None:
    """Target tables (任务分解表): show, load, history, template, restore."""


def _print_problems(problems) -> None:
    """One line per problem: the first 200, then how many more there are."""
    for problem in bounded(problems):
        click.echo(str(problem), err=True)


def _read_file(file: Path) -> bytes:
    """A file's bytes; one over ENROLLMENT_MAX_UPLOAD_MB is refused before it is read."""
    if problem := bounds.size_problem(file.stat().st_size):
        fail(problem)
    return file.read_bytes()


TARGET_FIELDS = ("code", "name", "level", "task", "baseline", "registered_population",
                 "resident_population", "low_income", "set_id")


def _records(frame: pd.DataFrame, fields) -> list[dict]:
    return [{f: _json_value(r.get(f)) for f in fields} for r in frame.to_dict("records")]


def _target_text(frame: pd.DataFrame) -> str:
    labels = {"code": "单位代码", "name": "单位", "level": "层级", "task": "任务数",
              "baseline": "上年参保人数", "registered_population": "户籍人口数",
              "resident_population": "常住人口数", "low_income": "低收入人口数", "set_id": "版本"}
    shown = frame[[c for c in TARGET_FIELDS if c in frame.columns]].copy()
    shown["level"] = shown["level"].map(lambda v: LEVEL_LABELS.get(v, v))
    for column in ("task", "baseline", "registered_population", "resident_population",
                   "low_income"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    with pd.option_context("display.unicode.east_asian_width", True, "display.max_rows", None,
                           "display.width", 200):
        return shown.rename(columns=labels).to_string(index=False)


@targets_group.command("show")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--level", type=click.Choice(LEVEL_CHOICES), help="Only this level.")
@click.option("--set", "set_id", type=int, help="An earlier version (see `targets history`).")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv")), default="table")
@click.pass_context
def targets_show(ctx: click.Context, campaign_id: str, level: str | None, set_id: int | None,
                 fmt: str) -> None:
    """The current target of every unit (or one version's rows)."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    level = {"village": "community", "all": None}.get(level, level)
    with store.read() as con:
        frame = (db.targets.version(con, campaign_id, set_id) if set_id is not None
                 else db.targets.current(con, campaign_id, level))
    if level and set_id is not None:
        frame = frame[frame["level"] == level]
    if frame.empty:
        if set_id is not None:
            fail(f"本活动没有第 {set_id} 版目标任务表")
        fail(f"{TARGETS_MISSING}：该活动还没有任务数。可用 `targets template` 下载模板填写后"
             "用 `targets load` 载入，或用 `allocate` 测算。")
    if fmt == "json":
        click.echo(json.dumps(_records(frame, TARGET_FIELDS), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(txt.csv_text(frame[[c for c in TARGET_FIELDS if c in frame.columns]]),
                   nl=False)
    else:
        click.echo(_target_text(frame))


@targets_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--uploader", help="Who loads the table (kept with the version).")
@click.option("--note", help="A note kept with the version (e.g. the notice number).")
@click.option("--dry-run", is_flag=True, help="Check and show the result; store nothing.")
@click.option("--accept-warnings", is_flag=True, help="Store although there are warnings.")
@click.pass_context
def targets_load(ctx: click.Context, file: Path, campaign_id: str, uploader: str | None,
                 note: str | None, dry_run: bool, accept_warnings: bool) -> None:
    """Load a target table (CSV/Excel) as the new current version; exit 1 on errors, 2 on warnings."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    uploader, _, role = _uploader_scope(store, uploader, "manage_targets")
    try:
        note = txt.clean_text(note, what="--note", limit=targets.MAX_NOTE, required=False)
    except txt.TextError as exc:
        fail(str(exc))
    content = _read_file(file)
    if dry_run:
        table = targets.check_file(store, campaign_id, content)
        _print_problems(table.problems)
        if not table.ok:
            fail(f"文件有 {sum(1 for p in table.problems if p.severity == 'error')} 处错误。", 1)
        click.echo(f"检查通过（未保存）：{len(table.rows)} 个{LEVEL_LABELS.get(table.level, '')}，"
                   f"任务数合计 {sum(r.task for r in table.rows):,}")
        sys.exit(2 if any(p.severity == "warning" for p in table.problems)
                 and not accept_warnings else 0)
    try:
        saved = targets.commit(store, campaign_id, content, file.name,
                               created_by=uploader or cli_actor(), note=note,
                               accept_warnings=accept_warnings, address=cli_address(), role=role)
    except targets.TargetsRejected as rejected:
        _print_problems(rejected.table.problems)
        if rejected.warnings_only:
            fail("有需要确认的提醒，未保存。核对无误后请加 --accept-warnings 重新提交。", 2)
        fail("目标任务表有错误，未保存任何数据。", 1)
    except StorageError as exc:
        fail(str(exc))
    click.echo(saved.summary())


HISTORY_FIELDS = ("set_id", "status", "level", "scope_code", "scope_name", "units", "total_task",
                  "source", "file_name", "created_by", "created_at", "note")


@targets_group.command("history")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
@click.pass_context
def targets_history(ctx: click.Context, campaign_id: str, fmt: str) -> None:
    """Every version of the campaign's target tables, newest first; the current ones marked."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    with store.read() as con:
        frame = targets.history(con, campaign_id)
    if fmt == "json":
        records = _records(frame, HISTORY_FIELDS)
        for r in records:
            if r["created_at"]:
                r["created_at"] = str(r["created_at"])
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if frame.empty:
        click.echo(f"{TARGETS_MISSING}：该活动还没有任何目标任务表")
        return
    click.echo(tables.as_text(tables.target_history(frame)).to_string(index=False))


@targets_group.command("template")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]),
              help="Level of the units to list (default: the level below the top).")
@click.option("--scope", "scope_code", help="Only the units under this unit code.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it: .xlsx or .csv.")
@click.pass_context
def targets_template(ctx: click.Context, campaign_id: str, level: str | None,
                     scope_code: str | None, out: Path) -> None:
    """A target table to fill in: the units pre-filled with their current values."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    with store.read() as con:
        levels = db.units.levels_by_depth(con, campaign_id)
        level = {"village": "community"}.get(level, level) or (levels[1] if len(levels) > 1
                                                               else levels[0])
        try:
            content = targets.template(con, campaign_id, level, scope_code,
                                       "csv" if out.suffix.lower() == ".csv" else "xlsx")
        except ValueError as exc:
            fail(str(exc))
    out.write_bytes(content)
    click.echo(f"已生成模板 {out}（{LEVEL_LABELS.get(level, level)}）")


@targets_group.command("restore")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--set", "set_id", type=int, required=True, help="The version to make current again.")
@click.option("--uploader", help="Who restores it (kept with the new version).")
@click.pass_context
def targets_restore(ctx: click.Context, campaign_id: str, set_id: int,
                    uploader: str | None) -> None:
    """Make an earlier version current again (as a new version; history is kept)."""
    store = _ready(ctx)
    _campaign(store, campaign_id)
    uploader, _, role = _uploader_scope(store, uploader, "manage_targets")
    try:
        saved = targets.restore(store, campaign_id, set_id, created_by=uploader or cli_actor(),
                                address=cli_address(), role=role)
    except ValueError as exc:
        fail(str(exc))
    click.echo(saved.summary())


# --- allocation ----------------------------------------------------------------------------

@cli.command("allocate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--total", required=True, help="The total target to split, e.g. 1630000.")
@click.option("--by", "by", required=True,
              help="Weighting columns: COLUMN[=WEIGHT],… (header, role key or label).")
@click.option("--round", "step", type=click.IntRange(min=1), default=1, show_default=True,
              help="Round every task to a multiple of this (1, 10, 100).")
@click.option("--floor", "floor", help="Lower bound: COLUMN[*FACTOR], e.g. baseline.")
@click.option("--cap", "cap", help="Upper bound: COLUMN[*FACTOR], e.g. baseline*1.05.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result here (UTF-8 CSV); default: standard output.")
@click.option("--campaign", "campaign_id", help="Check the units against this campaign.")
@click.option("--save", is_flag=True, help="With --campaign: store the result as the current targets.")
@click.option("--uploader", help="With --save: who stores it.")
@click.option("--accept-warnings", is_flag=True, help="With --save: store although there are warnings.")
@click.pass_context
def allocate_command(ctx: click.Context, file: Path, total: str, by: str, step: int,
                     floor: str | None, cap: str | None, out: Path | None,
                     campaign_id: str | None, save: bool, uploader: str | None,
                     accept_warnings: bool) -> None:
    """Split a total over the units of a table by weighting columns (largest remainder)."""
    if save and not campaign_id:
        fail("--save 需要同时指定 --campaign")
    try:
        result = allocation.allocate(
            allocation.read_base(_read_file(file)), allocation.parse_total(total),
            allocation.parse_weights(by), step, allocation.parse_bound(floor),
            allocation.parse_bound(cap))
    except allocation.AllocationError as exc:
        _print_problems(exc.problems)
        fail("无法测算，未输出结果。")
    except (ReadError, ValueError) as exc:
        fail(str(exc))
    content = result.to_csv(bom=out is not None)
    if campaign_id:
        store = _ready(ctx)
        _campaign(store, campaign_id)
        uploader, _, role = _uploader_scope(store, uploader if save else None, "manage_targets")
        table = targets.check_file(store, campaign_id, content)
        _print_problems(table.problems)
        if not table.ok:
            fail("测算结果与活动的单位不符，未保存。")
    if out:
        out.write_bytes(content)
        click.echo(f"已写入 {out}", err=True)
    else:
        click.echo(content.decode("utf-8"), nl=False)
    click.echo(f"{result.describe()}；各单位合计 {result.sum:,}", err=True)
    if save:
        name = f"{file.stem}-测算结果.csv"
        try:
            saved = targets.commit(store, campaign_id, result.to_csv(), name,
                                   created_by=uploader or cli_actor(), note=result.describe(),
                                   source="allocation", accept_warnings=accept_warnings,
                                   address=cli_address(), role=role)
        except targets.TargetsRejected as rejected:
            if rejected.warnings_only:
                fail("有需要确认的提醒，未保存。核对无误后请加 --accept-warnings 重新提交。", 2)
            _print_problems(rejected.table.problems)
            fail("测算结果有错误，未保存。", 1)
        click.echo(saved.summary(), err=True)
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
        click.echo(txt.csv_text(frame), nl=False)
    else:
        with pd.option_context("display.unicode.east_asian_width", True,
                               "display.max_rows", None, "display.width", 250):
            # Text from files and forms may carry terminal escapes (ESC [31m …): printed as spaces.
            shown = frame.astype(object).where(frame.notna(), "").map(
                lambda v: txt.scrub(v, 10_000) if isinstance(v, str) else v)
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
        frame = upload_log.history(con, campaign_id, txt.identity(uploader) or None, limit)
    if frame.empty:
        click.echo("还没有任何上报记录")
        return
    if fmt == "table":
        _echo_frame(upload_log.history_table(frame), fmt)
    else:
        _echo_frame(frame, fmt)


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
    uploader, scope, role = _uploader_scope(store, uploader, "withdraw")
    try:
        result = ingest.withdraw(store, campaign_id, uploader, upload_id, allowed_units=scope,
                                 address=cli_address(), role=role)
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
    audit.log(store, cli_actor(), "export", f"写出第 {upload_id} 号上报的原始文件「{found[0]}」",
              cli_address(), campaign_id=campaign_id)
    click.echo(f"已写出第 {upload_id} 号上报的原始文件「{found[0]}」到 {out}（{len(found[1]):,} 字节）")


# --- accounts and the audit log -------------------------------------------------------------

def _read_password(prompt: str) -> str:
    """A password from a hidden prompt (asked twice) or, when stdin is not a terminal, its
    first line. Never from an argument: arguments end up in shell history and `ps`."""
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt="再次输入以确认")
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@cli.group("users")
def users_group() -> None:
    """Accounts: add, list, disable, enable, unlock, reset a password."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, help="管理员/admin, 领导/leader or 填报员/reporter.")
@click.option("--units", default="", help="A reporter's units: codes or names, comma-separated.")
@click.option("--full-name", default=None, help="Name and office shown with the account.")
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, units: str, full_name: str | None) -> None:
    """Add an account; the password comes from a prompt or stdin."""
    _check_secret()
    store = _ready(ctx)
    try:
        accounts.check_name(name)
        accounts.parse_role(role)
        password = _read_password("密码")
        user = accounts.create(store, name, role, password,
                               units=[u for u in units.replace("，", ",").split(",") if u.strip()],
                               full_name=full_name, actor=cli_actor(), address=cli_address())
    except (accounts.AccountError, StorageError) as exc:
        fail(str(exc))
    scope = f"，负责 {'、'.join(user.units)}" if user.units else ""
    click.echo(f"已创建账号「{user.name}」（{user.role_label}{scope}）。登录已启用。")


@users_group.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_context
def users_list(ctx: click.Context, fmt: str) -> None:
    """Accounts with role, units and status (never a password or hash)."""
    store = _ready(ctx)
    with store.read() as con:
        users = accounts.list_users(con)
        names = accounts.unit_names(con, [c for u in users for c in u.units])
    if not users:
        click.echo("还没有任何账号（未启用登录，所有人可修改数据）")
        return
    now = accounts.now_utc()
    frame = pd.DataFrame([{
        "用户名": u.name, "姓名/单位": u.full_name or "", "角色": u.role_label,
        "负责单位": "、".join(f"{names.get(c, c)}（{c}）" for c in u.units),
        "状态": accounts.status_label(u, now),
        "最近登录": f"{upload_log.local_time(u.last_login_at):%Y-%m-%d %H:%M}" if u.last_login_at else "",
    } for u in users])
    _echo_frame(frame, fmt)


@users_group.command("disable")
@click.argument("name")
@click.pass_context
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable an account (it cannot log in; its sessions end)."""
    _set_active(ctx, name, False)
    click.echo(f"账号「{name}」已停用，已登录的会话已失效。")


@users_group.command("enable")
@click.argument("name")
@click.pass_context
def users_enable(ctx: click.Context, name: str) -> None:
    """Enable a disabled account again."""
    _set_active(ctx, name, True)
    click.echo(f"账号「{name}」已启用。")


def _set_active(ctx: click.Context, name: str, active: bool) -> None:
    store = _ready(ctx)
    try:
        accounts.set_active(store, name, active, actor=cli_actor(), address=cli_address())
    except (accounts.AccountError, StorageError) as exc:
        fail(str(exc))


@users_group.command("unlock")
@click.argument("name", required=False)
@click.option("--address", help="Also end the login delay of this address (and its locks).")
@click.pass_context
def users_unlock(ctx: click.Context, name: str | None, address: str | None) -> None:
    """End an account's login locks (from every address), or an address's login delay."""
    if not name and not address:
        fail("请指定用户名，或用 --address 指定要解除限制的地址。")
    store = _ready(ctx)
    try:
        if name:
            user = accounts.unlock(store, name, actor=cli_actor(), address=cli_address())
            click.echo(f"已解除账号「{user.name}」的登录锁定，可以从任何地址登录。")
        if address:
            cleared = accounts.unlock_address(store, address, actor=cli_actor(),
                                              address=cli_address())
            click.echo(f"已解除地址 {address} 的登录限制（{cleared} 条记录）。" if cleared
                       else f"地址 {address} 没有登录限制。")
    except (accounts.AccountError, StorageError) as exc:
        fail(str(exc))


@users_group.command("reset")
@click.argument("name")
@click.pass_context
def users_reset(ctx: click.Context, name: str) -> None:
    """Set a new password (prompt or stdin); unlocks; the user changes it at the next login."""
    store = _ready(ctx)
    try:
        with store.read() as con:
            accounts.require(con, name)
        password = _read_password("新密码")
        accounts.reset_password(store, name, password, actor=cli_actor(), address=cli_address())
    except (accounts.AccountError, StorageError) as exc:
        fail(str(exc))
    click.echo(f"已重置账号「{name}」的密码并解除锁定；该账号下次登录时须修改密码。")


@cli.command("audit")
@click.option("--actor", help="Only this person's entries.")
@click.option("--action", "actions", multiple=True, type=click.Choice(audit.ACTIONS),
              help="Only these actions (repeatable).")
@click.option("--since", callback=parse_day, help="From this local day YYYY-MM-DD.")
@click.option("--until", callback=parse_day, help="Up to this local day YYYY-MM-DD (inclusive).")
@click.option("--contains", "text", help="Only entries whose detail, actor or address contain this.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table")
@click.pass_context
def audit_command(ctx: click.Context, actor: str | None, actions: tuple[str, ...],
                  since: dt.date | None, until: dt.date | None, text: str | None, limit: int,
                  fmt: str) -> None:
    """The audit log (操作日志), newest first."""
    store = _ready(ctx)
    with store.read() as con:
        frame = audit.query(con, actor=txt.identity(actor) or None, actions=actions, since=since,
                            until=until, text=text, limit=limit)
    if frame.empty:
        click.echo("没有符合条件的操作记录")
        return
    _echo_frame(audit.table(frame) if fmt == "table" else frame, fmt)
@cli.command("export")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, help="As-of date YYYY-MM-DD (default: this week's Friday).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the files into (created if missing).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]),
              help="Level of the ranked, charted and posted units (default: the one below the scope).")
@click.option("--scope", help="Unit (code or name) whose lower units are exported (default: all).")
@click.option("--source", type=click.Choice(progress.SOURCES),
              help="upload or demo (default: uploads, demo only when nothing else exists).")
@click.option("--formats", default=",".join(bundles.FORMATS), show_default=True,
              help="Comma-separated: png, svg, pdf (charts), xlsx, docx, board (张榜 PDFs).")
@click.option("--zip", "make_zip", is_flag=True, help="Also write all files as one ZIP beside the folder's files.")
@click.pass_context
def export_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None, out: Path,
                   level: str | None, scope: str | None, source: str | None, formats: str,
                   make_zip: bool) -> None:
    """通报导出: charts, Excel 通报表, Word 通报稿 and 张榜 PDFs for one week; exit 1 when a
    requested format could not be made (the others are written)."""
    store = _ready(ctx)
    campaign = _campaign(store, campaign_id)
    as_of = as_of or campaign.default_as_of()
    try:
        wanted = bundles.parse_formats(formats)
        with store.read() as con:
            source = source or progress.default_source(con, campaign_id)
            data = exports.gather(con, campaign, as_of, source, level, scope)
    except exports.ExportError as exc:
        fail(str(exc))
    bundle = bundles.build(data, wanted)
    out.mkdir(parents=True, exist_ok=True)
    written = bundle.write(out)
    if make_zip and bundle.files:
        zipped = out / bundle.zip_name
        zipped.write_bytes(bundle.zip_bytes())
        written.append(zipped)
    for path in written:
        click.echo(str(path))
    if written:
        audit.log(store, cli_actor(), "export",
                  f"导出通报文件 {len(written)} 个到 {out}（{data.scope['name']}，{data.when}）",
                  cli_address(), campaign_id=campaign_id)
    tag = "【示例数据】" if data.demo else ""
    boards = len([f for f in bundle.of("board") if "全部" not in f.name])
    click.echo(f"{tag}已导出 {len(written)} 个文件到 {out}（{data.scope['name']}，"
               f"{LEVEL_LABELS.get(data.level, data.level)}，{data.when}"
               + (f"，张榜 {boards} 个单位" if boards else "") + "）", err=True)
    for note in bundle.notes:
        click.echo(f"提示：{note}", err=True)
    problem = bundles.failure_message(bundle)
    if problem:
        fail(f"{problem}\n其余格式已生成。")

@cli.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write (must not exist yet).")
@click.pass_context
def backup_command(ctx: click.Context, out: Path) -> None:
    """A consistent copy of the database, also while the app is serving it."""
    from ..db import backup

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
