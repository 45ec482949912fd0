"""操作日志: every action of the list is recorded with its user; the app only appends to it."""

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from enrollment import db
from enrollment.campaigns import bootstrap
from enrollment.cli import cli
from enrollment.cycle import contacts, publishing, weeks
from enrollment.db import Store
from enrollment.identity import accounts, audit, logins
from enrollment.labels import AUDIT_ACTION_LABELS
from enrollment.uploads import ingest, withdrawals

from .fixtures import NOW, ROOT, TODAY, report_csv
from .robots import robot

CAMPAIGN = "jincheng-2022-residents"
DAY = dt.date(2021, 11, 19)


def entries(store) -> list[tuple[str, str]]:
    with store.read() as con:
        frame = audit.query(con)
    return list(zip(frame["actor"], frame["action"]))[::-1]


def test_every_action_appears_in_the_log_with_its_user(tmp_path, monkeypatch):
    store = Store(tmp_path / "fresh.duckdb")
    monkeypatch.setenv("ENROLLMENT_DB", store.target)
    bootstrap.init(store, actor="命令行:root")                   # campaign and target changes
    accounts.create(store, "admin", "admin", "admin-pass-12", actor="命令行:root")
    accounts.create(store, "zezhou", "reporter", "zezhou-pass-1", units=["140525"], actor="admin")
    accounts.update(store, "zezhou", full_name="泽州县医保局 张三", actor="admin")
    assert logins.authenticate(store, "zezhou", "wrong-pass-1", address="10.1.1.1").user is None
    token = logins.authenticate(store, "zezhou", "zezhou-pass-1", address="10.1.1.1").token
    ingest.commit(store, CAMPAIGN, report_csv({"140525": 270000}), "泽州.csv", report_date=DAY,
                  uploader="zezhou", allowed_units=["140525"], address="10.1.1.1",
                  role="reporter", now=NOW, today=TODAY)
    with pytest.raises(ingest.UploadRejected):
        ingest.commit(store, CAMPAIGN, report_csv({"140581": 360000}), "高平.csv", report_date=DAY,
                      uploader="zezhou", allowed_units=["140525"], address="10.1.1.1",
                      now=NOW, today=TODAY)
    withdrawals.withdraw(store, CAMPAIGN, "zezhou", allowed_units=["140525"], address="10.1.1.1")
    accounts.change_password(store, "zezhou", "zezhou-pass-1", "zezhou-pass-2", keep_token=token)
    logins.logout(store, token, address="10.1.1.1")
    for _ in range(logins.MAX_FAILED_LOGINS):
        logins.authenticate(store, "zezhou", "wrong-pass-1")
    logins.unlock(store, "zezhou", actor="admin")
    accounts.reset_password(store, "zezhou", "zezhou-pass-3", actor="admin")
    accounts.set_active(store, "zezhou", False, actor="admin")
    accounts.set_active(store, "zezhou", True, actor="admin")
    result = CliRunner().invoke(cli, ["--db", store.target, "upload-file", "1", "--campaign",
                                      CAMPAIGN, "--out", str(tmp_path / "raw.csv")])
    assert result.exit_code == 0, result.output
    # What a target-loading or export feature records (issues 6 and 7 call the same function).
    audit.log(store, "admin", "targets_changed", "载入任务表 泽州.xlsx", "10.1.1.2",
              campaign_id=CAMPAIGN, role="admin")
    audit.log(store, "boss", "export", "导出进度图 PNG", "10.1.1.3", campaign_id=CAMPAIGN,
              role="leader")

    # The Friday cycle: locks, exceptions, contacts, publishing and pushes.
    ingest.commit(store, CAMPAIGN, report_csv({"140525": 275000}), "泽州.csv", report_date=DAY,
                  uploader="admin", accept_warnings=True, now=NOW, today=TODAY)
    weeks.lock(store, CAMPAIGN, DAY, actor="admin")
    weeks.allow(store, CAMPAIGN, DAY, "泽州县", "更正", actor="admin")
    weeks.revoke(store, CAMPAIGN, DAY, "泽州县", actor="admin")
    weeks.unlock(store, CAMPAIGN, DAY, actor="admin")
    contacts.save(store, CAMPAIGN, [("140525", "王五", "13800001111")], actor="admin")
    monkeypatch.setenv("ENROLLMENT_PUSH_RETRIES", "0")
    with robot(script=[("ok",), ("errcode", 93000, "invalid webhook url")]) as wecom:
        monkeypatch.setenv("ENROLLMENT_WECOM_WEBHOOK", wecom.url)
        done = publishing.publish(store, CAMPAIGN, DAY, actor="boss", formats=["xlsx"])
        publishing.push_bulletin(store, done.id, actor="admin")

    log = entries(store)
    expected = {
        "campaign_changed": "命令行:root", "targets_changed": "命令行:root",
        "user_created": "admin", "user_updated": "admin", "login_failed": "zezhou",
        "login": "zezhou", "upload": "zezhou", "upload_rejected": "zezhou",
        "withdrawal": "zezhou", "password_changed": "zezhou", "logout": "zezhou",
        "account_locked": "zezhou", "user_unlocked": "admin", "password_reset": "admin",
        "user_disabled": "admin", "user_enabled": "admin", "export": "命令行:root",
        "week_locked": "admin", "week_exception": "admin", "week_exception_revoked": "admin",
        "week_unlocked": "admin", "contacts_changed": "admin", "publish": "boss",
        "push": "boss", "push_failed": "admin"}
    assert set(expected) | {"export"} == set(AUDIT_ACTION_LABELS)
    for action, actor in expected.items():
        assert (actor, action) in log, (action, actor, log)
    assert ("boss", "export") in log and ("admin", "targets_changed") in log
    with store.read() as con:
        upload = audit.query(con, actions=["upload"]).iloc[-1]     # the first, zezhou's
        locked = audit.query(con, actions=["account_locked"]).iloc[0]
    assert (upload["address"], upload["role"], upload["campaign_id"]) == ("10.1.1.1", "reporter",
                                                                           CAMPAIGN)
    assert "第 1 号上报「泽州.csv」" in upload["detail"] and "270,000" in upload["detail"]
    assert "连续 5 次登录失败" in locked["detail"]
    # No password reaches the log, in any field.
    text = CliRunner().invoke(cli, ["--db", store.target, "audit", "--format", "csv",
                                    "--limit", "1000"]).output
    for secret in ("admin-pass-12", "zezhou-pass-1", "zezhou-pass-2", "zezhou-pass-3",
                   "wrong-pass-1", "$argon2", token):
        assert secret not in text


def test_filters_by_actor_action_day_and_text(store):
    t = dt.datetime(2021, 11, 18, 17, 0)          # 01:00 on 11-19 in Shanghai
    audit.log(store, "zezhou", "upload", "第 1 号上报「泽州.csv」", "10.0.0.1", now=t)
    audit.log(store, "boss", "export", "导出 100%_done", "10.0.0.2", now=t + dt.timedelta(days=1))
    with store.read() as con:
        assert list(audit.query(con, actor="boss")["action"]) == ["export"]
        assert list(audit.query(con, actions=["upload"], since=DAY, until=DAY)["actor"]) == ["zezhou"]
        assert audit.query(con, until=dt.date(2021, 11, 18), actor="zezhou").empty
        assert list(audit.query(con, text="泽州")["actor"]) == ["zezhou"]
        assert list(audit.query(con, text="10.0.0.2")["actor"]) == ["boss"]
        assert len(audit.query(con, text="%")) == 1          # literal, not a wildcard
        assert audit.query(con, text="_d") .shape[0] == 1
        shown = audit.table(audit.query(con, actor="zezhou"))
    assert list(shown.columns) == ["编号", "时间", "操作人", "角色", "操作", "内容", "来源地址", "参保活动"]
    assert shown.iloc[-1]["时间"] == "2021-11-19 01:00:00" and shown.iloc[-1]["操作"] == "数据上报"


def test_control_characters_and_long_text_are_cleaned(store):
    audit.log(store, "evil\nactor\x00", "login_failed", "line1\r\nFAKE 登录成功\x1b[31m" + "长" * 5000,
              "1.2.3.4\n")
    with store.read() as con:
        row = audit.query(con).iloc[0]
    assert row["actor"] == "evil actor" and row["address"] == "1.2.3.4"
    assert "\n" not in row["detail"] and "\x1b" not in row["detail"]
    assert len(row["detail"]) == audit.MAX_DETAIL


def test_unknown_actions_are_refused(store):
    with pytest.raises(ValueError):
        audit.log(store, "x", "drop_everything")


def test_the_package_only_appends_to_the_audit_log():
    """No module of the package or page updates or deletes audit rows."""
    sources = [*(ROOT / "enrollment").rglob("*.py"), *(ROOT / "pages").glob("*.py"),
               ROOT / "dashboard.py"]
    pattern = re.compile(r"(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)\s+audit_log", re.I)
    offenders = [str(p.relative_to(ROOT)) for p in sources if pattern.search(p.read_text("utf-8"))]
    assert offenders == []
    assert "INSERT INTO audit_log" in Path(db.audit.__file__).read_text("utf-8")


def test_target_loads_restores_new_campaigns_and_exports_are_logged_with_their_user(store, tmp_path):
    from .test_regions import YANGCHENG
    from .test_targets import WANZHOU, zhoujiaba_table

    def run(*args):
        result = CliRunner().invoke(cli, ["--db", store.target, *args])
        assert result.exit_code == 0, result.output
        return result

    table = tmp_path / "周家坝任务分解表.xlsx"
    table.write_bytes(zhoujiaba_table())
    run("targets", "load", str(table), "--campaign", WANZHOU, "--uploader", "周家坝街道 张三")
    # Versions count within the campaign: Wanzhou's first table is 第 1 版, whatever Jincheng's.
    run("targets", "restore", "--campaign", WANZHOU, "--set", "1")
    run(*YANGCHENG)
    run("export", "--campaign", CAMPAIGN, "--as-of", "2021-11-19", "--out", str(tmp_path / "out"),
        "--formats", "xlsx")
    with store.read() as con:
        log = audit.query(con, actions=["targets_changed", "campaign_changed", "export"])
    rows = list(zip(log["action"], log["actor"], log["campaign_id"]))[::-1]
    me = rows[-1][1]
    assert me.startswith("命令行:")
    assert rows[-4:] == [("targets_changed", "周家坝街道 张三", WANZHOU),
                         ("targets_changed", me, WANZHOU),
                         ("campaign_changed", me, "yangcheng-2022-residents"),
                         ("export", me, CAMPAIGN)]
    details = list(log["detail"])[:4][::-1]
    assert "保存目标任务表第 1 版「周家坝任务分解表.xlsx」" in details[0]
    assert "恢复目标任务表第 1 版为当前版本（第 2 版）" in details[1] and "新建参保活动" in details[2]
    assert "导出通报文件 1 个" in details[3]
