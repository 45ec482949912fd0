"""progress.compute_many agrees with a plain Python model of the definitions on random data.

The SQL is written for speed (a fast path for figures with one revision, an aggregate for one
date and an as-of join for many); the model is written for reading: the latest revision of a
unit and date counts unless it is a withdrawal, the latest figure on or before a date counts, a
parent without a figure (or task) of its own sums its children's. Random reports (corrections,
withdrawals, parents reporting for themselves, units that stop reporting) and random tasks at
every level, on the real Jincheng tree, for one date, two dates, a whole trend and a subtree.
"""

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from enrollment import campaigns
from enrollment.metrics import progress

CAMPAIGN = "jincheng-2022-residents"
FRIDAYS = [dt.date(2021, 10, 29) + dt.timedelta(weeks=k) for k in range(8)]
D = dt.date


def _tree(con):
    rows = con.raw.execute("SELECT code, parent_code, depth FROM units WHERE campaign_id = ?",
                       [CAMPAIGN]).fetchall()
    parent = {c: p for c, p, _ in rows}
    children: dict[str, list[str]] = {}
    for c, p, _ in rows:
        if p is not None:
            children.setdefault(p, []).append(c)
    return parent, children, sorted(parent)


def _model(parent, children, reports, tasks, campaign, as_of):
    """{code: (enrolled, enrolled_prev, target, report_date, reported_week)} by the definitions."""
    latest: dict[tuple[str, dt.date], tuple] = {}
    for code, day, revision, enrolled, amount in sorted(reports, key=lambda r: r[2]):
        latest[(code, day)] = (enrolled, amount)
    valid: dict[str, list[tuple[dt.date, int, float | None]]] = {}
    for (code, day), (enrolled, amount) in latest.items():
        if enrolled is not None:
            valid.setdefault(code, []).append((day, enrolled, amount))
    prev_day = as_of - dt.timedelta(days=7)
    week = campaign.week_number(as_of)
    week_start = campaign.week_start_of(week) if week else campaign.start

    def own(code, upto):
        found = [row for row in valid.get(code, []) if row[0] <= upto]
        return max(found, key=lambda row: row[0]) if found else None

    out = {}

    def visit(code):
        kids = [visit(k) for k in children.get(code, [])]
        mine, mine_prev = own(code, as_of), own(code, prev_day)

        def total(values):
            values = [v for v in values if v is not None]
            return sum(values) if values else None

        enrolled = mine[1] if mine else total(k[0] for k in kids)
        enrolled_prev = mine_prev[1] if mine_prev else total(k[1] for k in kids)
        target = tasks[code] if code in tasks else total(k[2] for k in kids)
        dates = [k[3] for k in kids if k[3] is not None]
        report_date = mine[0] if mine else (max(dates) if dates else None)
        reported = bool(mine and mine[0] >= week_start) or any(k[4] for k in kids)
        amount = mine[2] if mine else total(k[5] for k in kids)
        out[code] = (enrolled, enrolled_prev, target, report_date, reported, amount)
        return out[code]

    root = next(c for c, p in parent.items() if p is None)
    visit(root)
    return out


def _value(x):
    return None if x is None or pd.isna(x) else x


def _amount(x):
    return None if x is None or pd.isna(x) else round(float(x), 2)


@st.composite
def scenarios(draw, codes):
    # Units close to each other, so that parents and their children both report: one or two
    # townships, their villages, their county and the city.
    towns = draw(st.lists(st.sampled_from([c for c in codes if len(c) == 9]), min_size=1,
                          max_size=2, unique=True))
    pool = sorted({c for c in codes if c[:9] in towns} | {t[:6] for t in towns} | {"1405"})
    units = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=25, unique=True))
    reports = []
    for code in units:
        for day in draw(st.lists(st.sampled_from(FRIDAYS), min_size=1, max_size=4, unique=True)):
            revisions = draw(st.lists(st.one_of(st.none(), st.integers(0, 300000)),
                                      min_size=1, max_size=3))
            for revision, enrolled in enumerate(revisions, start=1):
                amount = None if enrolled is None else draw(st.sampled_from([None, 1.5, 20.25]))
                reports.append((code, day, revision, enrolled, amount))
    task_units = draw(st.lists(st.sampled_from(pool), max_size=20, unique=True))
    tasks = {code: draw(st.integers(1, 400000)) for code in task_units}
    return reports, tasks


def _check(con, campaign, parent, children, reports, tasks, days, root=None):
    frame = progress.compute_many(con, campaign, days, root=root)
    for as_of in days:
        expected = _model(parent, children, reports, tasks, campaign, as_of)
        got = frame[frame["as_of"] == as_of]
        if root is None:
            assert len(got) == len(expected)
        for r in got.itertuples():
            want = expected[r.code]
            have = (_value(r.enrolled), _value(r.enrolled_prev), _value(r.target),
                    _value(r.report_date), bool(r.reported_week), _amount(r.amount))
            if have[3] is not None:
                have = have[:3] + (pd.Timestamp(have[3]).date(),) + have[4:]
            assert have == want, (r.code, as_of, have, want)
            if want[0] is not None and want[2]:
                status = r.status
                assert status in ("achieved", "on_track", "behind", "not_reported")
                if want[4]:
                    goal = want[0] * 10000 >= campaign.goal_basis_points() * want[2]
                    assert (status == "achieved") == goal


def _check_series(con, campaign, parent, children, reports, tasks, days, code):
    """A unit's series (what progress.trend uses) agrees with the model at every date."""
    frame = progress.compute_many(con, campaign, days, root=code, only=code, with_prev=False)
    assert list(frame["code"]) == [code] * len(days)
    for r in frame.itertuples():
        want = _model(parent, children, reports, tasks, campaign, r.as_of)[code]
        have = (_value(r.enrolled), _value(r.target), _value(r.report_date), bool(r.reported_week),
                _amount(r.amount))
        if have[2] is not None:
            have = (have[0], have[1], pd.Timestamp(have[2]).date(), have[3], have[4])
        assert have == (want[0], want[2], want[3], want[4], want[5]), (code, r.as_of, have, want)


def _run(store, reports, tasks, body):
    with store.read() as con:
        campaign = campaigns.get(con, CAMPAIGN)
        parent, children, _ = _tree(con)
        con.raw.begin()
        try:
            con.raw.execute("DELETE FROM targets WHERE campaign_id = ?", [CAMPAIGN])
            if tasks:
                con.raw.executemany("INSERT INTO targets VALUES (999999, ?, ?, ?, NULL, NULL, NULL, NULL)",
                                [(CAMPAIGN, code, task) for code, task in tasks.items()])
            if reports:
                con.raw.executemany(
                    "INSERT INTO reports VALUES (?, 'upload', ?, ?, ?, ?, ?, NULL, 1)",
                    [(CAMPAIGN, c, d, rev, e, a) for c, d, rev, e, a in reports])
            body(con, campaign, parent, children)
        finally:
            con.raw.rollback()


def _codes(store):
    with store.read() as con:
        return _tree(con)[2]


PROFILE = settings(max_examples=20, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow, HealthCheck.data_too_large])


def test_one_date_agrees_with_the_model(store):
    @PROFILE
    @given(scenarios(_codes(store)), st.sampled_from(FRIDAYS + [D(2021, 12, 25)]))
    def check(scenario, as_of):
        reports, tasks = scenario
        _run(store, reports, tasks, lambda con, c, p, k: _check(con, c, p, k, reports, tasks, [as_of]))
    check()


def test_two_dates_and_a_trend_agree_with_the_model(store):
    @PROFILE
    @given(scenarios(_codes(store)), st.lists(st.sampled_from(FRIDAYS), min_size=2, max_size=8,
                                             unique=True))
    def check(scenario, days):
        reports, tasks = scenario
        _run(store, reports, tasks, lambda con, c, p, k: _check(con, c, p, k, reports, tasks, days[:2]))
        _run(store, reports, tasks, lambda con, c, p, k: _check(con, c, p, k, reports, tasks, days))
    check()


def test_a_subtree_agrees_with_the_model(store):
    @PROFILE
    @given(scenarios(_codes(store)), st.sampled_from(["140525", "140525100", "140581"]),
           st.sampled_from([1, 5]))
    def check(scenario, root, dates):
        reports, tasks = scenario
        _run(store, reports, tasks,
             lambda con, c, p, k: _check(con, c, p, k, reports, tasks, FRIDAYS[-dates:], root))
    check()


def test_a_units_series_agrees_with_the_model(store):
    codes = _codes(store)

    # A township reports, then its county takes over with a figure of its own: the county's
    # series is the township's until then, the county's own after.
    taking_over = ([("140525100", FRIDAYS[1], 1, 100, 3.5), ("140525101", FRIDAYS[4], 1, 7, None),
                    ("140525", FRIDAYS[3], 1, 1000, 12.25)], {"140525100": 50, "140525": 900})

    @PROFILE
    @example(taking_over, "140525")
    @example(taking_over, "1405")
    @given(scenarios(codes), st.data())
    def check(scenario, data):
        reports, tasks = scenario
        # The parents of the reporting units, where the sums happen, and the units themselves.
        near = sorted({r[0][:n] for r in reports for n in (4, 6, 9, 12) if len(r[0]) >= n})
        code = data if isinstance(data, str) else data.draw(st.sampled_from(near))
        _run(store, reports, tasks, lambda con, c, p, k: _check_series(
            con, c, p, k, reports, tasks, FRIDAYS, code))
    check()
