"""Progress metrics pinned to the definitions, with hand-computed figures at 2021-11-19."""

import datetime as dt

import pytest

from enrollment import campaigns
from enrollment.campaigns import demo
from enrollment.metrics import progress
from enrollment.targets import tables as targets
from enrollment.targets.tables import TargetRow, TargetTable

from .fixtures import record

D = dt.date
AS_OF = D(2021, 11, 19)
PACE = 0.97 * 80 / 116


def _set_targets(store, campaign_id: str, tasks: dict[str, int], level: str = "county",
                 scope: str = "1405") -> None:
    table = TargetTable(rows=[TargetRow(0, code, code, task) for code, task in tasks.items()],
                        level=level, scope_code=scope)
    with store.write() as con:
        targets.save(con, campaign_id, table, source="test")


@pytest.fixture
def week12(store, jincheng):
    """Jincheng residents with 阳城's task set to 290,000 (= 145 × 2,000) so that 194,000 is
    exactly on the pace line 0.97 × 80/116 = 97/145."""
    tasks = {"140502": 188000, "140525": 404760, "140581": 373650, "140522": 290000,
             "140524": 213360, "140521": 157930}
    _set_targets(store, jincheng.id, tasks)
    record(store, jincheng.id, D(2021, 11, 12), {"140525": 250000, "140524": 150000})
    record(store, jincheng.id, D(2021, 11, 19), {
        "140502": 182360,   # 182,360 / 188,000 = 0.97 exactly: achieved
        "140525": 270000,   # 0.66706 < pace 0.66897: behind by 0.19 points
        "140522": 194000,   # exactly on the pace line: on track
        "140521": 100000,
    })
    record(store, jincheng.id, D(2021, 11, 19), {"140521": 120000})  # a correction: revision 2
    with store.read() as con:
        return progress.compute(con, jincheng, AS_OF)


def row(result, code):
    return result.units.set_index("code").loc[code]


def test_calendar_fields(week12):
    assert float(week12.time_progress) == pytest.approx(80 / 116)
    assert float(week12.pace) == pytest.approx(PACE)
    assert week12.week == 12


def test_exactly_at_goal_is_achieved(week12):
    r = row(week12, "140502")
    assert (r.target, r.enrolled, r.status) == (188000, 182360, "achieved")
    assert r.completion == pytest.approx(0.97)


def test_exactly_on_the_pace_line_is_on_track(week12):
    r = row(week12, "140522")
    assert r.enrolled * 145 == r.target * 97          # exactly on the line, in integers
    assert r.status == "on_track"
    assert r.gap_pp == pytest.approx(0, abs=1e-9)


def test_below_the_pace_line_is_behind(week12):
    r = row(week12, "140525")
    assert r.status == "behind"
    assert r.completion == pytest.approx(270000 / 404760)
    assert r.gap_pp == pytest.approx((270000 / 404760 - PACE) * 100)
    assert round(r.gap_pp, 2) == -0.19
    assert r.week_delta == 20000 and r.enrolled_prev == 250000


def test_unit_without_any_report(week12):
    r = row(week12, "140581")
    assert r.status == "not_reported"
    assert r.enrolled is None or str(r.enrolled) == "<NA>"
    # Still to do: 0.97 × 373,650 = 362,440.5 → 362,441 people over ceil(36 / 7) = 6 weeks.
    assert r.needed_per_week == round(362441 / 6)


def test_unit_that_missed_this_week_keeps_its_last_figure(week12):
    r = row(week12, "140524")
    assert r.status == "not_reported"
    assert r.enrolled == 150000 and str(r.report_date.date()) == "2021-11-12"
    assert r.week_delta == 0


def test_latest_revision_wins(week12):
    assert row(week12, "140521").enrolled == 120000


def test_parent_sums_children(week12):
    city = week12.total
    assert city["code"] == "1405"
    assert city["target"] == 188000 + 404760 + 373650 + 290000 + 213360 + 157930
    assert city["enrolled"] == 182360 + 270000 + 194000 + 150000 + 120000
    assert city["completion"] == pytest.approx(916360 / 1627700)
    assert city["status"] == "behind"


def test_status_counts(week12):
    counts = week12.status_counts(week12.level("county"))
    assert counts == {"achieved": 1, "on_track": 2, "behind": 1, "not_reported": 2,
                      "no_target": 0}


def test_townships_without_targets_say_so(week12):
    townships = week12.level("township")
    assert len(townships) == 77
    assert set(townships["status"]) == {"no_target"}


def test_a_parent_report_of_its_own_wins_over_its_children(store, jincheng):
    first, second = row_codes(store, jincheng.id, "140525")[:2]
    record(store, jincheng.id, AS_OF, {"140525": 300000, first: 1000, second: 2000})
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
    assert row(result, "140525").enrolled == 300000


def test_a_parent_without_a_report_sums_its_reporting_children(store, jincheng):
    first, second = row_codes(store, jincheng.id, "140522")[:2]
    record(store, jincheng.id, AS_OF, {first: 1000, second: 2500})
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
    county = row(result, "140522")
    assert (county.enrolled, county.target, county.status) == (3500, 292300, "behind")
    assert row(result, first).status == "no_target"   # townships have no task of their own
    assert result.total["enrolled"] == 3500


def row_codes(store, campaign_id, parent):
    with store.read() as con:
        return [r[0] for r in con.raw.execute(
            "SELECT code FROM units WHERE campaign_id = ? AND parent_code = ? ORDER BY code",
            [campaign_id, parent]).fetchall()]


def test_after_the_window_below_goal_is_behind_even_above_pace(store, jincheng):
    record(store, jincheng.id, D(2021, 12, 25), {"140502": 182359})  # one short of 97%
    with store.read() as con:
        result = progress.compute(con, jincheng, D(2021, 12, 25))
    r = row(result, "140502")
    assert r.status == "behind"
    assert r.needed_per_week is None or str(r.needed_per_week) == "<NA>"


def test_before_the_first_report_every_unit_is_not_reported(store, jincheng):
    with store.read() as con:
        result = progress.compute(con, jincheng, D(2021, 9, 3))
    assert set(result.level("county")["status"]) == {"not_reported"}
    assert result.total["enrolled"] is None or str(result.total["enrolled"]) == "<NA>"


def test_withdrawn_figure_falls_back_to_the_previous_report(store, jincheng):
    record(store, jincheng.id, D(2021, 11, 12), {"140502": 100000})
    receipt = record(store, jincheng.id, AS_OF, {"140502": 120000})
    with store.write() as con:   # a withdrawal revision: NULL means "no figure for that date"
        con.raw.execute("INSERT INTO reports VALUES (?, 'upload', '140502', ?, 2, NULL, NULL, NULL, ?)",
                    [jincheng.id, AS_OF, receipt.upload_id])
    with store.read() as con:
        result = progress.compute(con, jincheng, AS_OF)
    r = row(result, "140502")
    assert r.enrolled == 100000 and r.status == "not_reported"


def test_demo_and_uploads_never_mix(store, jincheng):
    demo.generate(store, jincheng)
    record(store, jincheng.id, AS_OF, {"140502": 1})
    with store.read() as con:
        real = progress.compute(con, jincheng, AS_OF, "upload")
        shown = progress.compute(con, jincheng, AS_OF, "demo")
        assert progress.default_source(con, jincheng.id) == "upload"
    assert real.total["enrolled"] == 1
    assert row(shown, "140502").enrolled != 1
    assert shown.total["enrolled"] > 1_000_000


def test_demo_only_campaign_defaults_to_demo(store, jincheng):
    result = demo.generate(store, jincheng)
    assert result.units == 6 and result.reports > 6 * 15
    with store.read() as con:
        assert progress.default_source(con, jincheng.id) == "demo"
    assert demo.clear(store, jincheng.id) == result.reports
    with store.read() as con:
        assert progress.available_sources(con, jincheng.id) == []


def test_demo_is_deterministic_and_monotone(store, jincheng):
    demo.generate(store, jincheng)
    with store.read() as con:
        first = con.raw.execute("SELECT unit_code, report_date, enrolled FROM reports "
                            "WHERE source = 'demo' ORDER BY 1, 2, 3").fetchall()
    demo.generate(store, jincheng)
    with store.read() as con:
        second = con.raw.execute("SELECT unit_code, report_date, enrolled FROM reports "
                             "WHERE source = 'demo' ORDER BY 1, 2, 3").fetchall()
    assert first == second
    by_unit = {}
    for code, _, enrolled in first:
        by_unit.setdefault(code, []).append(enrolled)
    assert all(v == sorted(v) for v in by_unit.values())


def test_campaign_without_targets_reports_them_missing(store):
    wanzhou = campaigns.load(store, "wanzhou-zhoujiaba-2022-residents")
    with store.read() as con:
        result = progress.compute(con, wanzhou, D(2022, 1, 14))
    assert result.targets_missing
    assert len(result.level("community")) == 11
    assert set(result.level("community")["status"]) == {"no_target"}
