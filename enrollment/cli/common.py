"""What every command group shares: failing with a Chinese message, parsing dates, opening the
database and a campaign, who runs a command, and whose permission an `--uploader` carries."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from .. import campaigns, db, settings
from ..db import StorageError, Store
from ..files import bounds
from ..files.problems import bounded
from ..uploads import rights

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


def uploader(store: Store, name: str | None, permission: str) -> rights.Actor:
    """The actor `--uploader` names, checked by uploads.rights as the page checks a login;
    exit 1 with the reason when refused."""
    try:
        return rights.named(store, name, permission)
    except rights.Refused as exc:
        fail(str(exc))


def print_problems(problems) -> None:
    """One line per problem on stderr: the first 200, then how many more there are."""
    for problem in bounded(problems):
        click.echo(str(problem), err=True)


def read_file(file: Path) -> bytes:
    """A file's bytes; one over ENROLLMENT_MAX_UPLOAD_MB is refused before it is read."""
    if problem := bounds.size_problem(file.stat().st_size):
        fail(problem)
    return file.read_bytes()
