"""Times full runs of 进度总览 with Streamlit's AppTest, in a process of its own.

`python -m benchmarks.page --db FILE --campaign ID --as-of DATE --unit CODE [--runs N]` prints one
JSON object: the first run (imports, caches empty), then per round a run right after a data change
(a real one-row upload: every cached query is stale, as after a county's Friday upload) and a
warm rerun (nothing changed: cached queries answer). Every run must render the overview of the
campaign's top unit without an exception.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--unit", required=True, help="a community whose figure each round corrects")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["ENROLLMENT_DB"] = args.db
    sys.path.insert(0, str(ROOT))

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from enrollment.db import Store
    from enrollment.uploads import ingest

    # As in tests/conftest.py: keep AppTest out of the legacy pages-folder mode, like a server.
    original = PagesManager.__init__

    def init(self, *a, **k):
        original(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=900)
    at.query_params["campaign"] = args.campaign
    at.query_params["as_of"] = args.as_of

    cpu: list[float] = []

    def run() -> float:
        started, used = time.perf_counter(), time.process_time()
        at.run()
        seconds = time.perf_counter() - started
        cpu.append(time.process_time() - used)
        if at.exception:
            raise SystemExit(f"page raised: {at.exception[0].value}")
        if not at.subheader or not at.subheader[0].value.startswith("进度总览"):
            raise SystemExit("the overview did not render")
        return seconds

    store = Store(args.db)
    day = dt.date.fromisoformat(args.as_of)
    first = run()
    cold, warm, cold_cpu, warm_cpu = [], [], [], []
    with store.read() as con:
        figure = con.value(
            "SELECT enrolled FROM figures WHERE campaign_id = :c AND source = 'upload' "
            "AND unit_code = :u AND report_date <= :d ORDER BY report_date DESC LIMIT 1",
            {"c": args.campaign, "u": args.unit, "d": day})
    for n in range(args.runs):
        # A county corrects one community's figure by a few people: a real write, every
        # cached query stale.
        body = f"单位代码,累计参保人数\r\n{args.unit},{(figure or 0) + n + 1}\r\n".encode()
        ingest.commit(store, args.campaign, body, f"更正{n}.csv", report_date=day,
                      uploader="基准测试", accept_warnings=True, today=day)
        cold.append(run())
        cold_cpu.append(cpu[-1])
        warm.append(run())
        warm_cpu.append(cpu[-1])
    print(json.dumps({"first": first, "cold": cold, "warm": warm, "cold_cpu": cold_cpu,
                      "warm_cpu": warm_cpu, "heading": at.subheader[0].value}))


if __name__ == "__main__":
    main()
