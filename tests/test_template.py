"""The upload template: units pre-filled for a scope and level, read back by the reader."""

import datetime as dt
import io

import openpyxl
import pytest

from enrollment.files import cellvalues, reader
from enrollment.metrics import progress
from enrollment.uploads import ingest, template

from .fixtures import TODAY, record

DAY = dt.date(2021, 11, 19)


def fill(content: bytes, values: dict[str, object]) -> bytes:
    """Type figures into the 累计参保人数 column as a person would in Excel (by unit code)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.active
    header = [c.value for c in sheet[template.HEADER_ROW + 1]]
    code_col, count_col = header.index("单位代码") + 1, header.index("累计参保人数") + 1
    for row in range(template.HEADER_ROW + 2, sheet.max_row + 1):
        code = sheet.cell(row, code_col).value
        if code in values:
            sheet.cell(row, count_col, values[code])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("campaign_id, level, count", [
    ("jincheng-2022-residents", "county", 6),
    ("jincheng-2021-employees", "county", 7),
    ("wanzhou-zhoujiaba-2022-residents", "community", 11),
])
def test_default_template_lists_the_reporting_units_and_reads_back(store, campaign_id, level, count):
    with store.read() as con:
        campaign = ingest.campaigns.get(con, campaign_id)
        made = template.build(con, campaign)
        assert (made.level, made.units) == (level, count)
        table = reader.read_table(made.content)
        codes = [cellvalues.cell_text(r.values["unit_code"]) for r in table.rows]
        filled = fill(made.content, {code: 1000 + i for i, code in enumerate(codes)})
        day = campaign.start + dt.timedelta(days=30)
        preview = ingest.prepare(con, campaign, filled, made.file_name, day, today=campaign.end)
    assert table.header_row == template.HEADER_ROW + 1 and len(codes) == count
    assert set(table.columns) == {"unit_code", "unit_name", "enrolled", "amount", "low_income_enrolled"}
    assert not preview.problems
    assert [r.code for r in preview.rows] == codes
    assert preview.total_enrolled == sum(1000 + i for i in range(count))


def test_template_for_a_county_lists_its_townships_with_targets_and_last_figures(store, jincheng):
    record(store, jincheng.id, dt.date(2021, 11, 12), {"140525100": 4321})
    with store.read() as con:
        made = template.build(con, jincheng, scope="泽州", level="township", report_date=DAY)
    sheet = openpyxl.load_workbook(io.BytesIO(made.content)).active
    rows = list(sheet.iter_rows(min_row=template.HEADER_ROW + 2, values_only=True))
    assert made.scope_name == "泽州县" and made.units == 16 == len(rows)
    assert rows[0][:6] == (1, "140525100", "南村镇", "泽州县", None, 4321)
    assert sheet.cell(1, 1).value == f"{jincheng.name} 参保进度上报表"
    assert sheet.cell(3, 1).value.startswith("填写说明：只需在黄色的「累计参保人数」列填写")
    assert made.file_name == f"{jincheng.name}_上报模板_泽州县_乡镇街道.xlsx"


def test_template_codes_are_text_and_counts_only_accept_whole_numbers(store, jincheng):
    with store.read() as con:
        made = template.build(con, jincheng, scope="140525", level="community")
    sheet = openpyxl.load_workbook(io.BytesIO(made.content)).active
    code = sheet.cell(template.HEADER_ROW + 2, 2)
    assert code.data_type == "s" and len(code.value) == 12
    rules = {str(v.sqref): (v.type, v.operator) for v in sheet.data_validations.dataValidation}
    assert rules[f"G5:G{4 + made.units}"] == ("whole", "greaterThanOrEqual")


def test_a_filled_county_template_commits_and_the_county_sums_its_townships(store, jincheng):
    with store.read() as con:
        made = template.build(con, jincheng, scope="泽州县", level="township")
    codes = [cellvalues.cell_text(r.values["unit_code"]) for r in reader.read_table(made.content).rows]
    filled = fill(made.content, {code: 100 for code in codes})
    receipt = ingest.commit(store, jincheng.id, filled, made.file_name, report_date=DAY,
                            uploader="泽州县医保局", today=TODAY)
    assert (receipt.units, receipt.total_enrolled) == (16, 1600)
    with store.read() as con:
        units = progress.compute(con, jincheng, DAY).units.set_index("code")
    assert units.loc["140525", "enrolled"] == 1600


@pytest.mark.parametrize("scope, level, message", [
    ("火星", None, "「火星」不是本活动的单位"),
    ("南村", None, "「南村」对应多个单位"),
    (None, "province", "该活动没有「省」层级，可选：市、县（市、区）、乡镇（街道）、村（社区）"),
    ("140525100", "county", "「南村镇」下没有「县（市、区）」层级的单位"),
])
def test_bad_scope_or_level_is_explained(store, jincheng, scope, level, message):
    with store.read() as con, pytest.raises(template.TemplateError, match=message):
        template.build(con, jincheng, scope=scope, level=level)


def test_a_template_without_its_code_column_is_read_by_name_and_parent(store, jincheng):
    """1,729 villages have many repeated names; the 上级单位 column tells them apart."""
    with store.read() as con:
        made = template.build(con, jincheng, level="community")
    codes = [cellvalues.cell_text(r.values["unit_code"]) for r in reader.read_table(made.content).rows]
    book = openpyxl.load_workbook(io.BytesIO(fill(made.content, {c: 7 for c in codes})))
    book.active.delete_cols(2)
    out = io.BytesIO()
    book.save(out)
    with store.read() as con:
        preview = ingest.prepare(con, jincheng, out.getvalue(), "names.xlsx", DAY, today=TODAY)
        by_name = ingest.units.index(con, jincheng.id)
    assert sum(len(by_name.resolve(by_name.names[c])) > 1 for c in codes) > 200
    assert not preview.problems
    assert [r.code for r in preview.rows] == codes and preview.total_enrolled == 7 * 1729
