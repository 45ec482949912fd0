"""Undo: an uploader withdraws their latest upload; revisions restore the figures it replaced,
the withdrawal is logged as an upload, and nothing is ever deleted."""

import datetime as dt

import pandas as pd
import pytest

from enrollment.metrics import progress
from enrollment.uploads import log as uploads
from enrollment.uploads import withdrawals

from .fixtures import dump, record

CAMPAIGN = "jincheng-2022-residents"
WEEK1, WEEK2 = dt.date(2021, 11, 12), dt.date(2021, 11, 19)


def figures(store, campaign, day):
    with store.read() as con:
        units = progress.compute(con, campaign, day).units.set_index("code")
    return {code: None if pd.isna(units.loc[code, "enrolled"]) else int(units.loc[code, "enrolled"])
            for code in ("140502", "140525")}


def test_withdrawing_a_correction_restores_the_earlier_figure(store, jincheng):
    record(store, CAMPAIGN, WEEK2, {"140502": 1000, "140525": 2000}, uploader="张三")
    correction = record(store, CAMPAIGN, WEEK2, {"140502": 1500}, uploader="张三")
    assert figures(store, jincheng, WEEK2) == {"140502": 1500, "140525": 2000}
    before = dump(store)
    done = withdrawals.withdraw(store, CAMPAIGN, "张三")
    assert done.withdrawn_id == correction.upload_id
    assert (done.units, done.restored, done.cleared) == (1, 1, 0)
    assert figures(store, jincheng, WEEK2) == {"140502": 1000, "140525": 2000}
    after = dump(store)
    # Nothing deleted: every earlier row is still there, one upload and one revision appended.
    for table in ("uploads", "reports"):
        assert set(before[table]) <= set(after[table])
    assert len(after["reports"]) == len(before["reports"]) + 1
    assert len(after["uploads"]) == len(before["uploads"]) + 1
    with store.read() as con:
        log = uploads.history(con, CAMPAIGN)
        revisions = uploads.unit_history(con, CAMPAIGN, "140502")
    assert list(log["kind"])[:2] == ["withdrawal", "report"]
    assert list(log["status"])[:3] == ["accepted", "withdrawn", "accepted"]
    assert log.iloc[0]["withdraws"] == correction.upload_id
    assert list(revisions["enrolled"]) == [1000, 1500, 1000]
    assert list(revisions["kind"]) == ["withdrawal", "report", "report"]
    assert "撤回第" in uploads.revision_table(revisions).iloc[0]["类型"]


def test_withdrawing_a_first_report_leaves_no_figure_for_that_date(store, jincheng):
    record(store, CAMPAIGN, WEEK1, {"140502": 900}, uploader="张三")
    record(store, CAMPAIGN, WEEK2, {"140502": 1000}, uploader="张三")
    done = withdrawals.withdraw(store, CAMPAIGN, "张三")
    assert (done.restored, done.cleared) == (0, 1)
    with store.read() as con:
        units = progress.compute(con, jincheng, WEEK2).units.set_index("code")
    # The week-1 figure counts again: a NULL revision means "no figure for that date".
    assert units.loc["140502", "enrolled"] == 900
    assert units.loc["140502", "report_date"].date() == WEEK1


def test_withdrawals_go_back_one_upload_at_a_time(store, jincheng):
    record(store, CAMPAIGN, WEEK2, {"140502": 1000}, uploader="张三")
    record(store, CAMPAIGN, WEEK2, {"140502": 1100}, uploader="张三")
    record(store, CAMPAIGN, WEEK2, {"140502": 1200}, uploader="张三")
    seen = []
    for _ in range(3):
        withdrawals.withdraw(store, CAMPAIGN, "张三")
        seen.append(figures(store, jincheng, WEEK2)["140502"])
    assert seen == [1100, 1000, None]
    with pytest.raises(withdrawals.WithdrawError, match="「张三」在本活动中没有可以撤回的上报"):
        withdrawals.withdraw(store, CAMPAIGN, "张三")


def test_only_the_uploaders_own_latest_upload_and_never_over_someone_elses(store, jincheng):
    mine = record(store, CAMPAIGN, WEEK2, {"140502": 1000}, uploader="张三")
    record(store, CAMPAIGN, WEEK2, {"140502": 1300}, uploader="李四")
    before = dump(store)
    with pytest.raises(withdrawals.WithdrawError) as caught:
        withdrawals.withdraw(store, CAMPAIGN, "张三")
    assert "「城区」" in str(caught.value) and "已被再次上报更新，不能撤回" in str(caught.value)
    assert dump(store) == before
    with pytest.raises(withdrawals.WithdrawError, match="没有可以撤回"):
        withdrawals.withdraw(store, CAMPAIGN, "王五")
    # 李四 may withdraw, which makes 张三's figure count again.
    withdrawals.withdraw(store, CAMPAIGN, "李四")
    assert figures(store, jincheng, WEEK2)["140502"] == 1000
    done = withdrawals.withdraw(store, CAMPAIGN, "张三", number=mine.number)
    assert done.withdrawn_id == mine.upload_id


def test_naming_an_upload_that_is_not_the_latest_is_refused(store):
    first = record(store, CAMPAIGN, WEEK1, {"140502": 900}, uploader="张三")
    latest = record(store, CAMPAIGN, WEEK2, {"140525": 1000}, uploader="张三")
    with pytest.raises(withdrawals.WithdrawError) as caught:
        withdrawals.withdraw(store, CAMPAIGN, "张三", number=first.number)
    assert f"只能撤回「张三」最近的一次上报（第 {latest.number} 号" in str(caught.value)


def test_a_withdrawn_file_can_be_uploaded_again(store):
    receipt = record(store, CAMPAIGN, WEEK2, {"140502": 1000}, uploader="张三")
    withdrawals.withdraw(store, CAMPAIGN, "张三")
    again = record(store, CAMPAIGN, WEEK2, {"140502": 1000}, uploader="张三")
    assert again.upload_id > receipt.upload_id
