"""Accounts in a real browser against `streamlit run`: a 填报员 for 泽州县 logs in, stays logged in
across a refresh, uploads for 泽州县, is refused for 高平市 rows and has no account administration;
a modified cookie gives a logged-out session; a 领导 sees everything but has no upload page; an
administrator creates an account on the page and reads the 操作日志. Screenshots:
/tmp/accounts-*.png."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from enrollment.identity import accounts, audit

from .fixtures import csv_bytes
from .server import CHROMIUM, CHROMIUM_ARGS, settle, streamlit_server

pytestmark = pytest.mark.browser

CAMPAIGN = "jincheng-2022-residents"
SHOTS = "/tmp/accounts-{}.png"
PASSWORDS = {"admin": "admin-pass-12", "zezhou": "zezhou-pass-1", "boss": "leader-pass-1"}
COOKIE = "enrollment_session"


def log_in(page, url: str, name: str) -> None:
    page.goto(f"{url}/?campaign={CAMPAIGN}")
    settle(page, "忘记密码")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORDS[name])
    page.get_by_role("button", name="登录").click()
    settle(page, "进度总览")


def menu(page) -> list[str]:
    nav = page.locator("[data-testid=stSidebar] .st-key-menu [data-testid=stPageLink] a")
    return [t.strip().splitlines()[-1] for t in nav.all_inner_texts()]   # after the icon name


@pytest.fixture
def users(store):
    accounts.create(store, "admin", "admin", PASSWORDS["admin"], actor="测试")
    accounts.create(store, "zezhou", "reporter", PASSWORDS["zezhou"], units=["140525"],
                    full_name="泽州县医保局 张三", actor="admin")
    accounts.create(store, "boss", "leader", PASSWORDS["boss"], full_name="市医保局 局长",
                    actor="admin")
    return store


def test_reporter_leader_and_administrator_in_the_browser(users, tmp_path):
    store = users
    good = tmp_path / "泽州县第12周.csv"
    good.write_bytes(csv_bytes([["县区", "累计参保人数"], ["泽州县", 270000]]))
    mixed = tmp_path / "两县.csv"
    mixed.write_bytes(csv_bytes([["县区", "累计参保人数"], ["泽州县", 271000], ["高平市", 360000]]))
    log = tmp_path / "server.log"
    with streamlit_server(store.target, log=log) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        # --- 填报员 of 泽州县 ------------------------------------------------------------------
        context = browser.new_context(viewport={"width": 1366, "height": 1400})
        page = context.new_page()
        # A bookmark to 数据上报: the login form at that address (no "Page not found").
        page.goto(f"{url}/upload?campaign={CAMPAIGN}")
        settle(page, "忘记密码")
        page.screenshot(path=SHOTS.format("1-login"))
        assert menu(page) == []                     # nothing but the login form
        assert page.get_by_role("dialog").count() == 0
        page.get_by_label("用户名").fill("zezhou")
        page.get_by_label("密码").fill("wrong-pass-1")
        page.get_by_role("button", name="登录").click()
        settle(page, "用户名或密码错误")
        page.get_by_label("用户名").fill("zezhou")
        page.get_by_label("密码").fill(PASSWORDS["zezhou"])
        page.get_by_role("button", name="登录").click()
        settle(page, "① 填报人和上报日期")            # logged in, on the bookmarked page
        assert page.url.endswith(f"/upload?campaign={CAMPAIGN}")
        assert menu(page) == ["进度总览", "数据上报", "我的账号"]
        assert "泽州县医保局 张三（zezhou） · 填报员" in page.inner_text("[data-testid=stSidebar]")
        cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
        assert cookie["sameSite"] == "Strict"

        page.reload()                                # the login survives a refresh
        settle(page, "① 填报人和上报日期")
        assert menu(page) == ["进度总览", "数据上报", "我的账号"]
        page.goto(f"{url}/users")                    # no account administration by URL either
        settle(page)
        assert page.get_by_role("heading", name="账号管理").count() == 0
        assert "新建账号" not in page.inner_text("body")
        expect(page.locator("[data-testid=stAlert]")).to_contain_text("您的账号没有使用本页面的权限")
        assert page.get_by_role("dialog").count() == 0          # not Streamlit's "Page not found"
        page.screenshot(path=SHOTS.format("2-reporter-no-users-page"))
        page.get_by_role("link", name="返回进度总览").click()
        settle(page, "任务数")

        page.get_by_role("link", name="数据上报").click()
        settle(page, "① 填报人和上报日期")
        body = page.inner_text("body")
        assert "填报人：泽州县医保局 张三（zezhou）" in body and "负责单位：泽州县及其下属单位" in body
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(mixed))
        settle(page, "本次不能上报")
        expect(page.locator("[data-testid=stAlert]", has_text="本次不能上报")).to_contain_text(
            "第 3 行：「高平市」不在您负责的单位范围内（您负责：泽州县及其下属单位），不能上报")
        page.screenshot(path=SHOTS.format("3-reporter-refused-gaoping"), full_page=True)
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(good))
        settle(page, "确认上报 1 个单位的数字")
        page.get_by_role("button", name="确认上报 1 个单位的数字").click()
        settle(page, "上报回执")
        receipt = page.inner_text("body")
        assert "上报成功" in receipt and "填报人：zezhou" in receipt and "270,000" in receipt
        page.screenshot(path=SHOTS.format("4-reporter-receipt"))

        # A modified cookie is a logged-out session.
        value = next(c for c in context.cookies() if c["name"] == COOKIE)["value"]
        changed = value[:-1] + ("A" if value[-1] != "A" else "B")
        context.add_cookies([{**cookie, "value": changed}])
        page.goto(f"{url}/?campaign={CAMPAIGN}")
        settle(page, "忘记密码")
        assert menu(page) == []
        assert not any(c["name"] == COOKIE for c in context.cookies())   # and it is cleared
        page.screenshot(path=SHOTS.format("5-tampered-cookie"))
        context.close()

        # --- 领导 -------------------------------------------------------------------------------
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        log_in(page, url, "boss")
        assert menu(page) == ["进度总览", "通报导出", "催报", "我的账号"]
        assert "任务数" in page.inner_text("body")           # reads the whole city
        page.goto(f"{url}/upload?campaign={CAMPAIGN}")
        settle(page)
        assert "① 填报人和上报日期" not in page.inner_text("body")
        expect(page.locator("[data-testid=stAlert]")).to_contain_text("您的账号没有使用本页面的权限")
        assert page.get_by_role("dialog").count() == 0
        page.screenshot(path=SHOTS.format("6-leader"))
        page.get_by_role("button", name="退出").click()
        settle(page, "忘记密码")
        page.reload()
        settle(page, "忘记密码")                             # logged out for good
        context.close()

        # --- 管理员 -----------------------------------------------------------------------------
        context = browser.new_context(viewport={"width": 1366, "height": 1300})
        page = context.new_page()
        log_in(page, url, "admin")
        assert menu(page) == ["进度总览", "数据上报", "通报导出", "催报", "目标任务", "新建活动", "活动设置",
                              "账号管理", "操作日志", "我的账号"]
        page.get_by_role("link", name="账号管理").click()
        settle(page, "新建账号")
        form = page.locator("[data-testid=stForm]").first
        form.get_by_label("用户名", exact=True).fill("gaoping")
        form.get_by_label("姓名/单位", exact=True).fill("高平市医保局 李四")
        form.locator("[data-testid=stMultiSelect] input").fill("高平市")
        page.get_by_role("option", name="高平市（140581）· 县（市、区）").click()
        form.get_by_label("初始密码（至少 8 个字符）", exact=True).fill("gaoping-pass-1")
        form.get_by_label("再次输入初始密码", exact=True).fill("gaoping-pass-1")
        form.get_by_role("button", name="创建账号").click()
        settle(page, "账号「gaoping」已创建（填报员）")
        page.screenshot(path=SHOTS.format("7-admin-created-user"), full_page=True)
        assert "gaoping" in page.inner_text("body")
        page.get_by_role("link", name="操作日志").click()
        settle(page, "共 ")
        page.screenshot(path=SHOTS.format("8-audit-log"), full_page=True)
        context.close()
        browser.close()

    with store.read() as con:
        created = accounts.get(con, "gaoping")
        entries = audit.query(con)
    assert created.role == "reporter" and created.units == ("140581",)
    seen = set(zip(entries["actor"], entries["action"]))
    for expected in [("zezhou", "login_failed"), ("zezhou", "login"), ("zezhou", "upload"),
                     ("zezhou", "upload_rejected"), ("boss", "login"), ("boss", "logout"),
                     ("admin", "login"), ("admin", "user_created")]:
        assert expected in seen, expected
    browser_rows = entries[entries["actor"] == "zezhou"]
    assert browser_rows["address"].notna().all()
    # Nothing secret in the server's log.
    text = log.read_text(errors="replace")
    for secret in [*PASSWORDS.values(), "wrong-pass-1", "gaoping-pass-1", "$argon2",
                   os.environ["ENROLLMENT_SECRET"], value]:
        assert secret not in text
