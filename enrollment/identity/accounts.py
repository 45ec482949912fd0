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
clock instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import argon2
import duckdb

from .. import text
from ..labels import ROLE_LABELS
from ..storage import Store, fetch_dicts
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

# failed_logins and locked_until come from login_locks (per address): the most failures in a
# row from one address, and the end of the latest lock (users' own columns of the same names
# are no longer used since schema version 3).
_USER_SQL = """
    SELECT name, full_name, role, active, must_change_password,
           coalesce((SELECT max(failures) FROM login_locks l
                     WHERE l.name_hash = sha256(u.name)), 0)::INTEGER AS failed_logins,
           (SELECT max(locked_until) FROM login_locks l
            WHERE l.name_hash = sha256(u.name)) AS locked_until,
           created_at, created_by, last_login_at,
           coalesce((SELECT list(unit_code ORDER BY unit_code) FROM user_units
                     WHERE user_name = u.name), []) AS units
    FROM users u"""


def _user(row: dict) -> User:
    return User(**{**row, "units": tuple(row["units"] or ())})


def any_account(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether login is on: some account exists (active or not)."""
    return con.raw.execute("SELECT count(*) FROM users").fetchone()[0] > 0


def get(con: duckdb.DuckDBPyConnection, name: str) -> User | None:
    """The account of a name as typed (NFKC, stripped: ｒｅｐ１ finds rep1), or None."""
    rows = fetch_dicts(con, _USER_SQL + " WHERE name = ?", [text.identity(name)])
    return _user(rows[0]) if rows else None


def require(con: duckdb.DuckDBPyConnection, name: str) -> User:
    found = get(con, name)
    if found is None:
        raise AccountError(f"账号「{audit.clean(name, 40)}」不存在。")
    return found


def list_users(con: duckdb.DuckDBPyConnection) -> list[User]:
    return [_user(r) for r in fetch_dicts(con, _USER_SQL + " ORDER BY created_at, name")]


def unit_names(con: duckdb.DuckDBPyConnection, codes: Iterable[str]) -> dict[str, str]:
    """Names of unit codes, from any campaign (the first by campaign id)."""
    rows = con.raw.execute(
        "SELECT code, arg_min(name, campaign_id) FROM units WHERE list_contains(?, code) "
        "GROUP BY code", [list(codes)]).fetchall()
    return dict(rows)


def resolve_units(con: duckdb.DuckDBPyConnection, items: Iterable[str]) -> list[str]:
    """Unit codes from codes or exact names (泽州县 or 140525); AccountError when unknown."""
    codes, problems = [], []
    for item in (i.strip() for i in items):
        if not item:
            continue
        found = [r[0] for r in con.raw.execute(
            "SELECT DISTINCT code FROM units WHERE code = $x OR name = $x "
            "UNION SELECT DISTINCT code FROM unit_aliases WHERE alias = $x ORDER BY 1",
            {"x": item}).fetchall()]
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
    with store.write() as con:
        if get(con, name) is not None:
            raise AccountError(f"账号「{name}」已存在。")
        codes = _check_units(con, role, units)
        con.raw.execute("INSERT INTO users VALUES (?, ?, ?, ?, TRUE, ?, 0, NULL, ?, ?, NULL, NULL)",
                    [name, full_name, role, hash_password(password), must_change_password, now,
                     actor])
        _set_units(con, name, codes)
        audit.record(con, actor, "user_created",
                     f"创建账号「{name}」：{_describe(con, role, codes, full_name)}",
                     address, role=actor_role, now=now)
        return get(con, name)


def update(store: Store, name: str, *, role: str | None = None, units: Sequence[str] | None = None,
           full_name: str | None = None, actor: str | None = None, address: str | None = None,
           actor_role: str | None = None, now: dt.datetime | None = None) -> User:
    """Change an account's role, units or full name. Logged as user_updated."""
    now = now or now_utc()
    with store.write() as con:
        user = require(con, name)
        name = user.name
        new_role = parse_role(role) if role is not None else user.role
        codes = _check_units(con, new_role, user.units if units is None else units)
        if user.role == ADMIN and new_role != ADMIN:
            _keep_one_admin(con, name)
        new_full = user.full_name if full_name is None else check_full_name(full_name)
        con.raw.execute("UPDATE users SET role = ?, full_name = ?, updated_at = ? WHERE name = ?",
                    [new_role, new_full, now, name])
        _set_units(con, name, codes)
        audit.record(con, actor, "user_updated",
                     f"修改账号「{name}」：{_describe(con, user.role, user.units, user.full_name)} → "
                     f"{_describe(con, new_role, codes, new_full)}",
                     address, role=actor_role, now=now)
        return get(con, name)


def set_active(store: Store, name: str, active: bool, *, actor: str | None = None,
               address: str | None = None, actor_role: str | None = None,
               now: dt.datetime | None = None) -> User:
    """Disable (revoking its sessions) or enable an account."""
    now = now or now_utc()
    with store.write() as con:
        user = require(con, name)
        name = user.name
        if not active and user.role == ADMIN:
            _keep_one_admin(con, name)
        con.raw.execute("UPDATE users SET active = ?, updated_at = ? WHERE name = ?", [active, now, name])
        if not active:
            _revoke_all(con, name, now)
        audit.record(con, actor, "user_enabled" if active else "user_disabled",
                     f"{'启用' if active else '停用'}账号「{name}」", address, role=actor_role, now=now)
        return get(con, name)


def reset_password(store: Store, name: str, password: str, *, actor: str | None = None,
                   address: str | None = None, actor_role: str | None = None,
                   must_change: bool = True, now: dt.datetime | None = None) -> User:
    """An administrator sets a new password: unlocks, revokes sessions, asks for a change at
    the next login (unless must_change is False)."""
    now = now or now_utc()
    with store.write() as con:
        user = require(con, name)
        name = user.name
        check_password(password, name)
        con.raw.execute("UPDATE users SET password_hash = ?, must_change_password = ?, updated_at = ? "
                    "WHERE name = ?", [hash_password(password), must_change and actor != name, now, name])
        con.raw.execute("DELETE FROM login_locks WHERE name_hash = ?", [name_hash(name)])
        _revoke_all(con, name, now)
        audit.record(con, actor, "password_reset",
                     f"重置账号「{user.name}」的密码" + ("，下次登录须修改" if must_change else ""),
                     address, role=actor_role, now=now)
        return get(con, name)


def unlock(store: Store, name: str, *, actor: str | None = None, address: str | None = None,
           actor_role: str | None = None, now: dt.datetime | None = None) -> User:
    """End the account's login locks from every address (and its count of failures)."""
    now = now or now_utc()
    with store.write() as con:
        name = require(con, name).name
        locked = con.raw.execute("SELECT count(*) FROM login_locks WHERE name_hash = ? AND "
                             "locked_until > ?", [name_hash(name), now]).fetchone()[0]
        con.raw.execute("DELETE FROM login_locks WHERE name_hash = ?", [name_hash(name)])
        audit.record(con, actor, "user_unlocked",
                     f"解除账号「{name}」的登录锁定（{locked} 个地址）" if locked
                     else f"清除账号「{name}」的登录失败记录", address, role=actor_role, now=now)
        return get(con, name)


def unlock_address(store: Store, client: str, *, actor: str | None = None,
                   address: str | None = None, actor_role: str | None = None,
                   now: dt.datetime | None = None) -> int:
    """End the login delay of an address and every lock from it; returns how many records
    were cleared (0: the address had none)."""
    now = now or now_utc()
    client = audit.clean(client) or ""
    with store.write() as con:
        cleared = (con.raw.execute("SELECT count(*) FROM login_addresses WHERE address = ?",
                               [client]).fetchone()[0]
                   + con.raw.execute("SELECT count(*) FROM login_locks WHERE address = ?",
                                 [client]).fetchone()[0])
        con.raw.execute("DELETE FROM login_addresses WHERE address = ?", [client])
        con.raw.execute("DELETE FROM login_locks WHERE address = ?", [client])
        audit.record(con, actor, "user_unlocked", f"解除地址 {client} 的登录限制（{cleared} 条记录）",
                     address, role=actor_role, now=now)
    return cleared


def change_password(store: Store, name: str, old: str, new: str, *, address: str | None = None,
                    keep_token: str | None = None, now: dt.datetime | None = None) -> User:
    """The user changes their own password (the old one is checked); other sessions end."""
    now = now or now_utc()
    with store.write() as con:
        row = con.raw.execute("SELECT password_hash, role FROM users WHERE name = ? AND active",
                          [name]).fetchone()
        if row is None or not _verify(row[0], old):
            raise AccountError("原密码不正确。")
        if old == new:
            raise AccountError("新密码不能与原密码相同。")
        check_password(new, name)
        con.raw.execute("UPDATE users SET password_hash = ?, must_change_password = FALSE, "
                    "updated_at = ? WHERE name = ?", [hash_password(new), now, name])
        keep = token_hash(keep_token) if keep_token else None
        con.raw.execute("UPDATE sessions SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL "
                    "AND token_hash IS DISTINCT FROM ?", [now, name, keep])
        audit.record(con, name, "password_changed", "修改了自己的密码", address, role=row[1], now=now)
        return get(con, name)


def _check_units(con, role: str, units: Sequence[str]) -> list[str]:
    codes = resolve_units(con, units)
    if role == REPORTER and not codes:
        raise AccountError("填报员至少要负责一个单位（例如 --units 140525）。")
    if role != REPORTER and codes:
        raise AccountError(f"只有填报员需要指定负责单位；{ROLE_LABELS[role]}可以查看全部单位。")
    return codes


def _set_units(con, name: str, codes: list[str]) -> None:
    con.raw.execute("DELETE FROM user_units WHERE user_name = ?", [name])
    for code in codes:
        con.raw.execute("INSERT INTO user_units VALUES (?, ?)", [name, code])


def _keep_one_admin(con, name: str) -> None:
    others = con.raw.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active AND name <> ?",
                         [name]).fetchone()[0]
    if not others:
        raise AccountError("这是唯一可用的管理员账号，不能停用或改为其他角色；请先创建另一个管理员。")


def _describe(con, role: str, codes: Iterable[str], full_name: str | None) -> str:
    codes = list(codes)
    names = unit_names(con, codes)
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
    """How login_locks keeps a login name: the SHA-256 of its NFKC form (DuckDB's sha256 gives
    the same), so a password typed into the name field is never stored as it was typed."""
    return hashlib.sha256(text.identity(name).encode("utf-8")).hexdigest()


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
    with store.read() as con:
        waiting = _address_wait(con, client, now)
    if waiting is not None:
        return LoginResult(None, _throttled_message(waiting, now))
    # A login changes no figure and no other session: keep the app's caches (no version bump).
    with store.write(bump=False) as con:
        waiting = _address_wait(con, client, now)       # another thread may have just failed
        if waiting is not None:
            return LoginResult(None, _throttled_message(waiting, now))
        row = con.raw.execute("SELECT password_hash FROM users WHERE name = ?", [name]).fetchone()
        user = get(con, name) if row else None
        who = user.name if user else None
        role = user.role if user else None
        shown = "" if user else f"用户名「{_mask(typed)}」"
        locked = con.raw.execute("SELECT locked_until FROM login_locks WHERE name_hash = ? AND "
                             "address = ? AND locked_until > ?", [key, client, now]).fetchone()
        if locked is not None:
            audit.record(con, who, "login_failed", f"{shown}锁定期间尝试登录", address, role=role,
                         now=now)
            _address_failed(con, client, now)
            return LoginResult(None, _locked_message(locked[0]))
        ok = _verify(row[0] if row else None, password or "")
        if user is None or not ok:
            # People type their password into the name field by mistake: an unknown name is
            # logged masked, never whole.
            audit.record(con, who, "login_failed", f"{shown}不存在" if user is None else "密码错误",
                         address, role=role, now=now)
            wait = _address_failed(con, client, now)
            failures, until = _name_failed(con, key, client, now)
            if until is not None:
                if user is not None:
                    audit.record(con, who, "account_locked",
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
            audit.record(con, user.name, "login_failed", "账号已停用", address, role=user.role,
                         now=now)
            return LoginResult(None, "账号已停用，请联系管理员。")
        if _hasher.check_needs_rehash(row[0]):
            con.raw.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                        [hash_password(password), user.name])
        con.raw.execute("UPDATE users SET last_login_at = ? WHERE name = ?", [now, user.name])
        con.raw.execute("DELETE FROM login_locks WHERE name_hash = ? AND address = ?", [key, client])
        token = secrets.token_urlsafe(32)
        con.raw.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, NULL, ?)",
                    [token_hash(token), user.name, now, now + dt.timedelta(hours=session_hours),
                     audit.clean(address)])
        audit.record(con, user.name, "login", "登录成功", address, role=user.role, now=now)
        return LoginResult(get(con, user.name), "登录成功", token)


def _address_wait(con, client: str, now: dt.datetime) -> dt.datetime | None:
    """Until when the address must wait before its next attempt, or None."""
    row = con.raw.execute("SELECT blocked_until FROM login_addresses WHERE address = ? AND "
                      "blocked_until > ?", [client, now]).fetchone()
    return row[0] if row else None


def _address_failed(con, client: str, now: dt.datetime) -> dt.datetime | None:
    """Count a failure of the address; returns until when it must now wait (None: no wait)."""
    con.raw.execute("DELETE FROM login_addresses WHERE window_start <= ? AND "
                "coalesce(blocked_until, window_start) <= ?", [now - THROTTLE_WINDOW, now])
    row = con.raw.execute("SELECT failures, window_start FROM login_addresses WHERE address = ?",
                      [client]).fetchone()
    fresh = row is None or now - row[1] >= THROTTLE_WINDOW
    failures = 1 if fresh else row[0] + 1
    wait = None
    if failures > FREE_FAILURES:
        # 2 s, 4 s, 8 s … up to the cap; the exponent is bounded before it is raised.
        wait = now + min(THROTTLE_BASE * 2 ** min(failures - FREE_FAILURES - 1, 20), THROTTLE_CAP)
    if row is None:
        con.raw.execute("INSERT INTO login_addresses VALUES (?, ?, ?, ?, ?)",
                    [client, failures, now, now, wait])
    else:
        con.raw.execute("UPDATE login_addresses SET failures = ?, window_start = ?, last_failure = ?, "
                    "blocked_until = ? WHERE address = ?",
                    [failures, now if fresh else row[1], now, wait, client])
    return wait


def _name_failed(con, key: str, client: str,
                 now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Count a failure of the name from the address: (failures in a row, lock end or None)."""
    con.raw.execute("DELETE FROM login_locks WHERE last_failure <= ? AND "
                "coalesce(locked_until, last_failure) <= ?", [now - LOCKOUT, now])
    row = con.raw.execute("SELECT failures, last_failure FROM login_locks WHERE name_hash = ? AND "
                      "address = ?", [key, client]).fetchone()
    # A lock that has ended, or a pause longer than LOCKOUT, starts the count again.
    failures = 1 if row is None or now - row[1] >= LOCKOUT else row[0] + 1
    until = now + LOCKOUT if failures >= MAX_FAILED_LOGINS else None
    if row is None:
        con.raw.execute("INSERT INTO login_locks VALUES (?, ?, ?, ?, ?)",
                    [key, client, failures, now, until])
    else:
        con.raw.execute("UPDATE login_locks SET failures = ?, last_failure = ?, locked_until = ? "
                    "WHERE name_hash = ? AND address = ?",
                    [0 if until else failures, now, until, key, client])
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
    with store.write() as con:
        con.raw.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, NULL, ?)",
                    [token_hash(token), name, now, now + dt.timedelta(hours=session_hours),
                     audit.clean(address)])
        con.raw.execute("UPDATE users SET last_login_at = ? WHERE name = ?", [now, name])
    return token


def session_user(con: duckdb.DuckDBPyConnection, token: str,
                 now: dt.datetime | None = None) -> User | None:
    """The active user of a live session, or None (unknown, revoked, expired or disabled)."""
    now = now or now_utc()
    row = con.raw.execute(
        "SELECT s.user_name FROM sessions s JOIN users u ON u.name = s.user_name "
        "WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.active",
        [token_hash(token), now]).fetchone()
    return get(con, row[0]) if row else None


def session_expires(con: duckdb.DuckDBPyConnection, token: str) -> dt.datetime | None:
    row = con.raw.execute("SELECT expires_at FROM sessions WHERE token_hash = ?",
                      [token_hash(token)]).fetchone()
    return row[0] if row else None


def logout(store: Store, token: str, *, address: str | None = None,
           now: dt.datetime | None = None) -> None:
    """End a session (the cookie no longer opens it, even if copied)."""
    now = now or now_utc()
    with store.write() as con:
        row = con.raw.execute("SELECT s.user_name, u.role FROM sessions s JOIN users u "
                          "ON u.name = s.user_name WHERE token_hash = ? AND revoked_at IS NULL",
                          [token_hash(token)]).fetchone()
        if row is None:
            return
        con.raw.execute("UPDATE sessions SET revoked_at = ? WHERE token_hash = ?", [now, token_hash(token)])
        audit.record(con, row[0], "logout", "退出登录", address, role=row[1], now=now)


def _revoke_all(con, name: str, now: dt.datetime) -> None:
    con.raw.execute("UPDATE sessions SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL",
                [now, name])


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

