"""分类人群: each group of a campaign (特困人员, 低保对象 … 稳定脱贫人口) against its goal, per unit.

The figures come from db/groups.py (a unit's own group figures, or the sum of its children's,
as for enrolled); the goal, the subsidy and the names from the campaign's terms. A group's
completion is enrolled ÷ its target population; a unit is below the goal when that is lower,
and 还差 is the number of people missing to the goal (万州: 100% for the low-income groups).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from .. import db
from ..campaigns.model import Campaign
from ..db import Session

ACHIEVED, BELOW, NO_POPULATION, NO_FIGURE = "已达标", "未达标", "目标人数未录入", "未上报"
COLUMNS = ("code", "name", "level", "parent_code", "depth", "position", "group_key", "group",
           "enrolled", "amount", "population", "goal", "completion", "missing", "status",
           "subsidy")


def figures(tx: Session, campaign: Campaign, as_of: dt.date, source: str = "upload",
            root: str | None = None, view: bool = False) -> pd.DataFrame:
    """Every unit under `root` (with `view`: root and its children) and every group of the
    campaign: enrolled, amount, population, goal, completion, missing, status and the subsidy
    it costs at the first tier (enrolled × subsidy per person, where the notice gives one)."""
    terms = campaign.terms
    if not terms.groups:
        return pd.DataFrame(columns=COLUMNS)
    frame = db.groups.rollup(tx, campaign.id, source, as_of, root or campaign.region_code, view)
    frame = frame[frame["group_key"].isin([g.key for g in terms.groups])].copy()
    if view:
        # Every group of every unit shown, also those without any figure yet.
        units = _view_units(tx, campaign, root or campaign.region_code)
        grid = units.merge(pd.DataFrame({"group_key": [g.key for g in terms.groups]}),
                           how="cross")
        frame = grid.merge(frame.drop(columns=[c for c in units.columns if c != "code"]),
                           on=["code", "group_key"], how="left")
    order = {g.key: i for i, g in enumerate(terms.groups)}
    by_key = {g.key: g for g in terms.groups}
    frame["group"] = frame["group_key"].map(lambda k: by_key[k].name)
    frame["goal"] = frame["group_key"].map(
        lambda k: None if by_key[k].goal is None else float(by_key[k].goal))
    enrolled = frame["enrolled"].astype("Float64")
    population = frame["population"].astype("Float64")
    frame["completion"] = (enrolled / population).where(population > 0)
    frame["missing"] = [_missing(g, p, e) for g, p, e in
                        zip(frame["goal"], frame["population"], frame["enrolled"])]
    frame["missing"] = frame["missing"].astype("Int64")
    frame["status"] = [_status(g, p, e) for g, p, e in
                       zip(frame["goal"], frame["population"], frame["enrolled"])]
    base = terms.base.yuan if terms.base else None
    per_person = {g.key: (g.subsidy(terms.base.key).per_person(base)
                          if terms.base and g.subsidy(terms.base.key) else None)
                  for g in terms.groups}
    frame["subsidy"] = [None if per_person[k] is None or pd.isna(e) else float(per_person[k]) * int(e)
                        for k, e in zip(frame["group_key"], frame["enrolled"])]
    frame["_order"] = frame["group_key"].map(order)
    frame = frame.sort_values(["depth", "position", "code", "_order"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)[list(COLUMNS)]


def _view_units(tx: Session, campaign: Campaign, root: str) -> pd.DataFrame:
    """The root and its children as rows (code, name, level, parent_code, depth, position)."""
    units = [db.units.get(tx, campaign.id, root)] + db.units.children(tx, campaign.id, root)
    return pd.DataFrame([{"code": u.code, "name": u.name, "level": u.level,
                          "parent_code": u.parent_code, "depth": u.depth, "position": i}
                         for i, u in enumerate(units) if u is not None])


def _missing(goal, population, enrolled) -> int | None:
    if goal is None or pd.isna(population):
        return None
    have = 0 if pd.isna(enrolled) else int(enrolled)
    return max(math.ceil(goal * int(population) - 1e-9) - have, 0)


def _status(goal, population, enrolled) -> str:
    if pd.isna(enrolled):
        return NO_FIGURE
    if pd.isna(population) or not population:
        return NO_POPULATION
    if goal is None:
        return ""
    return ACHIEVED if int(enrolled) >= math.ceil(goal * int(population) - 1e-9) else BELOW


def summary(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    """One unit's groups, for people: 人群, 目标人数, 已参保, 参保率 (%), 目标, 还差, 状态,
    and how many units below it miss the goal."""
    own = frame[frame["code"] == code]
    below = frame[(frame["parent_code"] == code) & (frame["status"] == BELOW)]
    counts = below.groupby("group_key").size()
    return pd.DataFrame({
        "分类人群": own["group"].values,
        "目标人数": own["population"].values,
        "已参保人数": own["enrolled"].values,
        "参保率": (own["completion"].astype("Float64") * 100).values,
        "目标参保率": [("未规定" if g is None or pd.isna(g) else f"{g:.0%}") for g in own["goal"]],
        "还差人数": own["missing"].values,
        "状态": own["status"].values,
        "未达标下级单位数": [int(counts.get(k, 0)) for k in own["group_key"]],
        "资助金额（一档测算，元）": own["subsidy"].astype("Float64").values,
    })


def by_unit(frame: pd.DataFrame, code: str, group_key: str) -> pd.DataFrame:
    """One group in the unit's children (or the unit itself), worst first."""
    rows = frame[(frame["parent_code"] == code) & (frame["group_key"] == group_key)]
    if rows.empty:
        rows = frame[(frame["code"] == code) & (frame["group_key"] == group_key)]
    out = pd.DataFrame({
        "单位": rows["name"].values,
        "目标人数": rows["population"].values,
        "已参保人数": rows["enrolled"].values,
        "参保率": (rows["completion"].astype("Float64") * 100).values,
        "还差人数": rows["missing"].values,
        "状态": rows["status"].values,
        "单位代码": rows["code"].values,
    })
    return out.sort_values("参保率", na_position="first", kind="stable").reset_index(drop=True)


def below_goal(frame: pd.DataFrame, level_codes: set[str] | None = None) -> pd.DataFrame:
    """Rows of units below a group's goal (of the given units, if any)."""
    rows = frame[frame["status"] == BELOW]
    return rows if level_codes is None else rows[rows["code"].isin(level_codes)]
