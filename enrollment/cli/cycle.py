"""The Friday cycle on the command line: remind (催报), publish, week lock/unlock/status/allow/
revoke, contacts list/load/set/template, bulletins list/get/push."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from .. import campaigns
from .. import text as txt
from ..cycle import contacts, publishing, reminders, weeks
from ..db import StorageError
from ..export import bundles
from ..export import model as exports
from ..identity import audit
from ..labels import LEVEL_LABELS
from ..metrics import progress
from .common import (
    LEVEL_CHOICES,
    cli_actor,
    cli_address,
    fail,
    find_campaign,
    parse_day,
    read_file,
    ready,
)
from .output import echo_frame, output_options

PUSH_FAILED = 3     # exit status: published, but a push to a group robot failed


def _day(campaign: campaigns.Campaign, as_of: dt.date | None) -> dt.date:
    try:
        return weeks.report_day(campaign, as_of or campaign.default_as_of())
    except weeks.WeekError as exc:
        fail(str(exc))


# --- remind -----------------------------------------------------------------------------------

@click.command("remind")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, help="A date of the week (default: this week).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]),
              help="Level of the units chased (default: the level that reports).")
@click.option("--format", "fmt", type=click.Choice(("table", "json", "csv", "text")),
              default="table", help="table, json, csv (for an SMS platform) or text (the messages).")
@click.pass_context
def remind_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None, level: str | None,
                   fmt: str) -> None:
    """催报: the units that have not reported the week (or reported late), with 责任人, phone
    and a message for each and for the group."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    level = "community" if level == "village" else level
    with store.read() as tx:
        source = progress.default_source(tx, campaign_id)
        found = reminders.due(tx, campaign, _day(campaign, as_of) if as_of else None,
                              source=source, level=level)
    if fmt == "json":
        click.echo(json.dumps({
            "campaign": campaign.id, "as_of": found.as_of.isoformat(), "week": found.week,
            "deadline": found.deadline.isoformat(), "made_at": found.at.isoformat(timespec="minutes"),
            "level": found.level, "source": source, "headline": found.headline(),
            "units": found.frame().to_dict("records"), "group_message": found.group_message},
            ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(txt.csv_text(found.sms_frame()), nl=False)
    elif fmt == "text":
        click.echo(found.text())
    else:
        tag = "【示例数据】" if source == "demo" else ""
        click.echo(f"{tag}{campaign.name}  {found.headline()}")
        if found.due:
            echo_frame(found.table(), "table")
        click.echo(f"\n群消息：{found.group_message}")
    if found.without_mobile and fmt in ("table", "csv"):
        click.echo(f"提示：{len(found.without_mobile)} 个单位没有手机号码，未列入短信表："
                   f"{'、'.join(r.name for r in found.without_mobile[:10])}"
                   "（可用 contacts load 或 contacts set 补充）", err=True)


# --- publish ----------------------------------------------------------------------------------

@click.command("publish")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, help="A date of the week to publish (its Friday's bulletin).")
@click.option("--latest", is_flag=True,
              help="The latest week whose deadline has passed (for a timer); nothing to do is exit 0.")
@click.option("--month", help="Publish the monthly 通报 of YYYY-MM instead of a week (no lock).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]),
              help="Level of the ranked units (default: the one below the scope).")
@click.option("--scope", help="Unit (code or name) whose lower units are ranked (default: all).")
@click.option("--formats", help="Comma-separated formats (default: all; no boards above 100 units).")
@click.option("--no-push", is_flag=True, help="Do not push to the group robots.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the published files (and the ZIP) into this folder.")
@click.pass_context
def publish_command(ctx: click.Context, campaign_id: str, as_of: dt.date | None, latest: bool,
                    month: str | None, level: str | None, scope: str | None,
                    formats: str | None, no_push: bool, out: Path | None) -> None:
    """发布: store the week's bulletin files exactly as circulated, lock the week, push."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    if sum(bool(x) for x in (as_of, latest, month)) != 1:
        fail("请指定 --as-of 日期、--latest 或 --month 其中之一")
    if latest:
        as_of = publishing.latest_due(campaign, audit.now_utc())
        if as_of is None:
            click.echo(f"{campaign.name}：还没有到截止时间的上报周，无需发布。")
            return
    try:
        wanted = bundles.parse_formats(formats) if formats else None
        done = publishing.publish(
            store, campaign_id, as_of, month=month, actor=cli_actor(), address=cli_address(),
            level="community" if level == "village" else level, scope=scope, formats=wanted,
            automatic=latest, send=not no_push)
    except publishing.AlreadyPublished as exc:
        if latest:      # the timer ran before, or another server's timer won: nothing to do
            click.echo(str(exc))
            return
        fail(str(exc))
    except (publishing.PublishError, exports.ExportError) as exc:
        fail(str(exc))
    click.echo(done.summary())
    for item in done.files:
        click.echo(f"  {item.name}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for item in done.files:
            path = out / item.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.data)
        (out / done.zip_name).write_bytes(done.zip_bytes)
        click.echo(f"已写出到 {out}")
    for note in done.notes:
        click.echo(f"提示：{note}", err=True)
    failed = [r for r in done.pushes if not r.ok]
    for result in done.pushes:
        click.echo(result.message, err=not result.ok)
    if failed:
        fail(f"通报已发布；{len(failed)} 个群推送失败，可稍后用 bulletins push {done.id} "
             f"--campaign {campaign_id} 重新推送。", PUSH_FAILED)


# --- week -------------------------------------------------------------------------------------

@click.group("week")
def week_group() -> None:
    """Locked weeks: lock, unlock, status, allow (an exception for one unit), revoke."""


def _week_call(function, *args, **kwargs):
    try:
        return function(*args, actor=cli_actor(), address=cli_address(), **kwargs)
    except (weeks.WeekError, StorageError) as exc:
        fail(str(exc))


@week_group.command("lock")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, required=True, help="A date of the week.")
@click.pass_context
def week_lock(ctx: click.Context, campaign_id: str, as_of: dt.date) -> None:
    """Lock a week by hand: its uploads and withdrawals are refused until unlocked."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    held = _week_call(weeks.lock, store, campaign_id, _day(campaign, as_of))
    click.echo(f"{held.describe()}：该周不再接受上报和撤回。")


@week_group.command("unlock")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, required=True, help="A date of the week.")
@click.option("--reason", help="Why (recorded in the audit log).")
@click.pass_context
def week_unlock(ctx: click.Context, campaign_id: str, as_of: dt.date, reason: str | None) -> None:
    """Unlock a week: every unit may upload and withdraw its figures again."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    day = _day(campaign, as_of)
    _week_call(weeks.unlock, store, campaign_id, day, reason=reason)
    click.echo(f"已解除{weeks.week_title(campaign, day)}的锁定；已发布的通报文件仍保留在归档中。")


@week_group.command("status")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@output_options
@click.pass_context
def week_status(ctx: click.Context, campaign_id: str, fmt: str) -> None:
    """Every week of the window: locked or not, by whom and when, and its exceptions."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    with store.read() as tx:
        frame = weeks.status(tx, campaign)
    if fmt == "table":
        frame = frame.rename(columns=weeks.STATUS_COLUMNS)
    echo_frame(frame, fmt)


@week_group.command("allow")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, required=True, help="A date of the locked week.")
@click.option("--unit", required=True, help="The unit (code or name) allowed to change the week.")
@click.option("--reason", required=True, help="Why (shown in the week's status and the audit log).")
@click.pass_context
def week_allow(ctx: click.Context, campaign_id: str, as_of: dt.date, unit: str, reason: str) -> None:
    """An exception: one unit (and the units below it) may upload or withdraw in a locked week."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    day = _day(campaign, as_of)
    _week_call(weeks.allow, store, campaign_id, day, unit, reason)
    click.echo(f"已为「{unit}」开放{weeks.week_title(campaign, day)}的例外：该单位及其下属单位可再次上报或撤回该周数字。")


@week_group.command("revoke")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--as-of", callback=parse_day, required=True, help="A date of the locked week.")
@click.option("--unit", required=True, help="The unit (code or name) whose exception ends.")
@click.pass_context
def week_revoke(ctx: click.Context, campaign_id: str, as_of: dt.date, unit: str) -> None:
    """End a unit's exception: the locked week refuses its changes again."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    day = _day(campaign, as_of)
    _week_call(weeks.revoke, store, campaign_id, day, unit)
    click.echo(f"已撤销「{unit}」在{weeks.week_title(campaign, day)}的例外。")


# --- contacts ---------------------------------------------------------------------------------

@click.group("contacts")
def contacts_group() -> None:
    """Contacts per unit for 催报 (责任人, phone): list, load, set, template."""


@contacts_group.command("list")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]), help="Only the units of one level.")
@output_options
@click.pass_context
def contacts_list(ctx: click.Context, campaign_id: str, level: str | None, fmt: str) -> None:
    """Units with their 责任人 and phone."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.read() as tx:
        frame = contacts.listing(tx, campaign_id, "community" if level == "village" else level)
    echo_frame(contacts.table(frame) if fmt == "table" else
               frame[["code", "name", "level", "person", "phone"]], fmt)


@contacts_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--dry-run", is_flag=True, help="Check the table without saving.")
@click.pass_context
def contacts_load(ctx: click.Context, file: Path, campaign_id: str, dry_run: bool) -> None:
    """Load contacts from a CSV/Excel table (单位 or 单位代码, 责任人, 联系电话)."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    try:
        checked = contacts.load(store, campaign_id, read_file(file), file.name, actor=cli_actor(),
                                address=cli_address(), dry_run=dry_run)
    except contacts.ContactError as exc:
        fail(f"{exc}\n联系人表有错误，未保存任何内容。")
    verb = "检查通过（未保存）" if dry_run else "已保存"
    click.echo(f"{verb}：{len(checked.rows)} 个单位的联系人（{file.name}）。")


@contacts_group.command("set")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--unit", required=True, help="The unit (code or name).")
@click.option("--person", default="", help="责任人 (empty: none).")
@click.option("--phone", default="", help="Phone (empty: none).")
@click.pass_context
def contacts_set(ctx: click.Context, campaign_id: str, unit: str, person: str, phone: str) -> None:
    """Set one unit's 责任人 and phone."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    try:
        with store.read() as tx:
            code, name = weeks.resolve_unit(tx, campaign_id, unit)
        changed = contacts.save(store, campaign_id, [(code, person, phone)], actor=cli_actor(),
                                address=cli_address())
    except (contacts.ContactError, weeks.WeekError) as exc:
        fail(str(exc))
    click.echo(f"已保存「{name}」的联系人。" if changed else f"「{name}」的联系人没有变化。")


@contacts_group.command("template")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--level", type=click.Choice(LEVEL_CHOICES[:-1]),
              help="Level of the units listed (default: the level that reports).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .xlsx to write.")
@click.pass_context
def contacts_template(ctx: click.Context, campaign_id: str, level: str | None, out: Path) -> None:
    """A contacts table to fill in, with the units and their current contacts."""
    from ..uploads import template

    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.read() as tx:
        level = "community" if level == "village" else level or template.report_level(tx, campaign_id)
        out.write_bytes(contacts.template(tx, campaign_id, level))
    click.echo(f"已写出{LEVEL_LABELS.get(level, level)}联系人表：{out}")


# --- bulletins --------------------------------------------------------------------------------

@click.group("bulletins")
def bulletins_group() -> None:
    """The archive of published bulletins: list, get (the files as circulated), push."""


@bulletins_group.command("list")
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@output_options
@click.pass_context
def bulletins_list(ctx: click.Context, campaign_id: str, fmt: str) -> None:
    """Every published bulletin: period, who, when, files, pushes."""
    store = ready(ctx)
    campaign = find_campaign(store, campaign_id)
    with store.read() as tx:
        frame = publishing.archive(tx, campaign)
    if frame.empty:
        click.echo("还没有发布过通报。")
        return
    echo_frame(publishing.archive_table(frame), fmt)


@bulletins_group.command("get")
@click.argument("bulletin_id", type=int)
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the files into.")
@click.option("--zip", "only_zip", is_flag=True, help="Write only the ZIP that was circulated.")
@click.pass_context
def bulletins_get(ctx: click.Context, bulletin_id: int, campaign_id: str, out: Path,
                  only_zip: bool) -> None:
    """Write a published bulletin's files, byte for byte as circulated."""
    store = ready(ctx)
    find_campaign(store, campaign_id)
    with store.read() as tx:
        found = publishing.bulletin(tx, campaign_id, bulletin_id)
        if found is None:
            fail(f"本活动没有第 {bulletin_id} 号通报（可用 bulletins list 查看）")
        listed = publishing.files(tx, bulletin_id)
        if only_zip:
            listed = listed[listed["kind"] == "zip"]
        stored = [publishing.file(tx, bulletin_id, int(p)) for p in listed["position"]]
    out.mkdir(parents=True, exist_ok=True)
    for name, data in stored:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        click.echo(str(path))
    audit.log(store, cli_actor(), "export", f"写出第 {bulletin_id} 号已发布通报的 {len(stored)} 个文件到 {out}",
              cli_address(), campaign_id=campaign_id)


@bulletins_group.command("push")
@click.argument("bulletin_id", type=int)
@click.option("--campaign", "campaign_id", required=True, help="Campaign id.")
@click.pass_context
def bulletins_push(ctx: click.Context, bulletin_id: int, campaign_id: str) -> None:
    """Push a published bulletin again to the configured group robots."""
    from ..cycle import push

    store = ready(ctx)
    find_campaign(store, campaign_id)
    if not push.channels():
        fail("没有设置群机器人（ENROLLMENT_WECOM_WEBHOOK 或 ENROLLMENT_DINGTALK_WEBHOOK），无法推送。")
    with store.read() as tx:
        if publishing.bulletin(tx, campaign_id, bulletin_id) is None:
            fail(f"本活动没有第 {bulletin_id} 号通报（可用 bulletins list 查看）")
    results = publishing.push_bulletin(store, bulletin_id, actor=cli_actor(), address=cli_address())
    for result in results:
        click.echo(result.message, err=not result.ok)
    if any(not r.ok for r in results):
        raise SystemExit(PUSH_FAILED)
