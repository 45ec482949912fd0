"""Benchmark: a whole week's export in one batch against one cold chart image.

    .venv/bin/python benchmarks/export_batch.py [--level county|township|community] [--repeat N]

Builds a throw-away database with the Jincheng demo data, then measures, at 2021-11-19:

1. one cold image: `fig.to_image()` as plotly does it without a running server, which starts
   Chromium, renders one PNG and closes it (the cost every image would pay with one browser per
   image);
2. the batch: `bundles.build` of every format (PNG, SVG, PDF of both charts, the ranking PNG for
   Word, Excel, Word, one 张榜 PDF per unit of the level and the combined one).

It prints the times, the ratio of batch time to one cold image, and how many browsers the batch
started: counted by the Renderer and by watching this process's child processes (psutil). It
exits 1 if the batch started more than one browser. Results also go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from enrollment.export import bundles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2021, 11, 19)


class BrowserWatch:
    """Distinct Chromium browsers started below this process while it runs: Chromium processes
    whose parent is not Chromium (renderers, zygotes and helpers are children of the browser)."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        try:
            import psutil
            self._me = psutil.Process()
        except ImportError:
            self._me = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for child in self._me.children(recursive=True):
                    try:
                        if child.pid in self.pids or "chrom" not in child.name().lower():
                            continue
                        if "chrom" not in child.parent().name().lower():
                            self.pids.add(child.pid)
                    except Exception:   # noqa: BLE001 - a process may end while we look
                        pass
            except Exception:   # noqa: BLE001
                pass
            time.sleep(0.02)

    def __enter__(self):
        if self._me is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._me is not None:
            self._thread.join()

    @property
    def count(self) -> int | None:
        return len(self.pids) if self._me is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", default="county", help="level of the ranked and posted units")
    parser.add_argument("--repeat", type=int, default=1, help="batches to time (the best counts)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="export-bench-"))
    os.environ["ENROLLMENT_DB"] = str(folder / "bench.duckdb")
    from enrollment import campaigns
    from enrollment.campaigns import bootstrap, demo
    from enrollment.db import Store
    from enrollment.export import model as exports
    from enrollment.export import render

    problem = render.chromium_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    store = Store(folder / "bench.duckdb")
    bootstrap.init(store)
    campaign = campaigns.load(store, "jincheng-2022-residents")
    demo.generate(store, campaign)
    with store.read() as con:
        data = exports.gather(con, campaign, AS_OF, "demo", level=args.level)
    ranking = exports.ranking_chart(data) or exports.trend_chart(data)   # townships: no tasks

    # 1. One cold image, the way plotly makes one without a running server.
    import plotly.io as pio  # noqa: F401 - imported before timing, like the batch's modules
    with BrowserWatch() as cold_watch:
        start = time.perf_counter()
        png = ranking.figure.to_image(format="png", width=ranking.width, height=ranking.height,
                                      scale=exports.PNG_SCALE)
        cold = time.perf_counter() - start
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    # 2. The whole week's export, best of --repeat.
    times = []
    for _ in range(args.repeat):
        launches = render.Renderer.launches
        with BrowserWatch() as watch:
            start = time.perf_counter()
            bundle = bundles.build(data)
            times.append(time.perf_counter() - start)
        started = render.Renderer.launches - launches
    batch = min(times)
    if bundle.failures:
        print(bundles.failure_message(bundle), file=sys.stderr)
        return 1
    kinds = {k: len(bundle.of(k)) for k in bundles.FORMATS}
    images = kinds["png"] + kinds["svg"] + kinds["pdf"] + (exports.ranking_chart(data) is not None)
    pages = kinds["board"]
    rendered = images + pages
    result = {
        "as_of": AS_OF.isoformat(), "level": args.level, "units": len(data.units),
        "cold_image_s": round(cold, 3), "batch_s": round(batch, 3), "batch_runs_s": [round(t, 3) for t in times],
        "files": len(bundle.files), "by_kind": kinds, "browser_renders": rendered,
        "ratio_batch_to_cold_image": round(batch / cold, 2),
        "one_browser_per_render_estimate_s": round(rendered * cold, 1),
        "browsers_started_by_renderer": started, "browser_processes_seen": watch.count,
        "cold_image_browser_processes_seen": cold_watch.count,
        "cpu_count": os.cpu_count(),
    }
    print(f"one cold image (plotly to_image, own browser): {cold:.2f} s")
    print(f"batch export ({len(data.units)} {args.level} units, {len(bundle.files)} files: "
          f"{images} images, {pages} board PDFs, Excel, Word): {batch:.2f} s")
    print(f"ratio batch / one cold image: {batch / cold:.2f} "
          f"(one browser per render would be about {rendered} × {cold:.2f} = {rendered * cold:.0f} s)")
    print(f"browsers started by the batch: {started} (Renderer), "
          f"{watch.count if watch.count is not None else 'psutil missing: not watched'} (child processes seen)")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"export_batch-{args.level}.json").write_text(json.dumps(result, indent=2) + "\n")
    if started != 1 or (watch.count is not None and watch.count > 1):
        print("FAIL: the batch started more than one browser", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
