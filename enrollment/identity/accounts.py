"""Accounts: users with roles and unit scopes, and their passwords.

Passwords are hashed with argon2-cffi (Argon2id, the library's defaults); nothing here or in
the callers ever prints, logs or shows a password, a hash or a session token. A login session is a
random token: the browser keeps it in a signed cookie (enrollment/identity/websession.py), the database
only its SHA-256, so a copy of the database gives no usable session, and logout, disabling a
user or a password reset revoke sessions on the server.

Logging in (throttling per address, locks per name and address, sessions) is logins.py.
Every function that depends on the time takes `now` (UTC, naive), so tests use an injectable
clock instead of sleeping. The rules are here; the records are read and written by
enrollment/db/ (accounts, sessions, logins).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import argon2

from .. import db, text
from ..db import Session, Store
from ..labels import ROLE_LABELS
from . import audit

ADMIN, LEADER, REPORTER = "admin", "leader", "reporter"
ROLES = (ADMIN, LEADER, REPORTER)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_NAME_LENGTH = 32
MAX_FULL_NAME = 60
# Han characters, ASCII letters and digits, . _ - @ (after NFKC, so full-width ｒｅｐ１ is rep1):
# no spaces, quotes, control characters, or letters of other scripts that look like Latin ones.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@\-\u3400-\u4dbf\u4e00-\u9fff]+$")

_hasher = argon2.PasswordHasher()
_dummy_hash: str | None = None


class AccountError(ValueError):
    """A request about accounts that cannot be done (message in Chinese); nothing changed."""


@dataclass(frozen=True)
class User:
    name: str
    full_name: str | None
    role: str
    active: bool
    must_change_password: bool
    failed_logins: int
    locked_until: dt.datetime | None
    created_at: dt.datetime
    created_by: str | None
    last_login_at: dt.datetime | None
    units: tuple[str, ...] = ()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def display(self) -> str:
        return f"{self.full_name}（{self.name}）" if self.full_name else self.name

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- names, roles, passwords ---------------------------------------------------------------

def parse_role(text: str) -> str:
    """admin/leader/reporter or their Chinese names (管理员/领导/填报员)."""
    value = (text or "").strip()
    for key, label in ROLE_LABELS.items():
        if value.lower() == key or value == label:
            return key
    raise AccountError(f"角色「{audit.clean(value, 40)}」不存在，可选：管理员（admin）、领导（leader）、"
                       "填报员（reporter）")


def check_name(name: str) -> str:
    """A valid account name (NFKC, stripped); AccountError says why not."""
    value = text.identity(name)
    if not value:
        raise AccountError("用户名不能为空。")
    if len(value) > MAX_NAME_LENGTH:
        raise AccountError(f"用户名太长（{len(value)} 个字符），最多 {MAX_NAME_LENGTH} 个字符。")
    if not NAME_PATTERN.match(value):
        raise AccountError("用户名只能包含汉字、英文字母、数字和 . _ - @，不能有空格、引号、分号、斜杠等符号。")
    return value


def check_full_name(full_name: str | None) -> str | None:
    """The name and office shown with an account, checked like any typed name; None if empty."""
    try:
        return text.clean_text(full_name, what="姓名/单位", limit=MAX_FULL_NAME, required=False)
    except text.TextError as exc:
        raise AccountError(str(exc)) from exc


def check_password(password: str, name: str | None = None) -> None:
    """Raise AccountError when a new password is too weak (the message never echoes it)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"密码最多 {MAX_PASSWORD_LENGTH} 个字符。")
    if name and password.strip().lower() == name.strip().lower():
        raise AccountError("密码不能与用户名相同。")
    if len(set(password)) < 4:
        raise AccountError("密码太简单（重复的字符太多），请换一个。")


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the hash, with constant work whether or not the account
    exists (a dummy hash stands in for a missing one)."""
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        password_hash = _dummy_hash
        password = password + "\0"   # never matches the dummy
    try:
        return _hasher.verify(password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


# --- reading -------------------------------------------------------------------------------

def _users(tx: Session, rows: list[dict]) -> list[User]:
    """Accounts from their records, with their failed logins: the most failures in a row from
    one address and the end of the latest lock (a lock belongs to a name and an address)."""
    failures = db.logins.by_name(tx, {_sha256(r["name"]) for r in rows})
    users = []
    for row in rows:
        count, until = failures.get(_sha256(row["name"]), (0, None))
        users.append(User(**{**row, "failed_logins": count, "locked_until": until,
                             "units": tuple(row["units"] or ())}))
    return users


def any_account(tx: Session) -> bool:
    """Whether login is on: some account exists (active or not)."""
    return db.accounts.count(tx) > 0


def get(tx: Session, name: str) -> User | None:
    """The account of a name as typed (NFKC, stripped: ｒｅｐ１ finds rep1), or None."""
    row = db.accounts.get(tx, text.identity(name))
    return _users(tx, [row])[0] if row else None


def require(tx: Session, name: str) -> User:
    found = get(tx, name)
    if found is None:
        raise AccountError(f"账号「{audit.clean(name, 40)}」不存在。")
    return found


def list_users(tx: Session) -> list[User]:
    return _users(tx, db.accounts.all_rows(tx))


def unit_names(tx: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of unit codes, from any campaign (the first by campaign id)."""
    return db.units.names_in_any_campaign(tx, codes)


def resolve_units(tx: Session, items: Iterable[str]) -> list[str]:
    """Unit codes from codes or exact names (泽州县 or 140525); AccountError when unknown."""
    codes, problems = [], []
    for item in (i.strip() for i in items):
        if not item:
            continue
        found = db.units.codes_named(tx, item)
        if not found:
            problems.append(f"单位「{audit.clean(item, 60)}」不存在（请用单位代码，例如 140525，或完整名称）")
        elif len(found) > 1:
            problems.append(f"「{audit.clean(item, 60)}」对应多个单位（{'、'.join(found[:6])}），请改用单位代码")
        elif found[0] not in codes:
            codes.append(found[0])
    if problems:
        raise AccountError("；".join(problems))
    return codes


# --- changing ------------------------------------------------------------------------------

def create(store: Store, name: str, role: str, password: str, *, units: Sequence[str] = (),
           full_name: str | None = None, actor: str | None = None, address: str | None = None,
           actor_role: str | None = None, must_change_password: bool = False,
           now: dt.datetime | None = None) -> User:
    """Add an account; a 填报员 needs at least one unit. Logged as user_created."""
    name = check_name(name)
    role = parse_role(role)
    check_password(password, name)
    full_name = check_full_name(full_name)
    now = now or now_utc()
    with store.write() as tx:
        if get(tx, name) is not None:
            raise AccountError(f"账号「{name}」已存在。")
        codes = _check_units(tx, role, units)
        db.accounts.insert(tx, name=name, full_name=full_name, role=role,
                           password_hash=hash_password(password),
                           must_change_password=must_change_password, created_at=now,
                           created_by=actor)
        db.accounts.set_units(tx, name, codes)
        audit.record(tx, actor, "user_created",
                     f"创建账号「{name}」：{_describe(tx, role, codes, full_name)}",
                     address, role=actor_role, now=now)
        return get(tx, name)


def update(store: Store, name: str, *, role: str | None = None, units: Sequence[str] | None = None,
           full_name: str | None = None, actor: str | None = None, address: str | None = None,
           actor_role: str | None = None, now: dt.datetime | None = None) -> User:
    """Change an account's role, units or full name. Logged as user_updated."""
    now = now or now_utc()
    with store.write() as tx:
        user = require(tx, name)
        name = user.name
        new_role = parse_role(role) if role is not None else user.role
        codes = _check_units(tx, new_role, user.units if units is None else units)
        if user.role == ADMIN and new_role != ADMIN:
            _keep_one_admin(tx, name)
        new_full = user.full_name if full_name is None else check_full_name(full_name)
        db.accounts.set_role(tx, name, new_role, new_full, now)
        db.accounts.set_units(tx, name, codes)
        audit.record(tx, actor, "user_updated",
                     f"修改账号「{name}」：{_describe(tx, user.role, user.units, user.full_name)} → "
                     f"{_describe(tx, new_role, codes, new_full)}",
                     address, role=actor_role, now=now)
        return get(tx, name)


def set_active(store: Store, name: str, active: bool, *, actor: str | None = None,
               address: str | None = None, actor_role: str | None = None,
               now: dt.datetime | None = None) -> User:
    """Disable (revoking its sessions) or enable an account."""
    now = now or now_utc()
    with store.write() as tx:
        user = require(tx, name)
        name = user.name
        if not active and user.role == ADMIN:
            _keep_one_admin(tx, name)
        db.accounts.set_active(tx, name, active, now)
        if not active:
            db.sessions.revoke_all(tx, name, now)
        audit.record(tx, actor, "user_enabled" if active else "user_disabled",
                     f"{'启用' if active else '停用'}账号「{name}」", address, role=actor_role, now=now)
        return get(tx, name)


def reset_password(store: Store, name: str, password: str, *, actor: str | None = None,
                   address: str | None = None, actor_role: str | None = None,
                   must_change: bool = True, now: dt.datetime | None = None) -> User:
    """An administrator sets a new password: unlocks, revokes sessions, asks for a change at
    the next login (unless must_change is False)."""
    now = now or now_utc()
    with store.write() as tx:
        user = require(tx, name)
        name = user.name
        check_password(password, name)
        db.accounts.set_password(tx, name, hash_password(password), must_change and actor != name,
                                 now)
        db.logins.clear_name(tx, name_hash(name))
        db.sessions.revoke_all(tx, name, now)
        audit.record(tx, actor, "password_reset",
                     f"重置账号「{user.name}」的密码" + ("，下次登录须修改" if must_change else ""),
                     address, role=actor_role, now=now)
        return get(tx, name)


def change_password(store: Store, name: str, old: str, new: str, *, address: str | None = None,
                    keep_token: str | None = None, now: dt.datetime | None = None) -> User:
    """The user changes their own password (the old one is checked); other sessions end."""
    now = now or now_utc()
    with store.write() as tx:
        row = db.accounts.credentials(tx, name)
        if row is None or not row["active"] or not verify_password(row["password_hash"], old):
            raise AccountError("原密码不正确。")
        if old == new:
            raise AccountError("新密码不能与原密码相同。")
        check_password(new, name)
        db.accounts.set_password(tx, name, hash_password(new), False, now)
        db.sessions.revoke_all(tx, name, now, keep=token_hash(keep_token) if keep_token else None)
        audit.record(tx, name, "password_changed", "修改了自己的密码", address, role=row["role"],
                     now=now)
        return get(tx, name)


def _check_units(tx: Session, role: str, units: Sequence[str]) -> list[str]:
    codes = resolve_units(tx, units)
    if role == REPORTER and not codes:
        raise AccountError("填报员至少要负责一个单位（例如 --units 140525）。")
    if role != REPORTER and codes:
        raise AccountError(f"只有填报员需要指定负责单位；{ROLE_LABELS[role]}可以查看全部单位。")
    return codes


def _keep_one_admin(tx: Session, name: str) -> None:
    if not db.accounts.active_with_role(tx, ADMIN, besides=name):
        raise AccountError("这是唯一可用的管理员账号，不能停用或改为其他角色；请先创建另一个管理员。")


def _describe(tx: Session, role: str, codes: Iterable[str], full_name: str | None) -> str:
    codes = list(codes)
    names = unit_names(tx, codes)
    scope = "、".join(f"{names.get(c, c)}（{c}）" for c in codes)
    parts = [ROLE_LABELS.get(role, role)]
    if scope:
        parts.append(f"负责 {scope}")
    if full_name:
        parts.append(f"姓名/单位 {full_name}")
    return "，".join(parts)


# --- login and sessions ----------------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def name_hash(name: str) -> str:
    """How login_locks keeps a login name: the SHA-256 of its NFKC form, so a password typed
    into the name field is never stored as it was typed."""
    return _sha256(text.identity(name))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def status_label(user: User, now: dt.datetime | None = None) -> str:
    now = now or now_utc()
    if not user.active:
        return "已停用"
    if user.locked(now):
        from ..uploads.log import local_time

        return f"已锁定（至 {local_time(user.locked_until):%m-%d %H:%M}）"
    if user.must_change_password:
        return "待修改密码"
    return "正常"

