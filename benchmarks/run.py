"""The benchmark: `python -m benchmarks.run [--sizes city,province[,nation]] [--out FILE]`.

For each size it builds a fresh database (benchmarks/generate.py: the real division codes, a task
and 17 weekly reports per community) and measures, each against a baseline taken in the same run:

- overview_top: the 进度总览 query at the top (progress.compute with view=the region: the roll-up
  of every level, the top unit and its children returned) vs a hand-written DuckDB aggregate of
  the top level's units (benchmarks/baseline.py); target ≤ 1.5×;
- overview_county: one county's subtree (progress.compute_many with root) vs a hand-written
  query of that county's communities; target ≤ 1.5×;
- overview_kept: the same 进度总览 query vs a hand-written SELECT of the same rows (the top
  unit and its children) from the kept weekly tables (db/weekly.py); target ≤ 1.5×;
- trend_root: the campaign's weekly trend (progress.trend) vs a hand-written as-of sum per week;
- page_cold / page_warm: a full run of 进度总览 (AppTest, own process) right after a real upload
  (every cache stale) and with nothing changed, against the page's two queries timed directly;
  targets: cold under 0.3 s at province size, under 1 s at national size;
- ingest_prepare / ingest_commit: a Friday .xlsx with one row per village of Shanxi (Jincheng's
  at city size) read in the sandbox and checked (ingest.preview, what the preview waits for) and
  stored (ingest.commit) vs reading the same file with pandas + calamine alone; target ≤ 2×
  (benchmarks/sandbox.py isolates what the sandbox adds);
- page_browser: 进度总览 in Chromium (a real `streamlit run`), from the navigation to the first
  bar of the ranking, right after a one-row upload, vs a bare Streamlit page with the same
  widgets served in the same run (benchmarks/browser.py); target ≤ 1.3× at city and province;
- commit_lock: how long ingest.commit of the Friday file holds the write lock; target < 0.1 s
  at province size;
- peak_rss: the high-water mark of a real `streamlit run` process after Chromium opened the
  overview, its 明细表 and a county, vs the same process idle after start-up; target < 1 GB at
  national size;
- growth: time per unit of the queries, city → province → nation.

With `--backend postgresql` the same measures run on PostgreSQL: each size's DuckDB file is
built as above and moved into a fresh database with `migrate-storage` (timed as migrate_storage),
the baselines are hand-written PostgreSQL SQL, and backup is pg_dump (checked) against pg_dump
alone. The server is `--postgres URL` (a maintenance database; the benchmark creates and drops
bench_<size>) or, by default, a throwaway one started with scripts/pg-temp.sh.

Times are medians of --repeat runs (layer and baseline interleaved); the JSON keeps every run.
The machine is shared: the load average before and after is recorded with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from benchmarks import baseline, generate
from enrollment import db
from enrollment.db import Store
from enrollment.metrics import progress
from enrollment.uploads import ingest

ROOT = Path(__file__).resolve().parent.parent
REPORT_DAY = generate.campaign_for("city").week_end_of(generate.WEEKS)   # the 17th Friday
FILE_DAY = REPORT_DAY + dt.timedelta(days=7)                            # the next Friday
TARGETS = {
    "overview_top": ("ratio", 1.5), "overview_county": ("ratio", 1.5),
    "overview_kept": ("ratio", 1.5),
    "ingest_prepare": ("ratio", {"province": 2.0, "nation": 2.0}),
    "page_cold": ("seconds", {"province": 0.3, "nation": 1.0}),
    "page_browser": ("ratio", {"city": 1.3, "province": 1.3}),
    "commit_lock": ("seconds", {"province": 0.1}),
    "peak_rss": ("mb", {"nation": 1024}),
}


def _median(values: list[float]) -> float:
    return statistics.median(values)


class Timed(list):
    """Wall-clock seconds of each run, with the process's CPU seconds beside them (all its
    threads): on a shared machine the wall time includes waiting for a core, the CPU time not."""

    def __init__(self):
        super().__init__()
        self.cpu: list[float] = []

    def run(self, fn: Callable):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        self.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)
        return result


def paired(ours: Callable, base: Callable, repeat: int) -> tuple[Timed, Timed, object, object]:
    """Run both `repeat` times, alternating (after one untimed warm-up each)."""
    mine, theirs = ours(), base()
    a, b = Timed(), Timed()
    for _ in range(repeat):
        mine = a.run(ours)
        theirs = b.run(base)
    return a, b, mine, theirs


def _entry(name: str, size: str, ours: list[float], base: list[float] | None, baseline_name: str,
           unit: str = "s") -> dict:
    entry = {"measure": name, "unit": unit, "value": _median(ours), "runs": list(ours),
             "baseline": baseline_name}
    if getattr(ours, "cpu", None):
        entry["cpu"] = _median(ours.cpu)
        entry["cpu_runs"] = ours.cpu
    if getattr(base, "cpu", None):
        entry["baseline_cpu"] = _median(base.cpu)
    if base is not None:
        entry["baseline_value"] = _median(base)
        entry["baseline_runs"] = list(base)
        entry["ratio"] = entry["value"] / entry["baseline_value"] if entry["baseline_value"] else None
    kind, limit = TARGETS.get(name, (None, None))
    if isinstance(limit, dict):
        limit = limit.get(size)
    if kind and limit is not None:
        got = entry["ratio"] if kind == "ratio" else entry["value"]
        entry["target"] = f"≤ {limit:g}×" if kind == "ratio" else (
            f"< {limit:g} s" if kind == "seconds" else f"< {limit:g} MB")
        entry["met"] = got is not None and (got <= limit if kind == "ratio" else got < limit)
    return entry


def _same(ours: pd.DataFrame, raw: list[tuple], what: str) -> None:
    """The layer and the hand-written query must give the same figures."""
    mine = {r.code: (_int(r.enrolled), _int(r.enrolled_prev), _int(r.target))
            for r in ours.itertuples()}
    theirs = {code: (_int(e), _int(p), _int(t)) for code, _, e, p, t in raw}
    wrong = [c for c in theirs if mine.get(c) != theirs[c]]
    if wrong:
        c = wrong[0]
        raise SystemExit(f"{what}: layer and baseline disagree for {c}: {mine.get(c)} vs {theirs[c]}")


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _to_server(path: Path, size: str, server: str) -> tuple[Store, Timed]:
    """A fresh database bench_<size> on the server with the file's tables (migrate-storage)."""
    from urllib.parse import urlsplit

    import psycopg

    from enrollment.db import postgres, transfer

    name = f"bench_{size}"
    url = urlsplit(server)._replace(path="/" + name).geturl()
    postgres.close_pool(url)
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{name}"')
    moved = Timed()
    moved.run(lambda: transfer.copy_to_server(Store(path), url))
    store = Store(url)
    with store.write(bump=False) as con:
        con.run("ANALYZE")
    return store, moved


def bench_size(size: str, work: Path, repeat: int, browser: bool, pristine: Path | None,
               server: str | None = None) -> dict:
    began = time.perf_counter()
    path = work / f"{size}.duckdb"
    for stale in (path, path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    if pristine is not None and pristine.exists():
        shutil.copy(pristine, path)
        store = Store(path)
        campaign = generate.campaign_for(size)
        build_seconds = figures_seconds = None
    else:
        built = generate.build(size, path)
        store, campaign, build_seconds = built.store, built.campaign, built.seconds
        figures_seconds = built.figures_seconds
        if pristine is not None:
            shutil.copy(path, pristine)
    source, moved = store, None
    if server:
        store, moved = _to_server(path, size, server)
    bases = baseline.for_dialect(store.dialect)
    with store.read() as con:
        units = con.raw.execute("SELECT count(*) FROM units WHERE campaign_id = ?",
                            [campaign.id]).fetchone()[0]
        communities, reports = con.raw.execute(
            "SELECT count(DISTINCT unit_code), count(*) FROM reports WHERE campaign_id = ?",
            [campaign.id]).fetchone()
        deepest = db.rollup.max_depth(con, campaign.id)
        county = con.raw.execute("""
            SELECT t.parent_code FROM units v JOIN units t
              ON t.campaign_id = v.campaign_id AND t.code = v.parent_code
            WHERE v.campaign_id = ? AND v.level = 'community'
            GROUP BY t.parent_code ORDER BY count(*) DESC, t.parent_code LIMIT 1""",
            [campaign.id]).fetchone()[0]
        county_size = con.raw.execute("""
            SELECT count(*) FROM units v JOIN units t
              ON t.campaign_id = v.campaign_id AND t.code = v.parent_code
            WHERE v.campaign_id = ? AND t.parent_code = ?""", [campaign.id, county]).fetchone()[0]
        village = con.raw.execute("SELECT min(code) FROM units WHERE campaign_id = ? AND level = "
                              "'community'", [campaign.id]).fetchone()[0]
    out = {"size": size, "backend": store.dialect, "region": campaign.region_code, "units": units,
           "communities": communities, "reports": reports, "build_seconds": build_seconds,
           "figures_seconds": figures_seconds,
           "as_of": REPORT_DAY.isoformat(), "county": county, "county_communities": county_size,
           "measures": []}
    measures = out["measures"]
    if moved is not None:
        entry = _entry("migrate_storage", size, moved, None, "")
        entry.update(baseline="(none: copies and checks every table)", reports=reports)
        measures.append(entry)
    log = lambda text: print(f"  [{size}] {text}", file=sys.stderr, flush=True)  # noqa: E731

    def read(fn):
        def run():
            with store.read() as con:
                return fn(con)
        return run

    log(f"{units:,} units, {reports:,} reports; overview_top")
    ours, base, result, raw = paired(
        read(lambda con: progress.compute(con, campaign, REPORT_DAY, view=campaign.region_code)),
        read(lambda con: bases["top_level"](con, campaign.id, REPORT_DAY, deepest)), repeat)
    _same(result.children(result.total["code"]), raw, "overview_top")
    measures.append(_entry("overview_top", size, ours, base, "hand-written SQL, top level"))

    log("overview_kept")
    top = campaign.region_code
    ours, base, result, raw = paired(
        read(lambda con: progress.compute(con, campaign, REPORT_DAY, view=top)),
        read(lambda con: baseline.kept_top(con, campaign.id, top, REPORT_DAY)), repeat)
    _same(result.units, raw, "overview_kept")
    measures.append(_entry("overview_kept", size, ours, base,
                           "hand-written SELECT of the same rows from the kept tables"))
    bars = len(result.children(result.total["code"]))

    log("overview_county")
    ours, base, result, raw = paired(
        read(lambda con: progress.compute_many(con, campaign, [REPORT_DAY], root=county)),
        read(lambda con: bases["county_communities"](con, campaign.id, county, REPORT_DAY)),
        repeat)
    _same(result[result["level"] == "community"], raw, "overview_county")
    measures.append(_entry("overview_county", size, ours, base,
                           f"hand-written SQL, {county_size} communities of {county}"))

    log("trend_root")
    days = progress.report_days(campaign)
    ours, base, result, raw = paired(
        read(lambda con: progress.trend(con, campaign, campaign.region_code)),
        read(lambda con: bases["root_trend"](con, campaign.id, days)), repeat)
    expected = {d: e for d, e in raw}
    for r in result.itertuples():
        if r.as_of in expected and _int(r.enrolled) != _int(expected[r.as_of]):
            raise SystemExit(f"trend_root: {r.as_of}: {r.enrolled} vs {expected[r.as_of]}")
    measures.append(_entry("trend_root", size, ours, base, "hand-written SQL, as-of sum per week"))
    queries = _median(measures[0]["runs"]) + _median(ours)

    log("page (AppTest)")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.page", "--db", store.target, "--campaign", campaign.id,
         "--as-of", REPORT_DAY.isoformat(), "--unit", village, "--runs", str(repeat)],
        cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the page benchmark failed:\n{done.stderr[-3000:]}")
    page = json.loads(done.stdout)
    cold_runs, warm_runs = Timed(), Timed()
    cold_runs += page["cold"]
    cold_runs.cpu = page["cold_cpu"]
    warm_runs += page["warm"]
    warm_runs.cpu = page["warm_cpu"]
    cold = _entry("page_cold", size, cold_runs, None, "")
    cold.update(baseline="the page's queries (overview_top + trend_root)", baseline_value=queries,
                ratio=cold["value"] / queries, first_run=page["first"])
    measures.append(cold)
    warm = _entry("page_warm", size, warm_runs, None, "")
    warm.update(baseline="page_cold", baseline_value=cold["value"],
                ratio=warm["value"] / cold["value"])
    measures.append(warm)

    if browser and memory_available():
        log("page_browser (streamlit run + Chromium, against a bare page)")
        from benchmarks import browser as in_browser

        loads = in_browser.time_to_chart(path, campaign.id, REPORT_DAY.isoformat(), village,
                                         bars, repeat)
        ours, base = Timed(), Timed()
        ours += loads["ours"]
        base += loads["bare"]
        entry = _entry("page_browser", size, ours, base,
                       f"bare Streamlit page: 5 metrics, {bars} bars, tabs")
        measures.append(entry)

    if browser and not memory_available():
        log("peak RSS skipped: needs Playwright and /usr/bin/chromium (./scripts/test.sh installs them)")
    elif browser:
        log("peak RSS (streamlit run + Chromium)")
        from benchmarks import memory

        rss = memory.peak_rss(store.target, campaign.id, REPORT_DAY.isoformat(), county)
        entry = _entry("peak_rss", size, [rss["peak_mb"]], None, "", unit="MB")
        entry.update(baseline="the same process idle after start-up",
                     baseline_value=rss["idle_mb"], ratio=rss["peak_mb"] / rss["idle_mb"],
                     browse_seconds=rss["seconds"])
        measures.append(entry)

    log("ingest")
    region = generate.FILE_REGIONS[size]
    content, rows = generate.friday_xlsx(source, campaign, region, FILE_DAY)
    name = f"{region}-{FILE_DAY}.xlsx"

    def prepare():
        preview = ingest.preview(store, campaign.id, content, name, FILE_DAY, today=FILE_DAY)
        if preview.problems or len(preview.rows) != rows:
            raise SystemExit(f"ingest: {len(preview.rows)} of {rows} rows; {preview.problems[:3]}")
        return preview

    ours, base, _, _ = paired(
        prepare, lambda: pd.read_excel(io.BytesIO(content), engine="calamine"), repeat)
    entry = _entry("ingest_prepare", size, ours, base, "pandas + calamine read of the same file")
    entry.update(rows=rows, file_bytes=len(content))
    measures.append(entry)
    commit, held = Timed(), Timed()
    with _lock_held(store, held):
        receipt = commit.run(lambda: ingest.commit(store, campaign.id, content, name,
                                                   report_date=FILE_DAY, uploader="基准测试",
                                                   today=FILE_DAY))
    assert receipt.units == rows
    entry = _entry("ingest_commit", size, commit, base, "pandas + calamine read of the same file")
    entry.update(rows=rows)
    measures.append(entry)
    longest = Timed()          # the longest of the commit's write transactions
    at = held.index(max(held))
    longest.append(held[at])
    longest.cpu.append(held.cpu[at])
    entry = _entry("commit_lock", size, longest, None, "")
    entry.update(baseline="ingest_commit", baseline_value=_median(commit),
                 ratio=max(held) / _median(commit), transactions=list(held))
    measures.append(entry)

    log("backup")
    measures.append(_backup(store, work, size, repeat) if store.dialect == "duckdb"
                    else _dump(store, work, size, repeat))
    out["seconds"] = time.perf_counter() - began
    return out


@contextlib.contextmanager
def _lock_held(store: Store, held: Timed):
    """While inside: the seconds of each write transaction of `store` (the write lock is held
    from its start to its end) go to `held`."""
    original = store.write

    @contextlib.contextmanager
    def write(*args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            with original(*args, **kwargs) as tx:
                yield tx
        finally:
            held.append(time.perf_counter() - started)
            held.cpu.append(time.process_time() - cpu)

    store.write = write
    try:
        yield
    finally:
        del store.write


def _backup(store, work: Path, size: str, repeat: int) -> dict:
    """`backup` (checkpoint, copy the file while holding it, check the copy) against copying
    the file alone; also how long the database is held, and how long DuckDB's own
    COPY FROM DATABASE into an attached file would hold it."""
    from enrollment.db import backup

    ours, base, held = Timed(), Timed(), []
    for n in range(repeat):
        target = work / f"{size}.backup{n}.duckdb"
        result = ours.run(lambda: backup.backup(store, target))
        held.append(result.locked_seconds)
        base.run(lambda: shutil.copyfile(store.path, work / "plain-copy.duckdb"))
        target.unlink()
    (work / "plain-copy.duckdb").unlink()
    attached = work / f"{size}.attached.duckdb"
    attached.unlink(missing_ok=True)
    with store.read() as con:
        started = time.perf_counter()
        con.raw.execute(f"ATTACH '{attached}' AS copy")
        con.raw.execute(f"COPY FROM DATABASE {con.raw.execute('SELECT current_database()').fetchone()[0]} TO copy")
        con.raw.execute("DETACH copy")
        copy_from = time.perf_counter() - started
    attached.unlink()
    entry = _entry("backup", size, ours, base, "copying the file (cp)")
    entry.update(held_seconds=_median(held), held_runs=held, copy_from_database_seconds=copy_from,
                 bytes=store.path.stat().st_size)
    return entry


def _dump(store, work: Path, size: str, repeat: int) -> dict:
    """`backup` on PostgreSQL (pg_dump of one snapshot, the archive read back and checked)
    against pg_dump alone."""
    from enrollment.db import backup, dumps

    ours, base = Timed(), Timed()
    for n in range(repeat):
        target = work / f"{size}.backup{n}.dump"
        ours.run(lambda: backup.backup(store, target))
        plain = work / "plain.dump"
        base.run(lambda: subprocess.run([dumps.tool("pg_dump"), "--format=custom",
                                         f"--file={plain}", f"--dbname={store.target}"],
                                        check=True))
        size_bytes = target.stat().st_size
        target.unlink()
        plain.unlink()
    entry = _entry("backup", size, ours, base, "pg_dump alone")
    entry.update(bytes=size_bytes)
    return entry


def memory_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path("/usr/bin/chromium").exists()


def growth(results: list[dict]) -> list[dict]:
    """Time per unit of each query at each size, and its multiple of the smallest size's."""
    rows = []
    for name in ("overview_top", "trend_root", "page_cold"):
        first = None
        for r in results:
            m = next((m for m in r["measures"] if m["measure"] == name), None)
            if m is None:
                continue
            per_unit = m["value"] / r["units"] * 1e6
            first = first or per_unit
            rows.append({"measure": name, "size": r["size"], "units": r["units"],
                         "seconds": m["value"], "us_per_unit": per_unit,
                         "vs_smallest": per_unit / first})
    return rows


def machine() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    import duckdb
    import streamlit

    memory = None
    try:
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpus": os.cpu_count(), "memory_mb": memory, "platform": platform.platform(),
            "python": platform.python_version(), "duckdb": duckdb.__version__,
            "streamlit": streamlit.__version__, "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain"))}


def table(results: list[dict], grow: list[dict]) -> str:
    lines = [f"{'size':9} {'measure':16} {'ours':>10} {'(cpu)':>8} {'baseline':>10} {'ratio':>7}  "
             f"{'target':>9}  met"]
    for r in results:
        for m in r["measures"]:
            fmt = (lambda v: f"{v:,.0f} MB") if m["unit"] == "MB" else (lambda v: f"{v:.3f} s")
            base = m.get("baseline_value")
            ratio = m.get("ratio")
            cpu = f"{m['cpu']:.3f}" if "cpu" in m else ""
            lines.append(
                f"{r['size']:9} {m['measure']:16} {fmt(m['value']):>10} {cpu:>8} "
                f"{fmt(base) if base is not None else '':>10} "
                f"{f'{ratio:.2f}×' if ratio is not None else '':>7}  {m.get('target', ''):>9}  "
                f"{'' if 'met' not in m else ('yes' if m['met'] else 'NO')}")
    for r in results:
        for m in r["measures"]:
            if m["measure"] == "backup" and "held_seconds" in m:
                lines.append(f"{r['size']:9} backup held the database {m['held_seconds']:.3f} s "
                             f"({m['bytes'] / 1048576:,.0f} MB); COPY FROM DATABASE would hold it "
                             f"{m['copy_from_database_seconds']:.3f} s")
    lines.append("")
    lines.append(f"{'growth':16} {'size':9} {'units':>9} {'seconds':>9} {'µs/unit':>9} "
                 f"{'× smallest':>10}")
    for g in grow:
        lines.append(f"{g['measure']:16} {g['size']:9} {g['units']:>9,} {g['seconds']:>9.3f} "
                     f"{g['us_per_unit']:>9.2f} {g['vs_smallest']:>10.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="city,province",
                        help="comma-separated: city, province, nation (default: city,province)")
    parser.add_argument("--out", type=Path,
                        help="JSON file (default: benchmarks/results/<time>.json)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measure (default 5)")
    parser.add_argument("--no-browser", action="store_true",
                        help="skip the peak-RSS measure (needs Playwright and Chromium)")
    parser.add_argument("--backend", choices=("duckdb", "postgresql"), default="duckdb",
                        help="the engine the measures run on (default duckdb)")
    parser.add_argument("--postgres", metavar="URL",
                        help="with --backend postgresql: a server's maintenance database "
                             "(default: a throwaway server started for the run)")
    parser.add_argument("--work", type=Path,
                        help="folder for the databases; keeps a pristine copy of each size and "
                             "reuses it next time (default: a temporary folder, removed after)")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in generate.SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; choose from {', '.join(generate.SIZES)}")
    out = args.out or ROOT / "benchmarks" / "results" / f"{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    work = args.work or Path(tempfile.mkdtemp(prefix="enrollment-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report = {"started": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
              "backend": args.backend, "load_before": os.getloadavg(), "repeat": args.repeat,
              "sizes": []}
    server, throwaway = args.postgres, None
    try:
        if args.backend == "postgresql" and not server:
            throwaway = work / "postgres"
            server = subprocess.run([str(ROOT / "scripts" / "pg-temp.sh"), "start",
                                     str(throwaway)], check=True, capture_output=True,
                                    text=True).stdout.strip()
        for size in sizes:
            print(f"{size} …", file=sys.stderr, flush=True)
            pristine = work / f"{size}.pristine.duckdb" if args.work else None
            report["sizes"].append(bench_size(size, work, args.repeat, not args.no_browser,
                                              pristine, server if args.backend == "postgresql"
                                              else None))
    finally:
        if throwaway is not None:
            from enrollment.db import postgres

            postgres.close_pools()
            subprocess.run([str(ROOT / "scripts" / "pg-temp.sh"), "stop", str(throwaway)])
            shutil.rmtree(throwaway, ignore_errors=True)
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report["load_after"] = os.getloadavg()
    report["growth"] = growth(report["sizes"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    m = report["machine"]
    print(f"backend {report['backend']}; "
          f"{m['cpus']} CPUs, {m['memory_mb']:,} MB, Python {m['python']}, DuckDB {m['duckdb']}, "
          f"commit {m['commit']}{' (modified)' if m['dirty'] else ''}; load average "
          f"{report['load_before'][0]:.1f} before, {report['load_after'][0]:.1f} after")
    print(table(report["sizes"], report["growth"]))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
