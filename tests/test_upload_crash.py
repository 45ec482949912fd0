"""A process killed in the middle of committing uploads leaves no half-written upload: after
reopening, every accepted upload has all its report rows and every report row its upload."""

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

from enrollment import ingest

from .fixtures import ROOT

WRITER = textwrap.dedent("""
    import datetime as dt, sys
    from enrollment import ingest, units
    from enrollment.storage import Store
    store = Store(sys.argv[1])
    with store.read() as con:
        codes = [u.code for u in units.children(con, "jincheng-2022-residents", "140525")]
        codes += [u.code for u in units.children(con, "jincheng-2022-residents", "140581")]
    n = 0
    while True:
        n += 1
        body = "单位代码,累计参保人数\\r\\n" + "".join(f"{c},{int(sys.argv[2]) * 100000 + n * 10 + i}\\r\\n" for i, c in enumerate(codes))
        ingest.commit(store, "jincheng-2022-residents", body.encode(), f"{n}.csv",
                      report_date=dt.date(2021, 11, 19), uploader="crash", accept_warnings=True,
                      today=dt.date(2021, 12, 31))
        print(n, flush=True)
""")


def test_killing_the_writer_mid_upload_leaves_whole_uploads_only(store, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    committed = 0
    for run, delay in enumerate((0.05, 0.3, 0.7)):
        proc = subprocess.Popen([sys.executable, str(script), str(store.path), str(run)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        # Kill only once the writer is committing (its start-up time varies with the load).
        first = proc.stdout.readline()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert "Traceback" not in err, err
        committed += len((first + out).split())
        with store.read() as con:
            broken = con.execute("""
                SELECT u.id, u.row_count, count(r.upload_id) FROM uploads u
                LEFT JOIN reports r ON r.upload_id = u.id
                WHERE u.status = 'accepted' AND u.kind = 'report'
                GROUP BY u.id, u.row_count HAVING count(r.upload_id) <> u.row_count""").fetchall()
            orphans = con.execute("""SELECT count(*) FROM reports r WHERE NOT EXISTS (
                SELECT 1 FROM uploads u WHERE u.id = r.upload_id)""").fetchone()[0]
            accepted = con.execute("SELECT count(*) FROM uploads WHERE status = 'accepted'").fetchone()[0]
        assert broken == [] and orphans == 0
        assert accepted >= committed      # nothing reported as committed was lost
    assert committed > 0, committed
    # The file is still usable: one more upload lands normally.
    receipt = ingest.commit(store, "jincheng-2022-residents", "单位,累计参保人数\r\n城区,5\r\n".encode(),
                            "after.csv", report_date=dt.date(2021, 11, 19), uploader="x",
                            today=dt.date(2021, 12, 31))
    assert receipt.units == 1
