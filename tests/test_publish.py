"""Publishing a week's bulletin: the files circulated are stored byte for byte with the figures
they show, the week is locked, publishing twice or a week without reports changes nothing, two
timers never publish twice, and the archive hands back the stored bytes after later changes."""

import datetime as dt
import io
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner

from enrollment import db
from enrollment.cli import cli
from enrollment.cycle import publishing, weeks
from enrollment.export import bundles
from enrollment.identity import audit
from enrollment.uploads import ingest, rights

from .fixtures import ROOT, TODAY, dump, record, report_csv
from .robots import FakeRenderer

CAMPAIGN = "jincheng-2022-residents"
W12, W13 = dt.date(2021, 11, 19), dt.date(2021, 11, 26)
FAST = ["xlsx"]
FIGURES = {"140502": 150000, "140525": 300000, "140581": 280000, "140522": 200000,
           "140524": 160000, "140521": 110000}


@pytest.fixture
def reported(store):
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {k: v - 10000 for k, v in FIGURES.items()})
    record(store, CAMPAIGN, W12, FIGURES)
    return store


def stored_files(store, bulletin_id):
    with store.read() as tx:
        listed = publishing.files(tx, bulletin_id)
        return {name: data for name, data in
                (publishing.file(tx, bulletin_id, int(p)) for p in listed["position"])}


def test_publishing_stores_the_files_and_figures_and_locks_the_week(reported):
    done = publishing.publish(reported, CAMPAIGN, dt.date(2021, 11, 17), actor="文书甲",
                              formats=["png", "xlsx", "docx", "board"], renderer=FakeRenderer())
    assert (done.period, done.key, done.as_of) == ("week", "2021-11-19", W12)
    assert "第12周（截至2021-11-19）" in done.summary() and "锁定该周数字" in done.summary()
    stored = stored_files(reported, done.id)
    assert {f.name: f.data for f in done.files}.items() <= stored.items()
    assert stored[done.zip_name] == done.zip_bytes
    with zipfile.ZipFile(io.BytesIO(done.zip_bytes)) as archive:
        assert sorted(n.split("/", 1)[1] for n in archive.namelist()) == sorted(f.name for f in done.files)
    with reported.read() as tx:
        found = publishing.bulletin(tx, CAMPAIGN, done.id)
        figures = publishing.stored_figures(found)
        lock = rights.week_lock(tx, publishing.campaigns.get(tx, CAMPAIGN), W12)
        actions = list(audit.query(tx, campaign_id=CAMPAIGN)["action"])
    assert figures["as_of"] == "2021-11-19" and figures["week"] == 12
    by_code = {u["code"]: u for u in figures["units"]}
    assert by_code["140525"]["enrolled"] == 300000 and by_code["140525"]["rank"] >= 1
    assert figures["scope"]["enrolled"] == sum(FIGURES.values())
    assert lock is not None and lock.bulletin_id == done.id and lock.locked_by == "文书甲"
    assert "publish" in actions and "week_locked" in actions
    assert found["summary"].startswith("### 晋城市参保进度通报（第12周")


def test_the_archive_returns_the_bytes_circulated_after_later_corrections(reported):
    done = publishing.publish(reported, CAMPAIGN, W12, actor="文书甲", formats=FAST)
    before = stored_files(reported, done.id)
    # Later: week 13 is reported, week 12 is corrected under an exception, targets unchanged.
    record(reported, CAMPAIGN, W13, {k: v + 5000 for k, v in FIGURES.items()})
    weeks.allow(reported, CAMPAIGN, W12, "城区", "更正", actor="管理员")
    record(reported, CAMPAIGN, W12, {"140502": 151234})
    assert stored_files(reported, done.id) == before
    result = CliRunner().invoke(cli, ["--db", reported.target, "bulletins", "list",
                                      "--campaign", CAMPAIGN])
    assert result.exit_code == 0 and "第12周（截至2021-11-19）" in result.output and "文书甲" in result.output


def test_the_cli_writes_an_archived_bulletin_byte_for_byte(reported, tmp_path):
    done = publishing.publish(reported, CAMPAIGN, W12, actor="文书甲", formats=FAST)
    result = CliRunner().invoke(cli, ["--db", reported.target, "bulletins", "get", str(done.id),
                                      "--campaign", CAMPAIGN, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for item in done.files:
        assert (tmp_path / "out" / item.name).read_bytes() == item.data
    assert (tmp_path / "out" / done.zip_name).read_bytes() == done.zip_bytes
    missing = CliRunner().invoke(cli, ["--db", reported.target, "bulletins", "get", "99",
                                       "--campaign", CAMPAIGN, "--out", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "没有第 99 号通报" in missing.output


def test_publishing_twice_is_refused_and_changes_nothing(reported):
    publishing.publish(reported, CAMPAIGN, W12, actor="文书甲", formats=FAST)
    before = dump(reported, audit=True)
    with pytest.raises(publishing.AlreadyPublished, match="第12周（截至2021-11-19）的通报已于 .* 由「文书甲」"
                                                           "发布（第 1 号），不能重复发布"):
        publishing.publish(reported, CAMPAIGN, dt.date(2021, 11, 15), actor="文书乙", formats=FAST)
    assert dump(reported, audit=True) == before


def test_a_week_without_reports_is_not_published(store):
    record(store, CAMPAIGN, W12, {"140502": 150000})
    before = dump(store, audit=True)
    with pytest.raises(publishing.PublishError,
                       match="第13周（2021-11-20 至 2021-11-26）没有任何单位上报，不能发布通报"):
        publishing.publish(store, CAMPAIGN, W13, actor="文书甲", formats=FAST)
    with pytest.raises(publishing.PublishError, match="不在集中参保期"):
        publishing.publish(store, CAMPAIGN, dt.date(2022, 3, 4), actor="文书甲", formats=FAST)
    assert dump(store, audit=True) == before


def test_demo_data_is_never_published(store, jincheng):
    from enrollment.campaigns import demo

    demo.generate(store, jincheng)
    with pytest.raises(publishing.PublishError, match="没有任何单位上报"):
        publishing.publish(store, CAMPAIGN, W12, actor="文书甲", formats=FAST)


def test_the_unique_key_stops_a_second_publisher_that_got_past_the_check(reported, monkeypatch):
    publishing.publish(reported, CAMPAIGN, W12, actor="服务器甲", formats=FAST, automatic=True)
    before = dump(reported, audit=True)
    # Another server checked before the first stored its bulletin: only the key can stop it.
    monkeypatch.setattr(publishing, "find", lambda *args: None)
    with pytest.raises(publishing.AlreadyPublished, match="不能重复发布"):
        publishing.publish(reported, CAMPAIGN, W12, actor="服务器乙", formats=FAST, automatic=True)
    assert dump(reported, audit=True) == before


def test_the_second_publisher_is_told_who_won_the_race(reported, monkeypatch):
    """Both timers passed the checks; the second's insert meets the first's key. Its transaction
    must still read who published (on PostgreSQL a failed statement would abort it)."""
    publishing.publish(reported, CAMPAIGN, W12, actor="服务器甲", formats=FAST, automatic=True)
    before = dump(reported, audit=True)
    real, calls = publishing.find, []

    def late_find(*args):
        calls.append(args)
        return None if len(calls) <= 2 else real(*args)      # the two checks before the insert

    monkeypatch.setattr(publishing, "find", late_find)
    with pytest.raises(publishing.AlreadyPublished, match="由「服务器甲」（定时任务）发布（第 1 号）"):
        publishing.publish(reported, CAMPAIGN, W12, actor="服务器乙", formats=FAST, automatic=True)
    assert len(calls) == 3
    assert dump(reported, audit=True) == before


def test_an_upload_while_the_files_are_made_is_in_what_is_published(reported, monkeypatch):
    real = bundles.build
    calls = []

    def build(data, *args, **kwargs):
        calls.append(data.scope["enrolled"])
        if len(calls) == 1:     # a county corrects its figure while the first build runs
            ingest.commit(reported, CAMPAIGN, report_csv({"140521": 111111}), "更正.csv",
                          report_date=W12, uploader="沁水", accept_warnings=True, today=TODAY)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(bundles, "build", build)
    done = publishing.publish(reported, CAMPAIGN, W12, actor="文书甲", formats=FAST)
    assert calls == [sum(FIGURES.values()), sum(FIGURES.values()) + 1111]
    with reported.read() as tx:
        figures = publishing.stored_figures(publishing.bulletin(tx, CAMPAIGN, done.id))
    assert figures["scope"]["enrolled"] == sum(FIGURES.values()) + 1111


def test_a_month_is_published_without_locking_a_week(reported):
    done = publishing.publish(reported, CAMPAIGN, month="2021-11", actor="文书甲", formats=FAST)
    assert (done.period, done.key, done.title) == ("month", "2021-11", "2021年11月")
    assert done.stem == "晋城市-参保进度-2021年11月"
    with reported.read() as tx:
        assert rights.week_lock(tx, publishing.campaigns.get(tx, CAMPAIGN), W12) is None
        table = publishing.archive_table(publishing.archive(tx, publishing.campaigns.get(tx, CAMPAIGN)))
    assert list(table["类型"]) == ["月度"] and list(table["期次"]) == ["2021年11月"]
    with pytest.raises(publishing.AlreadyPublished, match="2021年11月的通报已于"):
        publishing.publish(reported, CAMPAIGN, month="2021-11", actor="文书甲", formats=FAST)


def test_latest_due_is_the_last_week_whose_deadline_has_passed(jincheng):
    utc = lambda *a: dt.datetime(*a) - dt.timedelta(hours=8)       # noqa: E731 (Shanghai)
    assert publishing.latest_due(jincheng, utc(2021, 11, 19, 16, 59)) == dt.date(2021, 11, 12)
    assert publishing.latest_due(jincheng, utc(2021, 11, 19, 17, 0)) == W12
    assert publishing.latest_due(jincheng, utc(2021, 9, 1, 9, 0)) is None
    assert publishing.latest_due(jincheng, utc(2022, 3, 1, 9, 0)) == dt.date(2021, 12, 25)


def test_the_cli_publishes_and_refuses_a_second_time(reported, tmp_path):
    runner = CliRunner()
    args = ["--db", reported.target, "publish", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
            "--formats", "xlsx", "--out", str(tmp_path / "out")]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "已发布第12周（截至2021-11-19）的通报（第 1 号）" in first.output
    assert (tmp_path / "out" / "晋城市-参保进度-20211119.zip").is_file()
    second = runner.invoke(cli, args)
    assert second.exit_code == 1 and "不能重复发布" in second.output
    neither = runner.invoke(cli, ["--db", reported.target, "publish", "--campaign", CAMPAIGN])
    assert neither.exit_code == 1 and "--latest" in neither.output


def _latest(path):
    return subprocess.run(
        [sys.executable, "-m", "enrollment", "--db", str(path), "publish", "--campaign", CAMPAIGN,
         "--latest", "--formats", "xlsx", "--no-push"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_two_timers_publish_the_latest_week_once(store):
    last = dt.date(2021, 12, 25)
    record(store, CAMPAIGN, last, FIGURES)
    if store.dialect == "duckdb":
        db.engine.release(store.path)     # the timers open the file themselves
    timers = [subprocess.Popen(
        [sys.executable, "-m", "enrollment", "--db", store.target, "publish", "--campaign",
         CAMPAIGN, "--latest", "--formats", "xlsx", "--no-push"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [t.communicate(timeout=300) for t in timers]
    assert [t.returncode for t in timers] == [0, 0], outputs
    text = "".join(out + err for out, err in outputs)
    assert text.count("已发布第18周（截至2021-12-25）的通报（第 1 号）") == 1
    assert text.count("不能重复发布") == 1
    again = _latest(store.target)
    assert again.returncode == 0 and "不能重复发布" in again.stdout
    with store.read() as tx:
        assert len(publishing.archive(tx, publishing.campaigns.get(tx, CAMPAIGN))) == 1
        assert tx.value("SELECT automatic FROM bulletins") is True


def test_the_overview_badge_names_who_published_the_week(reported):
    publishing.publish(reported, CAMPAIGN, W12, actor="文书甲", formats=FAST)
    with reported.read() as tx:
        found = publishing.published_weeks(tx, CAMPAIGN)
    assert set(found) == {W12}
    assert publishing.badge(found[W12]).startswith("已发布 · ") and "文书甲" in publishing.badge(found[W12])
    assert publishing.badge(None) is None
