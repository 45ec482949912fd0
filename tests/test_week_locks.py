"""Locked weeks: publishing (or a lock by hand) refuses uploads and withdrawals for the week's
dates in Chinese, the refused file is archived with the reason, an exception lets one unit (and
those below it) in again, unlocking lets everyone in; all of it in the audit log."""

import datetime as dt

import pytest
from click.testing import CliRunner

from enrollment.cli import cli
from enrollment.cycle import weeks
from enrollment.identity import audit
from enrollment.uploads import ingest, withdrawals
from enrollment.uploads import log as uploads

from .fixtures import TODAY, dump, record, report_csv

CAMPAIGN = "jincheng-2022-residents"
FRIDAY = dt.date(2021, 11, 19)          # week 12: 2021-11-13 .. 2021-11-19
WEDNESDAY = dt.date(2021, 11, 17)


def upload(store, figures, day=FRIDAY, uploader="张三"):
    return ingest.commit(store, CAMPAIGN, report_csv(figures), "更正.csv", report_date=day,
                         uploader=uploader, accept_warnings=True, today=TODAY)


def test_a_locked_week_refuses_uploads_for_every_date_of_it_and_archives_the_file(store):
    record(store, CAMPAIGN, FRIDAY, {"140502": 150000})
    held = weeks.lock(store, CAMPAIGN, WEDNESDAY, actor="管理员甲")
    assert (held.week, held.week_start, held.week_end) == (12, dt.date(2021, 11, 13), FRIDAY)
    before = dump(store)
    for day in (FRIDAY, WEDNESDAY, dt.date(2021, 11, 13)):
        with pytest.raises(ingest.UploadRejected) as refused:
            upload(store, {"140502": 160000}, day)
        message = refused.value.preview.errors[0].message
        assert "第12周（2021-11-13 至 2021-11-19）已于" in message and "「管理员甲」" in message
        assert "不能再上报或撤回" in message and "week allow" in message
    # The week before and after are open.
    upload(store, {"140502": 140000}, dt.date(2021, 11, 12))
    after = dump(store)
    assert len(after["reports"]) == len(before["reports"]) + 1
    with store.read() as tx:
        log = uploads.history(tx, CAMPAIGN)
        rejected = log[log["status"] == "rejected"]
        assert len(rejected) == 3
        stored = uploads.raw_file(tx, CAMPAIGN, int(rejected.iloc[0]["id"]))
        assert stored[1] == report_csv({"140502": 160000})       # the refused file is kept
        assert "锁定，不能再上报" in " ".join(map(str, uploads.problems(tx, int(rejected.iloc[0]["id"]))))


def test_a_week_locked_between_the_check_and_the_commit_still_refuses(store, monkeypatch):
    """The file is checked before the write lock (issue 15); a week locked meanwhile (a
    publication on another server) is found by the re-check inside it, not missed."""
    record(store, CAMPAIGN, FRIDAY, {"140502": 150000})
    checked = ingest.check

    def check_then_lock(*args, **kwargs):
        preview = checked(*args, **kwargs)
        assert not preview.errors                 # the week was open at the check
        weeks.lock(store, CAMPAIGN, FRIDAY, actor="管理员甲")
        return preview

    monkeypatch.setattr(ingest, "check", check_then_lock)
    before = dump(store)["reports"]
    with pytest.raises(ingest.UploadRejected) as refused:
        upload(store, {"140502": 160000})
    assert "不能再上报或撤回" in refused.value.preview.errors[0].message
    assert dump(store)["reports"] == before


def test_a_withdrawal_in_a_locked_week_is_refused_and_changes_nothing(store):
    record(store, CAMPAIGN, FRIDAY, {"140502": 150000}, uploader="张三")
    weeks.lock(store, CAMPAIGN, FRIDAY, actor="管理员甲")
    before = dump(store)
    with pytest.raises(withdrawals.WithdrawError, match="已于 .* 由「管理员甲」锁定，不能再上报或撤回"):
        withdrawals.withdraw(store, CAMPAIGN, "张三")
    assert dump(store) == before


def test_an_exception_lets_one_unit_and_its_townships_in_but_no_other(store):
    record(store, CAMPAIGN, FRIDAY, {"140502": 150000, "140525": 300000}, uploader="张三")
    weeks.lock(store, CAMPAIGN, FRIDAY, actor="管理员甲")
    weeks.allow(store, CAMPAIGN, FRIDAY, "泽州", "录入错误，县局申请更正", actor="管理员甲")
    upload(store, {"140525": 310000})
    upload(store, {"140525100": 1000})            # a township of 泽州县 (the exception covers it)
    with pytest.raises(ingest.UploadRejected) as refused:
        upload(store, {"140502": 151000, "140525": 311000})
    assert "该周已为泽州县开放例外；城区不在其中" in refused.value.preview.errors[0].message
    # The exception is for this lock only: unlock and lock again, and 泽州 is refused too.
    weeks.unlock(store, CAMPAIGN, FRIDAY, actor="管理员甲", reason="重新核对")
    weeks.lock(store, CAMPAIGN, FRIDAY, actor="管理员甲")
    with pytest.raises(ingest.UploadRejected):
        upload(store, {"140525": 312000})


def test_unlocking_opens_the_week_and_revoking_closes_an_exception(store):
    record(store, CAMPAIGN, FRIDAY, {"140502": 150000}, uploader="张三")
    weeks.lock(store, CAMPAIGN, FRIDAY, actor="甲")
    weeks.allow(store, CAMPAIGN, FRIDAY, "140502", "更正", actor="甲")
    weeks.revoke(store, CAMPAIGN, FRIDAY, "城区", actor="甲")
    with pytest.raises(ingest.UploadRejected):
        upload(store, {"140502": 151000})
    weeks.unlock(store, CAMPAIGN, FRIDAY, actor="甲")
    upload(store, {"140502": 151000})
    withdrawals.withdraw(store, CAMPAIGN, "张三")
    with store.read() as tx:
        actions = list(audit.query(tx, campaign_id=CAMPAIGN)["action"])
    for action in ("week_locked", "week_exception", "week_exception_revoked", "week_unlocked",
                   "upload_rejected", "withdrawal"):
        assert action in actions


@pytest.mark.parametrize("call, message", [
    (lambda s: weeks.unlock(s, CAMPAIGN, FRIDAY, actor="甲"), "没有锁定"),
    (lambda s: weeks.allow(s, CAMPAIGN, FRIDAY, "城区", "x", actor="甲"), "没有锁定"),
    (lambda s: weeks.lock(s, CAMPAIGN, dt.date(2022, 1, 7), actor="甲"), "不在集中参保期"),
])
def test_week_changes_that_make_no_sense_are_refused_in_chinese(store, call, message):
    before = dump(store, audit=True)
    with pytest.raises(weeks.WeekError, match=message):
        call(store)
    assert dump(store, audit=True) == before


def test_an_exception_needs_a_known_unit_a_reason_and_is_granted_once(store):
    weeks.lock(store, CAMPAIGN, FRIDAY, actor="甲")
    with pytest.raises(weeks.WeekError, match="不是本活动的单位"):
        weeks.allow(store, CAMPAIGN, FRIDAY, "火星县", "x", actor="甲")
    with pytest.raises(weeks.WeekError, match="原因不能为空"):
        weeks.allow(store, CAMPAIGN, FRIDAY, "城区", "  ", actor="甲")
    weeks.allow(store, CAMPAIGN, FRIDAY, "城区", "更正", actor="甲")
    with pytest.raises(weeks.WeekError, match="已为「城区」开放例外"):
        weeks.allow(store, CAMPAIGN, FRIDAY, "城区", "再次", actor="甲")
    with pytest.raises(weeks.WeekError, match="已于 .* 由「甲」锁定，无需再次锁定"):
        weeks.lock(store, CAMPAIGN, FRIDAY, actor="乙")


def test_the_cli_locks_allows_reports_status_and_unlocks(store):
    runner = CliRunner()
    db = ["--db", store.target]
    done = runner.invoke(cli, db + ["week", "lock", "--campaign", CAMPAIGN, "--as-of", "2021-11-17"])
    assert done.exit_code == 0, done.output
    assert "第12周（2021-11-13 至 2021-11-19）已于" in done.output
    again = runner.invoke(cli, db + ["week", "lock", "--campaign", CAMPAIGN, "--as-of", "2021-11-19"])
    assert again.exit_code == 1 and "无需再次锁定" in again.output
    done = runner.invoke(cli, db + ["week", "allow", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
                                    "--unit", "泽州县", "--reason", "县局申请更正"])
    assert done.exit_code == 0, done.output
    status = runner.invoke(cli, db + ["week", "status", "--campaign", CAMPAIGN])
    line = next(l for l in status.output.splitlines() if "2021-11-19" in l)
    assert "已锁定" in line and "泽州县（县局申请更正）" in line
    as_json = runner.invoke(cli, db + ["week", "status", "--campaign", CAMPAIGN, "--format", "json"])
    assert '"status": "已锁定"' in as_json.output
    done = runner.invoke(cli, db + ["week", "revoke", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
                                    "--unit", "140525"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, db + ["week", "unlock", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
                                    "--reason", "数字已核对"])
    assert done.exit_code == 0 and "已解除第12周" in done.output
    with store.read() as tx:
        entries = audit.query(tx, campaign_id=CAMPAIGN)
    assert "原因：数字已核对" in " ".join(entries["detail"])


def test_the_cli_ingest_of_a_locked_week_exits_1_with_the_reason(store, tmp_path):
    weeks.lock(store, CAMPAIGN, FRIDAY, actor="甲")
    path = tmp_path / "report.csv"
    path.write_bytes(report_csv({"140502": 150000}))
    done = CliRunner().invoke(cli, ["--db", store.target, "ingest", str(path), "--campaign",
                                    CAMPAIGN, "--report-date", "2021-11-19"])
    assert done.exit_code == 1
    assert "不能再上报或撤回该周" in done.output
