"""Target tables (任务分解表): targets show/load/history/template/restore, and allocate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

from .. import db
from .. import text as txt
from ..db import StorageError
from ..export import tables
from ..files.reader import ReadError
from ..labels import LEVEL_LABELS, TARGET_COLUMN_LABELS, TARGETS_MISSING
from ..targets import allocation
from ..targets import groups as target_groups
from ..targets import tables as targets
from ..uploads import rights
from .common import (
    CONFIRM_WARNINGS,
    LEVEL_CHOICES,
    cli_actor,
    cli_address,
    fail,
    find_campaign,
    print_problems,
    read_file,
    ready,
)
from .common import (
    uploader as find_uploader,
)
from .output import output_options, records, text_table

# `number` is the version people see (第 N 版 in the campaign); `set_id` keys it.
TARGET_FIELDS = ("code", "name", "level", "task", "baseline", "registered_population",
                 "resident_population", "low_income", "number", "set_id")
HISTORY_FIELDS = ("number", "set_id", "status", "level", "scope_code", "scope_name", "units",
                  "total_task",
                  "source", "file_name", "created_by", "created_at", "note")


@click.group("targets")
def targets_group() -> None:
    """Target tables (任务分解表): show, load, history, template, restore."""


def _target_text(frame: pd.DataFrame, group_columns: tuple[str, ...] = ()) -> str:
    """Target rows for the terminal: Chinese headers, level names, numbers with separators."""
    labels = {"code": "单位代码", "name": "单位", **TARGET_COLUMN_LABELS}
    shown = frame[[c for c in TARGET_FIELDS + tuple(group_columns) if c in frame.columns]].copy()
    shown["level"] = shown["level"].map(lambda v: LEVEL_LABELS.get(v, v))
    for column in ("task", "baseline", "registered_population", "resident_population",
                   "low_income", *group_columns):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    return text_table(shown.rename(columns=labels))


@targets_group.command("show")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--level", type=click.Choice(LEVEL_CHOICES), help="Only this level.")
@click.option("--set", "number", type=int,
              help="An earlier version: its number, 第 N 版 (see `targets history`).")
@output_options
@click.pass_context
def targets_show(ctx: click.Context, campaign_id: str, level: str | None, number: int | None,
                 fmt: str) -> None:
    """The current target of every unit (or one version's rows)."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    level = {"village": "community", "all": None}.get(level, level)
    with store.read() as con:
        if number is not None:
            set_id = db.targets.id_of(con, campaign_id, number)
            frame = (db.targets.version(con, campaign_id, set_id) if set_id is not None
                     else pd.DataFrame(columns=["level"]))
        else:
            set_id = None
            frame = db.targets.current(con, campaign_id, level)
        frame, group_columns = (target_groups.with_groups(con, campaign, frame, set_id)
                                if not frame.empty else (frame, []))
    if level and number is not None:
        frame = frame[frame["level"] == level]
    if frame.empty:
        if number is not None:
            fail(f"本活动没有第 {number} 版目标任务表")
        fail(f"{TARGETS_MISSING}：该活动还没有任务数。可用 `targets template` 下载模板填写后"
             "用 `targets load` 载入，或用 `allocate` 测算。")
    fields = TARGET_FIELDS + tuple(group_columns)
    if fmt == "json":
        click.echo(json.dumps(records(frame, fields), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(txt.csv_text(frame[[c for c in fields if c in frame.columns]]), nl=False)
    else:
        click.echo(_target_text(frame, group_columns))


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
    store = ready(ctx)
    find_campaign(store, campaign_id)
    actor = find_uploader(store, uploader, rights.MANAGE_TARGETS)
    uploader, role = actor.name, actor.role
    try:
        note = txt.clean_text(note, what="--note", limit=targets.MAX_NOTE, required=False)
    except txt.TextError as exc:
        fail(str(exc))
    content = read_file(file)
    if dry_run:
        table = targets.check_file(store, campaign_id, content)
        print_problems(table.problems)
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
        print_problems(rejected.table.problems)
        if rejected.warnings_only:
            fail(CONFIRM_WARNINGS, 2)
        fail("目标任务表有错误，未保存任何数据。", 1)
    except StorageError as exc:
        fail(str(exc))
    click.echo(saved.summary())


@targets_group.command("history")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table")
@click.pass_context
def targets_history(ctx: click.Context, campaign_id: str, fmt: str) -> None:
    """Every version of the campaign's target tables, newest first; the current ones marked."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.read() as con:
        frame = targets.history(con, campaign_id)
    if fmt == "json":
        rows = records(frame, HISTORY_FIELDS)
        for r in rows:
            if r["created_at"]:
                r["created_at"] = str(r["created_at"])
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
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
    store = ready(ctx)
    find_campaign(store, campaign_id)
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
@click.option("--set", "number", type=int, required=True,
              help="The version (第 N 版) to make current again.")
@click.option("--uploader", help="Who restores it (kept with the new version).")
@click.pass_context
def targets_restore(ctx: click.Context, campaign_id: str, number: int,
                    uploader: str | None) -> None:
    """Make an earlier version current again (as a new version; history is kept)."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    actor = find_uploader(store, uploader, rights.MANAGE_TARGETS)
    uploader, role = actor.name, actor.role
    try:
        saved = targets.restore(store, campaign_id, number, created_by=uploader or cli_actor(),
                                address=cli_address(), role=role)
    except ValueError as exc:
        fail(str(exc))
    click.echo(saved.summary())


@click.command("allocate")
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
            allocation.read_base(read_file(file)), allocation.parse_total(total),
            allocation.parse_weights(by), step, allocation.parse_bound(floor),
            allocation.parse_bound(cap))
    except allocation.AllocationError as exc:
        print_problems(exc.problems)
        fail("无法测算，未输出结果。")
    except (ReadError, ValueError) as exc:
        fail(str(exc))
    content = result.to_csv(bom=out is not None)
    if campaign_id:
        store = ready(ctx)
        find_campaign(store, campaign_id)
        actor = find_uploader(store, uploader if save else None, rights.MANAGE_TARGETS)
        uploader, role = actor.name, actor.role
        table = targets.check_file(store, campaign_id, content)
        print_problems(table.problems)
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
                fail(CONFIRM_WARNINGS, 2)
            print_problems(rejected.table.problems)
            fail("测算结果有错误，未保存。", 1)
        click.echo(saved.summary(), err=True)
