"""ingest.commit checks the file before it takes the write lock; inside the lock it checks
again only what another write may have changed meanwhile (the stored figures, tasks and uploads
the file was compared with), so nothing slips through between the check and the write."""

import dataclasses
import datetime as dt

import pytest

from enrollment.campaigns import model
from enrollment.uploads import ingest, stored

from .fixtures import TODAY, report_csv

FRIDAY = dt.date(2021, 11, 19)


@pytest.fixture
def meanwhile(monkeypatch):
    """Run `write()` once, right after commit's first check and before its write lock."""
    class Pending(list):
        calls: dict

    pending = Pending()
    real = ingest.check
    calls = {"check": 0, "again": 0}
    real_again = stored.check

    def check(*args, **kwargs):
        calls["check"] += 1
        result = real(*args, **kwargs)
        while pending:
            pending.pop()()
        return result

    def again(*args, **kwargs):
        calls["again"] += 1
        return real_again(*args, **kwargs)

    monkeypatch.setattr(ingest, "check", check)
    monkeypatch.setattr(stored, "check", again)
    pending.calls = calls
    return pending


def _commit(store, figures, name="a.csv", **kwargs):
    return ingest.commit(store, "jincheng-2022-residents", report_csv(figures), name,
                         report_date=FRIDAY, uploader="县区甲", today=TODAY, **kwargs)


def test_nothing_written_meanwhile_nothing_checked_again(store, meanwhile):
    receipt = _commit(store, {"140502": 1000})
    assert receipt.units == 1
    assert meanwhile.calls == {"check": 1, "again": 1}     # the first check's own pass only


def test_the_same_file_committed_meanwhile_is_refused_as_a_duplicate(store, meanwhile):
    meanwhile.append(lambda: _commit(store, {"140502": 1000}, "first.csv"))
    with pytest.raises(ingest.UploadRejected) as refused:
        _commit(store, {"140502": 1000}, "second.csv")
    assert "已于" in str(refused.value.preview.errors[0]) and "上传过" in str(
        refused.value.preview.errors[0])
    assert meanwhile.calls["check"] == 2 and meanwhile.calls["again"] == 3


def test_a_higher_earlier_figure_stored_meanwhile_asks_for_confirmation(store, meanwhile):
    earlier = ingest.commit
    meanwhile.append(lambda: earlier(store, "jincheng-2022-residents",
                                     report_csv({"140502": 5000}), "last-week.csv",
                                     report_date=FRIDAY - dt.timedelta(days=7), uploader="县区乙",
                                     today=TODAY))
    with pytest.raises(ingest.UploadRejected) as refused:
        _commit(store, {"140502": 4000})
    assert refused.value.warnings_only
    assert "低于上次上报的 5,000" in refused.value.preview.warnings[0].message


def test_a_figure_stored_meanwhile_for_the_date_makes_the_row_a_correction(store, meanwhile):
    meanwhile.append(lambda: _commit(store, {"140502": 5000, "140525": 1}, "other.csv"))
    receipt = _commit(store, {"140502": 4000})
    assert receipt.corrected == 1                     # found only by the check inside the lock


def test_a_campaign_changed_meanwhile_checks_the_whole_file_again(store, meanwhile, monkeypatch):
    """A window that moved between the check and the lock (another write changed it): the
    file is checked again as a whole, against the campaign as it is now."""
    real_get = model.get

    def moved(tx, campaign_id):
        return dataclasses.replace(real_get(tx, campaign_id), end=dt.date(2021, 11, 1))

    def write_and_move():
        _commit(store, {"140525": 1}, "other.csv")
        monkeypatch.setattr(ingest.campaigns, "get", moved)

    meanwhile.append(write_and_move)
    with pytest.raises(ingest.UploadRejected) as refused:
        _commit(store, {"140502": 4000})
    assert "不在集中参保期" in str(refused.value.preview.errors[0])
    assert meanwhile.calls["check"] == 3      # the other file's, ours, ours again
