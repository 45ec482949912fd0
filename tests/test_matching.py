"""One unit matcher and one 合计 check serve Friday uploads and target tables: the same file
mistake gets the same message in both, naming the same row, and the same unit is found."""

import datetime as dt

import pytest

from enrollment.files import cellvalues, matching, reader, totals
from enrollment.files.names import SUGGESTED_NAMES, UnitIndex
from enrollment.files.problems import ERROR
from enrollment.targets import tables as targets
from enrollment.uploads import ingest

from .fixtures import TODAY, csv_bytes

CAMPAIGN = "jincheng-2022-residents"
DAY = dt.date(2021, 11, 19)


def _upload(store, rows):
    preview = ingest.preview(store, CAMPAIGN, csv_bytes(rows), "上报.csv", DAY, today=TODAY)
    return preview.problems, {r.row: r.code for r in preview.rows}


def _targets(store, rows):
    table = targets.check_file(store, CAMPAIGN, csv_bytes(rows))
    return table.problems, {r.row: r.code for r in table.rows}


# Each path: how it reads a file, and the header of its count column.
PATHS = {"upload": (_upload, "累计参保人数"), "targets": (_targets, "任务数")}


def check(store, path: str, rows: list[list]) -> tuple[list, dict[int, str]]:
    """(problems, row number -> unit code) of a file whose count column is headed COUNT."""
    read, header = PATHS[path]
    return read(store, [[header if cell == "COUNT" else cell for cell in row] for row in rows])


def messages_of_row(problems, row: int) -> list[str]:
    return [p.message for p in problems if p.row == row and p.severity == ERROR]


SAME_MESSAGE = {
    "unknown unit, the file's level first among the closest names": (
        [["县区", "COUNT"], ["城区", 1000], ["泽洲", 2000]],
        3, "未知单位「泽洲」。您是否要填：泽州县、泽颢社区居委会、泽城村委会？"),
    "a name that fits several units": (
        [["县区", "COUNT"], ["城区", 1000], ["南村", 2000]],
        3, "「南村」对应多个单位：南村镇（140525100，乡镇（街道））、南村村委会（140525100200，村（社区））、"
           "南村村委会（140525114220，村（社区））、南村村委会（140581105232，村（社区）），"
           "请写全称、填写单位代码，或在表中加上「上级单位」列"),
    "a code that does not exist beside a known name": (
        [["区划代码", "单位名称", "COUNT"], ["140599", "城区", 2]],
        2, "单位代码「140599」不存在（单位名称「城区」对应的代码是 140502）"),
    "code and name disagree": (
        [["区划代码", "单位名称", "COUNT"], ["140525", "城区", 2]],
        2, "单位代码 140525（泽州县）与单位名称「城区」不一致，请核对是代码填错还是名称填错"),
    "the same unit twice, by name and by code": (
        [["单位", "COUNT"], ["城区", 1], ["泽州", 2], ["140502", 4]],
        4, "「城区」重复出现（第 2 行已填写），每个单位只能填一行"),
    "a row without a unit": (
        [["单位", "COUNT"], ["城区", 1], ["", 2]],
        3, "缺少单位名称（或单位代码），无法确定是哪个单位"),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(SAME_MESSAGE))
def test_the_same_unit_mistake_gets_the_same_message_in_uploads_and_target_tables(store, path, case):
    rows, row, expected = SAME_MESSAGE[case]
    problems, _ = check(store, path, rows)
    assert messages_of_row(problems, row) == [expected]


def _header(path: str) -> str:
    return PATHS[path][1]


SAME_TOTAL = {
    "a 合计 row that does not add up": (
        [["单位", "COUNT"], ["城区", 1000], ["泽州", 2000], ["合计", 3100]],
        4, "合计行的「{h}」为 3,100，但各单位之和为 3,000，相差 +100；请核对各行数字或合计行"),
    "a 总计 row below the sum": (
        [["单位", "COUNT"], ["城区", 1000], ["泽州", 2000], ["总计", 2950]],
        4, "合计行的「{h}」为 2,950，但各单位之和为 3,000，相差 -50；请核对各行数字或合计行"),
    "a 合计 cell that is not a number": (
        [["单位", "COUNT"], ["城区", 1000], ["合计", "很多"]],
        3, "合计行的「{h}」「很多」不是数字"),
    "a 小计 row that does not add up in its county": (
        [["县区", "乡镇", "COUNT"], ["泽州县", "南村镇", 10], ["泽州县", "下村镇", 20],
         ["泽州县", "小计", 31]],
        4, "「泽州县」小计行的「{h}」为 31，但各单位之和为 30，相差 +1；请核对各行数字或「泽州县」小计行"),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(SAME_TOTAL))
def test_the_same_wrong_total_row_gets_the_same_message_in_uploads_and_target_tables(store, path, case):
    rows, row, expected = SAME_TOTAL[case]
    problems, _ = check(store, path, rows)
    assert messages_of_row(problems, row) == [expected.format(h=_header(path))]


@pytest.mark.parametrize("path", list(PATHS))
def test_a_total_that_adds_up_gives_no_message(store, path):
    rows = [["县区", "乡镇", "COUNT"], ["泽州县", "南村镇", 10], ["泽州县", "下村镇", 20],
            ["泽州县", "小计", 30], ["合计", "", 30]]
    problems, codes = check(store, path, rows)
    assert not [p for p in problems if p.row in (4, 5)]
    assert sorted(codes.values()) == ["140525100", "140525101"]


SAME_UNIT = {
    "a 12-digit code padded with zeros": ([["区划代码", "COUNT"], ["140525000000", 5]], "140525"),
    "a short name": ([["县区", "COUNT"], ["泽州", 5]], "140525"),
    "a full name with spaces": ([["县区", "COUNT"], ["泽 州 县", 5]], "140525"),
    "a name under two streets, settled by the parent column": (
        [["乡镇", "村（社区）", "COUNT"], ["钟家庄街道", "圪塔社区", 5]], "140502006017"),
    "the same name under the other street": (
        [["乡镇", "村（社区）", "COUNT"], ["南城街道", "圪塔社区", 5]], "140581003008"),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(SAME_UNIT))
def test_the_same_row_finds_the_same_unit_in_uploads_and_target_tables(store, path, case):
    rows, code = SAME_UNIT[case]
    problems, codes = check(store, path, rows)
    assert codes == {2: code}
    assert not messages_of_row(problems, 2)


@pytest.mark.parametrize("path", list(PATHS))
def test_only_the_first_unknown_names_of_a_file_get_suggestions(store, path):
    rows = [["县区", "COUNT"]] + [["泽洲", i + 1] for i in range(SUGGESTED_NAMES + 1)]
    problems, _ = check(store, path, rows)
    unknown = [p.message for p in problems if p.message.startswith("未知单位")]
    assert len(unknown) == SUGGESTED_NAMES + 1
    assert all("您是否要填：泽州县" in m for m in unknown[:SUGGESTED_NAMES])
    assert unknown[-1] == "未知单位「泽洲」。请核对单位名称，或使用模板"


# --- the two modules on their own ------------------------------------------------------------

UNITS = [("1405", "晋城市", "city"), ("140525", "泽州县", "county"),
         ("140525100", "北义城镇", "township"), ("140525100200", "北义城村委会", "community"),
         ("140581", "高平市", "county"), ("140581100", "北义城镇", "township")]
PARENTS = {"1405": None, "140525": "1405", "140525100": "140525", "140525100200": "140525100",
           "140581": "1405", "140581100": "140581"}


def _table(rows: list[list], roles=reader.REPORT_ROLES, required=("enrolled",)) -> reader.Table:
    return reader.read_table(csv_bytes(rows), roles, required)


def test_the_level_most_rows_share_settles_a_name_of_two_levels():
    index = UnitIndex.build(UNITS)
    matches = matching.match(_table([["单位", "累计参保人数"], ["泽州县", 1], ["高平市", 2],
                                     ["北义城", 3]]), index, PARENTS)
    assert matches.level == "county"
    assert 4 in matches.problems and "对应多个单位" in matches.problems[4].message
    # Among townships, the parent column tells the two 北义城镇 apart.
    matches = matching.match(_table([["县区", "乡镇", "累计参保人数"], ["泽州县", "北义城", 1],
                                     ["高平市", "北义城", 2]]), index, PARENTS)
    assert matches.codes == {2: "140525100", 3: "140581100"} and not matches.problems


def test_a_claimed_unit_is_a_duplicate_only_for_the_rows_the_caller_keeps():
    matches = matching.Matches(UnitIndex.build(UNITS))
    assert matches.claim("140525", 2) is None
    assert matches.claim("140525", 2) is None          # the same row again is no duplicate
    duplicate = matches.claim("140525", 5)
    assert (duplicate.row, duplicate.unit) == (5, "140525")
    assert duplicate.message == "「泽州县」重复出现（第 2 行已填写），每个单位只能填一行"
    assert matches.claimed == {"140525": 2}


def test_totals_check_amounts_with_two_decimals_and_leaves_inner_rows_out():
    table = _table([["单位", "累计参保人数", "缴费金额"], ["泽州县", 10, "100.10"],
                    ["北义城镇", 4, 40], ["合计", 10, "100.00"]])
    columns = [totals.Column("enrolled", "累计参保人数", cellvalues.parse_count),
               totals.Column("amount", "缴费金额", cellvalues.parse_amount)]
    # Row 3 (a township of the county in row 2) is already inside row 2's figure.
    assert [p.message for p in totals.check(table, columns, inner={3})] == [
        "合计行的「缴费金额」为 100.00，但各单位之和为 100.10，相差 -0.10；请核对各行数字或合计行"]
    assert [p.message for p in totals.check(table, columns)][0].startswith(
        "合计行的「累计参保人数」为 10，但各单位之和为 14，相差 -4")


def test_totals_check_skips_a_column_with_an_unreadable_cell():
    table = _table([["单位", "任务数"], ["泽州县", "待定"], ["高平市", 2], ["合计", 5]],
                   reader.TARGET_ROLES, ("task",))
    column = totals.Column("task", "任务数", cellvalues.parse_count)
    assert totals.check(table, [column]) == []
    table.rows[0].values["task"] = 1
    assert [p.row for p in totals.check(table, [column])] == [4]
