"""What every command group shares: failing with a Chinese message, parsing dates, opening the
database and a campaign, who runs a command, and whose permission an `--uploader` carries."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from .. import campaigns, db, settings
from .. import text as txt
from ..db import StorageError, Store
from ..files import bounds
from ..files.problems import bounded
from ..identity import accounts
from ..uploads import ingest

LEVEL_CHOICES = ("city", "county", "township", "community", "village", "all")
CONFIRM_WARNINGS = "有需要确认的提醒，未保存。核对无误后请加 --accept-warnings 重新提交。"


def fail(message: str, code: int = 1) -> None:
    """Print a message on stderr and end the command with exit `code` (1 by default)."""
    click.echo(message, err=True)
    sys.exit(code)


def parse_day(ctx, param, value: str | None) -> dt.date | None:
    """Click callback: a YYYY-MM-DD option as a date; raises click.BadParameter in Chinese."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"日期「{value}」格式不对，应为 YYYY-MM-DD，例如 2021-11-19")


def ready(ctx: click.Context) -> Store:
    """The command's store, its schema checked; a missing or outdated schema ends the command."""
    store = ctx.obj.store
    try:
        db.require_schema(store)
    except StorageError as exc:
        fail(str(exc))
    return store


def find_campaign(store: Store, campaign_id: str) -> campaigns.Campaign:
    """The campaign `--campaign` names; an unknown id ends the command."""
    try:
        return campaigns.load(store, campaign_id)
    except campaigns.CampaignError as exc:
        fail(str(exc))


def check_secret() -> None:
    """Refuse to set up login with an unusable cookie-signing secret (too short)."""
    try:
        settings.secret()
    except settings.SettingError as exc:
        fail(f"{exc}（请设置 ENROLLMENT_SECRET 或 ENROLLMENT_SECRET_FILE 后重试；未做任何修改。）")


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


# The one permission check of the CLI (ingest, withdraw, targets load/restore, allocate --save);
# kept as a single function so that a shared check for the page and the CLI can replace it.
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


def print_problems(problems) -> None:
    """One line per problem on stderr: the first 200, then how many more there are."""
    for problem in bounded(problems):
        click.echo(str(problem), err=True)


def read_file(file: Path) -> bytes:
    """A file's bytes; one over ENROLLMENT_MAX_UPLOAD_MB is refused before it is read."""
    if problem := bounds.size_problem(file.stat().st_size):
        fail(problem)
    return file.read_bytes()
