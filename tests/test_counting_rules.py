"""Which figure counts is one rule (the view `figures`), and every consumer asks it.

The case that showed the copies disagreeing: 高平市 uploads 100,000 for 19 November, then
withdraws it. From then on 高平市 has no figure for that date anywhere: the overview says
未上报, the week's reporting status says 未上报, the template pre-fills nothing, a later upload of
50,000 is not "below the last report", and no quality flag is left from the withdrawn figure.
A property test then drives random uploads, corrections and withdrawals through the real upload
path and checks every consumer against a plain model of the rule.
"""

import datetime as dt
import io
import itertools
import json

import docx
import openpyxl
import pandas as pd
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollment.cli import cli
from enrollment.export import bulletin, workbook
from enrollment.export import model as exports
from enrollment.metrics import progress, quality, reporting
from enrollment.uploads import ingest, template, withdrawals
from enrollment.uploads import log as uploads

from .fixtures import NOW, TODAY, record, report_csv

CAMPAIGN = "jincheng-2022-residents"
GAOPING = "140581"
WEEK11, WEEK12, WEEK13 = dt.date(2021, 11, 12), dt.date(2021, 11, 19), dt.date(2021, 11, 26)


def cli_run(store, *args, input=None):
    return CliRunner().invoke(cli, ["--db", store.target, *args], input=input)


def upload_then_withdraw(store, tmp_path):
    """The reproduction from the issue, through the command line."""
    path = tmp_path / "gaoping.csv"
    path.write_bytes(report_csv({GAOPING: 100000}))
    done = cli_run(store, "ingest", str(path), "--campaign", CAMPAIGN, "--report-date", str(WEEK12),
                   "--uploader", "高平")
    assert done.exit_code == 0, done.output
    undone = cli_run(store, "withdraw", "--campaign", CAMPAIGN, "--uploader", "高平")
    assert undone.exit_code == 0, undone.output


def test_overview_and_cli_say_not_reported_after_a_withdrawal(store, jincheng, tmp_path):
    upload_then_withdraw(store, tmp_path)
    with store.read() as con:
        units = progress.compute(con, jincheng, WEEK12).units.set_index("code")
    assert units.loc[GAOPING, "status"] == "not_reported"
    assert pd.isna(units.loc[GAOPING, "enrolled"])
    shown = cli_run(store, "progress", "--campaign", CAMPAIGN, "--as-of", str(WEEK12),
                    "--format", "json")
    rows = {r["code"]: r for r in json.loads(shown.output)["units"]}
    assert rows[GAOPING]["status"] == "not_reported" and rows[GAOPING]["enrolled"] is None


def test_week_status_says_not_reported_after_a_withdrawal(store, jincheng, tmp_path):
    upload_then_withdraw(store, tmp_path)
    with store.read() as con:
        status = reporting.week_status(con, jincheng, WEEK12, "upload", [GAOPING])
    assert list(status["status"]) == [reporting.MISSING]
    assert pd.isna(status.iloc[0]["last_date"])


def test_exports_report_the_withdrawn_unit_as_missing(store, jincheng, tmp_path):
    upload_then_withdraw(store, tmp_path)
    with store.read() as con:
        data = exports.gather(con, jincheng, WEEK12, "upload")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.build(data)))["上报情况"]
    rows = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    gaoping = next(row for row in rows if "高平市" in row)
    assert reporting.MISSING in gaoping and reporting.ON_TIME not in gaoping
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(bulletin.build(data))).paragraphs)
    assert "高平市" in "".join(bulletin.reports(data)) and "按时上报" not in "".join(
        p for p in bulletin.reports(data) if "高平市" in p and "未" not in p)
    assert "高平市" in text


def test_template_prefills_nothing_for_a_withdrawn_figure(store, jincheng, tmp_path):
    upload_then_withdraw(store, tmp_path)
    with store.read() as con:
        made = template.build(con, jincheng, report_date=WEEK13)
    sheet = openpyxl.load_workbook(io.BytesIO(made.content)).active
    rows = {r[1]: r for r in sheet.iter_rows(min_row=template.HEADER_ROW + 2, values_only=True)}
    assert rows[GAOPING][5] is None


def test_a_later_upload_is_not_compared_with_a_withdrawn_figure(store, jincheng, tmp_path):
    upload_then_withdraw(store, tmp_path)
    with store.read() as con:
        preview = ingest.prepare(con, jincheng, report_csv({GAOPING: 50000}), "next.csv", WEEK13,
                                 today=TODAY)
    assert preview.ok and not preview.warnings, preview.problems
    assert preview.rows[0].previous is None


def test_no_quality_flag_is_left_from_a_withdrawn_figure(store, jincheng):
    record(store, CAMPAIGN, WEEK11, {GAOPING: 100000}, uploader="高平")
    record(store, CAMPAIGN, WEEK12, {GAOPING: 50000}, uploader="高平")
    with store.read() as con:
        assert quality.DECREASE in set(quality.flags(con, jincheng, WEEK12, "upload")["flag"])
    withdrawals.withdraw(store, CAMPAIGN, "高平")
    with store.read() as con:
        assert quality.flags(con, jincheng, WEEK12, "upload").empty


def test_history_marks_the_withdrawal_as_what_counts(store, tmp_path):
    upload_then_withdraw(store, tmp_path)
    with store.read() as con:
        revisions = uploads.unit_history(con, CAMPAIGN, GAOPING)
    current = revisions[revisions["current"]]
    assert len(current) == 1 and pd.isna(current.iloc[0]["enrolled"])
    assert current.iloc[0]["kind"] == "withdrawal"


# --- every consumer against the plain model ------------------------------------------------

UNITS = ("140502", "140525", GAOPING)
DAYS = (WEEK11, WEEK12, WEEK13)
UPLOADERS = ("甲", "乙")

operations = st.lists(st.one_of(
    st.tuples(st.just("upload"), st.sampled_from(UPLOADERS), st.sampled_from(DAYS),
              st.dictionaries(st.sampled_from(UNITS), st.integers(1000, 200000), min_size=1)),
    st.tuples(st.just("withdraw"), st.sampled_from(UPLOADERS))), min_size=1, max_size=7)


def _model(log: list) -> dict[tuple[str, dt.date], int]:
    """The rule in plain Python: uploads push a figure per (unit, date); a withdrawal pops the
    uploader's latest upload that was not withdrawn (only if no later upload touched its
    figures); what counts is the top of each stack."""
    stacks: dict[tuple[str, dt.date], list[tuple[int, int]]] = {}
    uploads_by: dict[str, list[tuple[int, dt.date, dict]]] = {}
    for number, op in enumerate(log):
        if op[0] == "upload":
            _, who, day, figures = op
            uploads_by.setdefault(who, []).append((number, day, figures))
            for code, value in figures.items():
                stacks.setdefault((code, day), []).append((number, value))
        else:
            mine = uploads_by.get(op[1])
            if not mine:
                continue
            number, day, figures = mine[-1]
            if any(stacks[(code, day)][-1][0] != number for code in figures):
                continue   # someone changed one of its figures since: refused
            mine.pop()
            for code in figures:
                stacks[(code, day)].pop()
    return {key: stack[-1][1] for key, stack in stacks.items() if stack}


def _apply(store, log: list) -> list:
    """Run the operations through the real upload path; returns those that were not refused
    for another reason than the rule (the same file twice for a date is refused as a copy)."""
    applied = []
    for op in log:
        if op[0] == "upload":
            _, who, day, figures = op
            try:
                ingest.commit(store, CAMPAIGN, report_csv(figures), f"{who}-{day}.csv",
                              report_date=day, uploader=who, accept_warnings=True, now=NOW,
                              today=TODAY)
            except ingest.UploadRejected:
                continue
        else:
            try:
                withdrawals.withdraw(store, CAMPAIGN, op[1])
            except withdrawals.WithdrawError:
                pass
        applied.append(op)
    return applied


def _consumers_agree(store, campaign, model):
    with store.read() as con:
        for day in DAYS:
            expected = {code: max(((d, v) for (c, d), v in model.items() if c == code and d <= day),
                                  default=None) for code in UNITS}
            units = progress.compute(con, campaign, day).units.set_index("code")
            status = reporting.week_status(con, campaign, day, "upload", list(UNITS)).set_index("code")
            filled = template._units(con, campaign.id, "1405", "county", day)
            prefill = {row[0]: row[4] for row in filled}
            for code in UNITS:
                want = expected[code]
                have = units.loc[code, "enrolled"]
                assert (None if pd.isna(have) else int(have)) == (want[1] if want else None)
                reported = want is not None and want[0] == day
                assert (status.loc[code, "status"] != reporting.MISSING) == reported, (code, day)
                assert prefill[code] == (want[1] if want else None)
        # ingest's previous figure, for an upload on the last day
        preview = ingest.prepare(con, campaign, report_csv({c: 1 for c in UNITS}), "x.csv",
                                 DAYS[-1], today=TODAY)
        for row in preview.rows:
            before = max(((d, v) for (c, d), v in model.items()
                          if c == row.code and d < DAYS[-1]), default=None)
            assert row.previous == (before[1] if before else None)
            assert row.replaces == model.get((row.code, DAYS[-1]))
        # quality: a decrease flag exactly where the last two figures decrease
        flagged = set(quality.flags(con, campaign, DAYS[-1], "upload").query(
            "flag == @quality.DECREASE")["code"])
    decreasing = set()
    for code in UNITS:
        mine = sorted((d, v) for (c, d), v in model.items() if c == code)
        if len(mine) >= 2 and mine[-1][1] < mine[-2][1]:
            decreasing.add(code)
    assert flagged == decreasing


def test_every_consumer_agrees_with_the_model(store, jincheng, initialized_db, tmp_path):
    import shutil

    from enrollment.db import Store

    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(operations)
    def check(log):
        path = tmp_path / f"model-{next(numbers)}.duckdb"
        shutil.copy(initialized_db, path)
        fresh = Store(path)
        _consumers_agree(fresh, jincheng, _model(_apply(fresh, log)))

    numbers = itertools.count()

    check()
