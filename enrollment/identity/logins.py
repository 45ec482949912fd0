"""Logging in: the login form's check, throttling per address, locks per name and address, and
the login sessions a browser keeps.

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
clock instead of sleeping. The records are read and written by enrollment/db/ (sessions, logins).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from .. import db, text
from ..db import Session, Store
from . import audit
from .accounts import (
    MAX_NAME_LENGTH,
    User,
    get,
    hash_password,
    name_hash,
    needs_rehash,
    now_utc,
    require,
    token_hash,
    verify_password,
)

MAX_FAILED_LOGINS = 5                          # in a row, per login name and address
LOCKOUT = dt.timedelta(minutes=15)             # … then that name is locked from that address
FREE_FAILURES = 5                              # per address within THROTTLE_WINDOW, no delay
THROTTLE_WINDOW = dt.timedelta(hours=1)
THROTTLE_BASE = dt.timedelta(seconds=2)        # the first delay, doubling with each failure
THROTTLE_CAP = dt.timedelta(minutes=15)
UNKNOWN_ADDRESS = "未知地址"
BAD_LOGIN = "用户名或密码错误。"


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str              # Chinese, for the login form
    token: str | None = None  # the session token (only on success; never shown)


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
        ok = verify_password(row["password_hash"] if row else None, password or "")
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
        if needs_rehash(row["password_hash"]):
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
