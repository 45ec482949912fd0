"""The allocation tool: weights, rounding by largest remainder, bounds, and the Jincheng check."""

import csv
import io
from fractions import Fraction

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from enrollment.cli import cli
from enrollment.targets import allocation
from enrollment.targets.allocation import AllocationError, Bound, Weight

from .fixtures import ROOT, csv_bytes, xlsx_bytes

# 晋市医保发〔2021〕20号, attachment 2: 2022 task as published.
PUBLISHED = {"城区": 188000, "泽州": 404760, "高平": 373650, "阳城": 292300, "陵川": 213360,
             "沁水": 157930}
JINCHENG_TABLE = ROOT / "data" / "targets" / "jincheng-2022-residents-counties.csv"


def rows_of(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_jincheng_tasks_are_reproduced_from_the_2021_column_within_10(tmp_path):
    out = tmp_path / "tasks.csv"
    result = CliRunner().invoke(cli, ["allocate", str(JINCHENG_TABLE), "--total", "1630000",
                                      "--by", "2021年参保人数", "--round", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    content = out.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")                    # UTF-8 with BOM for Excel
    rows = rows_of(content)
    header = list(rows[0])
    assert header[:2] == ["单位代码", "县区"]                        # the unit columns first
    assert header[2:5] == ["2021年参保人数", "原2022年任务数", "任务数"]   # inputs, then the task
    counties = [r for r in rows if r["县区"] != "合计"]
    computed = {r["县区"]: int(r["任务数"]) for r in counties}
    assert set(computed) == set(PUBLISHED)
    assert sum(computed.values()) == 1630000
    assert all(v % 10 == 0 for v in computed.values())
    assert all(abs(computed[k] - PUBLISHED[k]) <= 10 for k in PUBLISHED), computed
    total = next(r for r in rows if r["县区"] == "合计")
    assert int(total["任务数"]) == 1630000 and int(total["2021年参保人数"]) == 1622538
    # The growth is implied by the baseline: about 0.46 % everywhere, as in the notice.
    assert {r["增长率"] for r in counties} == {"0.46%"}


def test_largest_remainder_goes_to_the_largest_fractions():
    quotas = [Fraction(18800266, 1000), Fraction(40475292, 1000), Fraction(37364753, 1000),
              Fraction(29229510, 1000), Fraction(21336175, 1000), Fraction(15794004, 1000)]
    total = 163000
    quotas = [q * total / sum(quotas) for q in quotas]
    parts = allocation.largest_remainder(quotas, total)
    assert sum(parts) == total
    assert all(abs(p - q) < 1 for p, q in zip(parts, quotas))


def test_ties_are_broken_by_the_larger_quota_then_the_earlier_row():
    assert allocation.largest_remainder([Fraction(1, 2)] * 4, 2) == [1, 1, 0, 0]
    assert allocation.largest_remainder([Fraction(3, 2), Fraction(1, 2), Fraction(1)], 3) == [2, 0, 1]


def base(rows, headers=("社区", "上年参保人数", "户籍人口数", "常住人口数")) -> allocation.BaseTable:
    return allocation.read_base(csv_bytes([list(headers), *rows]))


def test_weights_mix_the_shares_of_several_columns():
    table = base([["甲", 100, 300, 0], ["乙", 300, 100, 100]])
    result = allocation.allocate(
        table, 1000, [Weight("常住人口数", Fraction(1, 2)), Weight("户籍人口数", Fraction(1, 2))])
    # 甲: 0.5 × 0 + 0.5 × 0.75 = 0.375; 乙: 0.5 × 1 + 0.5 × 0.25 = 0.625
    assert result.tasks == [375, 625]
    same = allocation.allocate(
        table, 1000, allocation.parse_weights("resident_population=50%,户籍人口=50%"))
    assert same.tasks == result.tasks          # by role key and by label, percent weights


def test_weights_given_as_any_scale_are_normalised():
    table = base([["甲", 100, 300, 200], ["乙", 300, 100, 200]])
    a = allocation.allocate(table, 10000, allocation.parse_weights("常住人口数=5,户籍人口数=3,上年参保人数=2"))
    b = allocation.allocate(table, 10000, allocation.parse_weights("常住人口数=0.5,户籍人口数=0.3,上年参保人数=0.2"))
    assert a.tasks == b.tasks and sum(a.tasks) == 10000


def test_floor_keeps_every_task_at_least_the_baseline():
    # By resident population alone (shares 0.6 / 0.3 / 0.1) 丙 would get 1,000; its baseline is
    # 2,000. With the floor 丙 gets 2,000 and the other 8,000 are split 2 : 1 (5,333⅓ / 2,666⅔),
    # then rounded to 10: 533 + 266 = 799 of 800 tens, the last ten to the larger fraction (乙).
    table = base([["甲", 5000, 0, 6000], ["乙", 2000, 0, 3000], ["丙", 2000, 0, 1000]])
    free = allocation.allocate(table, 10000, allocation.parse_weights("常住人口数"), 10)
    assert free.tasks == [6000, 3000, 1000]
    floored = allocation.allocate(table, 10000, allocation.parse_weights("常住人口数"), 10,
                                  floor=Bound("上年参保人数"))
    assert floored.tasks == [5330, 2670, 2000]
    assert "不低于上年参保人数" in floored.describe()


def test_cap_limits_growth_and_the_rest_goes_to_the_others():
    table = base([["甲", 1000, 0, 9000], ["乙", 1000, 0, 1000]])
    result = allocation.allocate(table, 2200, allocation.parse_weights("常住人口数"), 1,
                                 cap=allocation.parse_bound("上年参保人数*1.2"))
    assert result.tasks == [1200, 1000]
    assert "不高于上年参保人数×1.2" in result.describe()


def test_impossible_bounds_are_explained():
    table = base([["甲", 1000, 0, 1], ["乙", 1000, 0, 1]])
    with pytest.raises(AllocationError) as floor:
        allocation.allocate(table, 1500, allocation.parse_weights("常住人口数"), floor=Bound("上年参保人数"))
    assert "下限之和 2,000 已超过总任务数 1,500" in str(floor.value)
    with pytest.raises(AllocationError) as cap:
        allocation.allocate(table, 2500, allocation.parse_weights("常住人口数"), cap=Bound("上年参保人数"))
    assert "上限之和 2,000 小于总任务数 2,500" in str(cap.value)


def test_a_total_that_is_not_a_multiple_of_the_step_is_refused():
    with pytest.raises(AllocationError) as exc:
        allocation.allocate(base([["甲", 1, 1, 1]]), 1005, allocation.parse_weights("上年参保人数"), 10)
    assert "不是取整单位 10 的整数倍" in str(exc.value) and "1,000 或 1,010" in str(exc.value)


def test_bad_cells_are_reported_with_their_rows():
    table = base([["甲", 100, 1, 1], ["乙", "很多", 1, 1], ["丙", -5, 1, 1], ["丁", "", 1, 1],
                  ["甲", 7, 1, 1]])
    with pytest.raises(AllocationError) as exc:
        allocation.allocate(table, 1000, allocation.parse_weights("上年参保人数"))
    text = "\n".join(str(p) for p in exc.value.problems)
    assert "第 3 行：「乙」的「上年参保人数」「很多」不是数字" in text
    assert "第 4 行" in text and "负数" in text
    assert "第 5 行：「丁」的「上年参保人数」为空" in text
    assert "第 6 行：「甲」重复出现（第 2 行已填写）" in text


def test_unknown_column_lists_the_columns_there_are():
    with pytest.raises(AllocationError) as exc:
        allocation.allocate(base([["甲", 1, 1, 1]]), 10, allocation.parse_weights("人口"))
    assert "表中没有「人口」列" in str(exc.value) and "「常住人口数」" in str(exc.value)


def test_columns_no_role_knows_can_weigh_too():
    # Only a unit column and an unrecognised number column: still a table.
    table = allocation.read_base(csv_bytes([["镇街", "近三年平均参保人数"], ["甲", 300], ["乙", 100]]))
    assert table.headers == ["近三年平均参保人数"]
    assert allocation.allocate(table, 400, allocation.parse_weights("近三年平均参保人数")).tasks == [300, 100]


def test_excel_input_with_title_rows_and_a_total_row():
    content = xlsx_bytes([["周家坝街道基础数据"], [], ["社区", "户籍人口数", "常住人口数", "备注"],
                          ["天子湖", 3000, 4000, "新建小区"], ["天生城", 1000, 2000, ""],
                          ["合计", 4000, 6000, ""]])
    table = allocation.read_base(content)
    assert table.rows == [4, 5] and table.headers == ["户籍人口数", "常住人口数", "备注"]
    result = allocation.allocate(table, 6000, allocation.parse_weights("常住人口数"))
    assert result.tasks == [4000, 2000]
    assert result.frame()["备注"].tolist() == ["新建小区", ""]


def test_a_wrong_total_row_in_the_input_is_an_error():
    table = allocation.read_base(csv_bytes([["社区", "常住人口数"], ["甲", 10], ["乙", 20], ["合计", 31]]))
    with pytest.raises(AllocationError) as exc:
        allocation.allocate(table, 30, allocation.parse_weights("常住人口数"))
    assert "第 4 行：合计行的「常住人口数」为 31，但各单位之和为 30" in str(exc.value)


def test_cli_allocate_errors_exit_1_and_write_nothing(tmp_path):
    source = tmp_path / "base.csv"
    source.write_bytes(csv_bytes([["社区", "上年参保人数"], ["甲", "abc"]]))
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["allocate", str(source), "--total", "100", "--by",
                                      "上年参保人数", "--out", str(out)])
    assert result.exit_code == 1 and "第 2 行" in result.output and "不是数字" in result.output
    assert not out.exists()
    bad_weight = CliRunner().invoke(cli, ["allocate", str(source), "--total", "100", "--by",
                                          "上年参保人数=很多"])
    assert bad_weight.exit_code == 1 and "权重「很多」不是数字" in bad_weight.output


def test_cli_allocate_to_standard_output_without_bom(tmp_path):
    source = tmp_path / "base.csv"
    source.write_bytes(csv_bytes([["社区", "上年参保人数"], ["甲", 1], ["乙", 3]]))
    result = CliRunner().invoke(cli, ["allocate", str(source), "--total", "1,000", "--by",
                                      "上年参保人数", "--round", "100"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("社区,上年参保人数,任务数")
    rows = rows_of(result.stdout.encode())
    # 250 / 750 are 2.5 / 7.5 hundreds: the tie goes to the larger quota.
    assert [(r["社区"], r["任务数"]) for r in rows] == [("甲", "200"), ("乙", "800"), ("合计", "1000")]


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=40),
       total_units=st.integers(min_value=0, max_value=10**5),
       step=st.sampled_from(allocation.STEPS), floor_factor=st.sampled_from([None, 0.5, 0.9]))
def test_parts_always_add_up_and_stay_within_a_step_of_their_quota(values, total_units, step,
                                                                     floor_factor):
    if not any(values):
        values = values[:-1] + [1]
    total = total_units * step
    rows = [[f"单位{i}", v, v] for i, v in enumerate(values)]
    table = allocation.read_base(csv_bytes([["单位", "上年参保人数", "常住人口数"], *rows]))
    floor = Bound("上年参保人数", Fraction(str(floor_factor))) if floor_factor else None
    try:
        result = allocation.allocate(table, total, allocation.parse_weights("常住人口数"), step,
                                     floor=floor)
    except AllocationError as exc:
        assert floor is not None and "下限之和" in str(exc)
        return
    assert sum(result.tasks) == total
    assert all(t % step == 0 and t >= 0 for t in result.tasks)
    assert all(abs(t - q) < step for t, q in zip(result.tasks, result.quotas))
    if floor:
        assert all(t >= v * Fraction(str(floor_factor)) for t, v in zip(result.tasks, values))
