"""Accounts: users with roles and unit scopes, passwords, lockout and login sessions.

Passwords are hashed with argon2-cffi (Argon2id, the library's defaults); nothing here or in
the callers ever prints, logs or shows a password, a hash or a session token. A login session is a
random token: the browser keeps it in a signed cookie (enrollment/identity/websession.py), the database
only its SHA-256, so a copy of the database gives no usable session, and logout, disabling a
user or a password reset revoke sessions on the server.

Failed logins are answered in two layers (the README's "Login" section has the policy and why),
both kept in the database so that several app servers share them:

* per address (login_addresses): FREE_FAILURES failures within THROTTLE_WINDOW cost nothing;
  each further one makes the address wait THROTTLE_BASE, doubling up to THROTTLE_CAP, before
  it may try again (any name). Attempts during the wait are refused without checking anything;
* per login name and address (login_locks): MAX_FAILED_LOGINS failures in a row lock that name
  for LOCKOUT from that address only; a correct password from there is refused too, while the
  same account logs in from any other address. So nobody can lock an administrator out from
  their own machine, and `users unlock` on the server's console clears any lock.

Unknown names and wrong passwords take the same path (the name is kept only as a SHA-256, in
case a password was typed into it), so every message is the same whether the account exists.
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
MAX_FAILED_LOGINS = 5                          # in a row, per login name and address
LOCKOUT = dt.timedelta(minutes=15)             # … then that name is locked from that address
FREE_FAILURES = 5                              # per address within THROTTLE_WINDOW, no delay
THROTTLE_WINDOW = dt.timedelta(hours=1)
THROTTLE_BASE = dt.timedelta(seconds=2)        # the first delay, doubling with each failure
THROTTLE_CAP = dt.timedelta(minutes=15)
UNKNOWN_ADDRESS = "未知地址"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_NAME_LENGTH = 32
MAX_FULL_NAME = 60
# Han characters, ASCII letters and digits, . _ - @ (after NFKC, so full-width ｒｅｐ１ is rep1):
# no spaces, quotes, control characters, or letters of other scripts that look like Latin ones.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@\-\u3400-\u4dbf\u4e00-\u9fff]+$")
BAD_LOGIN = "用户名或密码错误。"

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


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str              # Chinese, for the login form
    token: str | None = None  # the session token (only on success; never shown)


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


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (a dummy hash stands in)."""
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


def unlock(store: Store, name: str, *, actor: str | None = None, address: str | None = None,
           actor_role: str | None = None, now: dt.datetime | None = None) -> User:
    """End the account's login locks from every address (and its count of failures)."""
    now = now or now_utc()
    with store.write() as tx:
        name = require(tx, name).name
        locked = sum(1 for lock in db.logins.locks(tx, name_hash(name))
                     if lock["locked_until"] is not None and lock["locked_until"] > now)
        db.logins.clear_name(tx, name_hash(name))
        audit.record(tx, actor, "user_unlocked",
                     f"解除账号「{name}」的登录锁定（{locked} 个地址）" if locked
                     else f"清除账号「{name}」的登录失败记录", address, role=actor_role, now=now)
        return get(tx, name)


def unlock_address(store: Store, client: str, *, actor: str | None = None,
                   address: str | None = None, actor_role: str | None = None,
                   now: dt.datetime | None = None) -> int:
    """End the login delay of an address and every lock from it; returns how many records
    were cleared (0: the address had none)."""
    now = now or now_utc()
    client = audit.clean(client) or ""
    with store.write() as tx:
        cleared = db.logins.clear_address(tx, client)
        audit.record(tx, actor, "user_unlocked", f"解除地址 {client} 的登录限制（{cleared} 条记录）",
                     address, role=actor_role, now=now)
    return cleared


def change_password(store: Store, name: str, old: str, new: str, *, address: str | None = None,
                    keep_token: str | None = None, now: dt.datetime | None = None) -> User:
    """The user changes their own password (the old one is checked); other sessions end."""
    now = now or now_utc()
    with store.write() as tx:
        row = db.accounts.credentials(tx, name)
        if row is None or not row["active"] or not _verify(row["password_hash"], old):
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


def authenticate(store: Store, name: str, password: str, *, address: str | None = None,
                 client: str | None = None, session_hours: float = 12,
                 now: dt.datetime | None = None) -> LoginResult:
    """Check a login; on success open a session (LoginResult.token). Every checked attempt is
    logged with `address` (as shown to people); `client` is the address that is throttled and
    locked (default: `address`).

    Unknown names and wrong passwords get the same messages. An address that failed too often
    waits (growing delays) before anything is checked; a name that failed MAX_FAILED_LOGINS
    times in a row from one address is locked for LOCKOUT from that address only.
    """
    now = now or now_utc()
    typed = audit.clean(name, MAX_NAME_LENGTH + 8) or ""
    name = text.identity(name)
    key = name_hash(name)
    client = audit.clean(client or address) or UNKNOWN_ADDRESS
    # A waiting address costs one read, no write: hammering it fills neither log nor disk.
    with store.read() as tx:
        waiting = _address_wait(tx, client, now)
    if waiting is not None:
        return LoginResult(None, _throttled_message(waiting, now))
    # A login changes no figure and no other session: keep the app's caches (no version bump).
    with store.write(bump=False) as tx:
        waiting = _address_wait(tx, client, now)       # another thread may have just failed
        if waiting is not None:
            return LoginResult(None, _throttled_message(waiting, now))
        row = db.accounts.credentials(tx, name)
        user = get(tx, name) if row else None
        who = user.name if user else None
        role = user.role if user else None
        shown = "" if user else f"用户名「{_mask(typed)}」"
        lock = db.logins.lock(tx, key, client)
        if lock is not None and lock["locked_until"] is not None and lock["locked_until"] > now:
            audit.record(tx, who, "login_failed", f"{shown}锁定期间尝试登录", address, role=role,
                         now=now)
            _address_failed(tx, client, now)
            return LoginResult(None, _locked_message(lock["locked_until"]))
        ok = _verify(row["password_hash"] if row else None, password or "")
        if user is None or not ok:
            # People type their password into the name field by mistake: an unknown name is
            # logged masked, never whole.
            audit.record(tx, who, "login_failed", f"{shown}不存在" if user is None else "密码错误",
                         address, role=role, now=now)
            wait = _address_failed(tx, client, now)
            failures, until = _name_failed(tx, key, client, now)
            if until is not None:
                if user is not None:
                    audit.record(tx, who, "account_locked",
                                 f"从 {client} 连续 {failures} 次登录失败，该地址暂停登录此账号 "
                                 f"{int(LOCKOUT.total_seconds() // 60)} 分钟", address, role=role,
                                 now=now)
                return LoginResult(None, _locked_message(until))
            left = MAX_FAILED_LOGINS - failures
            message = BAD_LOGIN
            if left <= 2:
                message += (f"再错 {left} 次，本机将暂停用此用户名登录 "
                            f"{int(LOCKOUT.total_seconds() // 60)} 分钟。")
            if wait is not None:
                message += f"为防止猜测密码，本机需等待 {_seconds(wait, now)} 秒后才能再次登录。"
            return LoginResult(None, message)
        if not user.active:
            audit.record(tx, user.name, "login_failed", "账号已停用", address, role=user.role,
                         now=now)
            return LoginResult(None, "账号已停用，请联系管理员。")
        if _hasher.check_needs_rehash(row["password_hash"]):
            db.accounts.rehash(tx, user.name, hash_password(password))
        db.accounts.logged_in(tx, user.name, now)
        db.logins.clear_lock(tx, key, client)
        token = secrets.token_urlsafe(32)
        db.sessions.insert(tx, token_hash(token), user.name, now,
                           now + dt.timedelta(hours=session_hours), audit.clean(address))
        audit.record(tx, user.name, "login", "登录成功", address, role=user.role, now=now)
        return LoginResult(get(tx, user.name), "登录成功", token)


def _address_wait(tx: Session, client: str, now: dt.datetime) -> dt.datetime | None:
    """Until when the address must wait before its next attempt, or None."""
    row = db.logins.address(tx, client)
    until = row["blocked_until"] if row else None
    return until if until is not None and until > now else None


def _address_failed(tx: Session, client: str, now: dt.datetime) -> dt.datetime | None:
    """Count a failure of the address; returns until when it must now wait (None: no wait)."""
    db.logins.forget_addresses(tx, now - THROTTLE_WINDOW, now)
    row = db.logins.address(tx, client)
    fresh = row is None or now - row["window_start"] >= THROTTLE_WINDOW
    failures = 1 if fresh else row["failures"] + 1
    wait = None
    if failures > FREE_FAILURES:
        # 2 s, 4 s, 8 s … up to the cap; the exponent is bounded before it is raised.
        wait = now + min(THROTTLE_BASE * 2 ** min(failures - FREE_FAILURES - 1, 20), THROTTLE_CAP)
    db.logins.save_address(tx, client, failures=failures,
                           window_start=now if fresh else row["window_start"], last_failure=now,
                           blocked_until=wait, new=row is None)
    return wait


def _name_failed(tx: Session, key: str, client: str,
                 now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Count a failure of the name from the address: (failures in a row, lock end or None)."""
    db.logins.forget_locks(tx, now - LOCKOUT, now)
    row = db.logins.lock(tx, key, client)
    # A lock that has ended, or a pause longer than LOCKOUT, starts the count again.
    failures = 1 if row is None or now - row["last_failure"] >= LOCKOUT else row["failures"] + 1
    until = now + LOCKOUT if failures >= MAX_FAILED_LOGINS else None
    # A locked row keeps the lock, not the count: after the lock the count starts again.
    db.logins.save_lock(tx, key, client, failures=0 if until else failures, last_failure=now,
                        locked_until=until, new=row is None)
    return failures, until


def _seconds(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


def _throttled_message(until: dt.datetime, now: dt.datetime) -> str:
    from ..uploads.log import local_time

    return (f"登录尝试过于频繁，请于 {local_time(until):%H:%M:%S} 后再试（还需等待 "
            f"{_seconds(until, now)} 秒）。如急需登录，请管理员在服务器上解除限制。")


def _mask(typed: str) -> str:
    """The first two characters of an unknown login name, the rest as *, at most 12."""
    if len(typed) <= 2:
        return "*" * len(typed)
    return (typed[:2] + "*" * (len(typed) - 2))[:12]


def _locked_message(until: dt.datetime) -> str:
    from ..uploads.log import local_time

    return (f"登录失败次数过多，本机已暂停用此用户名登录，请于 {local_time(until):%H:%M} 后再试，"
            "或请管理员解除锁定。")


def open_session(store: Store, name: str, *, address: str | None = None,
                 session_hours: float = 12, now: dt.datetime | None = None) -> str:
    """A session for a user who just proved who they are another way (the first administrator,
    created from the page): returns the token."""
    now = now or now_utc()
    token = secrets.token_urlsafe(32)
    with store.write() as tx:
        db.sessions.insert(tx, token_hash(token), name, now,
                           now + dt.timedelta(hours=session_hours), audit.clean(address))
        db.accounts.logged_in(tx, name, now)
    return token


def session_user(tx: Session, token: str, now: dt.datetime | None = None) -> User | None:
    """The active user of a live session, or None (unknown, revoked, expired or disabled)."""
    now = now or now_utc()
    row = db.sessions.get(tx, token_hash(token))
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now or not row["active"]:
        return None
    return get(tx, row["user_name"])


def session_expires(tx: Session, token: str) -> dt.datetime | None:
    row = db.sessions.get(tx, token_hash(token))
    return row["expires_at"] if row else None


def logout(store: Store, token: str, *, address: str | None = None,
           now: dt.datetime | None = None) -> None:
    """End a session (the cookie no longer opens it, even if copied)."""
    now = now or now_utc()
    with store.write() as tx:
        row = db.sessions.get(tx, token_hash(token))
        if row is None or row["revoked_at"] is not None:
            return
        db.sessions.revoke(tx, token_hash(token), now)
        audit.record(tx, row["user_name"], "logout", "退出登录", address, role=row["role"], now=now)


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

