"""Issue 19, the file half: hostile uploads are refused with a concrete Chinese reason, archived
like any rejected upload, and change nothing else; the process survives, the database is never
held while a file is parsed, and the upload log keeps opening.

Every hostile file is generated here (tests/hostile.py); none is stored in the repository.
"""

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from enrollment.cli import cli
from enrollment.db.engine import write_lock
from enrollment.files import bounds, formats, reader, sandbox
from enrollment.files.names import UnitIndex
from enrollment.files.problems import STORED_LIMIT, Problem, bounded, from_json, to_json
from enrollment.targets import allocation
from enrollment.targets import tables as targets
from enrollment.uploads import ingest
from enrollment.uploads import log as uploads

from . import hostile
from .fixtures import NOW, ROOT, TODAY, csv_bytes, dump
from .markup import plain
from .test_ingest import assert_rejected_without_change

CAMPAIGN = "jincheng-2022-residents"
WANZHOU = "wanzhou-zhoujiaba-2022-residents"
DAY = dt.date(2021, 11, 19)
REFUSED = "文件过大或结构异常："

HOSTILE = {
    # finding 1: 2 KB, calamine would ask for 512 GB and abort the process
    "cell at XFD1048576": (hostile.far_cell, "数据区域为 A1:XFD1048576（1,048,576 行 × 16,384 列），超过 100,000 行的上限"),
    # the same in an .xls: refused by the sandbox when calamine aborts the child
    "an .xls cell at IV65536": (hostile.far_xls_cell, "读取所需内存超过 768 MB 的上限"),
    # finding 2: the 25 KB file that ran for more than 600 s
    "far cell and merged ranges over the sheet": (hostile.far_cell_and_merges, "A1:XFD1048576"),
    "more merged ranges than any report has": (lambda: hostile.merged_over_the_sheet(10_001),
                                               "有超过 10,000 个合并单元格区域"),
    "a million rows": (lambda: hostile.csv_rows(1_000_000), "表格超过 100,000 行的上限"),
    "a 50-million-character cell": (lambda: hostile.long_shared_string(0, hostile.random_text(50_000_000)),
                                    "有一个单元格的文字超过 Excel 的上限 32,767 个字符"),
    "a 50-million-character cell that compresses a thousandfold": (
        lambda: hostile.long_shared_string(50_000_000), "压缩比高达"),
    "a cell just over Excel's limit": (lambda: hostile.long_inline_string(40_000),
                                       "有一个单元格的文字长达 40,000 个字符，超过 Excel 的上限 32,767 个"),
    "a zip bomb": (hostile.zip_bomb, "「xl/worksheets/sheet1.xml」压缩比高达"),
}


@pytest.fixture(scope="module")
def hostile_files():
    """Each file built once for the module (the 50-million-character ones take a second)."""
    return {name: make() for name, (make, _) in HOSTILE.items()}


def commit(store, content, **kwargs):
    return ingest.commit(store, CAMPAIGN, content, "上报.xlsx", report_date=DAY, uploader="测试",
                         today=TODAY, now=NOW, **kwargs)


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_upload_is_refused_with_its_reason_archived_and_changes_nothing(store, hostile_files, kind):
    reason = HOSTILE[kind][1]
    content = hostile_files[kind]
    rejected = assert_rejected_without_change(store, content, [(None, REFUSED + "")], uploader="测试")
    message = str(rejected.preview.errors[0])
    assert reason in message and message.endswith("请另存为普通表格后再上传。"), message
    with store.read() as con:
        log = uploads.history(con, CAMPAIGN)
        stored = uploads.problems(con, rejected.upload_id)
    assert log.iloc[0]["status"] == "rejected" and reason in log.iloc[0]["remark"]
    assert [p.message for p in stored] == [p.message for p in rejected.preview.problems]


@pytest.mark.parametrize("kind", ["cell at XFD1048576", "far cell and merged ranges over the sheet",
                                  "more merged ranges than any report has", "a zip bomb"])
def test_the_structural_checks_refuse_before_calamine_even_in_process(hostile_files, kind):
    """Before any child: reading these in this very process does not abort it."""
    with pytest.raises(formats.FileRefused, match=HOSTILE[kind][1].replace("(", r"\(").replace(")", r"\)")):
        reader.read_table(hostile_files[kind])


FAR_CELL_FORMS = {
    "written by every writer": '<c r="XFD1048576"><v>1</v></c>',
    "after a new line": '<c\nr="XFD1048576"><v>1</v></c>',
    "after a tab": '<c\tr="XFD1048576"><v>1</v></c>',
    "in lower case": '<c r="xfd1048576"><v>1</v></c>',
    "absolute": '<c r="$XFD$1048576"><v>1</v></c>',
    "in single quotes": "<c r='XFD1048576'><v>1</v></c>",
    "r not first": '<c t="n" r="XFD1048576"><v>1</v></c>',
    "with a namespace prefix": '<x:c r="XFD1048576"><x:v>1</x:v></x:c>',
    "after formatted empty cells": '<c r="B1048576" s="1"/><c r="XFD1048576"><v>1</v></c>',
    "without a reference, in a far row": '<c><v>1</v></c>',
}


@pytest.mark.parametrize("form", FAR_CELL_FORMS)
def test_a_far_cell_however_written_is_found_before_calamine(form):
    rows = hostile.HEADER + hostile.DATA + f'<row r="1048576">{FAR_CELL_FORMS[form]}</row>'
    with pytest.raises(formats.FileRefused, match="1,048,576 行") as caught:
        sandbox.read(reader.read_table, hostile.workbook([hostile.sheet(rows)]))
    assert caught.value.reason.startswith("工作表「Sheet1」的数据区域为 A1:"), caught.value.reason


def test_a_lying_zip_directory_is_read_as_damaged_and_the_process_survives(store):
    """The sheet says 1 KB but holds 40 MB: whatever the readers make of it, it is a ReadError."""
    with pytest.raises(reader.ReadError):
        sandbox.read(reader.read_table, hostile.lying_zip())
    assert_rejected_without_change(store, hostile.lying_zip(), [])


def test_ranges_merged_over_the_whole_sheet_cost_only_the_cells_that_exist():
    table = sandbox.read(reader.read_table, hostile.merged_over_the_sheet(500, rows=2000))
    assert len(table.rows) == 2000


def test_an_inflated_dimension_alone_is_no_reason_to_refuse():
    rows = hostile.HEADER + hostile.DATA
    table = reader.read_table(hostile.workbook([hostile.sheet(rows, dimension="A1:XFD1048576")]))
    assert [r.unit_text for r in table.rows] == ["城区"]


def test_formatted_empty_cells_far_away_are_not_data():
    """Excel writes <c r="XFD9" s="1"/> for a formatted empty cell; calamine skips it."""
    rows = hostile.HEADER + hostile.DATA + '<row r="1048576"><c r="XFD1048576" s="1"/></row>'
    assert len(reader.read_table(hostile.workbook([hostile.sheet(rows)])).rows) == 1


def test_the_row_limit_is_a_setting_and_the_message_says_it(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_MAX_ROWS", "50")
    rejected = assert_rejected_without_change(store, hostile.csv_rows(60), [])
    assert "表格超过 50 行的上限" in rejected.preview.errors[0].message
    assert len(reader.read_table(hostile.csv_rows(40)).rows) == 40


def test_a_child_stopped_by_its_memory_limit_is_an_archived_refusal(store, monkeypatch):
    """90,000 rows are within the row limit but need about 80 MB of address space to read."""
    monkeypatch.setenv("ENROLLMENT_READ_MEMORY_MB", "48")
    rejected = assert_rejected_without_change(store, hostile.csv_rows(90_000), [(None, REFUSED)])
    assert "读取所需内存超过 48 MB 的上限" in rejected.preview.errors[0].message


def test_a_slow_parse_is_stopped_by_the_time_limit(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_READ_TIMEOUT", "0.05")
    rejected = assert_rejected_without_change(store, hostile.csv_rows(90_000), [(None, REFUSED)])
    assert "读取超过 0.05 秒仍未完成" in rejected.preview.errors[0].message


# --- 20,000 unknown names (finding 2) -----------------------------------------------------------

def test_twenty_thousand_unknown_names_are_refused_with_messages_for_the_first_rows(store, monkeypatch):
    lookups = []
    suggest = UnitIndex.suggest
    monkeypatch.setattr(UnitIndex, "suggest", lambda self, text, limit=3: lookups.append(text)
                        or suggest(self, text, limit))
    rejected = assert_rejected_without_change(store, hostile.unknown_names(), [
        (2, "未知单位「不存在的单位00000村」"), (20_001, "未知单位「不存在的单位19999村」")])
    assert len(rejected.preview.errors) == 20_000
    # The closest names are looked up for the first 20 unknown names only: each lookup compares
    # the name with every alias of the campaign (that was 9 ms a row, 185 s for the file).
    assert len(lookups) == 20
    with store.read() as con:
        stored = uploads.problems(con, rejected.upload_id)
        remark = uploads.history(con, CAMPAIGN).iloc[0]["remark"]
    assert len(stored) == STORED_LIMIT + 1
    assert stored[0].row == 2 and stored[-1].message == "另有 19,800 处错误未列出"
    assert stored[-1].count == 19_800
    assert remark.startswith("未保存：第 2 行：未知单位「不存在的单位00000村」") and remark.endswith("等 20,000 处错误")


def test_a_typo_still_gets_the_closest_names(store):
    assert_rejected_without_change(store, csv_bytes([["县区", "累计参保人数"], ["泽洲", 2]]),
                                   [(2, "未知单位「泽洲」。您是否要填：泽州县")])


# --- the upload log (finding 3) -----------------------------------------------------------------

def test_stored_messages_are_bounded_and_each_is_cut(store):
    long_name = "长" * 2000
    rows = [["单位", "累计参保人数"]] + [[f"{long_name}{i}", 1] for i in range(300)]
    rejected = assert_rejected_without_change(store, csv_bytes(rows), [])
    with store.read() as con:
        raw = con.raw.execute("SELECT messages FROM uploads WHERE id = ?", [rejected.upload_id]).fetchone()[0]
    items = json.loads(raw)
    assert len(items) == STORED_LIMIT + 1 and all(len(i["message"]) <= 500 for i in items)
    assert items[-1] == {"row": None, "message": "另有 100 处错误未列出", "severity": "error",
                         "unit": None, "count": 100}


def test_the_log_opens_over_messages_stored_before_they_were_bounded(store):
    """An upload rejected by an older version kept all its messages (a million, for a million
    rows): the log shows it without reading them."""
    huge = json.dumps([{"row": n, "message": "未知单位「某某」", "severity": "error", "unit": None}
                       for n in range(30_000)], ensure_ascii=False)
    with store.write() as con:
        con.raw.execute("INSERT INTO uploads (id, campaign_id, kind, source, file_name, uploaded_at, "
                    "status, messages) VALUES (nextval('upload_ids'), ?, 'report', 'upload', "
                    "'旧.csv', ?, 'rejected', ?)", [CAMPAIGN, NOW, huge])
        upload_id = con.raw.execute("SELECT max(id) FROM uploads").fetchone()[0]
    with store.read() as con:
        assert uploads.history(con, CAMPAIGN).iloc[0]["remark"] == "未保存：问题过多，未能列出"
        shown = uploads.problems(con, upload_id)
    assert len(shown) == 1 and "问题过多" in shown[0].message
    result = CliRunner().invoke(cli, ["--db", store.target, "uploads", "--campaign", CAMPAIGN])
    assert result.exit_code == 0 and "问题过多" in result.output


def test_a_list_that_is_already_bounded_stays_as_it_is():
    problems = [Problem(n, f"第{n}个") for n in range(1, 1000)] + [Problem(None, "提醒", "warning")]
    once = bounded(problems)
    assert bounded(once) == once
    assert [p.message for p in once[-2:]] == ["另有 799 处错误未列出", "另有 1 条提醒未列出"]
    assert from_json(to_json(once)) == once


# --- never holding the database while parsing ---------------------------------------------------

def test_commit_parses_before_it_takes_the_write_lock(store, monkeypatch):
    order = []
    read = ingest.read
    monkeypatch.setattr(ingest, "read", lambda content: order.append("read") or read(content))
    write = type(store).write

    def tracked(self, *args, **kwargs):
        order.append("write")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(type(store), "write", tracked)
    commit(store, csv_bytes([["单位", "累计参保人数"], ["城区", 5]]))
    assert order == ["read", "write"]


def test_the_preview_parses_before_it_opens_a_connection(store, monkeypatch):
    order = []
    read = ingest.read
    monkeypatch.setattr(ingest, "read", lambda content: order.append("read") or read(content))
    opening = "connect" if store.dialect == "duckdb" else "_connection"    # file, or pool
    connect = getattr(type(store), opening)
    monkeypatch.setattr(type(store), opening,
                        lambda self: order.append("connect") or connect(self))
    preview = ingest.preview(store, CAMPAIGN, csv_bytes([["单位", "累计参保人数"], ["城区", 5]]),
                             "f.csv", DAY, today=TODAY)
    assert preview.ok and order == ["read", "connect"]


@pytest.mark.duckdb_only          # the process's write lock is the DuckDB file's
def test_the_write_lock_is_free_while_a_file_is_being_read(store, monkeypatch):
    """Other uploads, logins and the CLI wait for the write lock: never during a parse."""
    free = []
    real = sandbox.read

    def checking(function, content, *args, **kwargs):
        lock = write_lock(store.target)
        free.append(lock.acquire(timeout=5))
        if free[-1]:
            lock.release()
        return real(function, content, *args, **kwargs)

    monkeypatch.setattr(sandbox, "read", checking)
    commit(store, csv_bytes([["单位", "累计参保人数"], ["城区", 5]]))
    with pytest.raises(targets.TargetsRejected):
        targets.commit(store, WANZHOU, csv_bytes([["社区", "任务数"], ["天子湖", 5]]), "t.csv")
    assert free == [True, True]


# --- target tables and allocation input (findings 1 and 9) --------------------------------------

@pytest.mark.parametrize("kind", ["cell at XFD1048576", "a million rows", "a zip bomb"])
def test_hostile_target_tables_are_refused_and_nothing_is_stored(store, hostile_files, kind):
    before = dump(store)
    with pytest.raises(targets.TargetsRejected) as rejected:
        targets.commit(store, WANZHOU, hostile_files[kind], "任务.xlsx", created_by="张三")
    assert HOSTILE[kind][1] in str(rejected.value.table.problems[0])
    assert dump(store) == before
    assert HOSTILE[kind][1] in str(targets.check_file(store, WANZHOU, hostile_files[kind]).problems[0])


def test_allocation_input_is_read_in_the_sandbox_too(hostile_files):
    with pytest.raises(formats.FileRefused, match="A1:XFD1048576"):
        allocation.read_base(hostile_files["cell at XFD1048576"])
    base = allocation.read_base(csv_bytes([["单位", "上年参保人数"], ["甲", 10], ["乙", 30]]))
    assert base.numbers(base.column("上年参保人数"), []) == [10, 30]


def test_target_and_allocation_files_over_the_upload_limit_are_refused(store, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_MAX_UPLOAD_MB", "1")
    big = hostile.csv_rows(200_000)              # 2 MB
    assert "超过上限 1.0 MB" in str(targets.check_file(store, WANZHOU, big).problems[0])
    with pytest.raises(reader.ReadError, match="超过上限 1.0 MB"):
        allocation.read_base(big)


# --- the command line ---------------------------------------------------------------------------

def run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


@pytest.mark.parametrize("kind", ["cell at XFD1048576", "a million rows"])
def test_cli_ingest_refuses_hostile_files(store, tmp_path, hostile_files, kind):
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(hostile_files[kind])
    before = dump(store)
    result = run(store, "ingest", str(path), "--campaign", CAMPAIGN, "--report-date", "2021-11-19",
                 "--uploader", "测试")
    assert result.exit_code == 1
    assert REFUSED in result.output and HOSTILE[kind][1] in result.output
    after = dump(store)
    assert after["reports"] == before["reports"]
    assert [r[11] for r in after["uploads"] if r not in before["uploads"]] == ["rejected"]
    assert run(store, "uploads", "--campaign", CAMPAIGN).exit_code == 0


@pytest.mark.parametrize("kind", ["cell at XFD1048576", "a million rows"])
def test_cli_targets_load_refuses_hostile_files(store, tmp_path, hostile_files, kind):
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(hostile_files[kind])
    before = dump(store)
    for extra in ((), ("--dry-run",)):
        result = run(store, "targets", "load", str(path), "--campaign", WANZHOU, *extra)
        assert result.exit_code == 1 and HOSTILE[kind][1] in result.output, result.output
    assert dump(store) == before


def test_cli_targets_load_and_allocate_refuse_a_file_over_the_limit_before_reading_it(
        store, tmp_path, monkeypatch):
    monkeypatch.setenv("ENROLLMENT_MAX_UPLOAD_MB", "1")
    path = tmp_path / "200MB.csv"
    path.write_bytes(hostile.csv_rows(200_000))
    size = bounds.size_text(path.stat().st_size)
    monkeypatch.setattr(type(path), "read_bytes", lambda self: pytest.fail("the file was read"))
    before = dump(store)
    for args in (("targets", "load", str(path), "--campaign", WANZHOU),
                 ("allocate", str(path), "--total", "100", "--by", "上年参保人数")):
        result = run(store, *args)
        assert result.exit_code == 1 and f"文件大小 {size}，超过上限 1.0 MB" in result.output
    assert dump(store) == before


def test_cli_prints_at_most_200_problems_then_the_count(store, tmp_path):
    path = tmp_path / "unknown.csv"
    path.write_bytes(hostile.unknown_names())
    result = run(store, "ingest", str(path), "--campaign", CAMPAIGN, "--report-date", "2021-11-19")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("[错误]")]
    assert len(lines) == STORED_LIMIT + 1 and lines[-1] == "[错误] 另有 19,800 处错误未列出"
    assert "文件有 20000 处错误" in result.output


# --- the pages ----------------------------------------------------------------------------------

def page(path: str, campaign: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = campaign
    at.run()
    at.switch_page(path).run()
    assert not at.exception
    return at


def test_upload_page_refuses_a_hostile_file_and_keeps_working(store, hostile_files):
    at = page("pages/upload.py", CAMPAIGN)
    at.text_input(key="upload:uploader").set_value("泽州县医保局 张三").run()
    at.date_input(key=f"upload:{CAMPAIGN}:date").set_value(DAY).run()
    at.file_uploader[0].set_value(("炸弹.xlsx", hostile_files["cell at XFD1048576"],
                                   "application/octet-stream")).run()
    assert not at.exception
    errors = "\n".join(plain(e.value) for e in at.error)
    assert REFUSED in errors and "A1:XFD1048576" in errors
    log = next(d.value for d in at.dataframe if "状态" in d.value.columns)
    assert list(log["状态"]) == ["未通过（未保存）"] and "A1:XFD1048576" in log.iloc[0]["说明"]


def test_targets_page_refuses_a_hostile_file(store, hostile_files):
    before = dump(store)
    at = page("pages/targets.py", WANZHOU)
    at.file_uploader(key="targets:file:0").upload("任务.xlsx", hostile_files["cell at XFD1048576"]).run()
    assert not at.exception
    assert any(REFUSED in plain(e.value) and "A1:XFD1048576" in plain(e.value) for e in at.error)
    assert dump(store) == before
