"""Target populations per group (分类人群) in target tables: the columns a campaign's table may
have (one population per group of its definition), their checks against the task and the
low-income total, and the populations beside the current targets for people."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .. import campaigns, db
from ..campaigns.terms import known_groups
from ..db import Session
from ..files import reader
from ..files.problems import WARNING, Problem

if TYPE_CHECKING:   # tables.py imports this module
    from .tables import TargetTable


def roles() -> tuple[reader.Role, ...]:
    """The columns a target table may have: the usual ones and a population for every group a
    campaign can define (campaigns/terms.known_groups); `campaign_groups` keeps the campaign's."""
    return reader.TARGET_ROLES + reader.group_roles(known_groups(), "target")


def campaign_groups(table: reader.Table, campaign: campaigns.Campaign) -> None:
    """Drop the columns of groups the campaign does not have."""
    keys = {g.key for g in campaign.terms.groups}
    for column in [c for c in table.columns if c.startswith(reader.GROUP)]:
        if column[len(reader.GROUP):] not in keys:
            del table.columns[column]
            table.ignored_columns.append(table.headers.pop(column))


def checks(table: TargetTable, campaign: campaigns.Campaign) -> None:
    """Group populations against the task and the low-income total: a group is part of the
    population, and the low-income groups (one identity each) add up to the low-income total
    (filled in from them when the table gives every one and no total)."""
    terms = campaign.terms
    low_keys = [g.key for g in terms.low_income_groups]
    for r in table.rows:
        for key, population in r.groups.items():
            group = terms.group(key)
            if population > r.task:
                table.problems.append(Problem(
                    r.row, f"「{r.name}」{group.name if group else key}人数 {population:,} 大于任务数 "
                           f"{r.task:,}，请确认", WARNING, r.code))
        low = [r.groups[k] for k in low_keys if k in r.groups]
        if not low:
            continue
        if r.low_income is None and len(low) == len(low_keys):
            r.low_income = sum(low)
        elif r.low_income is not None and (sum(low) > r.low_income or (
                len(low) == len(low_keys) and sum(low) != r.low_income)):
            table.problems.append(Problem(
                r.row, f"「{r.name}」各类低收入人口数之和 {sum(low):,} 与低收入人口数 "
                       f"{r.low_income:,} 不一致，请确认", WARNING, r.code))


def with_groups(tx: Session, campaign: campaigns.Campaign, frame: pd.DataFrame,
                set_id: int | None = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Target rows (column `code`) with one column per group of the campaign that has a
    population: 特困人员人数 …; the current populations, or those of version `set_id`."""
    if not campaign.terms.groups or frame.empty:
        return frame, ()
    if set_id is None:
        found = [(code, key, population) for (code, key), population
                 in db.groups.current_targets(tx, campaign.id).items()]
    else:
        found = list(db.groups.set_targets(tx, campaign.id, set_id).itertuples(index=False))
    out, columns = frame.copy(), []
    for group in campaign.terms.groups:
        values = {code: population for code, key, population in found if key == group.key}
        if values:
            column = f"{group.name}人数"
            out[column] = out["code"].map(values).astype("Int64")
            columns.append(column)
    return out, tuple(columns)
