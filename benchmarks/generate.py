"""Deterministic benchmark campaigns built from the real division codes.

Sizes: city (晋城市 1405, 1,729 communities), province (山西省 14, 21,895 communities) and nation
(all 620,573 communities). Every community gets a synthetic task and 17 weekly cumulative reports
(source 'upload'), so the progress query, the page and the exports work on realistic shapes.
The figures are random (seeded) benchmark data in a throw-away database, never shipped.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from enrollment import campaigns
from enrollment.campaigns import bootstrap
from enrollment.campaigns.model import Campaign
from enrollment.db import Store
from enrollment.metrics import weekly

SIZES = {"city": "1405", "province": "14", "nation": "CN"}
# The region whose Friday file the ingest benchmark reads: every village of Shanxi (Jincheng's for
# the city size), about 22,000 rows at the province and nation sizes.
FILE_REGIONS = {"city": "1405", "province": "14", "nation": "14"}
LEVELS = {"city": ["county", "township", "community"],
          "province": ["city", "county", "township", "community"],
          "nation": ["province", "city", "county", "township", "community"]}
WEEKS = 17
START = dt.date(2021, 9, 1)
END = dt.date(2021, 12, 31)


@dataclass
class Built:
    store: Store
    campaign: Campaign
    units: int
    reports: int
    seconds: float
    figures_seconds: float      # building the kept weekly figures (as `init` does for them)


def campaign_for(size: str) -> Campaign:
    return Campaign(id=f"bench-{size}", name=f"基准测试（{size}）", programme="residents",
                    region_code=SIZES[size], start=START, end=END, goal=Decimal("0.97"),
                    levels=tuple(LEVELS[size]), source="created")


def build(size: str, path: Path, seed: int = 20211119) -> Built:
    """A fresh database at `path` with the shipped campaigns and the benchmark campaign."""
    import time

    started = time.perf_counter()
    store = Store(path)
    bootstrap.init(store)
    campaign = campaign_for(size)
    with store.write() as con:
        campaigns.create(con, campaign)
        leaves = con.raw.execute("SELECT code FROM units WHERE campaign_id = ? AND level = 'community' "
                             "ORDER BY code", [campaign.id]).fetchall()
        codes = np.array([r[0] for r in leaves])
        rng = np.random.default_rng(seed)
        tasks = rng.integers(300, 3000, size=len(codes)) // 10 * 10
        set_id = con.raw.execute("SELECT nextval('target_set_ids')").fetchone()[0]
        con.raw.execute("INSERT INTO target_sets VALUES (?, ?, 'community', ?, 'benchmark', "
                    "'基准测试数据', NULL, NULL, NULL, 'benchmark', now()::TIMESTAMP, 1)",
                    [set_id, campaign.id, campaign.region_code])
        targets = pd.DataFrame({"set_id": set_id, "campaign_id": campaign.id, "unit_code": codes,
                                "task": tasks, "baseline": None, "registered_population": None,
                                "resident_population": None, "low_income": None})
        with con.relations(bench_targets=targets):
            con.raw.execute("INSERT INTO targets SELECT set_id, campaign_id, unit_code, task, "
                        "baseline::BIGINT, registered_population::BIGINT, "
                        "resident_population::BIGINT, low_income::BIGINT FROM bench_targets")
        upload_id = con.raw.execute("SELECT nextval('upload_ids')").fetchone()[0]
        con.raw.execute("INSERT INTO uploads (id, campaign_id, kind, source, file_name, uploader, "
                    "uploaded_at, status, number) VALUES (?, ?, 'report', 'upload', '基准测试数据', "
                    "'benchmark', now()::TIMESTAMP, 'accepted', 1)", [upload_id, campaign.id])
        final = rng.uniform(0.85, 1.02, size=len(codes))
        days = [campaign.week_end_of(w) for w in range(1, WEEKS + 1)]
        shares = np.sort(rng.uniform(0, 1, size=(len(codes), WEEKS)), axis=1)
        for week, day in enumerate(days):
            enrolled = np.floor(tasks * final * shares[:, week]).astype(np.int64)
            frame = pd.DataFrame({"unit_code": codes, "enrolled": enrolled})
            with con.relations(bench_week=frame):
                con.raw.execute("INSERT INTO reports SELECT ?, 'upload', unit_code, ?, 1, enrolled, "
                            "NULL, NULL, ? FROM bench_week", [campaign.id, day, upload_id])
        units = con.raw.execute("SELECT count(*) FROM units WHERE campaign_id = ?",
                            [campaign.id]).fetchone()[0]
    # The rows above were written past the write paths: build the kept weekly figures from
    # them, as `init` and the app at start do for a database that lacks them.
    kept = time.perf_counter()
    with store.write() as con:
        weekly.rebuild(con, campaign.id)
    done = time.perf_counter()
    return Built(store, campaign, units, len(codes) * WEEKS, done - started, done - kept)


def friday_xlsx(store: Store, campaign: Campaign, region: str, day: dt.date,
                seed: int = 20211231) -> tuple[bytes, int]:
    """A Friday report as a county office fills in the template: title, 填报单位 line, header,
    then one row per community under `region` (code as text, name, parent, task, last figure,
    this week's cumulative count). Returns (content, rows)."""
    with store.read() as con:
        rows = con.raw.execute("""
            WITH RECURSIVE sub(code) AS (
                SELECT code FROM units WHERE campaign_id = $c AND code = $r
                UNION ALL
                SELECT u.code FROM units u JOIN sub ON u.parent_code = sub.code
                WHERE u.campaign_id = $c),
            last AS (
                SELECT unit_code, arg_max(enrolled, (report_date, revision)) AS enrolled
                FROM reports WHERE campaign_id = $c AND source = 'upload' AND report_date < $d
                GROUP BY unit_code)
            SELECT u.code, u.name, p.name, t.task, l.enrolled
            FROM units u JOIN sub ON sub.code = u.code
            LEFT JOIN units p ON p.campaign_id = $c AND p.code = u.parent_code
            LEFT JOIN current_targets t ON t.campaign_id = $c AND t.unit_code = u.code
            LEFT JOIN last l ON l.unit_code = u.code
            WHERE u.campaign_id = $c AND u.level = 'community'
            ORDER BY u.code""", {"c": campaign.id, "r": region, "d": day}).fetchall()
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("上报表")
    sheet.merge_range(0, 0, 0, 6, f"{campaign.name} 参保进度上报表")
    sheet.write_row(1, 0, ["填报单位：基准测试", "", "", "", f"填报日期：{day:%Y年%m月%d日}"])
    sheet.write_row(2, 0, ["序号", "单位代码", "单位名称", "上级单位", "任务数", "上次上报数",
                           "累计参保人数"])
    text = book.add_format({"num_format": "@"})
    for i, (code, name, parent, task, last) in enumerate(rows, start=1):
        r = i + 2
        sheet.write_number(r, 0, i)
        sheet.write_string(r, 1, code, text)
        sheet.write_string(r, 2, name)
        sheet.write_string(r, 3, parent or "")
        sheet.write_number(r, 4, int(task or 0))
        sheet.write_number(r, 5, int(last or 0))
        # A week's growth, within the over-target margin (no warning to confirm).
        grown = min(int(last or 0) + int(rng.integers(0, 40)), int((task or 0) * 1.1))
        sheet.write_number(r, 6, max(grown, int(last or 0)))
    book.close()
    return buffer.getvalue(), len(rows)
