"""合计, 总计 and 小计 rows: a file's own arithmetic, checked the same way in every kind of file.

A 合计/总计 row must equal, column by column, the sum of the data rows as written; a 小计 row the
sum of the rows under the same parent (the 县区 column beside 乡镇), and a 小计 is left alone when
the file has no such column. A column with an unreadable cell is not summed (that row has its
own message); an empty cell counts as 0 and an empty total cell states nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from . import cellvalues, reader
from .cellvalues import CellError
from .problems import Problem


@dataclass(frozen=True)
class Column:
    """A column to check: its role key in `reader.Row.values`, its header as messages name it,
    and how its cells are read (cellvalues.parse_count, cellvalues.parse_amount)."""

    key: str
    header: str
    parse: Callable[[object], int | float | None]


def check(table: reader.Table, columns: Iterable[Column], inner: Collection[int] = ()) -> list[Problem]:
    """The problems of the table's total rows, each naming its row.

    `inner` are data rows (by number) whose figures are already inside another row's (a
    township listed under its county): a 合计 does not add them again; a 小计 sums its group.
    """
    if not table.totals:
        return []
    columns = list(columns)
    problems: list[Problem] = []
    sums: dict[tuple[str | None, str], int | float | None] = {}
    groups: dict[str, list[reader.Row]] | None = None
    for total in table.totals:
        if reader.normalize(total.unit_text).startswith("小计"):
            group = cellvalues.cell_text(total.values.get(reader.UNIT_PARENT))
            if groups is None:
                groups = _groups(table.rows)
            rows = groups.get(group) if group else None
            if not rows:
                continue   # a subtotal of a part we cannot tell: skipped
            what = f"「{group}」小计行"
        else:
            group = None
            rows = [r for r in table.rows if r.number not in inner] if inner else table.rows
            what = "合计行"
        for column in columns:
            try:
                stated = column.parse(total.values.get(column.key))
            except CellError as exc:
                problems.append(Problem(total.number, f"{what}的「{column.header}」{exc}"))
                continue
            if stated is None:
                continue
            if (group, column.key) not in sums:
                sums[group, column.key] = _sum(rows, column)
            actual = sums[group, column.key]
            if actual is None or stated == actual:
                continue
            if isinstance(stated, float):     # an amount: both sides with two decimals
                actual = float(actual)
            problems.append(Problem(
                total.number, f"{what}的「{column.header}」为 {_number(stated)}，但各单位之和为 "
                f"{_number(actual)}，相差 {_number(stated - actual, sign=True)}；请核对各行数字或{what}"))
    return problems


def _groups(rows: list[reader.Row]) -> dict[str, list[reader.Row]]:
    """Data rows by the parent named in their row (县区 beside 乡镇)."""
    out: dict[str, list[reader.Row]] = {}
    for row in rows:
        parent = cellvalues.cell_text(row.values.get(reader.UNIT_PARENT))
        if parent:
            out.setdefault(parent, []).append(row)
    return out


def _sum(rows: list[reader.Row], column: Column) -> int | float | None:
    """The column's sum over the rows; None when a cell cannot be read."""
    total: int | float = 0
    for row in rows:
        try:
            value = column.parse(row.values.get(column.key))
        except CellError:
            return None
        if value is not None:
            total += value
    return round(total, 2) if isinstance(total, float) else total


def _number(value: int | float, sign: bool = False) -> str:
    """3,100 for counts, 3,100.50 for amounts; with `sign`, +100 or -100."""
    if isinstance(value, float):
        return f"{round(value, 2):+,.2f}" if sign else f"{value:,.2f}"
    return f"{value:+,}" if sign else f"{value:,}"
