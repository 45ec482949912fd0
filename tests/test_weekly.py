"""The figures kept per week end (db/weekly.py, metrics/weekly.py) never disagree with the reports.

Random sequences of real writes, each through the path the pages and the CLI take: uploads at
any level (villages, townships, a county, the city, parents beside their children, days that
are not Fridays), corrections of a unit and date, withdrawals, target tables at three levels and
restored versions, demo data generated and cleared, the window extended. After every step the kept rows must equal a
rebuild from the raw reports, every view read from them (the whole campaign at every week end, a
unit and its children, a unit's trend) must equal the roll-up from the reports, and both must
agree with the plain model of the definitions in test_progress_model.py.
"""

import datetime as dt
import shutil
from unittest import mock

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment import campaigns, db
from enrollment.campaigns import demo
from enrollment.cli import cli
from enrollment.db import Store
from enrollment.metrics import progress, weekly
from enrollment.targets import tables as targets
from enrollment.uploads import ingest, withdrawals

from .fixtures import TODAY, csv_bytes
from .test_progress_model import _check, _tree

CAMPAIGN = "jincheng-2022-residents"
WINDOW = [dt.date(2021, 9, 1) + dt.timedelta(days=k) for k in range(116)]
FRIDAYS = [d for d in WINDOW if d.weekday() == 4]
UPLOADERS = ["县区甲", "县区乙"]


# --- the checks ----------------------------------------------------------------------------

def _kept_state(tx) -> tuple:
    return (db.weekly.figure_rows(tx, CAMPAIGN), db.weekly.target_rows(tx, CAMPAIGN),
            sorted(db.weekly.stored_marks(tx, CAMPAIGN).items()),
            sorted(db.weekly.kept_dates(tx, CAMPAIGN).items()))


def assert_kept_equals_a_rebuild(store: Store) -> None:
    """The kept tables equal what `rebuild` computes from the raw reports and targets."""
    with store.read() as tx:
        kept = _kept_state(tx)
        tx.raw.begin()
        try:
            weekly.rebuild(tx, CAMPAIGN)
            rebuilt = _kept_state(tx)
        finally:
            tx.raw.rollback()
    assert kept[3], "the campaign's figures are not kept"
    for name, mine, theirs in zip(("figures", "tasks", "marks", "dates"), kept, rebuilt):
        missing, extra = set(theirs) - set(mine), set(mine) - set(theirs)
        assert mine == theirs, (name, sorted(missing)[:5], sorted(extra)[:5])


def _rolled_up(tx, campaign, days, source, **options) -> pd.DataFrame:
    # Nothing kept, as far as progress can tell: it rolls up from the reports.
    with mock.patch.object(db.weekly, "state", return_value=({}, False)):
        return progress.compute_many(tx, campaign, days, source, **options)


def assert_views_equal_the_roll_up(store: Store, units: list[str], days: list[dt.date]) -> None:
    """Views read from the kept rows (the whole campaign, a unit and its children, a unit's
    trend at every week end) equal the roll-up from the reports, for both sources."""
    with store.read() as tx:
        campaign = campaigns.get(tx, CAMPAIGN)
        for source in progress.SOURCES:
            assert db.weekly.is_kept(tx, CAMPAIGN, source, progress.date_params(campaign, days))
            views = [({}, days), ({"view": campaign.region_code}, days)]
            views += [({"view": code}, days) for code in units[:2]]
            views += [({"root": code, "only": code, "with_prev": False},
                       progress.report_days(campaign)) for code in units[:2]]
            for options, wanted in views:
                kept = progress.compute_many(tx, campaign, wanted, source, **options)
                pd.testing.assert_frame_equal(
                    kept, _rolled_up(tx, campaign, wanted, source, **options), obj=str(options))


def assert_model_agrees(store: Store, days: list[dt.date]) -> None:
    """The kept figures agree with the plain model of the definitions (test_progress_model)."""
    with store.read() as tx:
        campaign = campaigns.get(tx, CAMPAIGN)
        parent, children, _ = _tree(tx)
        reports = [tuple(r) for r in tx.raw.execute(
            "SELECT unit_code, report_date, revision, enrolled, CAST(amount AS DOUBLE) FROM reports "
            "WHERE campaign_id = ? AND source = 'upload'", [CAMPAIGN]).fetchall()]
        tasks = dict(tx.raw.execute("SELECT unit_code, task FROM current_targets "
                                    "WHERE campaign_id = ?", [CAMPAIGN]).fetchall())
        assert db.weekly.is_kept(tx, CAMPAIGN, "upload", progress.date_params(campaign, days))
        _check(tx, campaign, parent, children, reports, tasks, days)


# --- the writes ----------------------------------------------------------------------------

class World:
    """A fresh database and the units near each other that the steps write."""

    def __init__(self, store: Store, pool: list[str], towns: list[str]):
        self.store, self.pool, self.towns = store, pool, towns
        self.written: list[tuple[list[str], dt.date]] = []

    def upload(self, data, correcting: bool) -> str:
        if correcting and self.written:
            codes, day = data.draw(st.sampled_from(self.written))
        else:
            codes = data.draw(st.lists(st.sampled_from(self.pool), min_size=1, max_size=8,
                                       unique=True))
            day = data.draw(st.one_of(st.sampled_from(FRIDAYS), st.sampled_from(WINDOW)))
        with_amount = data.draw(st.booleans())
        header = ["单位代码", "累计参保人数"] + (["缴费金额"] if with_amount else [])
        rows = [[code, data.draw(st.integers(0, 300000))]
                + ([data.draw(st.sampled_from(["", "1.5", "20.25"]))] if with_amount else [])
                for code in codes]
        uploader = data.draw(st.sampled_from(UPLOADERS))
        try:
            ingest.commit(self.store, CAMPAIGN, csv_bytes([header, *rows]), f"{day}.csv",
                          report_date=day, uploader=uploader, accept_warnings=True, today=TODAY)
        except ingest.UploadRejected as rejected:
            return f"rejected {rejected.preview.problems[0]}"
        self.written.append((codes, day))
        return f"upload {uploader} {day} {codes}"

    def withdraw(self, data) -> str:
        uploader = data.draw(st.sampled_from(UPLOADERS))
        try:
            done = withdrawals.withdraw(self.store, CAMPAIGN, uploader)
        except withdrawals.WithdrawError as refused:
            return f"refused {refused}"
        return f"withdrew {done.withdrawn_id}"

    def load_targets(self, data) -> str:
        kind = data.draw(st.sampled_from(["villages", "townships", "counties"]))
        with self.store.read() as tx:
            if kind == "villages":
                scope = data.draw(st.sampled_from(self.towns))
            elif kind == "townships":
                scope = self.towns[0][:6]
            else:
                scope = "1405"
            units = db.units.children(tx, CAMPAIGN, scope)
        extra = data.draw(st.booleans())
        header = ["单位代码", "任务数"] + (["上年参保人数", "低收入人口数"] if extra else [])
        rows = [[u.code, data.draw(st.integers(1, 400000))]
                + ([data.draw(st.integers(0, 1000)), data.draw(st.integers(0, 50))] if extra else [])
                for u in units]
        try:
            saved = targets.commit(self.store, CAMPAIGN, csv_bytes([header, *rows]),
                                   f"{kind}.csv", accept_warnings=True)
        except targets.TargetsRejected as rejected:
            return f"targets rejected {rejected}"
        return f"targets {kind} {scope} set {saved.set_id}"

    def restore_targets(self, data) -> str:
        with self.store.read() as tx:
            versions = list(targets.history(tx, CAMPAIGN)["number"])
        number = data.draw(st.sampled_from(versions))
        targets.restore(self.store, CAMPAIGN, int(number))
        return f"restored targets 第 {number} 版"

    def move_window(self, data) -> str:
        """The campaign's window extended (its last week end moves, and with it the kept
        calendar), through the path the page and the command take."""
        with self.store.read() as tx:
            end = campaigns.get(tx, CAMPAIGN).end
        new_end = end + dt.timedelta(days=data.draw(st.integers(1, 20)))
        change = campaigns.change_window(self.store, CAMPAIGN, end=new_end, reason="测试：延长",
                                         then=weekly.after_calendar_change)
        return f"window to {change.end}"

    def demo(self, data) -> str:
        if data.draw(st.booleans()):
            with self.store.read() as tx:
                campaign = campaigns.get(tx, CAMPAIGN)
            return f"demo {demo.generate(self.store, campaign).reports}"
        return f"demo cleared {demo.clear(self.store, CAMPAIGN)}"


PROFILE = settings(max_examples=8, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow, HealthCheck.data_too_large])


def test_random_writes_keep_the_weekly_figures_exact(initialized_db, tmp_path):
    with Store(initialized_db).read() as tx:
        codes = _tree(tx)[2]
    examples = iter(range(10_000))

    @PROFILE
    @given(st.data())
    def run(data):
        path = tmp_path / f"world{next(examples)}.duckdb"
        shutil.copy(initialized_db, path)
        towns = data.draw(st.lists(st.sampled_from([c for c in codes if len(c) == 9]),
                                   min_size=1, max_size=2, unique=True))
        pool = sorted({c for c in codes if c[:9] in towns} | {t[:6] for t in towns} | {"1405"})
        world = World(Store(path), pool, towns)
        near = sorted({c[:n] for c in pool for n in (4, 6, 9, 12) if len(c) >= n})
        steps = data.draw(st.lists(st.sampled_from(
            ["upload", "upload", "upload", "correct", "withdraw", "targets", "restore", "demo",
             "window"]),
            min_size=2, max_size=5))
        for step in steps:
            done = {"upload": lambda: world.upload(data, False),
                    "correct": lambda: world.upload(data, True),
                    "withdraw": lambda: world.withdraw(data),
                    "targets": lambda: world.load_targets(data),
                    "restore": lambda: world.restore_targets(data),
                    "demo": lambda: world.demo(data),
                    "window": lambda: world.move_window(data)}[step]()
            data.draw(st.just(done), label="step")
            assert_kept_equals_a_rebuild(world.store)
            with world.store.read() as tx:
                report_days = progress.report_days(campaigns.get(tx, CAMPAIGN))
            days = data.draw(st.lists(st.sampled_from(report_days), min_size=1, max_size=2,
                                      unique=True))
            assert_views_equal_the_roll_up(world.store, data.draw(st.permutations(near)), days)
            assert_model_agrees(world.store, days)
        db.engine.release(path)

    run()


# --- when the kept rows are not used -------------------------------------------------------

def test_a_date_between_week_ends_is_rolled_up(store, jincheng):
    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140502,100\r\n".encode(), "a.csv",
                  report_date=dt.date(2021, 11, 17), uploader="x", today=TODAY)
    with store.read() as tx:
        wednesday = progress.date_params(jincheng, [dt.date(2021, 11, 17)])
        assert not db.weekly.is_kept(tx, jincheng.id, "upload", wednesday)
        result = progress.compute(tx, jincheng, dt.date(2021, 11, 17))
    assert result.units.set_index("code").loc["140502", "enrolled"] == 100


def test_rows_written_past_the_kept_tables_fall_back_to_the_reports(store, jincheng):
    """A report row written without the kept tables (by hand): views roll up instead of
    showing stale figures, and the next write repairs the kept rows."""
    friday = dt.date(2021, 11, 19)
    with store.write() as tx:
        tx.raw.execute("INSERT INTO reports VALUES (?, 'upload', '140502', ?, 1, 5, NULL, NULL, 1)",
                       [jincheng.id, friday])
    with store.read() as tx:
        assert not db.weekly.is_kept(tx, jincheng.id, "upload",
                                     progress.date_params(jincheng, [friday]))
        assert progress.compute(tx, jincheng, friday).units.set_index("code").loc[
            "140502", "enrolled"] == 5
    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140525,7\r\n".encode(), "b.csv",
                  report_date=friday, uploader="x", today=TODAY)
    assert_kept_equals_a_rebuild(store)
    with store.read() as tx:
        assert db.weekly.is_kept(tx, jincheng.id, "upload", progress.date_params(jincheng, [friday]))
        frame = progress.compute(tx, jincheng, friday).units.set_index("code")
    assert (frame.loc["140502", "enrolled"], frame.loc["140525", "enrolled"]) == (5, 7)


def test_a_changed_calendar_is_rebuilt_by_the_next_write(store, jincheng):
    """Kept for another calendar (a window that moved): views roll up until the next write,
    which rebuilds the campaign for the calendar it has now."""
    with store.write() as tx:
        db.weekly.set_dates(tx, jincheng.id, [dt.date(2021, 11, 19)], [dt.date(2021, 11, 13)],
                            [dt.date(2021, 11, 12)])
    friday = dt.date(2021, 11, 26)
    with store.read() as tx:
        assert not db.weekly.is_kept(tx, jincheng.id, "upload",
                                     progress.date_params(jincheng, [friday]))
        assert weekly.missing(tx) == [jincheng.id]
    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140502,9\r\n".encode(), "c.csv",
                  report_date=friday, uploader="x", today=TODAY)
    assert_kept_equals_a_rebuild(store)
    with store.read() as tx:
        assert weekly.missing(tx) == []


def test_a_window_change_rebuilds_the_kept_calendar_in_its_transaction(store, jincheng):
    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140502,9\r\n".encode(), "c.csv",
                  report_date=dt.date(2021, 11, 26), uploader="x", today=TODAY)
    change = campaigns.change_window(store, jincheng.id, end=dt.date(2022, 1, 15),
                                     reason="测试：延长到1月15日", then=weekly.after_calendar_change)
    assert change.end == dt.date(2022, 1, 15)
    with store.read() as tx:
        moved = campaigns.get(tx, jincheng.id)
        assert weekly.missing(tx) == []
        assert max(db.weekly.kept_dates(tx, jincheng.id)) == dt.date(2022, 1, 15)
        assert db.weekly.is_kept(tx, jincheng.id, "upload",
                                 progress.date_params(moved, [dt.date(2022, 1, 14)]))
    assert_kept_equals_a_rebuild(store)


# --- built for databases from before, rebuilt on demand ------------------------------------

def test_init_builds_the_kept_figures_of_an_older_database(store, jincheng):
    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140502,11\r\n".encode(), "d.csv",
                  report_date=dt.date(2021, 11, 19), uploader="x", today=TODAY)
    with store.write() as tx:          # as a database migrated to version 5 but not built
        db.weekly.forget(tx, jincheng.id)
    with store.read() as tx:
        assert jincheng.id in weekly.missing(tx)
    from enrollment.campaigns import bootstrap

    report = bootstrap.init(store)
    assert jincheng.id in report.figures_built and "重算每周数字" in report.summary()
    assert_kept_equals_a_rebuild(store)


def test_rebuild_figures_command(store, jincheng):
    from click.testing import CliRunner

    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140502,12\r\n".encode(), "e.csv",
                  report_date=dt.date(2021, 11, 19), uploader="x", today=TODAY)
    with store.write() as tx:
        tx.raw.execute("DELETE FROM weekly_figures")
    result = CliRunner().invoke(cli, ["--db", store.target, "rebuild-figures", "--campaign",
                                      jincheng.id])
    assert result.exit_code == 0, result.output
    assert "已重算" in result.output and "18 个统计日" in result.output
    assert_kept_equals_a_rebuild(store)
    unknown = CliRunner().invoke(cli, ["--db", store.target, "rebuild-figures", "--campaign",
                                       "nope"])
    assert unknown.exit_code == 1 and "没有编号为「nope」" in unknown.output


@pytest.mark.parametrize("source", ["upload", "demo"])
def test_rebuilding_one_source_leaves_the_other(store, jincheng, source):
    demo.generate(store, jincheng)
    ingest.commit(store, jincheng.id, "单位代码,累计参保人数\r\n140502,13\r\n".encode(), "f.csv",
                  report_date=dt.date(2021, 11, 19), uploader="x", today=TODAY)
    with store.read() as tx:
        before = db.weekly.figure_rows(tx, jincheng.id)
    with store.write() as tx:
        weekly.rebuild(tx, jincheng.id, source)
    with store.read() as tx:
        assert db.weekly.figure_rows(tx, jincheng.id) == before
    assert_kept_equals_a_rebuild(store)
