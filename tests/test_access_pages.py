"""Roles in the app (streamlit.testing): open mode, the first administrator, each role's menu,
the reporter's scope on 数据上报, account administration, the audit page, the signed cookie."""

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from enrollment import settings
from enrollment.identity import access, accounts, audit, logins, websession
from enrollment.labels import OPEN_MODE_BANNER

from .fixtures import ROOT, csv_bytes

CAMPAIGN = "jincheng-2022-residents"
P = f"upload:{CAMPAIGN}:"
EVERY_PAGE = [p.path for p in access.PAGES]


def app(token: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = CAMPAIGN
    if token:
        at.session_state[websession.STATE] = {"token": token}
    at.run()
    assert not at.exception, at.exception
    return at


def reachable(at: AppTest) -> list[str]:
    """The pages st.navigation offers this session (switch_page refuses the others)."""
    out = []
    for path in EVERY_PAGE + [access.LOGIN_PAGE.path]:
        try:
            at.switch_page(path)
        except ValueError:
            continue
        out.append(path)
    return out


def session(store, name, role, units=(), password="good-pass-123"):
    accounts.create(store, name, role, password, units=units, actor="测试")
    return logins.authenticate(store, name, password).token


def banner_shown(at: AppTest) -> bool:
    return any(OPEN_MODE_BANNER in h.proto.body for h in at.get("html"))


def test_open_mode_shows_the_banner_and_every_page_but_my_account(store):
    at = app()
    assert banner_shown(at)
    assert reachable(at) == [p for p in EVERY_PAGE if p != "pages/account.py"]


def test_creating_the_first_administrator_turns_login_on(store):
    at = app()
    at.switch_page("pages/users.py").run()
    form = at.text_input
    form[0].set_value("admin")
    form[1].set_value("市医保局 王五")
    form[2].set_value("admin-pass-12")
    form[3].set_value("admin-pass-12")
    at.button[0].click().run()
    assert not at.exception, at.exception
    with store.read() as con:
        user = accounts.get(con, "admin")
        entry = audit.query(con, actions=["user_created"]).iloc[0]
    assert user.role == "admin" and entry["actor"] == "admin"
    assert not banner_shown(at)
    # This browser is now logged in as the administrator (AppTest's page registry is stale
    # after an in-script rerun, so look through a new run with the same session state).
    token = at.session_state[websession.STATE]["token"]
    assert reachable(app(token)) == EVERY_PAGE
    # A new browser session (no cookie) now gets the login page only.
    fresh = app()
    assert reachable(fresh) == [access.LOGIN_PAGE.path]
    assert [b.label for b in fresh.button] == ["登录"]


def test_require_login_setting_asks_for_login_before_any_account(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_REQUIRE_LOGIN", "true")
    at = app()
    assert reachable(at) == [access.LOGIN_PAGE.path]
    assert any("还没有任何账号" in w.value for w in at.warning)


def test_each_role_sees_only_its_pages(store):
    admin = session(store, "admin", "admin")
    leader = session(store, "boss", "leader")
    reporter = session(store, "zezhou", "reporter", ["140525"])
    assert reachable(app(admin)) == EVERY_PAGE
    assert reachable(app(leader)) == ["pages/overview.py", "pages/export.py", "pages/remind.py",
                                      "pages/account.py"]
    assert reachable(app(reporter)) == ["pages/overview.py", "pages/upload.py", "pages/account.py"]


def test_pages_a_role_lacks_answer_with_a_refusal_at_their_address(store):
    session(store, "boss", "leader")
    with store.read() as con:
        leader = access.Viewer(accounts.require(con, "boss"), open_mode=False)
    assert [access.url_path(p) for p in access.refused(leader)] == [
        "upload", "targets", "campaign_setup", "campaign", "users", "audit"]
    assert access.refused(access.Viewer(None, open_mode=True)) == []    # no accounts yet
    assert access.refused(access.Viewer(None, open_mode=False)) == []   # logged out: login form
    # The browser test opens /upload as 领导 and /users as 填报员 and sees the refusal.


def test_login_form_logs_in_and_wrong_password_says_so(store):
    session(store, "zezhou", "reporter", ["140525"], password="zezhou-pass-1")
    at = app()
    at.text_input(key="login:name").set_value("zezhou")
    at.text_input(key="login:password").set_value("wrong-pass-1")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [logins.BAD_LOGIN]
    at.text_input(key="login:name").set_value("zezhou")
    at.text_input(key="login:password").set_value("zezhou-pass-1")
    at.button[0].click().run()
    assert not at.exception
    assert "pages/upload.py" in reachable(at)
    assert at.session_state[websession.STATE]["token"]


def test_reporter_uploads_for_their_county_only(store):
    at = app(session(store, "zezhou", "reporter", ["140525"]))
    at.switch_page("pages/upload.py").run()
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "upload:uploader"]   # no name to type
    assert any("填报人：" in m.value for m in at.markdown)
    assert at.selectbox(key=P + "tpl_scope").options == ["泽州县（140525）"]
    at.date_input(key=P + "date").set_value(dt.date(2021, 11, 19)).run()
    bad = csv_bytes([["县区", "累计参保人数"], ["泽州县", 270000], ["高平市", 360000]])
    at.file_uploader[0].set_value(("两县.csv", bad, "text/csv")).run()
    shown = " ".join(e.value for e in at.error)
    assert "「高平市」不在您负责的单位范围内（您负责：泽州县及其下属单位），不能上报" in shown
    good = csv_bytes([["县区", "累计参保人数"], ["泽州县", 270000]])
    at.file_uploader[0].set_value(("泽州.csv", good, "text/csv")).run()
    next(b for b in at.button if b.key == P + "commit").click().run()
    assert not at.exception
    assert any("上报成功" in s.value for s in at.success)
    with store.read() as con:
        log = audit.query(con, actor="zezhou")
    assert list(log["action"][:2]) == ["upload", "upload_rejected"]


def test_administrator_creates_resets_and_disables_accounts_on_the_page(store):
    at = app(session(store, "admin", "admin"))
    at.switch_page("pages/users.py").run()
    assert not at.exception
    inputs = at.text_input
    inputs[0].set_value("gaoping")
    inputs[1].set_value("高平市医保局 李四")
    at.multiselect[0].set_value(["140581"])
    inputs[2].set_value("gaoping-pass-1")
    inputs[3].set_value("gaoping-pass-1")
    next(b for b in at.button if b.label == "创建账号").click().run()
    assert not at.exception, at.exception
    assert any("账号「gaoping」已创建（填报员）" in s.value for s in at.success)
    with store.read() as con:
        created = accounts.get(con, "gaoping")
    assert created.units == ("140581",) and created.must_change_password
    table = at.dataframe[0].value
    assert list(table["用户名"]) == ["admin", "gaoping"]
    assert "$argon2" not in table.to_csv()


def test_leader_has_no_upload_page_even_when_run_directly(store):
    at = app(session(store, "boss", "leader"))
    with pytest.raises(ValueError):
        at.switch_page("pages/upload.py")
    # A page run without the menu's permission stops with a message.
    ctx = at.session_state["_context"]
    assert not ctx.viewer.can("upload") and ctx.viewer.can("export")


def test_audit_page_filters_and_offers_the_download(store):
    at = app(session(store, "admin", "admin"))
    audit.log(store, "zezhou", "upload", "第 9 号上报「泽州.csv」", "10.0.0.9")
    at.switch_page("pages/audit.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert {"登录成功", "数据上报", "创建账号"} <= set(table["操作"])
    at.text_input(key="audit:text").set_value("泽州.csv").run()
    table = at.dataframe[0].value
    assert list(table["操作人"]) == ["zezhou"] and list(table["来源地址"]) == ["10.0.0.9"]
    assert at.get("download_button")


def test_must_change_password_after_a_reset_shows_only_my_account(store):
    session(store, "zezhou", "reporter", ["140525"])
    accounts.reset_password(store, "zezhou", "reset-pass-12", actor="admin")
    token = logins.authenticate(store, "zezhou", "reset-pass-12").token
    at = app(token)
    assert reachable(at) == ["pages/account.py"]


# --- the signed cookie ---------------------------------------------------------------------------

def test_cookie_round_trip_and_any_modification_is_rejected():
    key = "k" * 40
    value = websession.sign("token-abc", key)
    assert websession.unsign(value, key) == "token-abc"
    assert "token-abc" not in value or "." in value
    # Every one-character change of many cookies, also in the last character of a base64 part
    # (whose unused bits would decode to the same bytes without the canonical check).
    for token in [f"token-{n}" for n in range(40)]:
        signed = websession.sign(token, key)
        for i, old in enumerate(signed):
            for new in "ABab01-_.":
                if new != old:
                    changed = signed[:i] + new + signed[i + 1:]
                    assert websession.unsign(changed, key) is None, (signed, i, new)
    assert websession.unsign(value, "other-" + key) is None
    assert websession.unsign(value + "x", key) is None
    assert websession.unsign("", key) is None and websession.unsign(None, key) is None
    assert websession.unsign(value, key, max_age=-1) is None          # expired


def test_secret_comes_from_the_setting_or_the_file_and_must_be_long(tmp_path, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_SECRET", "s" * 40)
    assert settings.secret() == "s" * 40
    monkeypatch.delenv("ENROLLMENT_SECRET")
    path = tmp_path / "secret.key"
    monkeypatch.setenv("ENROLLMENT_SECRET_FILE", str(path))
    assert settings.secret() is None
    path.write_text("f" * 48 + "\n")
    assert settings.secret() == "f" * 48
    path.write_text("short")
    with pytest.raises(settings.SettingError, match="密钥太短"):
        settings.secret()


def test_xsrf_protection_stays_on():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text("utf-8"))
    assert config["server"]["enableXsrfProtection"] is True


def test_the_viewer_is_cached_until_the_data_changes_and_disabling_logs_out(store):
    """websession.viewer in bare mode (AppTest reruns only the page after the first run, so it
    cannot show the entry file's per-run check)."""
    import streamlit as st

    token = session(store, "zezhou", "reporter", ["140525"])
    st.session_state.clear()
    st.session_state[websession.STATE] = {"token": token}
    first = websession.viewer(store)
    assert first.name == "zezhou" and websession.viewer(store) is first     # cached
    session(store, "admin", "admin")                  # any write moves the data version on
    again = websession.viewer(store)
    assert again is not first and again.name == "zezhou"
    accounts.set_active(store, "zezhou", False, actor="admin")
    gone = websession.viewer(store)
    assert not gone.logged_in and not gone.open_mode
    assert st.session_state[websession.STATE] == {"logged_out": True}
    st.session_state.clear()
