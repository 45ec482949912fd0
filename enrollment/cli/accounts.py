"""Accounts and the audit log: users add/list/disable/enable/unlock/reset, and audit."""

from __future__ import annotations

import datetime as dt
import sys

import click
import pandas as pd

from .. import text as txt
from ..db import StorageError
from ..identity import accounts, audit, logins
from ..uploads import log as upload_log
from .common import check_secret, cli_actor, cli_address, fail, parse_day, ready
from .output import echo_frame, output_options


def _read_password(prompt: str) -> str:
    """A password from a hidden prompt (asked twice) or, when stdin is not a terminal, its
    first line. Never from an argument: arguments end up in shell history and `ps`."""
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt="再次输入以确认")
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@click.group("users")
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
    check_secret()
    store = ready(ctx)
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
@output_options
@click.pass_context
def users_list(ctx: click.Context, fmt: str) -> None:
    """Accounts with role, units and status (never a password or hash)."""
    store = ready(ctx)
    with store.read() as con:
        users = accounts.list_users(con)
        names = accounts.unit_names(con, [c for u in users for c in u.units])
    if not users:
        click.echo("还没有任何账号（未启用登录，所有人可修改数据）")
        return
    now = accounts.now_utc()
    # pages/users.py builds this table too (plus two columns); one builder could serve both.
    frame = pd.DataFrame([{
        "用户名": u.name, "姓名/单位": u.full_name or "", "角色": u.role_label,
        "负责单位": "、".join(f"{names.get(c, c)}（{c}）" for c in u.units),
        "状态": accounts.status_label(u, now),
        "最近登录": f"{upload_log.local_time(u.last_login_at):%Y-%m-%d %H:%M}" if u.last_login_at else "",
    } for u in users])
    echo_frame(frame, fmt)


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
    store = ready(ctx)
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
    store = ready(ctx)
    try:
        if name:
            user = logins.unlock(store, name, actor=cli_actor(), address=cli_address())
            click.echo(f"已解除账号「{user.name}」的登录锁定，可以从任何地址登录。")
        if address:
            cleared = logins.unlock_address(store, address, actor=cli_actor(),
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
    store = ready(ctx)
    try:
        with store.read() as con:
            accounts.require(con, name)
        password = _read_password("新密码")
        accounts.reset_password(store, name, password, actor=cli_actor(), address=cli_address())
    except (accounts.AccountError, StorageError) as exc:
        fail(str(exc))
    click.echo(f"已重置账号「{name}」的密码并解除锁定；该账号下次登录时须修改密码。")


@click.command("audit")
@click.option("--actor", help="Only this person's entries.")
@click.option("--action", "actions", multiple=True, type=click.Choice(audit.ACTIONS),
              help="Only these actions (repeatable).")
@click.option("--since", callback=parse_day, help="From this local day YYYY-MM-DD.")
@click.option("--until", callback=parse_day, help="Up to this local day YYYY-MM-DD (inclusive).")
@click.option("--contains", "text", help="Only entries whose detail, actor or address contain this.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True)
@output_options
@click.pass_context
def audit_command(ctx: click.Context, actor: str | None, actions: tuple[str, ...],
                  since: dt.date | None, until: dt.date | None, text: str | None, limit: int,
                  fmt: str) -> None:
    """The audit log (操作日志), newest first."""
    store = ready(ctx)
    with store.read() as con:
        frame = audit.query(con, actor=txt.identity(actor) or None, actions=actions, since=since,
                            until=until, text=text, limit=limit)
    if frame.empty:
        click.echo("没有符合条件的操作记录")
        return
    echo_frame(audit.table(frame) if fmt == "table" else frame, fmt)
