"""Data-quality flags that leaders should see before they trust a number.

- 累计数下降: a unit's latest cumulative figure is lower than its previous one;
- 单周增幅异常: one week's increase exceeds a share of the unit's target (ENROLLMENT_JUMP_THRESHOLD);
- 超过任务数: enrolled above the target;
- 与下级合计不符: a unit's own report differs from the sum of its children's reports of that date.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from . import settings
from .campaigns import Campaign

DECREASE = "累计数下降"
JUMP = "单周增幅异常"
ABOVE_TARGET = "超过任务数"
MISMATCH = "与下级合计不符"


def flags(con: duckdb.DuckDBPyConnection, campaign: Campaign, as_of: dt.date,
          source: str) -> pd.DataFrame:
    """One row per (unit, flag) as of the date: code, name, level, flag, detail."""
    jump = settings.jump_threshold()
    frame = con.execute("""
        WITH latest AS (
            SELECT unit_code, report_date, arg_max(enrolled, revision) AS enrolled
            FROM reports WHERE campaign_id = $c AND source = $s AND report_date <= $as_of
            GROUP BY unit_code, report_date),
        valid AS (SELECT * FROM latest WHERE enrolled IS NOT NULL),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY unit_code ORDER BY report_date DESC) AS k
            FROM valid),
        last_two AS (
            SELECT unit_code,
                   any_value(enrolled) FILTER (WHERE k = 1) AS now_value,
                   any_value(report_date) FILTER (WHERE k = 1) AS now_date,
                   any_value(enrolled) FILTER (WHERE k = 2) AS before_value,
                   any_value(report_date) FILTER (WHERE k = 2) AS before_date
            FROM ranked WHERE k <= 2 GROUP BY unit_code),
        tgt AS (SELECT unit_code, task FROM current_targets WHERE campaign_id = $c),
        u AS (SELECT code, name, level, parent_code, depth, position FROM units
              WHERE campaign_id = $c),
        children_sum AS (   -- per parent and date: the sum of the children's own reports
            SELECT u.parent_code, v.report_date, sum(v.enrolled) AS total, count(*) AS n
            FROM valid v JOIN u ON u.code = v.unit_code
            WHERE u.parent_code IS NOT NULL GROUP BY u.parent_code, v.report_date),
        found AS (
            SELECT unit_code, $decrease AS flag,
                   strftime(before_date, '%m月%d日') || ' ' || format('{:,}', before_value) || ' → '
                   || strftime(now_date, '%m月%d日') || ' ' || format('{:,}', now_value) AS detail
            FROM last_two WHERE now_value < before_value
            UNION ALL
            SELECT l.unit_code, $jump_flag,
                   strftime(l.now_date, '%m月%d日') || '较' || strftime(l.before_date, '%m月%d日')
                   || '增加 ' || format('{:,}', l.now_value - l.before_value) || ' 人，占任务数 '
                   || printf('%.1f', 100.0 * (l.now_value - l.before_value) / t.task) || '%'
            FROM last_two l JOIN tgt t ON t.unit_code = l.unit_code
            WHERE l.now_value - l.before_value > $jump * t.task * greatest(
                      date_diff('day', l.before_date, l.now_date) / 7.0, 1.0)
            UNION ALL
            SELECT l.unit_code, $above,
                   '累计 ' || format('{:,}', l.now_value) || '，任务数 ' || format('{:,}', t.task)
            FROM last_two l JOIN tgt t ON t.unit_code = l.unit_code
            WHERE l.now_value > t.task
            UNION ALL
            SELECT l.unit_code, $mismatch,
                   strftime(l.now_date, '%m月%d日') || '上报 ' || format('{:,}', l.now_value)
                   || '，下级合计 ' || format('{:,}', c.total) || '（' || c.n || ' 个单位）'
            FROM last_two l JOIN children_sum c
              ON c.parent_code = l.unit_code AND c.report_date = l.now_date
            WHERE c.total <> l.now_value)
        SELECT u.code, u.name, u.level, f.flag, f.detail
        FROM found f JOIN u ON u.code = f.unit_code
        ORDER BY u.depth, u.position, f.flag""",
        {"c": campaign.id, "s": source, "as_of": as_of, "jump": jump,
         "decrease": DECREASE, "jump_flag": JUMP, "above": ABOVE_TARGET,
         "mismatch": MISMATCH}).df()
    return frame
