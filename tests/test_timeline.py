"""The campaign calendar: 序时进度, weeks and deadlines, exactly as the brief defines them."""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from enrollment.campaigns.model import Campaign

D = dt.date
JINCHENG = Campaign(id="j", name="晋城", programme="residents", region_code="1405",
                    start=D(2021, 9, 1), end=D(2021, 12, 25), goal=Decimal("0.97"))


def test_jincheng_time_progress_on_19_november_is_80_of_116():
    assert JINCHENG.window_days == 116
    assert JINCHENG.time_progress(D(2021, 11, 19)) == Fraction(80, 116)
    assert round(float(JINCHENG.time_progress(D(2021, 11, 19))), 4) == 0.6897


@pytest.mark.parametrize("day, expected", [
    (D(2021, 8, 31), Fraction(0)),            # before the window: clamped to 0
    (D(2021, 9, 1), Fraction(1, 116)),        # the first day counts
    (D(2021, 12, 24), Fraction(115, 116)),
    (D(2021, 12, 25), Fraction(1)),           # the last day counts
    (D(2022, 1, 10), Fraction(1)),            # after the window: clamped to 1
])
def test_time_progress_at_window_edges(day, expected):
    assert JINCHENG.time_progress(day) == expected


def test_pace_line_is_goal_times_time_progress():
    assert JINCHENG.pace(D(2021, 11, 19)) == Fraction(97, 100) * Fraction(80, 116)


@pytest.mark.parametrize("day, week", [
    (D(2021, 9, 1), 1),     # Wednesday: week 1 ends on the first Friday, 3 September
    (D(2021, 9, 3), 1),     # the Friday itself
    (D(2021, 9, 4), 2),     # Saturday belongs to the next Friday's week
    (D(2021, 9, 9), 2),     # Thursday
    (D(2021, 11, 19), 12),
    (D(2021, 12, 24), 17),
    (D(2021, 12, 25), 18),  # the window's last day, a Saturday: week 18, which ends that day
    (D(2021, 8, 31), 0),
])
def test_week_numbers(day, week):
    assert JINCHENG.week_number(day) == week


def test_week_ends_are_fridays_and_the_window_ends_the_last_week():
    ends = JINCHENG.week_ends()
    assert ends[0] == D(2021, 9, 3) and ends[11] == D(2021, 11, 19)
    assert all(d.weekday() == 4 for d in ends[:-1])
    assert ends[-1] == D(2021, 12, 25)                     # a Saturday: not Friday 31 December
    assert len(ends) == JINCHENG.week_count == 18
    assert JINCHENG.week_start_of(1) == D(2021, 9, 1)      # not before the window
    assert JINCHENG.week_start_of(12) == D(2021, 11, 13)   # the Saturday before


def test_deadline_is_friday_17_00_shanghai():
    deadline = JINCHENG.deadline(D(2021, 11, 17))  # a Wednesday report is due that Friday
    assert deadline.isoformat() == "2021-11-19T17:00:00+08:00"
    utc = dt.timezone.utc
    assert JINCHENG.is_on_time(D(2021, 11, 19), dt.datetime(2021, 11, 19, 9, 0, tzinfo=utc))
    assert not JINCHENG.is_on_time(D(2021, 11, 19), dt.datetime(2021, 11, 19, 9, 1, tzinfo=utc))
    # A naive time is UTC: 08:59 UTC is 16:59 in Shanghai.
    assert JINCHENG.is_on_time(D(2021, 11, 19), dt.datetime(2021, 11, 19, 8, 59))


@pytest.mark.parametrize("today, expected", [
    (D(2021, 11, 17), D(2021, 11, 19)),   # this week's Friday
    (D(2021, 8, 1), D(2021, 9, 3)),       # before the window: its first Friday
    (D(2021, 12, 25), D(2021, 12, 25)),   # the next Friday is after the end: the end
    (D(2026, 11, 25), D(2021, 12, 25)),
])
def test_default_as_of(today, expected):
    assert JINCHENG.default_as_of(today) == expected


WANZHOU = Campaign(id="w", name="周家坝", programme="residents", region_code="500101021",
                   start=D(2021, 12, 1), end=D(2022, 2, 28), goal=Decimal("0.97"))


def test_the_last_week_ends_on_the_window_s_last_day_not_past_it():
    # Jincheng ends on Saturday 25 December: week 18 is that one day, due that day at 17:00.
    assert JINCHENG.week_end(D(2021, 12, 25)) == D(2021, 12, 25)
    assert JINCHENG.week_end_of(18) == D(2021, 12, 25)
    assert JINCHENG.week_start_of(18) == D(2021, 12, 25)
    assert JINCHENG.deadline(D(2021, 12, 25)).isoformat() == "2021-12-25T17:00:00+08:00"
    # Zhoujiaba ends on Monday 28 February 2022: week 14 runs 26–28 February, due on the 28th.
    assert WANZHOU.week_number(D(2022, 2, 28)) == 14 == WANZHOU.week_count
    assert WANZHOU.week_end(D(2022, 2, 26)) == D(2022, 2, 28)
    assert WANZHOU.week_ends()[-2:] == [D(2022, 2, 25), D(2022, 2, 28)]
    assert WANZHOU.deadline(D(2022, 2, 28)).isoformat() == "2022-02-28T17:00:00+08:00"
    # A window that ends on a Friday keeps its Friday; days after the window keep theirs.
    assert JINCHENG.week_end(D(2021, 12, 24)) == D(2021, 12, 24)
    assert JINCHENG.week_end(D(2022, 1, 3)) == D(2022, 1, 7)


def test_report_days_end_with_the_window_once():
    from enrollment.metrics import progress

    days = progress.report_days(WANZHOU)
    assert days[-1] == D(2022, 2, 28) and len(days) == len(set(days)) == 14


def test_reporting_line_of_the_last_week_names_the_window_s_last_day():
    import pandas as pd

    from enrollment.metrics import overview

    status = pd.DataFrame({"status": pd.Series([], dtype=str)})
    assert overview.reporting_markdown(status, WANZHOU, D(2022, 2, 28)).startswith(
        "第14周（截止 02月28日 17:00）")
    assert overview.reporting_markdown(status, JINCHENG, D(2021, 12, 25)).startswith(
        "第18周（截止 12月25日 17:00）")
