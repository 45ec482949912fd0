"""Money collected (征缴金额) against what the enrolled owe (应缴金额).

应缴金额 = enrolled × the campaign's first-tier contribution (晋城: 320 元; 万州: 一档 320 元),
people of a group with a contribution of its own (students: 280 元) at theirs, where the report
gives them. A campaign whose notice gives no contribution has no 应缴金额 (None), and says so.
The share is 征缴金额 ÷ 应缴金额: above 100% where people pay a higher tier (万州 二档 695 元).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from ..campaigns.terms import Terms


def add_expected(frame: pd.DataFrame, terms: Terms,
                 groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """The frame with `expected_amount` (first tier) and `amount_share` columns.

    `groups` (code, as_of?, group_key, enrolled), when given, puts the people of groups with a
    contribution of their own at their own first tier.
    """
    base = terms.base
    if base is None:
        frame["expected_amount"] = pd.Series(pd.NA, index=frame.index, dtype="Float64")
    else:
        enrolled = frame["enrolled"].astype("Float64")
        expected = enrolled * float(base.yuan)
        own = [g for g in terms.groups if g.contribution]
        if groups is not None and len(groups) and own:
            keys = ["code", "as_of"] if "as_of" in frame and "as_of" in groups else ["code"]
            for group in own:
                part = groups[groups["group_key"] == group.key]
                if part.empty:
                    continue
                counts = frame[keys].merge(part[keys + ["enrolled"]], on=keys, how="left")
                counts = counts["enrolled"].astype("Float64").fillna(0).to_numpy()
                expected = expected + counts * (float(group.contribution[0].yuan) - float(base.yuan))
        frame["expected_amount"] = expected
    amount = frame["amount"].astype("Float64")
    expected = frame["expected_amount"].astype("Float64")
    frame["amount_share"] = (amount / expected).where(expected > 0)
    return frame


def wan(value) -> str:
    """An amount in 元 as people read it: 万元 from 10 万 on (9,920.00万元), else 元."""
    if value is None or pd.isna(value):
        return "—"
    value = float(value)
    if abs(value) >= 100_000:
        return f"{value / 10_000:,.2f}万元"
    return f"{value:,.2f}元"


def basis(terms: Terms) -> str:
    """How 应缴金额 is reckoned, in words (按 320 元/人测算)."""
    base = terms.base
    if base is None:
        return "缴费标准未载明，未测算应缴金额"
    tier = "" if len(terms.tiers) == 1 else base.name
    own = "、".join(f"{g.name}{_yuan(g.contribution[0].yuan)}元" for g in terms.groups
                    if g.contribution)
    return (f"按{tier}{_yuan(base.yuan)}元/人测算" + (f"（{own}）" if own else ""))


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")
