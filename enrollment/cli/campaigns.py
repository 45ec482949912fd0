"""Setting up: init, campaigns, campaign create, regions and demo data."""

from __future__ import annotations

import datetime as dt
import json

import click

from .. import campaigns
from ..campaigns import bootstrap, demo, details, regions
from ..db import StorageError
from ..labels import LEVEL_LABELS
from ..metrics import weekly
from .common import (
    check_secret,
    cli_actor,
    cli_address,
    fail,
    find_campaign,
    parse_day,
    ready,
)
from .output import echo_frame, output_options, text_table


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create or migrate the schema and load the shipped campaigns (idempotent)."""
    check_secret()
    try:
        report = bootstrap.init(ctx.obj.store, actor=cli_actor(), address=cli_address())
    except StorageError as exc:
        fail(str(exc))
    click.echo(f"{report.summary()}（数据库：{ctx.obj.store.name}）")


@click.command("campaigns")
@click.pass_context
def list_campaigns(ctx: click.Context) -> None:
    """List campaigns: id, name, window, goal."""
    store = ready(ctx)
    with store.read() as con:
        rows = campaigns.list_campaigns(con)
    for c in rows:
        click.echo(f"{c.id}\t{c.name}\t{c.start} 至 {c.end}\t目标 {c.goal:.0%}")


@click.group("campaign")
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
@click.option("--issuer", help="Issuing body that signs its bulletins (发文机关署名), e.g. 阳城县医疗保障局.")
@click.pass_context
def campaign_create(ctx: click.Context, campaign_id: str, name: str, region: str, levels: str,
                    start: dt.date, end: dt.date, goal: str, programme: str,
                    low_income_goal: str | None, issuer: str | None) -> None:
    """Create a campaign for any region from the national division codes."""
    store = ready(ctx)
    try:
        definition = regions.define(id=campaign_id, name=name, region_code=region, levels=levels,
                                    start=start, end=end, goal=goal, programme=programme,
                                    low_income_goal=low_income_goal, issuer=issuer)
        created = regions.create(store, definition, actor=cli_actor(), address=cli_address())
    except (regions.SetupError, StorageError) as exc:
        fail(str(exc))
    click.echo(created.summary())


@campaign_group.command("window")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--end", callback=parse_day, help="New last day of the window, YYYY-MM-DD.")
@click.option("--start", callback=parse_day, help="New first day of the window, YYYY-MM-DD.")
@click.option("--unit", help="A unit (code or name) that gets a window of its own; the units "
                             "below it inherit it (default: the campaign's window).")
@click.option("--inherit", is_flag=True, help="Put --unit back on the campaign's window.")
@click.option("--reason", required=True, help="Why the window changes (kept in the history).")
@click.pass_context
def campaign_window(ctx: click.Context, campaign_id: str, end: dt.date | None,
                    start: dt.date | None, unit: str | None, inherit: bool, reason: str) -> None:
    """Move or extend a campaign's window, or give a unit (and its subtree) its own."""
    store = ready(ctx)
    if end is None and start is None and not inherit:
        fail("请用 --end（或 --start）指定新的日期；取消单位单独的参保期请用 --unit 和 --inherit")
    try:
        change = campaigns.change_window(store, campaign_id, reason=reason, end=end, start=start,
                                         unit=unit, inherit=inherit, actor=cli_actor(),
                                         address=cli_address(),
                                         then=weekly.after_calendar_change)
    except campaigns.WindowError as exc:
        fail(str(exc))
    click.echo(change.summary())


@campaign_group.command("show")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@output_options
@click.pass_context
def campaign_show(ctx: click.Context, campaign_id: str, fmt: str) -> None:
    """A campaign's window and its changes, contribution per tier and group, subsidies,
    payment days and the units with a window of their own."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    with store.read() as con:
        shown = details.details(con, campaign)
    if fmt == "json":
        click.echo(json.dumps(shown.as_json(), ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        echo_frame(shown.history, "csv")
        return
    for label, value in shown.definition + shown.terms:
        click.echo(f"{label}：{value}")
    if len(shown.unit_windows):
        click.echo("\n单独设置集中参保期的单位（其下属单位同样适用）：")
        click.echo(text_table(shown.unit_windows))
    if len(shown.history):
        click.echo("\n集中参保期调整记录：")
        click.echo(text_table(shown.history))


@campaign_group.command("issuer")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.argument("text", required=False)
@click.pass_context
def campaign_issuer(ctx: click.Context, campaign_id: str, text: str | None) -> None:
    """Show, or set to TEXT (empty: none), the issuing body that signs the 通报稿."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    if text is None:
        click.echo(campaign.issuer or "（未设置发文机关署名）")
        return
    try:
        issuer = regions.set_issuer(store, campaign_id, text, actor=cli_actor(),
                                    address=cli_address())
    except (regions.SetupError, StorageError) as exc:
        fail(str(exc))
    click.echo(f"已将「{campaign.name}」的发文机关署名设为「{issuer}」" if issuer
               else f"已清除「{campaign.name}」的发文机关署名")


@click.command("regions")
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


@click.command("demo")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--clear", is_flag=True, help="Remove the campaign's demo data instead.")
@click.pass_context
def demo_command(ctx: click.Context, campaign_id: str, clear: bool) -> None:
    """Simulated weekly reports (示例数据), stored apart from real uploads."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    if clear:
        removed = demo.clear(store, campaign_id)
        click.echo(f"已删除 {campaign_id} 的示例数据 {removed} 条")
        return
    result = demo.generate(store, campaign)
    click.echo(result.summary())
