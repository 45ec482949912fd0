"""The checks of an upload against what the campaign's definition says (campaigns/terms.py and
the windows of units): amounts against 应缴金额, the groups (分类人群) against the row's count,
each other and their target populations, the days on which payment is possible, and each unit's
own window. `ingest.check` calls them; they only add problems to the preview.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .. import db, settings
from ..campaigns.model import Campaign
from ..campaigns.terms import known_groups
from ..db import Session
from ..files import cellvalues, matching, reader
from ..files.cellvalues import CellError
from ..files.problems import WARNING, Problem
from .preview import Preview, ReportRow


def roles() -> tuple[reader.Role, ...]:
    """The columns an upload may have: the usual ones and a count (and amount) for every group a
    campaign can define (campaigns/terms.known_groups); `campaign_groups` then keeps the
    campaign's own."""
    return reader.REPORT_ROLES + reader.group_roles(known_groups(), "report")


def campaign_groups(table: reader.Table, campaign: Campaign) -> None:
    """Drop the columns of groups the campaign does not have (they are other columns to it)."""
    keys = {g.key for g in campaign.terms.groups}
    for column in [c for c in table.columns if c.startswith((reader.GROUP, reader.GROUP_AMOUNT))]:
        if column.split(":", 1)[1] not in keys:
            del table.columns[column]
            table.ignored_columns.append(table.headers.pop(column))


def cell_message(name: str, label: str, exc: CellError) -> str:
    if exc.kind == "negative":
        return f"「{name}」的{label}为 {exc.text}，不能为负数"
    if exc.kind == "fraction":
        return f"「{name}」的{label}为 {exc.text}，人数应为整数"
    return f"「{name}」的{label}{exc}"


def group_values(row: reader.Row, table: reader.Table, name: str,
                 problems: list[Problem]) -> tuple[dict[str, tuple], bool]:
    """A row's groups as read: key -> (count, amount), and whether every cell could be read."""
    found: dict[str, list] = {}
    ok = True
    for column in table.columns:
        kind = next((k for k in (reader.GROUP, reader.GROUP_AMOUNT) if column.startswith(k)), None)
        if kind is None:
            continue
        parse = cellvalues.parse_count if kind == reader.GROUP else cellvalues.parse_amount
        try:
            value = parse(row.values.get(column))
        except CellError as exc:
            problems.append(Problem(row.number, cell_message(name, table.headers[column], exc)))
            ok = False
            continue
        found.setdefault(column[len(kind):], [None, None])[0 if kind == reader.GROUP else 1] = value
    return {k: tuple(v) for k, v in found.items() if v != [None, None]}, ok


def unit_windows(preview: Preview, campaign: Campaign, parents: dict) -> None:
    """A unit with a window of its own (or under one) reports only inside it."""
    day = preview.report_date
    if not campaign.unit_windows or day is None:
        return
    for r in preview.rows:
        path = [r.code, *matching.ancestors(r.code, parents)][::-1]
        window = campaign.window_of(path)
        if not window.in_window(day):
            owner = next((campaign.own_window(c) for c in reversed(path)
                          if campaign.own_window(c)), None)
            why = f"（{owner.reason}）" if owner and owner.reason else ""
            preview.problems.append(Problem(
                r.row, f"「{r.name}」的集中参保期为 {window.start} 至 {window.end}{why}，"
                       f"上报日期 {day} 不在其内", unit=r.code))


def groups(tx: Session, preview: Preview, campaign: Campaign,
                  table: reader.Table) -> None:
    """Groups (分类人群) and the low-income total against the row's count, each other and
    their target populations; a group column left empty while others are filled."""
    terms = campaign.terms
    low_keys = [g.key for g in terms.low_income_groups]
    low_label = table.headers.get("low_income_enrolled", "低收入人口参保人数")
    populations = db.groups.current_targets(tx, campaign.id) if preview.rows else {}
    low_targets = (db.targets.current_values(tx, campaign.id)
                   if any(r.low_income_enrolled is not None for r in preview.rows) else {})
    for r in preview.rows:
        for key, (count, _) in r.groups.items():
            group = terms.group(key)
            label = table.headers.get(reader.GROUP + key, key)
            if count is not None and count > r.enrolled:
                preview.problems.append(Problem(
                    r.row, f"「{r.name}」{label} {count:,} 大于累计参保人数 {r.enrolled:,}，"
                           "分类人群是参保人的一部分，请核对", unit=r.code))
            population = populations.get((r.code, key))
            if count is not None and population is not None and count > population:
                preview.problems.append(Problem(
                    r.row, f"「{r.name}」{label} {count:,} 超过该单位{group.name if group else key}"
                           f"目标人数 {population:,}，请确认", WARNING, r.code))
        if r.low_income_enrolled is not None and r.low_income_enrolled > r.enrolled:
            preview.problems.append(Problem(
                r.row, f"「{r.name}」{low_label} {r.low_income_enrolled:,} 大于累计参保人数 "
                       f"{r.enrolled:,}，低收入人口是参保人的一部分，请核对", unit=r.code))
        target = low_targets.get(r.code)
        if r.low_income_enrolled is not None and target and target[4] is not None \
                and r.low_income_enrolled > target[4]:
            preview.problems.append(Problem(
                r.row, f"「{r.name}」{low_label} {r.low_income_enrolled:,} 超过低收入人口数 "
                       f"{target[4]:,}，请确认", WARNING, r.code))
        _low_income_total(preview, r, low_keys, low_label, terms)
    _empty_group_columns(preview, table)


def _low_income_total(preview: Preview, r: ReportRow, low_keys: list[str], label: str,
                      terms) -> None:
    """The low-income groups are one identity each (就高身份): their sum is the low-income
    total. It fills a missing total when every group has a figure, and must not exceed it."""
    counts = [r.groups[k][0] for k in low_keys if k in r.groups and r.groups[k][0] is not None]
    if not counts:
        return
    total = sum(counts)
    if total > r.enrolled:
        preview.problems.append(Problem(
            r.row, f"「{r.name}」各类低收入人口参保人数之和 {total:,} 大于累计参保人数 "
                   f"{r.enrolled:,}，请核对", unit=r.code))
        return
    complete = len(counts) == len(low_keys)
    if r.low_income_enrolled is None:
        if complete:
            r.low_income_enrolled = total
        return
    if total > r.low_income_enrolled or (complete and total != r.low_income_enrolled):
        names = "、".join(terms.group(k).name for k in low_keys if k in r.groups)
        preview.problems.append(Problem(
            r.row, f"「{r.name}」{names}参保人数之和 {total:,} 与{label} "
                   f"{r.low_income_enrolled:,} 不一致，请核对", WARNING, r.code))


def _empty_group_columns(preview: Preview, table: reader.Table) -> None:
    """A group's column with no figure in any row while other groups' columns have some: a
    column left out by mistake, or one that should say 0."""
    columns = [c for c in table.columns if c.startswith(reader.GROUP)]
    filled = {key for r in preview.rows for key, (count, _) in r.groups.items()
              if count is not None}
    if not filled:
        return
    for column in columns:
        if column[len(reader.GROUP):] not in filled:
            preview.problems.append(Problem(
                None, f"「{table.headers[column]}」列全部为空，而其他分类人群列已填写。"
                      "如该类人群确无参保人，请填 0；留空则本次不上报该类人群", WARNING))


def amounts(preview: Preview, campaign: Campaign) -> None:
    """An amount far from what the row's people owe (enrolled × contribution, campaigns/terms):
    5 元 for 310,000 people is a unit typed in 万元 or a wrong column, not money collected."""
    terms = campaign.terms
    if not terms.known:
        return
    margin = Decimal(str(settings.amount_margin()))
    for r in preview.rows:
        for label, enrolled, amount, groups, group in _amount_checks(r, terms):
            expected = terms.expected_range(enrolled, groups) if group is None else tuple(
                v * enrolled for v in terms.contribution_range(group))
            message = _amount_message(r.name, label, enrolled, Decimal(str(amount)), expected,
                                      margin, terms, group)
            if message:
                preview.problems.append(Problem(r.row, message, WARNING, r.code))


def _amount_checks(r: ReportRow, terms):
    """(label, enrolled, amount, group counts, group) of each amount a row gives."""
    if r.amount is not None:
        counts = {k: v[0] for k, v in r.groups.items() if v[0] is not None}
        yield "缴费金额", r.enrolled, r.amount, counts, None
    for key, (enrolled, amount) in r.groups.items():
        group = terms.group(key)
        if amount is not None and enrolled is not None and group is not None:
            yield f"{group.name}缴费金额", enrolled, amount, None, group


def _amount_message(name: str, label: str, enrolled: int, amount: Decimal,
                    expected: tuple[Decimal, Decimal], margin: Decimal, terms,
                    group=None) -> str | None:
    lo, hi = expected
    if lo * (1 - margin) <= amount <= hi * (1 + margin):
        return None
    people = f"{enrolled:,} 人"
    if hi == 0:
        return f"「{name}」{label} {amount:,.2f} 元，但参保人数为 0，请核对"
    tiers = group.contribution if group is not None and group.contribution else terms.tiers
    if lo == hi:
        standard = f"{tiers[0].yuan:,.0f} 元" if len({t.yuan for t in tiers}) == 1 else ""
        basis = f"按 {people} × {standard}测算" if standard else f"按 {people}测算"
        bound, should = lo, f"应为 {lo:,.2f} 元"
    else:
        low, high = min(tiers, key=lambda t: t.yuan), max(tiers, key=lambda t: t.yuan)
        basis = f"按 {people}测算"
        bound = lo if amount < lo else hi
        should = (f"应在 {lo:,.2f} 元（{low.name} {low.yuan:,.0f} 元）至 {hi:,.2f} 元"
                  f"（{high.name} {high.yuan:,.0f} 元）之间")
    off = abs(amount - bound) / bound
    return (f"「{name}」{label} {amount:,.2f} 元，{basis}{should}，相差 {off:.1%}"
            f"（超过 {margin:.0%}），请核对金额（单位为元）和人数")


def payment_days(preview: Preview, campaign: Campaign, r: ReportRow) -> Problem | None:
    """More people than the last report although no payment day came between (晋城: payment
    only on days 1-25 of each month): a wrong report date, or a figure copied forward wrongly."""
    days = campaign.terms.payment_days
    if days is None or r.previous is None or r.enrolled <= r.previous:
        return None
    if days.any_between(r.previous_date, preview.report_date):
        return None
    first = r.previous_date + dt.timedelta(days=1)
    return Problem(
        r.row, f"「{r.name}」累计参保人数较 {r.previous_date}（{r.previous:,}）增加 "
               f"{r.enrolled - r.previous:,}，但 {first} 至 {preview.report_date} 没有缴费日"
               f"（{days.describe()}可办理缴费），请核对上报日期和数字", WARNING, r.code)
