"""Validation through the real commit path: every bad case names its row in Chinese and changes
nothing but the archive of rejected uploads; warnings need explicit confirmation; corrections
become revisions; receipts say whether the upload was on time."""

import datetime as dt

import pytest

from enrollment.files.problems import ERROR, WARNING
from enrollment.metrics import progress
from enrollment.uploads import ingest
from enrollment.uploads import log as uploads

from . import files
from .fixtures import NOW, TODAY, csv_bytes, dump, record, report_csv

CAMPAIGN = "jincheng-2022-residents"
DAY = dt.date(2021, 11, 19)


def commit(store, content, day=DAY, **kwargs):
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("uploader", "测试")
    return ingest.commit(store, CAMPAIGN, content, "上报.xlsx", report_date=day, **kwargs)


def assert_rejected_without_change(store, content, expected, day=DAY, warnings_only=False,
                                   **kwargs):
    """The upload is refused with each expected (row, text) message and stores nothing but itself."""
    before = dump(store)
    with pytest.raises(ingest.UploadRejected) as caught:
        commit(store, content, day, **kwargs)
    shown = [(p.row, str(p)) for p in caught.value.preview.problems]
    for row, text in expected:
        assert any(r == row and text in s for r, s in shown), (row, text, shown)
    assert caught.value.warnings_only == warnings_only
    after = dump(store)
    for table in after:
        if table in ("uploads", "meta"):
            continue
        assert after[table] == before[table], table
    new = [r for r in after["uploads"] if r not in before["uploads"]]
    assert len(new) == 1 and new[0][0] == caught.value.upload_id
    assert set(before["uploads"]) <= set(after["uploads"])
    row = dict(zip(UPLOAD_COLUMNS, new[0]))
    assert row["status"] == "rejected" and row["kind"] == "report"
    assert row["sha256"] == ingest.sha256(content) and row["size"] == len(content)
    assert (row["content"] is None) == (len(content) > ingest.settings.max_upload_bytes())
    return caught.value


UPLOAD_COLUMNS = ("id", "campaign_id", "kind", "source", "file_name", "sha256", "size", "content",
                  "uploader", "uploaded_at", "report_date", "status", "messages", "row_count",
                  "unit_count", "total_enrolled", "on_time", "withdraws")

BAD_CASES = {
    "unknown unit, with the closest names suggested": (
        [["县区", "累计参保人数"], ["城区", 1], ["泽洲", 2]],
        [(3, "未知单位「泽洲」。您是否要填：泽州县")]),
    "unit given by a code that does not exist": (
        [["区划代码", "累计参保人数"], ["140599", 2]], [(2, "单位代码「140599」不存在")]),
    "code and name disagree": (
        [["区划代码", "单位名称", "累计参保人数"], ["140525", "城区", 2]],
        [(2, "单位代码 140525（泽州县）与单位名称「城区」不一致")]),
    "a name that fits several units": (
        [["单位", "累计参保人数"], ["南村", 2]],
        [(2, "「南村」对应多个单位：南村镇（140525100")]),
    "the same unit twice": (
        [["单位", "累计参保人数"], ["城区", 1], ["泽州", 2], ["城区县", 3], ["140502", 4]],
        [(5, "「城区」重复出现（第 2 行已填写）")]),
    "a row without a unit": (
        [["单位", "累计参保人数"], ["城区", 1], ["", 2]], [(3, "缺少单位名称")]),
    "text where a count belongs": (
        [["单位", "累计参保人数"], ["城区", "很多"]], [(2, "「城区」的累计参保人数「很多」不是数字")]),
    "a negative count": (
        [["单位", "累计参保人数"], ["城区", -3]], [(2, "「城区」的累计参保人数为 -3，不能为负数")]),
    "a fractional count": (
        [["单位", "累计参保人数"], ["城区", 12.5]], [(2, "「城区」的累计参保人数为 12.5，人数应为整数")]),
    "a count in 万": (
        [["单位", "累计参保人数"], ["城区", "18.2万"]], [(2, "以「万」为单位，请填写准确的数字")]),
    "other numbers but no count": (
        [["单位", "累计参保人数", "缴费金额"], ["城区", "", 500]], [(2, "填写了其他数字，但缺少累计参保人数")]),
    "a bad amount": (
        [["单位", "累计参保人数", "缴费金额（元）"], ["城区", 5, "五百元"]],
        [(2, "「城区」的缴费金额(元)「五百元」不是金额")]),
    "every listed unit left empty": (
        [["单位", "累计参保人数"], ["城区", ""], ["泽州", ""]], [(2, "都没有填写累计参保人数")]),
    "a 合计 row that does not add up": (
        [["单位", "累计参保人数"], ["城区", 1000], ["泽州", 2000], ["合计", 3100]],
        [(4, "合计行的「累计参保人数」为 3,100，但各单位之和为 3,000，相差 +100；请核对各行数字或合计行")]),
    "a 小计 row that does not add up in its county": (
        [["县区", "乡镇", "累计参保人数"], ["泽州县", "南村镇", 10], ["泽州县", "下村镇", 20],
         ["泽州县", "小计", 31]], [(4, "「泽州县」小计行的「累计参保人数」为 31，但各单位之和为 30，相差 +1")]),
    "a report-date cell that is not a date": (
        [["单位", "累计参保人数", "填报日期"], ["城区", 5, "上周五"]], [(2, "填报日期「上周五」无法识别")]),
    "no count column": (
        [["单位", "区划代码"], ["城区", "140502"]], [(None, "找不到「累计参保人数」列")]),
    "no header at all": (
        [["a", "b"], [1, 2]], [(None, "没有找到表头")]),
    "header only": (
        [["单位", "累计参保人数"]], [(None, "表中没有任何单位的数据行")]),
}


@pytest.mark.parametrize("fmt", ["xlsx", "csv-gbk"])
@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_file_names_the_row_and_changes_nothing(store, case, fmt):
    rows, expected = BAD_CASES[case]
    rejected = assert_rejected_without_change(store, files.FORMATS[fmt](rows, ()), expected)
    for row, text in expected:     # each expected message is an error, not a warning
        assert any(p.row == row and text in str(p) and p.severity == ERROR
                   for p in rejected.preview.problems), (row, text)


@pytest.mark.parametrize("content, message", [
    (b"", "文件是空的（0 字节）"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "文件不是电子表格"),
    (b"PK\x03\x04" + bytes(300), "文件是压缩包而不是 Excel 表格"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "Excel 文件已损坏或格式不正确"),
])
def test_a_file_that_is_not_a_spreadsheet_changes_nothing(store, content, message):
    assert_rejected_without_change(store, content, [(None, message)])


def test_a_file_over_the_size_limit_is_refused_and_archived_without_its_bytes(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_MAX_UPLOAD_MB", "0.001")
    content = csv_bytes([["单位", "累计参保人数"]] + [["城区", i] for i in range(200)])
    assert len(content) > 1048
    rejected = assert_rejected_without_change(store, content, [(None, "文件大小 2 KB，超过上限 1 KB")])
    with store.read() as con:
        stored = con.raw.execute("SELECT content, size FROM uploads WHERE id = ?",
                             [rejected.upload_id]).fetchone()
    assert stored == (None, len(content))


def test_report_date_outside_the_window_or_after_this_friday(store):
    content = report_csv({"140502": 1000})
    assert_rejected_without_change(store, content, [(None, "上报日期 2022-01-07 不在集中参保期")],
                                   day=dt.date(2022, 1, 7))
    assert_rejected_without_change(
        store, content, [(None, "上报日期 2021-11-26 晚于本周五（2021-11-19）")],
        day=dt.date(2021, 11, 26), today=dt.date(2021, 11, 17))
    # Thursday may report this Friday's figures.
    assert commit(store, content, day=dt.date(2021, 11, 19), today=dt.date(2021, 11, 18)).units == 1


def test_unit_outside_the_uploaders_scope(store):
    content = csv_bytes([["单位", "累计参保人数"], ["南村镇", 10], ["北诗镇", 5]])
    assert_rejected_without_change(store, content, [(3, "「北诗镇」不在您负责的单位范围内")],
                                   allowed_units=["140525"])
    assert commit(store, csv_bytes([["单位", "累计参保人数"], ["南村镇", 10]]),
                  allowed_units=["140525"]).units == 1


def test_decrease_needs_confirmation_and_names_the_previous_figure(store):
    record(store, CAMPAIGN, dt.date(2021, 11, 12), {"140502": 1000, "140525": 5000})
    lower = csv_bytes([["单位", "累计参保人数"], ["城区", 900], ["泽州", 5100]])
    rejected = assert_rejected_without_change(
        store, lower, [(2, "「城区」累计参保人数 900 低于上次上报的 1,000（2021-11-12），少了 100")],
        warnings_only=True)
    assert [p.severity for p in rejected.preview.problems] == [WARNING]
    receipt = commit(store, lower, accept_warnings=True)
    assert receipt.warnings_accepted == 1 and receipt.total_enrolled == 6000


def test_figure_above_a_later_report_warns(store):
    record(store, CAMPAIGN, dt.date(2021, 11, 19), {"140502": 1000})
    assert_rejected_without_change(
        store, report_csv({"140502": 1200}), [(2, "高于之后（2021-11-19）已上报的 1,000")],
        day=dt.date(2021, 11, 12), warnings_only=True)


def test_over_target_by_more_than_the_margin_warns(store, monkeypatch):
    content = report_csv({"140502": 188000 * 110 // 100 + 1})   # target 188,000
    assert_rejected_without_change(store, content, [(2, "超过任务数 188,000 的 110%")],
                                   warnings_only=True)
    monkeypatch.setenv("ENROLLMENT_OVER_TARGET_MARGIN", "0.2")
    assert commit(store, content).units == 1


def test_template_row_left_empty_is_a_warning_and_is_not_reported(store):
    content = files.xlsx([["单位代码", "单位名称", "累计参保人数"], ["140502", "城区", 5],
                          ["140525", "泽州县", None]])
    assert_rejected_without_change(store, content, [(3, "「泽州县」没有填写累计参保人数，本行不上报")],
                                   warnings_only=True)
    receipt = commit(store, content, accept_warnings=True)
    assert (receipt.units, receipt.total_enrolled) == (1, 5)


def test_file_date_and_form_date_disagree_asks_which_to_use(store, jincheng):
    content = csv_bytes([["填报日期：2021年11月12日"], ["单位", "累计参保人数"], ["城区", 5]])
    with store.read() as con:
        preview = ingest.prepare(con, jincheng, content, "f.csv", DAY, today=TODAY)
    assert preview.date_question == (DAY, [dt.date(2021, 11, 12)])
    assert [(p.row, p.message) for p in preview.warnings] == [
        (1, "文件中的日期为 2021-11-12，与所选上报日期 2021-11-19 不一致，请确认使用哪个日期")]
    assert_rejected_without_change(store, content, [(1, "不一致")], warnings_only=True)
    # The user chose: the file's date, or the form's; either way nothing more to confirm.
    by_file = commit(store, content, day=dt.date(2021, 11, 12), date_confirmed=True)
    with store.read() as con:
        again = ingest.prepare(con, jincheng, content, "f.csv", DAY, today=TODAY,
                               date_confirmed=True)
    assert [p.message for p in again.warnings] == [
        f"这个文件与第 {by_file.upload_id} 号上报（上报日期 2021-11-12）的文件完全相同，"
        "是否误传了以前的文件？请确认"]
    by_form = commit(store, content, day=DAY, date_confirmed=True, accept_warnings=True)
    assert (by_file.report_date, by_form.report_date) == (dt.date(2021, 11, 12), DAY)


def test_report_date_comes_from_the_file_when_the_form_has_none(store):
    content = csv_bytes([["截至2021年11月19日"], ["单位", "累计参保人数"], ["城区", 5]])
    assert commit(store, content, day=None).report_date == DAY
    assert_rejected_without_change(store, report_csv({"140502": 5}),
                                   [(None, "请指定上报日期（文件中没有找到填报日期）")], day=None)


def test_same_file_twice_is_not_counted_twice(store):
    content = report_csv({"140502": 1000, "140525": 2000})
    first = commit(store, content)
    rejected = assert_rejected_without_change(store, content, [(None, "同一文件已于")])
    assert f"第 {first.upload_id} 号上报" in str(rejected)
    with store.read() as con:
        assert con.raw.execute("SELECT count(*) FROM reports WHERE source = 'upload'").fetchone()[0] == 2


def test_same_file_for_another_date_warns(store):
    content = report_csv({"140502": 1000})
    first = commit(store, content, day=dt.date(2021, 11, 12))
    assert_rejected_without_change(
        store, content, [(None, f"与第 {first.upload_id} 号上报（上报日期 2021-11-12）的文件完全相同")],
        warnings_only=True)


def test_a_correction_is_a_new_revision_and_the_latest_counts(store, jincheng):
    first = commit(store, report_csv({"140502": 1000, "140525": 2000}))
    second = commit(store, report_csv({"140502": 1100}), uploader="李四")
    assert second.corrected == 1
    with store.read() as con:
        history = uploads.unit_history(con, CAMPAIGN, "140502")
        result = progress.compute(con, jincheng, DAY)
    assert list(history["revision"]) == [2, 1]
    assert list(history["upload_id"]) == [second.upload_id, first.upload_id]
    assert list(history["uploader"]) == ["李四", "测试"]
    assert list(history["current"]) == [True, False]
    enrolled = result.units.set_index("code")["enrolled"]
    assert (enrolled["140502"], enrolled["140525"]) == (1100, 2000)


def test_receipt_says_on_time_until_friday_17_shanghai(store):
    on_time = commit(store, report_csv({"140502": 1}), now=dt.datetime(2021, 11, 19, 9, 0))
    late = commit(store, report_csv({"140502": 2}), now=dt.datetime(2021, 11, 19, 9, 0, 1))
    assert on_time.on_time and not late.on_time
    assert "按时上报" in on_time.summary() and "逾期上报（截止时间 2021-11-19 17:00）" in late.summary()
    assert on_time.uploaded_local.strftime("%H:%M") == "17:00"
    labels = dict(on_time.details())
    assert labels["文件名"] == "上报.xlsx" and labels["累计参保人数合计"] == "1"
    assert labels["上报时间"] == "2021-11-19 17:00:00"


def test_receipt_totals_count_a_county_and_its_townships_once(store):
    content = csv_bytes([["单位", "累计参保人数", "缴费金额"], ["泽州县", 3000, 960000],
                         ["南村镇", 1000, 320000], ["下村镇", 2000, 640000]])
    receipt = commit(store, content)
    assert (receipt.units, receipt.total_enrolled, receipt.total_amount) == (3, 3000, 960000.0)


def test_county_below_the_sum_of_its_townships_warns(store):
    content = csv_bytes([["单位", "累计参保人数"], ["泽州县", 100], ["南村镇", 1000]])
    assert_rejected_without_change(
        store, content, [(2, "「泽州县」填写 100，但表中其下属单位之和为 1,000")], warnings_only=True)


def test_preview_lists_every_row_with_its_problems(store, jincheng):
    content = files.xlsx([["单位", "累计参保人数"], ["城区", 1000], ["火星县", 5], ["泽州", ""],
                          ["合计", 1005]])
    with store.read() as con:
        preview = ingest.prepare(con, jincheng, content, "p.xlsx", DAY, today=TODAY)
    frame = preview.frame()
    assert list(frame["行号"]) == [2, 3, 4, 5]
    assert list(frame["检查结果"]) == ["通过", "错误", "需确认", "合计行"]
    assert list(frame["对应单位"]) == ["城区", "", "泽州县", ""]
    assert frame.loc[1, "说明"].startswith("未知单位「火星县」")
    assert list(frame["累计参保人数"]) == ["1,000", "5", "", "1,005"]


def test_the_file_type_is_judged_by_content_not_by_name(store):
    """A CSV saved as .xlsx is read as CSV; a picture named .csv is refused."""
    good = csv_bytes([["县区", "累计参保人数"], ["泽州县", 270000]])
    receipt = ingest.commit(store, CAMPAIGN, good, "上报.xlsx", report_date=DAY, uploader="测试",
                            now=NOW, today=TODAY)
    assert receipt.units == 1 and receipt.file_name == "上报.xlsx"
    picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    with pytest.raises(ingest.UploadRejected) as caught:
        ingest.commit(store, CAMPAIGN, picture, "上报.csv", report_date=DAY, uploader="测试",
                      now=NOW, today=TODAY)
    assert "文件不是电子表格" in str(caught.value)
