"""Accounts: creation rules, passwords, lockout (with an injectable clock), sessions, the CLI."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from enrollment.cli import cli
from enrollment.identity import accounts, audit, logins
from enrollment.identity.accounts import AccountError

from .fixtures import dump

T0 = dt.datetime(2021, 11, 19, 8, 0)        # 16:00 in Shanghai


def add(store, name="zezhou", role="reporter", password="zezhou-pass-1", units=("140525",), **kw):
    return accounts.create(store, name, role, password, units=units, actor="测试", **kw)


def login(store, name="zezhou", password="zezhou-pass-1", now=T0):
    return logins.authenticate(store, name, password, address="10.0.0.7", now=now)


def actions(store, actor=None):
    with store.read() as con:
        return list(audit.query(con, actor=actor)["action"])[::-1]


def test_reporter_needs_units_and_others_must_not_have_any(store):
    with pytest.raises(AccountError, match="填报员至少要负责一个单位"):
        add(store, units=())
    with pytest.raises(AccountError, match="只有填报员需要指定负责单位"):
        add(store, name="boss", role="领导", units=("140525",))
    user = add(store, units=("泽州县", "140581"))        # names resolve to codes
    assert user.units == ("140525", "140581") and user.role_label == "填报员"


@pytest.mark.parametrize("units, message", [
    (("999999",), "单位「999999」不存在"),
    (("赵庄村委会",), "对应多个单位"),
])
def test_unknown_or_ambiguous_units_are_refused(store, units, message):
    with pytest.raises(AccountError, match=message):
        add(store, units=units)
    with store.read() as con:
        assert not accounts.any_account(con)


@pytest.mark.parametrize("password, message", [
    ("short1", "至少 8 个字符"), ("zezhou", "至少 8 个字符"), ("aaaaaaaaaa", "太简单"),
    ("x" * 257, "最多 256 个字符")])
def test_weak_passwords_are_refused_without_echoing_them(store, password, message):
    with pytest.raises(AccountError, match=message) as caught:
        add(store, password=password)
    assert password not in str(caught.value)


def test_password_is_stored_as_an_argon2_hash_only(store):
    add(store)
    with store.read() as con:
        stored = con.raw.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "zezhou-pass-1" not in stored


def test_login_opens_a_session_and_wrong_or_unknown_names_get_one_message(store):
    add(store)
    ok = login(store)
    assert ok.user.name == "zezhou" and ok.token
    with store.read() as con:
        assert logins.session_user(con, ok.token, T0).name == "zezhou"
        assert con.raw.execute("SELECT count(*) FROM sessions WHERE token_hash = ?",
                           [ok.token]).fetchone()[0] == 0          # only the hash is stored
    assert login(store, password="wrong-pass-1").message == logins.BAD_LOGIN
    assert login(store, name="nobody").message == logins.BAD_LOGIN
    # A password typed into the name field is not kept in the log.
    assert login(store, name="my-secret-password").message == logins.BAD_LOGIN
    with store.read() as con:
        details = list(audit.query(con, actions=["login_failed"])["detail"])
    assert details[:2] == ["用户名「my**********」不存在", "用户名「no****」不存在"]
    assert not any("my-secret-password" in d for d in details)


def test_logins_and_export_entries_keep_the_cached_figures(store):
    """The data version keys every cached query: only changes to figures or accounts bump it."""
    add(store)
    before = store.data_version()
    login(store)
    login(store, password="wrong-pass-9")
    audit.log(store, "zezhou", "export", "下载通报表")
    assert store.data_version() == before
    assert actions(store)[-3:] == ["login", "login_failed", "export"]
    add(store, name="gaoping", units=("140581",), password="gaoping-pass-1")
    assert store.data_version() == before + 1


def test_five_failures_lock_the_name_from_that_address_for_fifteen_minutes(store):
    add(store)
    for attempt in range(4):
        result = login(store, password="wrong-pass-1", now=T0 + dt.timedelta(seconds=attempt))
        assert result.user is None and "暂停" not in result.message.split("再错")[0]
    assert "再错 1 次" in result.message
    locked = login(store, password="wrong-pass-1", now=T0 + dt.timedelta(seconds=5))
    assert locked.user is None and "本机已暂停用此用户名登录，请于 16:15 后再试" in locked.message
    # The right password is refused while locked, also a second before the end.
    assert login(store, now=T0 + dt.timedelta(minutes=14, seconds=59)).user is None
    after = login(store, now=T0 + dt.timedelta(minutes=15, seconds=6))
    assert after.user is not None
    assert actions(store, "zezhou") == ["login_failed"] * 5 + ["account_locked", "login_failed",
                                                                "login"]


def test_a_success_resets_the_failure_count(store):
    add(store)
    for i in range(4):
        login(store, password="wrong-pass-1", now=T0 + dt.timedelta(seconds=i))
    assert login(store, now=T0 + dt.timedelta(seconds=10)).user
    for i in range(4):
        assert "已锁定" not in login(store, password="wrong-pass-1",
                                    now=T0 + dt.timedelta(seconds=20 + i)).message
    assert login(store, now=T0 + dt.timedelta(seconds=30)).user


def test_administrator_unlocks_and_reset_unlocks(store):
    add(store)
    for i in range(5):
        login(store, password="wrong-pass-1", now=T0 + dt.timedelta(seconds=i))
    assert login(store, now=T0 + dt.timedelta(minutes=1)).user is None
    logins.unlock(store, "zezhou", actor="admin", now=T0 + dt.timedelta(minutes=2))
    assert login(store, now=T0 + dt.timedelta(minutes=3)).user


def test_logout_disable_and_reset_end_sessions_on_the_server(store):
    add(store)
    first, second, third = (login(store).token for _ in range(3))
    logins.logout(store, first, address="10.0.0.7", now=T0)
    with store.read() as con:
        assert logins.session_user(con, first, T0) is None
        assert logins.session_user(con, second, T0) is not None
    accounts.reset_password(store, "zezhou", "brand-new-pass", actor="admin", now=T0)
    with store.read() as con:
        assert logins.session_user(con, second, T0) is None
    relogin = login(store, password="brand-new-pass").user
    assert relogin.must_change_password
    token = login(store, password="brand-new-pass").token
    accounts.set_active(store, "zezhou", False, actor="admin", now=T0)
    with store.read() as con:
        assert logins.session_user(con, token, T0) is None
    assert login(store, password="brand-new-pass").message == "账号已停用，请联系管理员。"
    assert third


def test_sessions_expire(store):
    add(store)
    token = logins.authenticate(store, "zezhou", "zezhou-pass-1", session_hours=12, now=T0).token
    with store.read() as con:
        assert logins.session_user(con, token, T0 + dt.timedelta(hours=11, minutes=59))
        assert logins.session_user(con, token, T0 + dt.timedelta(hours=12)) is None


def test_changing_ones_password_checks_the_old_one_and_ends_other_sessions(store):
    add(store)
    mine, other = login(store).token, login(store).token
    with pytest.raises(AccountError, match="原密码不正确"):
        accounts.change_password(store, "zezhou", "wrong-pass-1", "another-pass-2", now=T0)
    accounts.change_password(store, "zezhou", "zezhou-pass-1", "another-pass-2", keep_token=mine,
                             now=T0)
    with store.read() as con:
        assert logins.session_user(con, mine, T0) and not logins.session_user(con, other, T0)
    assert login(store, password="another-pass-2").user
    assert login(store).user is None


def test_the_last_administrator_cannot_be_disabled_or_demoted(store):
    add(store, name="admin", role="管理员", password="admin-pass-12", units=())
    with pytest.raises(AccountError, match="唯一可用的管理员"):
        accounts.set_active(store, "admin", False)
    with pytest.raises(AccountError, match="唯一可用的管理员"):
        accounts.update(store, "admin", role="leader")
    add(store, name="admin2", role="admin", password="admin-pass-12", units=())
    assert not accounts.set_active(store, "admin", False).active


# --- CLI ---------------------------------------------------------------------------------------

def run(store, *args, input=None):
    return CliRunner().invoke(cli, ["--db", store.target, *args], input=input)


def test_cli_users_add_list_disable_enable_reset(store):
    result = run(store, "users", "add", "zezhou", "--role", "填报员", "--units", "泽州县",
                 "--full-name", "泽州县医保局 张三", input="zezhou-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "已创建账号「zezhou」（填报员，负责 140525）" in result.output
    assert run(store, "users", "add", "boss", "--role", "leader", input="leader-pass-1\n").exit_code == 0
    listed = run(store, "users", "list", "--format", "json")
    rows = json.loads(listed.output)
    assert [(r["用户名"], r["角色"], r["负责单位"], r["状态"]) for r in rows] == [
        ("zezhou", "填报员", "泽州县（140525）", "正常"), ("boss", "领导", "", "正常")]
    assert "$argon2" not in listed.output and "pass" not in listed.output
    assert run(store, "users", "disable", "boss").exit_code == 0
    assert "已停用" in run(store, "users", "list").output
    assert run(store, "users", "enable", "boss").exit_code == 0
    reset = run(store, "users", "reset", "zezhou", input="reset-pass-99\n")
    assert reset.exit_code == 0 and "reset-pass-99" not in reset.output
    assert login(store, password="reset-pass-99").user.must_change_password
    actors = {r for r in actions(store)}
    assert {"user_created", "user_disabled", "user_enabled", "password_reset"} <= actors


def test_cli_never_takes_a_password_as_an_argument(store):
    command = cli.commands["users"].commands["add"]
    assert not any("password" in opt for p in command.params for opt in getattr(p, "opts", []))
    result = run(store, "users", "add", "x1", "--role", "admin", "--password", "secret-pass-1")
    assert result.exit_code != 0


@pytest.mark.parametrize("args, message", [
    (["users", "add", "zezhou", "--role", "boss"], "角色「boss」不存在"),
    (["users", "add", "zezhou", "--role", "填报员"], "填报员至少要负责一个单位"),
    (["users", "add", "a b", "--role", "admin"], "用户名只能包含"),
    (["users", "disable", "nobody"], "账号「nobody」不存在"),
    (["users", "reset", "nobody"], "账号「nobody」不存在"),
])
def test_cli_account_errors_exit_1_in_chinese(store, args, message):
    result = run(store, *args, input="good-pass-123\n")
    assert result.exit_code == 1 and message in result.output
    with store.read() as con:
        assert not accounts.any_account(con)


# --- scripted uploads obey the account's scope ----------------------------------------------

def ingest_cli(store, tmp_path, uploader, rows, *extra):
    path = tmp_path / "report.csv"
    path.write_bytes(("\r\n".join(",".join(map(str, r)) for r in rows) + "\r\n").encode("utf-8"))
    return run(store, "ingest", str(path), "--campaign", "jincheng-2022-residents",
               "--report-date", "2021-11-19", "--uploader", uploader, *extra)


def test_cli_ingest_applies_the_uploaders_scope(store, tmp_path):
    add(store)
    accounts.create(store, "boss", "leader", "leader-pass-1")
    both = [["县区", "累计参保人数"], ["泽州县", 270000], ["高平市", 360000]]
    refused = ingest_cli(store, tmp_path, "zezhou", both)
    assert refused.exit_code == 1
    assert "第 3 行：「高平市」不在您负责的单位范围内（您负责：泽州县及其下属单位），不能上报" in refused.output
    assert ingest_cli(store, tmp_path, "zezhou", both, "--dry-run").exit_code == 1
    own = ingest_cli(store, tmp_path, "zezhou", [["乡镇", "累计参保人数"], ["南村镇", 20000]])
    assert own.exit_code == 0, own.output                  # a township below 泽州县
    leader = ingest_cli(store, tmp_path, "boss", both)
    assert leader.exit_code == 1 and "没有上报或撤回数据的权限" in leader.output
    accounts.set_active(store, "zezhou", False)
    assert "已停用" in ingest_cli(store, tmp_path, "zezhou", both).output
    # Once accounts exist, a name without an account is refused (not taken as free text).
    unknown = ingest_cli(store, tmp_path, "某县 王五", both)
    assert unknown.exit_code == 1 and "账号「某县 王五」不存在" in unknown.output
    with store.read() as con:
        log = audit.query(con, actions=["upload", "upload_rejected"])
    assert set(log["actor"]) == {"zezhou"}
    assert all(a.startswith("命令行 ") for a in log["address"])


def test_a_reporter_cannot_withdraw_an_upload_outside_their_units(store, tmp_path):
    from enrollment.uploads import ingest, withdrawals

    from .fixtures import NOW, TODAY, report_csv

    ingest.commit(store, "jincheng-2022-residents", report_csv({"140525": 1, "140581": 2}),
                  "两县.csv", report_date=dt.date(2021, 11, 19), uploader="zezhou", now=NOW,
                  today=TODAY)
    with pytest.raises(withdrawals.WithdrawError, match="不在您负责范围内的单位（高平市）"):
        withdrawals.withdraw(store, "jincheng-2022-residents", "zezhou", allowed_units=["140525"])
    assert withdrawals.withdraw(store, "jincheng-2022-residents", "zezhou").units == 2


# --- finding 6: failed logins slow the address down and cannot lock anyone out elsewhere -------

def attempt(store, name, password="wrong-pass-1", client="10.0.0.66", now=T0):
    return logins.authenticate(store, name, password, address=client, client=client, now=now)


def test_an_address_waits_longer_after_each_failure_beyond_five(store):
    add(store)
    now = T0
    for i in range(logins.FREE_FAILURES):
        result = attempt(store, f"guess{i}", now=now)
        assert result.message.startswith(logins.BAD_LOGIN) and "等待" not in result.message
        now += dt.timedelta(seconds=1)
    waits = []
    for i in range(12):
        result = attempt(store, f"more{i}", now=now)
        assert "为防止猜测密码，本机需等待" in result.message
        wait = int(result.message.split("需等待 ")[1].split(" 秒")[0])
        waits.append(wait)
        # Inside the wait nothing is checked, nothing is written, the right password too.
        before = dump(store, audit=True)
        early = attempt(store, "zezhou", "zezhou-pass-1", now=now + dt.timedelta(seconds=wait - 1))
        assert early.user is None and early.message.startswith("登录尝试过于频繁")
        assert dump(store, audit=True) == before
        now += dt.timedelta(seconds=wait)
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    # After the wait, the right password works from there again.
    assert attempt(store, "zezhou", "zezhou-pass-1", now=now).user is not None


def waited(message: str) -> int | None:
    """The seconds an answer asks the address to wait, if it does."""
    if "还需等待 " in message:
        return int(message.split("还需等待 ")[1].split(" 秒")[0])
    if "本机需等待 " in message:
        return int(message.split("本机需等待 ")[1].split(" 秒")[0])
    return None


def test_one_address_cannot_keep_an_administrator_out(store):
    accounts.create(store, "admin", "admin", "admin-pass-12")
    now, end = T0, T0 + dt.timedelta(hours=3)
    next_admin, checked, guesses, locked_answers = T0, 0, 0, 0
    while now < end:
        result = attempt(store, "admin", now=now)       # the attacker, as fast as allowed
        guesses += result.message.startswith(logins.BAD_LOGIN)
        locked_answers += "暂停用此用户名登录，请于" in result.message
        now += dt.timedelta(seconds=waited(result.message) or 1)
        if now >= next_admin or "暂停用此用户名登录" in result.message:
            # Meanwhile the administrator logs in from their own machine: always in.
            mine = logins.authenticate(store, "admin", "admin-pass-12", address="10.0.0.2",
                                         client="10.0.0.2", now=now)
            assert mine.user is not None, mine.message
            next_admin, checked = now + dt.timedelta(minutes=7), checked + 1
    assert checked >= 12 and locked_answers >= 1
    # The attacker's address had few real guesses: 5 free, then delays of up to 15 minutes.
    assert guesses <= 3 * 20, guesses


def test_unknown_names_and_wrong_passwords_get_the_same_answers(store):
    add(store)

    def answers(name, client):
        return [attempt(store, name, client=client, now=T0 + dt.timedelta(seconds=i)).message
                for i in range(9)]

    known, unknown = answers("zezhou", "10.0.0.31"), answers("nobody", "10.0.0.32")
    assert known == unknown
    assert "再错 2 次" in known[2] and "暂停用此用户名登录" in known[4]
    assert known[6].startswith("登录尝试过于频繁")


def test_the_console_unlocks_a_name_or_an_address(store):
    accounts.create(store, "admin", "admin", "admin-pass-12")
    runner = CliRunner()
    db = ["--db", store.target]
    now = accounts.now_utc()
    for i in range(5):
        attempt(store, "admin", client="10.0.0.5", now=now + dt.timedelta(seconds=i))
    later = now + dt.timedelta(seconds=30)
    locked = attempt(store, "admin", "admin-pass-12", client="10.0.0.5", now=later)
    assert locked.user is None and "暂停用此用户名登录" in locked.message
    with store.read() as con:
        assert accounts.get(con, "admin").locked(later)
    assert runner.invoke(cli, [*db, "users", "unlock"]).exit_code == 1
    result = runner.invoke(cli, [*db, "users", "unlock", "admin"])
    assert result.exit_code == 0 and "已解除账号「admin」的登录锁定" in result.output
    later += dt.timedelta(seconds=2)            # the refused attempt made the address wait 2 s
    assert attempt(store, "admin", "admin-pass-12", client="10.0.0.5", now=later).user
    # An address that failed often waits longer and longer (here 512 s), whatever the name …
    for i in range(8):
        result = attempt(store, f"x{i}", client="10.0.0.5", now=later)
        later += dt.timedelta(seconds=waited(result.message) or 0)
    assert attempt(store, "admin", "admin-pass-12", client="10.0.0.5",
                   now=later - dt.timedelta(seconds=1)).message.startswith("登录尝试过于频繁")
    # … unless the console ends it.
    result = runner.invoke(cli, [*db, "users", "unlock", "--address", "10.0.0.5"])
    assert result.exit_code == 0 and "已解除地址 10.0.0.5 的登录限制" in result.output
    assert attempt(store, "admin", "admin-pass-12", client="10.0.0.5",
                   now=later - dt.timedelta(seconds=1)).user
    assert runner.invoke(cli, [*db, "users", "unlock", "nobody"]).exit_code == 1
    assert actions(store).count("user_unlocked") == 2


def test_throttling_counts_the_proxys_client_only_for_trusted_proxies():
    from enrollment.identity.websession import throttle_key

    proxies = frozenset({"10.0.0.1"})
    assert throttle_key("10.0.0.1", "1.2.3.4, 10.0.0.1", proxies) == "1.2.3.4"
    assert throttle_key("10.0.0.1", "6.6.6.6, 1.2.3.4", proxies) == "1.2.3.4"   # rightmost
    assert throttle_key("5.5.5.5", "1.2.3.4", proxies) == "5.5.5.5"           # forged header
    assert throttle_key("10.0.0.1", None, proxies) == "10.0.0.1"
    assert throttle_key("5.5.5.5", "1.2.3.4", frozenset()) == "5.5.5.5"
