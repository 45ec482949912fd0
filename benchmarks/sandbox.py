"""Benchmark: what reading uploads in the sandbox costs.

    .venv/bin/python -m benchmarks.sandbox [--repeat N] [--work DIR]

Builds the province-sized benchmark campaign (benchmarks/generate.py: 山西, 21,895 villages) and
its Friday .xlsx, then measures, medians of N runs, the sandboxed and the in-process read
interleaved:

1. cold: the first file of a fresh process (the fork server starts and imports the reader), in
   a new Python process each time, timed from after the imports;
2. warm, a two-row CSV: `sandbox.read(reader.read_table, …)` vs `reader.read_table` in process:
   the fixed cost per file (fork, pipes, pickles);
3. warm, the province .xlsx: the same pair, and the structural checks alone
   (`containers.workbook_problem`);
4. the preview the page waits for: `ingest.preview` (sandbox, then the checks with a connection)
   vs the same checks after an in-process read (the path before the sandbox).

Wall seconds with CPU seconds beside them (this process only: the child's CPU is its own), since
the machine is shared. Results also go to benchmarks/results/sandbox-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import generate, run  # noqa: E402
from enrollment import campaigns  # noqa: E402
from enrollment.db import Store  # noqa: E402
from enrollment.files import bounds, containers, reader, sandbox  # noqa: E402
from enrollment.uploads import ingest  # noqa: E402

SMALL = "单位,累计参保人数\r\n城区,5\r\n".encode()
COLD = """
import sys, time
sys.path.insert(0, {root!r})
from enrollment.files import reader, sandbox
started = time.perf_counter()
sandbox.read(reader.read_table, {small!r})
print(time.perf_counter() - started)
"""


def cold(repeat: int) -> list[float]:
    code = COLD.format(root=str(ROOT), small=SMALL)
    return [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--work", type=Path, help="Keep the province database here for the next run.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="enrollment-sandbox-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "province.duckdb"
    if not path.exists():
        generate.build("province", path)
    store = Store(path)
    campaign = campaigns.load(store, generate.campaign_for("province").id)
    content, rows = generate.friday_xlsx(store, campaign, generate.FILE_REGIONS["province"], run.FILE_DAY)
    load_before = _load()

    results = {"cold_first_file": _summary(cold(args.repeat))}
    ours, base, _, _ = run.paired(lambda: sandbox.read(reader.read_table, SMALL),
                                  lambda: reader.read_table(SMALL), args.repeat * 5)
    results["small_csv"] = _pair(ours, base)
    ours, base, table, same = run.paired(lambda: sandbox.read(reader.read_table, content),
                                         lambda: reader.read_table(content), args.repeat)
    assert table == same and len(table.rows) == rows
    results["province_read"] = _pair(ours, base)
    checks = run.Timed()
    for _ in range(args.repeat):
        checks.run(lambda: containers.workbook_problem(content, "xlsx", bounds.Limits()))
    results["province_structural_checks"] = _summary(checks, checks.cpu)

    def before():
        parsed = ingest.Parsed(ingest.sha256(content), len(content),
                               reader.read_table(content, reader.REPORT_ROLES, ("enrolled",)))
        with store.read() as con:
            return ingest.check(con, campaign, parsed, "f.xlsx", run.FILE_DAY, today=run.FILE_DAY)

    ours, base, preview, old = run.paired(
        lambda: ingest.preview(store, campaign.id, content, "f.xlsx", run.FILE_DAY, today=run.FILE_DAY),
        before, args.repeat)
    assert len(preview.rows) == len(old.rows) == rows and not preview.problems
    results["province_preview"] = _pair(ours, base)

    out = {"file_bytes": len(content), "rows": rows, "repeat": args.repeat,
           "load_before": load_before, "load_after": _load(), "results": results,
           "limits": {"seconds": ingest.settings.read_timeout(),
                      "memory_mb": ingest.settings.read_memory_bytes() // 1048576}}
    print(f"province file: {len(content):,} bytes, {rows:,} rows; load average "
          f"{load_before:.1f} before, {out['load_after']:.1f} after")
    print(f"{'measure':<32}{'sandbox':>12}{'in process':>12}{'added':>10}")
    print(f"{'cold: first file of a process':<32}{results['cold_first_file']['median'] * 1000:>10.0f} ms")
    for key, label in (("small_csv", "warm: two-row CSV"), ("province_read", "warm: province .xlsx read"),
                       ("province_preview", "ingest.preview, province")):
        r = results[key]
        print(f"{label:<32}{r['sandbox']['median'] * 1000:>10.1f} ms{r['in_process']['median'] * 1000:>10.1f} ms"
              f"{(r['sandbox']['median'] - r['in_process']['median']) * 1000:>8.0f} ms")
    print(f"{'structural checks alone':<32}{results['province_structural_checks']['median'] * 1000:>10.1f} ms")
    target = ROOT / "benchmarks" / "results" / f"sandbox-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(out, ensure_ascii=False, indent=2))


def _summary(values: list[float], cpu: list[float] | None = None) -> dict:
    out = {"median": statistics.median(values), "runs": list(values)}
    if cpu:
        out["cpu_median"] = statistics.median(cpu)
    return out


def _pair(ours: run.Timed, base: run.Timed) -> dict:
    return {"sandbox": _summary(ours, ours.cpu), "in_process": _summary(base, base.cpu)}


def _load() -> float:
    import os

    return os.getloadavg()[0]


if __name__ == "__main__":
    main()
