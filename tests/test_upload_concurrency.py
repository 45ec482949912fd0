"""Uploads committed at the same moment all land, once each: threads of one server (Streamlit
sessions) and separate processes (the CLI) on the same database file."""

import datetime as dt
import subprocess
import sys
import threading

from enrollment.uploads import ingest
from enrollment.uploads import log as uploads

from .fixtures import NOW, ROOT, TODAY, csv_bytes

CAMPAIGN = "jincheng-2022-residents"
DAY = dt.date(2021, 11, 19)


def _together(store, jobs):
    """Run commit jobs in threads released by one barrier; returns (results, errors)."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), [None] * len(jobs)

    def run(i, content, name, uploader):
        barrier.wait()
        try:
            results[i] = ingest.commit(store, CAMPAIGN, content, name, report_date=DAY,
                                       uploader=uploader, now=NOW, today=TODAY)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_two_uploads_at_the_same_moment_both_land_once_each(store):
    zezhou = csv_bytes([["单位", "累计参保人数"], ["南村镇", 1000], ["下村镇", 2000]])
    gaoping = csv_bytes([["单位", "累计参保人数"], ["北诗镇", 300], ["城区", 5000]])
    results, errors = _together(store, [(zezhou, "泽州.csv", "泽州县"), (gaoping, "高平.csv", "高平市")])
    assert errors == [None, None]
    assert sorted(r.upload_id for r in results) == sorted({r.upload_id for r in results})
    with store.read() as con:
        rows = con.raw.execute("SELECT unit_code, revision, enrolled, upload_id FROM reports "
                           "WHERE source = 'upload' ORDER BY unit_code").fetchall()
        log = uploads.history(con, CAMPAIGN)
    assert [(code, revision, enrolled) for code, revision, enrolled, _ in rows] == [
        ("140502", 1, 5000), ("140525100", 1, 1000), ("140525101", 1, 2000), ("140581105", 1, 300)]
    assert sorted(log["uploader"]) == ["泽州县", "高平市"] and set(log["status"]) == {"accepted"}


def test_two_corrections_of_the_same_unit_at_once_become_two_revisions(store):
    first = csv_bytes([["单位", "累计参保人数"], ["城区", 1000]])
    second = csv_bytes([["单位", "累计参保人数"], ["城区", 1001]])
    results, errors = _together(store, [(first, "a.csv", "甲"), (second, "b.csv", "乙")])
    assert errors == [None, None]
    with store.read() as con:
        history = uploads.unit_history(con, CAMPAIGN, "140502")
    assert sorted(history["revision"]) == [1, 2]
    latest = history.iloc[0]
    assert latest["current"] and latest["upload_id"] == max(r.upload_id for r in results)


def test_the_same_file_sent_twice_at_once_is_counted_once(store):
    content = csv_bytes([["单位", "累计参保人数"], ["城区", 1000], ["泽州", 2000]])
    results, errors = _together(store, [(content, "a.csv", "甲"), (content, "a.csv", "甲")])
    assert sum(r is not None for r in results) == 1
    rejected = next(e for e in errors if e is not None)
    assert isinstance(rejected, ingest.UploadRejected) and "同一文件已于" in str(rejected)
    with store.read() as con:
        assert con.raw.execute("SELECT count(*) FROM reports WHERE source = 'upload'").fetchone()[0] == 2


def test_two_cli_processes_ingesting_at_once_both_succeed(store, tmp_path):
    paths = []
    for name, unit, value in (("a", "阳城", 100), ("b", "陵川", 200), ("c", "沁水", 300)):
        path = tmp_path / f"{name}.csv"
        path.write_bytes(csv_bytes([["单位", "累计参保人数"], [unit, value]]))
        paths.append(path)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "enrollment", "--db", store.target, "ingest", str(path),
         "--campaign", CAMPAIGN, "--report-date", "2021-11-19", "--uploader", path.stem],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for path in paths]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    with store.read() as con:
        figures = dict(con.raw.execute("SELECT unit_code, enrolled FROM reports WHERE source = 'upload'")
                       .fetchall())
    assert figures == {"140522": 100, "140524": 200, "140521": 300}
