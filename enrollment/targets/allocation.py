"""The allocation tool (任务测算分解): split a total target over units by weighting columns.

Each weighting column is turned into shares (a unit's value over the column's sum); the shares of
several columns are mixed by their weights (0.5 常住人口 + 0.3 户籍人口 + 0.2 上年参保). A unit's
exact quota is the total times its share. Optional bounds keep a unit's task at least a floor
(its baseline, say) and at most a cap (its resident population, or baseline × 1.05): the quotas
are then `clamp(λ × share, floor, cap)` with the one λ that makes them add up to the total, found
exactly with fractions. Finally the quotas are rounded to the chosen step (1, 10, 100) by the
largest-remainder method, so the parts add up to the total exactly and no unit moves by a full
step or more from its quota.

The input is any table the tolerant reader understands: a unit column (name or code) and numeric
columns, addressed by their header as written (「2021年参保人数」), by role (`baseline`) or by the
role's label (上年参保人数). The output table keeps the unit columns first, then the inputs, then
the computed 任务数 and the implied growth over the baseline; as a CSV it loads as a target table.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import pandas as pd

from ..files import cellvalues, reader, sandbox
from ..files.cellvalues import CellError
from ..files.names import normalize
from ..files.problems import Problem
from ..files.reader import ReadError  # noqa: F401 — what read_base raises
from ..text import cells

TASK_HEADER = "任务数"
INCREASE_HEADER = "增加人数"
GROWTH_HEADER = "增长率"
STEPS = (1, 10, 100)
_UNIT_KEYS = ("unit_code", "unit_name")
_EXTRA = reader.EXTRA_ROLE


class AllocationError(ValueError):
    """The allocation cannot be computed; `problems` say why (in Chinese, with row numbers)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("；".join(str(p) for p in problems))


# --- the input table -----------------------------------------------------------------------

@dataclass
class BaseTable:
    """The rows of a base-data table: unit columns, then every other column as written."""

    unit_headers: dict[str, str]              # role key (unit_code / unit_name) -> header
    units: list[dict[str, str]]               # per row: role key -> text
    rows: list[int]                           # Excel row numbers
    headers: list[str]                        # the other columns, in file order
    values: dict[str, list[object]]           # header -> raw cells
    roles: dict[str, str]                     # target role key (baseline, task, …) -> header
    totals: list[tuple[int, str, dict[str, object]]] = field(default_factory=list)
    _parsed: dict[str, tuple[list[int | None], list[Problem]]] = field(
        default_factory=dict, repr=False)

    def label(self, i: int) -> str:
        """How row i names its unit: the name when there is one, else the code."""
        unit = self.units[i]
        return unit.get("unit_name") or unit.get("unit_code") or ""

    def column(self, ref: str) -> str:
        """The header a reference means: a header as written, a role key or a role label."""
        key = reader.header_key(ref)
        for header in self.headers:
            if reader.header_key(header) == key:
                return header
        if ref in self.roles:
            return self.roles[ref]
        for role in reader.TARGET_ROLES:
            if key in {reader.header_key(role.label), *role.exact} and role.key in self.roles:
                return self.roles[role.key]
        shown = "、".join(f"「{h}」" for h in self.headers) or "无"
        raise AllocationError([Problem(None, f"表中没有「{ref}」列。可用的列：{shown}")])

    def numbers(self, header: str, problems: list[Problem]) -> list[int | None]:
        """A column as head counts; unreadable cells become problems naming their row (once)."""
        if header not in self._parsed:
            out: list[int | None] = []
            found: list[Problem] = []
            for row, value in zip(self.rows, self.values[header]):
                try:
                    out.append(cellvalues.parse_count(value))
                except CellError as exc:
                    found.append(Problem(row, f"「{self.label(len(out))}」的「{header}」{exc}"))
                    out.append(None)
            self._parsed[header] = (out, found)
        out, found = self._parsed[header]
        problems.extend(p for p in found if p not in problems)
        return out

    def numeric_headers(self) -> list[str]:
        """Columns whose every filled cell is a head count: the ones that can weigh."""
        out = []
        for header in self.headers:
            try:
                parsed = [cellvalues.parse_count(v) for v in self.values[header]]
            except CellError:
                continue
            if any(v is not None for v in parsed):
                out.append(header)
        return out

    def frame(self) -> pd.DataFrame:
        data: dict[str, list] = {h: [u.get(k, "") for u in self.units]
                                 for k, h in self.unit_headers.items()}
        for header in self.headers:
            data[header] = [_display(v) for v in self.values[header]]
        return pd.DataFrame(data)


def _display(value: object) -> object:
    """A cell as shown in the output: counts as integers, everything else as text."""
    try:
        number = cellvalues.parse_count(value)
    except CellError:
        return cellvalues.cell_text(value)
    return number if number is not None else ""


def read_base(content: bytes) -> BaseTable:
    """Read a base-data table (any CSV/Excel the reader understands) in the sandbox; ReadError
    if there is none, or the file is over ENROLLMENT_MAX_UPLOAD_MB or refused by the limits."""
    return _base_table(sandbox.read(reader.read_any_table, content))


def _base_table(table: reader.Table) -> BaseTable:
    ordered = sorted(table.columns.items(), key=lambda item: item[1])
    unit_headers = {k: table.headers[k] for k, _ in ordered if k in _UNIT_KEYS}
    others = [(k, table.headers[k]) for k, _ in ordered if k not in _UNIT_KEYS]
    headers = [h for _, h in others]
    roles = {k: h for k, h in others if not k.startswith(_EXTRA)}
    units = [{k: cellvalues.cell_text(r.values.get(k)) for k in unit_headers} for r in table.rows]
    values = {h: [r.values.get(k) for r in table.rows] for k, h in others}
    totals = [(t.number, t.unit_text, {h: t.values.get(k) for k, h in others})
              for t in table.totals]
    return BaseTable(unit_headers, units, [r.number for r in table.rows], headers, values, roles,
                     totals)


# --- weights and bounds --------------------------------------------------------------------

@dataclass(frozen=True)
class Weight:
    column: str              # the reference as given (header, role key or label)
    weight: Fraction

    def __str__(self) -> str:
        return f"{self.column}={_plain(self.weight)}"


@dataclass(frozen=True)
class Bound:
    column: str
    factor: Fraction = Fraction(1)

    def __str__(self) -> str:
        return self.column if self.factor == 1 else f"{self.column}*{_plain(self.factor)}"


def _plain(value: Fraction) -> str:
    text = f"{Decimal(value.numerator) / Decimal(value.denominator):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_number(text: str, what: str) -> Fraction:
    """A weight or factor: 0.5, 50%, 1/3."""
    raw = normalize(text)
    try:
        if raw.endswith("%"):
            return Fraction(Decimal(raw[:-1])) / 100
        if "/" in raw:
            num, den = raw.split("/", 1)
            return Fraction(Decimal(num)) / Fraction(Decimal(den))
        return Fraction(Decimal(raw))
    except (InvalidOperation, ValueError, ZeroDivisionError):
        raise ValueError(f"{what}「{text}」不是数字") from None


def parse_weights(spec: str) -> list[Weight]:
    """`COLUMN[=WEIGHT],…` (weight 1 when omitted) into weights; ValueError in Chinese."""
    out: list[Weight] = []
    for part in re.split(r"[,，;；]", spec):
        part = part.strip()
        if not part:
            continue
        column, _, weight = part.partition("=")
        column = column.strip()
        if not column:
            raise ValueError(f"「{part}」缺少列名")
        value = parse_number(weight, f"「{column}」的权重") if weight.strip() else Fraction(1)
        if value < 0:
            raise ValueError(f"「{column}」的权重不能为负数")
        out.append(Weight(column, value))
    if not out:
        raise ValueError("请至少指定一个测算依据列")
    if sum(w.weight for w in out) <= 0:
        raise ValueError("权重之和应大于 0")
    return out


def parse_bound(spec: str | None) -> Bound | None:
    """`COLUMN` or `COLUMN*FACTOR` (e.g. baseline*1.05)."""
    if spec is None or not spec.strip():
        return None
    column, _, factor = spec.replace("×", "*").partition("*")
    value = parse_number(factor, "倍数") if factor.strip() else Fraction(1)
    if value < 0:
        raise ValueError(f"倍数不能为负数（{spec}）")
    return Bound(column.strip(), value)


def parse_total(text: str | int) -> int:
    """A total target as people type it: 1630000, 1,630,000, １６３００００."""
    try:
        value = cellvalues.parse_count(text)
    except CellError as exc:
        raise ValueError(f"总任务数{exc}") from None
    if value is None:
        raise ValueError("请填写总任务数")
    return value


# --- the computation -----------------------------------------------------------------------

def largest_remainder(quotas: list[Fraction], total: int) -> list[int]:
    """Integers that add up to `total`, each the floor or ceiling of its quota (Σ quotas = total).

    The units left over after flooring go to the largest fractional parts; ties go to the larger
    quota, then to the earlier row, so the result does not depend on anything but the input.
    """
    floors = [math.floor(q) for q in quotas]
    left = total - sum(floors)
    if left < 0 or left > len(quotas):
        raise ValueError("quotas do not add up to the total")
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), -quotas[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def bounded_quotas(shares: list[Fraction], total: Fraction, low: list[Fraction],
                   high: list[Fraction | None]) -> list[Fraction]:
    """clamp(λ·share, low, high) for the λ that makes them sum to `total` (exactly).

    The sum is a continuous, non-decreasing, piecewise linear function of λ; its breakpoints are
    where a unit reaches a bound. The caller checks Σlow ≤ total ≤ Σhigh.
    """
    def at(lam: Fraction) -> list[Fraction]:
        out = []
        for s, lo, hi in zip(shares, low, high):
            x = max(lam * s, lo)
            out.append(min(x, hi) if hi is not None else x)
        return out

    points = sorted({Fraction(0)} | {b / s for s, lo, hi in zip(shares, low, high) if s > 0
                                     for b in (lo, hi) if b is not None})
    sums = None
    # Binary search for the last breakpoint whose sum does not exceed the total.
    lo_i, hi_i = 0, len(points) - 1
    while lo_i < hi_i:
        mid = (lo_i + hi_i + 1) // 2
        if sum(at(points[mid])) <= total:
            lo_i = mid
        else:
            hi_i = mid - 1
    lam = points[lo_i]
    sums = sum(at(lam))
    if sums < total:
        # Between this breakpoint and the next, the free units (strictly inside their bounds just
        # above λ) grow linearly: slope = Σ their shares.
        slope = sum(s for s, lo, hi in zip(shares, low, high)
                    if s > 0 and lam * s >= lo and (hi is None or lam * s < hi))
        if slope == 0:
            raise ValueError("total is above the sum of the caps")
        lam += (total - sums) / slope
    return at(lam)


@dataclass
class Allocation:
    base: BaseTable
    total: int
    step: int
    weights: list[Weight]
    floor: Bound | None
    cap: Bound | None
    shares: list[Fraction]
    quotas: list[Fraction]                  # exact, in people
    tasks: list[int]
    baseline: list[int | None] | None       # for the growth columns
    baseline_header: str | None

    @property
    def sum(self) -> int:
        return sum(self.tasks)

    def describe(self) -> str:
        """The method in one Chinese sentence (kept as the target set's note)."""
        total = sum(w.weight for w in self.weights)
        parts = "＋".join(f"{self.base.column(w.column)}×{_plain(w.weight / total)}"
                         for w in self.weights)
        text = f"测算分解：总任务 {self.total:,}，按 {parts} 的占比分配，取整到 {self.step}（最大余数法）"
        if self.floor:
            text += f"，不低于{_bound_text(self.base, self.floor)}"
        if self.cap:
            text += f"，不高于{_bound_text(self.base, self.cap)}"
        return text

    def frame(self, growth_as_text: bool = False) -> pd.DataFrame:
        """Unit columns, the inputs (an input 任务数 becomes 原任务数), 任务数, growth."""
        out = self.base.frame()
        task_header = self.base.roles.get("task")
        if task_header:
            out = out.rename(columns={task_header: f"原{task_header}"})
        out[TASK_HEADER] = self.tasks
        if self.baseline is not None:
            increase = [t - b if b is not None else None
                        for t, b in zip(self.tasks, self.baseline)]
            growth = [(t - b) / b if b else None for t, b in zip(self.tasks, self.baseline)]
            out[INCREASE_HEADER] = pd.array(increase, dtype="Int64")
            out[GROWTH_HEADER] = ([("" if g is None else f"{g:.2%}") for g in growth]
                                  if growth_as_text else pd.array(growth, dtype="Float64"))
        return out

    def total_row(self) -> list[object]:
        """The 合计 row of the output: sums of the number columns, the total growth."""
        frame = self.frame()
        label_column = self.base.unit_headers.get("unit_name", frame.columns[0])
        out: list[object] = []
        for column in frame.columns:
            values = frame[column]
            if column == label_column:
                out.append("合计")
            elif column in self.base.unit_headers.values():
                out.append("")
            elif column == GROWTH_HEADER:
                base = sum(b for b in self.baseline or [] if b is not None)
                out.append(f"{(self.sum - base) / base:.2%}" if base else "")
            elif pd.api.types.is_integer_dtype(values) or (
                    values.map(lambda v: isinstance(v, int)).all() and len(values)):
                out.append(int(pd.array(values, dtype="Int64").sum()))
            else:
                out.append("")
        return out

    def to_csv(self, bom: bool = True) -> bytes:
        """The result as UTF-8 CSV with a 合计 row (BOM: Excel then reads the encoding right)."""
        frame = self.frame(growth_as_text=True)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(cells(frame.columns))
        for row in frame.itertuples(index=False):
            writer.writerow(cells("" if v is None or v is pd.NA else v for v in row))
        writer.writerow(cells(self.total_row()))
        return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def _bound_text(base: BaseTable, bound: Bound) -> str:
    header = base.column(bound.column)
    return header if bound.factor == 1 else f"{header}×{_plain(bound.factor)}"


def allocate(base: BaseTable, total: int, weights: list[Weight], step: int = 1,
             floor: Bound | None = None, cap: Bound | None = None) -> Allocation:
    """Split `total` over the table's units; AllocationError lists every reason it cannot."""
    problems: list[Problem] = []
    if step < 1:
        raise AllocationError([Problem(None, "取整单位应为正整数（1、10、100）")])
    if total < 0:
        raise AllocationError([Problem(None, "总任务数不能为负数")])
    if total % step:
        raise AllocationError([Problem(
            None, f"总任务数 {total:,} 不是取整单位 {step} 的整数倍，无法在取整后保持合计不变；"
                  f"请改为 {total - total % step:,} 或 {total - total % step + step:,}，或把取整单位改为 1")])
    if not base.rows:
        raise AllocationError([Problem(None, "表中没有任何单位")])
    n = len(base.rows)
    _check_units(base, problems)
    columns = [(base.column(w.column), w.weight) for w in weights]
    weight_sum = sum(w for _, w in columns)
    if weight_sum <= 0:
        raise AllocationError([Problem(None, "权重之和应大于 0")])
    shares = [Fraction(0)] * n
    for header, weight in columns:
        values = base.numbers(header, problems)
        for i, v in enumerate(values):
            if v is None and not any(p.row == base.rows[i] for p in problems):
                problems.append(Problem(base.rows[i], f"「{base.label(i)}」的「{header}」为空，无法按此列测算"))
        if any(v is None for v in values):
            continue
        column_sum = sum(values)
        if column_sum == 0:
            if weight:
                problems.append(Problem(None, f"「{header}」列全为 0，无法按此列测算"))
            continue
        for i, v in enumerate(values):
            shares[i] += Fraction(weight * v, weight_sum * column_sum) if weight else 0
    low = _bound_values(base, floor, step, problems, "floor")
    high = _bound_values(base, cap, step, problems, "cap")
    baseline_header = base.roles.get("baseline")
    baseline = base.numbers(baseline_header, problems) if baseline_header else None
    _check_totals(base, problems)
    if problems:
        raise AllocationError(problems)
    units = total // step
    low_units = [Fraction(math.ceil(Fraction(v) / step)) if v is not None else Fraction(0)
                 for v in low]
    high_units = [Fraction(math.floor(Fraction(v) / step)) if v is not None else None
                  for v in high]
    for i in range(n):
        if high_units[i] is not None and low_units[i] > high_units[i]:
            problems.append(Problem(base.rows[i], f"「{base.label(i)}」的下限 {low_units[i] * step:,} "
                                                  f"高于上限 {high_units[i] * step:,}"))
    if sum(low_units) > units:
        problems.append(Problem(None, f"各单位的下限之和 {int(sum(low_units)) * step:,} 已超过总任务数 "
                                      f"{total:,}，请提高总任务数或取消下限"))
    if all(h is not None for h in high_units) and sum(high_units) < units:
        problems.append(Problem(None, f"各单位的上限之和 {int(sum(high_units)) * step:,} 小于总任务数 "
                                      f"{total:,}，请降低总任务数或放宽上限"))
    if sum(shares) == 0 and units > sum(low_units):
        problems.append(Problem(None, "测算依据列的数值全为 0，无法分配任务数"))
    if problems:
        raise AllocationError(problems)
    quotas = bounded_quotas(shares, Fraction(units), low_units, high_units)
    tasks = [t * step for t in largest_remainder(quotas, units)]
    return Allocation(base, total, step, list(weights), floor, cap, shares,
                      [q * step for q in quotas], tasks, baseline, baseline_header)


def _check_units(base: BaseTable, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for i, row in enumerate(base.rows):
        label = normalize(base.label(i))
        if not label:
            problems.append(Problem(row, "缺少单位名称"))
        elif label in seen:
            problems.append(Problem(row, f"「{base.label(i)}」重复出现（第 {seen[label]} 行已填写）"))
        else:
            seen[label] = row


def _bound_values(base: BaseTable, bound: Bound | None, step: int, problems: list[Problem],
                  kind: str) -> list[Fraction | None]:
    if bound is None:
        return [None] * len(base.rows)
    header = base.column(bound.column)
    values = base.numbers(header, problems)
    word = "下限" if kind == "floor" else "上限"
    for i, v in enumerate(values):
        if v is None and not any(p.row == base.rows[i] for p in problems):
            problems.append(Problem(base.rows[i], f"「{base.label(i)}」的「{header}」为空，无法作为{word}"))
    return [Fraction(v) * bound.factor if v is not None else None for v in values]


def _check_totals(base: BaseTable, problems: list[Problem]) -> None:
    """A 合计 row of the input must equal the sum of the column it sums."""
    for number, label, cells in base.totals:
        if normalize(label).startswith("小计"):
            continue
        for header, value in cells.items():
            try:
                stated = cellvalues.parse_count(value)
                column = [cellvalues.parse_count(v) for v in base.values[header]]
            except CellError:
                continue
            if stated is None:
                continue
            actual = sum(v for v in column if v is not None)
            if stated != actual:
                problems.append(Problem(number, f"合计行的「{header}」为 {stated:,}，但各单位之和为 "
                                                f"{actual:,}，相差 {stated - actual:+,}"))
