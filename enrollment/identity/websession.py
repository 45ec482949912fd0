"""The login session of a browser: who is using the app, kept across refreshes by a signed cookie.

What we use, and why (each measured with a real `streamlit run` and Chromium, Streamlit 1.67):

* Reading the cookie: `st.context.cookies` — the cookies of the request that opened the session's
  WebSocket. A browser refresh opens a new session whose first run sees the cookie, with no
  round-trip to the browser (the page never flashes the login form).
* Writing the cookie: Streamlit has no server-side API for an app to set a cookie (only its own
  OIDC `st.login` does, and bureaus run offline). We mount a tiny component of Streamlit's own
  `st.components.v2` that sets `document.cookie` (SameSite=Strict; Secure under https). The
  session token travels as component data, not as page HTML.
* Signing: itsdangerous (Pallets) signs the token with the configured secret
  (ENROLLMENT_SECRET or ENROLLMENT_SECRET_FILE); a modified cookie fails the signature and the
  session is logged out. The token itself is random and the database stores only its SHA-256,
  so logout, disabling an account and a password reset end the session on the server even if
  someone copied the cookie.
* streamlit-authenticator 0.4.2 (tried): its login, refresh and logout work with Streamlit 1.67
  (it reads `st.context.cookies` too and writes through extra-streamlit-components), but it keeps
  accounts in a YAML-style dict, its JWT cookie holds only the user name and an expiry (a copied
  cookie cannot be revoked by logout, disabling or a reset), it has no timed lockout, and it
  prints token decode errors. We keep its approach for reading and replace the rest.

The cookie is not HttpOnly (only a server response could make it so); SameSite=Strict, the
server-side revocation and the session lifetime (ENROLLMENT_SESSION_HOURS) limit what a stolen
copy is worth.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading

import itsdangerous
import streamlit as st
from itsdangerous.encoding import base64_decode, base64_encode

from .. import settings
from ..db import Store
from . import accounts, audit, logins
from .access import Viewer

COOKIE = "enrollment_session"
_SALT = "enrollment.session-cookie"
STATE = "_auth"                     # session_state: {"token": …} or {"logged_out": True}
CACHE = "_auth_viewer"              # session_state: (key, Viewer, session expiry)

_log = logging.getLogger(__name__)
_ephemeral_secret: str | None = None
_ephemeral_lock = threading.Lock()

_COOKIE_JS = """
export default function(component) {
    const { data } = component;
    if (!data || !data.name) return;
    const secure = window.location.protocol === "https:" ? "; Secure" : "";
    if (data.value) {
        document.cookie = `${data.name}=${data.value}; Path=/; Max-Age=${data.max_age}; SameSite=Strict${secure}`;
    } else {
        document.cookie = `${data.name}=; Path=/; Max-Age=0; SameSite=Strict${secure}`;
    }
}
"""
_cookie_writer = st.components.v2.component("enrollment_session_cookie", js=_COOKIE_JS)


def secret() -> str:
    """The configured signing secret, or one random secret per server process (logins then end
    when the server restarts; the log says so once, without the value)."""
    configured = settings.secret()
    if configured:
        return configured
    global _ephemeral_secret
    with _ephemeral_lock:
        if _ephemeral_secret is None:
            _ephemeral_secret = secrets.token_urlsafe(48)
            _log.warning("No ENROLLMENT_SECRET or secret file: login cookies are signed with a "
                         "random key and end when the server restarts.")
        return _ephemeral_secret


def _serializer(key: str | None = None) -> itsdangerous.URLSafeTimedSerializer:
    return itsdangerous.URLSafeTimedSerializer(key or secret(), salt=_SALT,
                                               signer_kwargs={"digest_method": hashlib.sha256})


def _canonical(value: str) -> bool:
    """Every dot-separated part is base64 exactly as we would write it. The last character of a
    base64 part can carry unused bits: without this check, changing it to a neighbour letter
    would decode to the same bytes and pass the signature."""
    try:
        return all(base64_encode(base64_decode(part)).decode("ascii") == part
                   for part in value.split("."))
    except (itsdangerous.BadData, ValueError, UnicodeError):
        return False


def sign(token: str, key: str | None = None) -> str:
    """The cookie value for a session token."""
    return _serializer(key).dumps(token)


def unsign(value: str | None, key: str | None = None, max_age: float | None = None) -> str | None:
    """The session token in a cookie value, or None when it is missing, modified or too old."""
    if not value:
        return None
    max_age = settings.session_hours() * 3600 if max_age is None else max_age
    if not _canonical(value):
        return None
    try:
        token = _serializer(key).loads(value, max_age=max_age)
    except itsdangerous.BadData:
        return None
    return token if isinstance(token, str) else None


def client_address() -> str | None:
    """Where the browser connects from: the socket address, and X-Forwarded-For when a proxy
    sends one (recorded as given: a client can forge that header)."""
    try:
        ip = st.context.ip_address
        headers = st.context.headers
    except Exception:  # noqa: BLE001 - outside a script run (AppTest, bare mode)
        return None
    forwarded = headers.get("X-Forwarded-For") if headers else None
    address = ip or ("本机" if headers else None)
    if forwarded:
        address = f"{address or ''}（代理转发：{audit.clean(forwarded, 120)}）"
    return address


def client_key() -> str | None:
    """The address that login throttling counts: the connecting address, or, when that is a
    trusted proxy (ENROLLMENT_TRUSTED_PROXIES), the last address in X-Forwarded-For that is not
    one. A client cannot choose its own key by sending the header to the server directly."""
    try:
        ip = st.context.ip_address
        headers = st.context.headers
    except Exception:  # noqa: BLE001 - outside a script run (AppTest, bare mode)
        return None
    return throttle_key(ip, headers.get("X-Forwarded-For") if headers else None,
                        settings.trusted_proxies())


def throttle_key(ip: str | None, forwarded: str | None, trusted: frozenset[str]) -> str | None:
    """See client_key (separate so that it can be tested without a browser)."""
    if ip in trusted and forwarded:
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if hop not in trusted:
                return audit.clean(hop, 64)
    return ip


def viewer(store: Store, version: int | None = None) -> Viewer:
    """Who is using this session, checked against the database.

    The answer is kept for the session while the data version (bumped by every write: a
    logout elsewhere, disabling, a reset, a role change) and the cookie stay the same and the
    session has not expired, so a run that changes nothing costs no extra database connection.
    """
    version = store.data_version() if version is None else version
    state = st.session_state.get(STATE) or {}
    token = state.get("token")
    if token is None and not state.get("logged_out"):
        token = unsign(st.context.cookies.get(COOKIE))
    key = (store.target, version, token, settings.require_login())
    cached = st.session_state.get(CACHE)
    if cached and cached[0] == key and (cached[2] is None or accounts.now_utc() < cached[2]):
        return cached[1]
    expires = None
    with store.read() as tx:
        if not accounts.any_account(tx) and not settings.require_login():
            found = Viewer(None, open_mode=True)
        else:
            user = logins.session_user(tx, token) if token else None
            if user is None:
                if token is not None:
                    st.session_state[STATE] = {"logged_out": True}
                found = Viewer(None, open_mode=False)
            else:
                st.session_state[STATE] = {"token": token}
                expires = logins.session_expires(tx, token)
                found = Viewer(user, open_mode=False, token=token)
    if found.logged_in or found.open_mode:
        st.session_state[CACHE] = (key, found, expires)
    else:
        st.session_state.pop(CACHE, None)
    return found


def sync_cookie(store: Store, current: Viewer) -> None:
    """Make the browser's cookie match the session: set it after a login in this session,
    delete it after a logout or when it no longer opens a session. Call after st.navigation."""
    sent = st.context.cookies.get(COOKIE)
    if current.token:
        if unsign(sent) == current.token:
            return                       # the browser already holds this session
        cached = st.session_state.get(CACHE)
        expires = cached[2] if cached and cached[1] == current else None
        if expires is None:
            with store.read() as tx:
                expires = logins.session_expires(tx, current.token)
        remaining = int((expires - accounts.now_utc()).total_seconds()) if expires else 0
        _cookie_writer(data={"name": COOKIE, "value": sign(current.token),
                             "max_age": max(remaining, 0)}, key="session_cookie")
    elif sent:
        _cookie_writer(data={"name": COOKIE, "value": "", "max_age": 0}, key="session_cookie")


def login(store: Store, name: str, password: str) -> logins.LoginResult:
    """Check a login from the form; on success this session is logged in (rerun to show it)."""
    result = logins.authenticate(store, name, password, address=client_address(),
                                   client=client_key(), session_hours=settings.session_hours())
    if result.token:
        st.session_state[STATE] = {"token": result.token}
    return result


def start_session(store: Store, name: str) -> None:
    """Log this browser in as `name` (the first administrator, just created here)."""
    token = logins.open_session(store, name, address=client_address(),
                                  session_hours=settings.session_hours())
    st.session_state[STATE] = {"token": token}


def logout(store: Store, current: Viewer) -> None:
    if current.token:
        logins.logout(store, current.token, address=client_address())
    st.session_state[STATE] = {"logged_out": True}
    st.session_state.pop(CACHE, None)
