"""What leaders and the clerk read: progress (table, JSON, CSV) and export (通报 files)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import pandas as pd

from .. import text as txt
from ..export import bundles, monthly, tables
from ..export import model as exports
from ..identity import audit
from ..labels import LEVEL_LABELS, TARGETS_MISSING
from ..metrics import groups, money, progress
from ..uploads import template as templates
from .common import (
    LEVEL_CHOICES,
    cli_actor,
    cli_address,
    fail,
    find_campaign,
    parse_day,
    ready,
)
from .output import json_value, output_options, records, text_table

UNIT_FIELDS = ("code", "name", "level", "parent_code", "target", "enrolled", "completion", "pace",
               "gap_pp", "status", "week_delta", "report_date")
# Low-income and stable post-poverty residents (their goal is 100%): target, enrolled, rate.
LOW_INCOME_FIELDS = ("low_income_target", "low_income_enrolled", "low_income_completion")
# Money: 征缴金额 (as reported), 应缴金额 (enrolled × contribution) and the share collected.
MONEY_FIELDS = ("amount", "expected_amount", "amount_share")
# Each unit's own window (a unit may have one, or inherit one from above) and 序时进度 in it.
WINDOW_FIELDS = ("window_start", "window_end", "time_progress")


def _unit_dict(row: dict, fields=UNIT_FIELDS) -> dict:
    return {f: json_value(row.get(f)) for f in fields}


def progress_json(result: progress.Progress, frame: pd.DataFrame) -> dict:
    """The JSON document of `progress --format json` (its fields are a contract; see README)."""
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
        "total": _unit_dict(result.total, total_fields + MONEY_FIELDS + LOW_INCOME_FIELDS
                            + WINDOW_FIELDS),
        "units": [_unit_dict(r, UNIT_FIELDS + ("needed_per_week",) + MONEY_FIELDS
                             + LOW_INCOME_FIELDS + WINDOW_FIELDS)
                  for r in frame.to_dict("records")],
        "contribution_yuan": None if c.terms.base is None else float(c.terms.base.yuan),
        "amount_basis": money.basis(c.terms),
        "windows_differ": bool(frame["window_id"].notna().any()),
        "low_income_goal": None if c.low_income_goal is None else float(c.low_income_goal),
    }


@click.command("progress")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, help="As-of date YYYY-MM-DD (default: this week's Friday).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES), help="Level to list (default: below the top).")
@click.option("--source", type=click.Choice(progress.SOURCES),
              help="upload or demo (default: uploads, demo only when nothing else exists).")
@output_options
@click.pass_context
def progress_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None,
                     level: str | None, source: str | None, fmt: str) -> None:
    """Progress of every unit of a level at a date: target, enrolled, completion, status."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
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
        click.echo(txt.csv_text(frame[list(UNIT_FIELDS + MONEY_FIELDS)]), nl=False)
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
    if not pd.isna(total["amount"]):
        share = total["amount_share"]
        click.echo(f"征缴金额 {money.wan(total['amount'])}"
                   + ("" if pd.isna(share) else f"，占应缴金额 {money.wan(total['expected_amount'])}"
                      f"（{money.basis(campaign.terms)}）的 {share:.2%}"))
    click.echo(text_table(tables.as_text(tables.unit_table(frame, money=tables.has_money(frame)))))


GROUP_FIELDS = ("code", "name", "level", "group_key", "group", "population", "enrolled",
                "amount", "completion", "goal", "missing", "status", "subsidy")


@click.command("groups")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, help="As-of date YYYY-MM-DD (default: this week's Friday).")
@click.option("--unit", help="Unit (code or name) whose groups and lower units are shown (default: the top).")
@click.option("--group", "group_text", help="One group (key or name): its figure in each lower unit.")
@click.option("--source", type=click.Choice(progress.SOURCES),
              help="upload or demo (default: uploads, demo only when nothing else exists).")
@output_options
@click.pass_context
def groups_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None,
                   unit: str | None, group_text: str | None, source: str | None,
                   fmt: str) -> None:
    """分类人群: each group of a unit against its goal, or one group in each lower unit."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    if not campaign.terms.groups:
        fail(f"活动「{campaign.name}」的定义中没有分类人群")
    as_of = as_of or campaign.default_as_of()
    chosen = None
    if group_text:
        chosen = next((g for g in campaign.terms.groups
                       if group_text.strip() in (g.key, *g.names)), None)
        if chosen is None:
            fail(f"没有分类人群「{group_text}」，可选：{'、'.join(g.name for g in campaign.terms.groups)}")
    with store.read() as con:
        source = source or progress.default_source(con, campaign_id)
        try:
            code = templates.resolve_scope(con, campaign_id, unit).code
        except templates.TemplateError as exc:
            fail(str(exc))
        figures = groups.figures(con, campaign, as_of, source, root=code, view=True)
    if chosen is not None:          # the group in each lower unit (or in the unit itself)
        rows = figures[figures["group_key"] == chosen.key]
        lower = rows[rows["parent_code"] == code]
        figures = lower if len(lower) else rows
    if fmt == "json":
        click.echo(json.dumps({"campaign": campaign.id, "as_of": as_of.isoformat(),
                               "source": source, "unit": code,
                               "groups": records(figures, GROUP_FIELDS)},
                              ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        click.echo(txt.csv_text(figures[list(GROUP_FIELDS)]), nl=False)
        return
    shown = (groups.by_unit(figures, code, chosen.key) if chosen is not None
             else groups.summary(figures, code))
    click.echo(f"{campaign.name}  截至 {as_of}  分类人群参保情况")
    click.echo(text_table(shown.astype(object).where(shown.notna(), "")))


@click.command("export")
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
@click.option("--month", help="The monthly 通报 of YYYY-MM instead of one week.")
@click.pass_context
def export_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None, out: Path,
                   level: str | None, scope: str | None, source: str | None, formats: str,
                   make_zip: bool, month: str | None) -> None:
    """通报导出: charts, Excel 通报表, Word 通报稿 and 张榜 PDFs for one week (or a month);
    exit 1 when a requested format could not be made (the others are written)."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    if month and as_of:
        fail("--month 与 --as-of 只能指定一个")
    as_of = as_of or campaign.default_as_of()
    try:
        wanted = bundles.parse_formats(formats)
        with store.read() as con:
            source = source or progress.default_source(con, campaign_id)
            data = (monthly.gather_month(con, campaign, month, source, level, scope) if month
                    else exports.gather(con, campaign, as_of, source, level, scope))
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
