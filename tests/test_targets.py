"""Target tables: loading (checks, atomic commit, raw file kept), versions, templates, low income.

The Zhoujiaba community numbers below are generated for the tests: the notice's attachment 1 is
not in our sources, and nothing here is shipped.
"""

import datetime as dt
import io
import json

import pytest
import python_calamine
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from enrollment import campaigns, db
from enrollment.cli import cli
from enrollment.metrics import progress
from enrollment.targets import tables as targets
from enrollment.uploads import ingest

from .fixtures import ROOT, csv_bytes, dump, xlsx_bytes

WANZHOU = "wanzhou-zhoujiaba-2022-residents"
JINCHENG = "jincheng-2022-residents"
COMMUNITIES = ["天子湖", "天生城", "流水", "周家坝", "救兵城", "天子路", "映水坪", "双堰塘",
               "长生河", "集中", "狮子"]
HEADER = ["社区", "户籍人口数", "常住人口数", "2021年参保人数", "2022年任务数", "低收入人口数"]


def community_rows(seed: int = 0) -> list[list]:
    """Made-up but plausible figures for the 11 communities (test data only)."""
    rows = []
    for i, name in enumerate(COMMUNITIES):
        registered = 4000 + 613 * i + seed
        resident = registered + 250 * (i % 4) - 300
        baseline = int(resident * 0.93)
        task = (baseline // 10 + 3) * 10
        rows.append([name, registered, resident, baseline, task, 40 + 7 * i])
    return rows


def zhoujiaba_table(rows=None, total: bool = True, fmt: str = "xlsx") -> bytes:
    rows = community_rows() if rows is None else rows
    body = [["万州区周家坝街道2022年度城乡居民医保参保任务分解表"], [], HEADER, *rows]
    if total:
        body.append(["合计", *(sum(r[c] for r in rows if isinstance(r[c], int))
                              for c in range(1, len(HEADER)))])
    return xlsx_bytes(body) if fmt == "xlsx" else csv_bytes(body)


def run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


def load(store, content: bytes, name: str = "周家坝任务分解表.xlsx", **kwargs) -> targets.Saved:
    return targets.commit(store, WANZHOU, content, name, created_by="周家坝街道 张三", **kwargs)


# --- the Zhoujiaba community table ------------------------------------------------------------

def test_zhoujiaba_table_loads_and_progress_shows_every_community(store):
    saved = load(store, zhoujiaba_table())
    rows = community_rows()
    assert (saved.level, saved.scope_code, saved.units) == ("community", "500101021", 11)
    assert saved.total_task == sum(r[4] for r in rows)
    assert "已保存目标任务表第" in saved.summary() and "周家坝街道下属 11 个村（社区）" in saved.summary()
    campaign = campaigns.load(store, WANZHOU)
    with store.read() as con:
        result = progress.compute(con, campaign, dt.date(2022, 1, 14))
    communities = result.level("community")
    assert len(communities) == 11 and not result.targets_missing
    by_name = {n.removesuffix("社区居民委员会"): t for n, t in zip(communities["name"], communities["target"])}
    assert by_name == {r[0]: r[4] for r in rows}
    assert result.total["target"] == saved.total_task
    assert set(communities["status"]) == {"not_reported"}
    assert list(communities["low_income_target"]) == [r[5] for r in rows]


def test_after_loading_the_cli_progress_json_has_community_targets_and_low_income(store):
    load(store, zhoujiaba_table())
    report = csv_bytes([["社区", "累计参保人数", "低收入人口参保人数"],
                        ["天子湖", 3000, 40], ["天生城", 2500, 30]])
    ingest.commit(store, WANZHOU, report, "第7周.csv", report_date=dt.date(2022, 1, 14),
                  uploader="测试", now=dt.datetime(2022, 1, 14, 8, 0), today=dt.date(2022, 3, 1))
    result = run(store, "progress", "--campaign", WANZHOU, "--as-of", "2022-01-14",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["targets_missing"] is False and data["low_income_goal"] == 1.0
    units = {u["name"].removesuffix("社区居民委员会"): u for u in data["units"]}
    assert len(units) == 11
    rows = {r[0]: r for r in community_rows()}
    assert all(units[n]["target"] == rows[n][4] for n in COMMUNITIES)
    assert units["天子湖"]["low_income_target"] == 40 and units["天子湖"]["low_income_enrolled"] == 40
    assert units["天子湖"]["low_income_completion"] == 1.0          # the 100 % requirement met
    assert units["天生城"]["low_income_completion"] == pytest.approx(30 / 47)
    assert units["天子湖"]["status"] in ("on_track", "behind", "achieved")
    assert units["流水"]["status"] == "not_reported"
    assert data["total"]["low_income_target"] == sum(r[5] for r in rows.values())
    table = run(store, "progress", "--campaign", WANZHOU, "--as-of", "2022-01-14")
    assert "目标任务未录入" not in table.output


def overview(tab: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["campaign"] = WANZHOU
    at.query_params["tab"] = tab
    return at.run()


def test_overview_page_shows_the_eleven_communities_once_targets_are_loaded(store):
    at = overview("明细表")
    assert any("目标任务未录入" in e.value for e in at.error)
    load(store, zhoujiaba_table())
    at = overview("明细表")
    assert not at.exception
    assert at.subheader[0].value.startswith("进度总览")
    assert not any("目标任务未录入" in e.value for e in at.error)
    table = next(d.value for d in at.dataframe if len(d.value) == 11)
    tasks = {n.removesuffix("社区居民委员会"): t for n, t in zip(table["单位"], table["任务数"])}
    assert tasks == {r[0]: r[4] for r in community_rows()}
    # The low-income targets are tracked against 100 % on the same page.
    at = overview("低收入人口")
    assert not at.exception
    low = next(d.value for d in at.dataframe if "低收入人口任务数" in d.value.columns)
    assert sorted(low["低收入人口任务数"]) == sorted(r[5] for r in community_rows())


def test_the_file_is_kept_as_an_upload_of_kind_targets(store):
    content = zhoujiaba_table()
    saved = load(store, content)
    with store.read() as con:
        kind, status, stored, uploader, rows = con.raw.execute(
            "SELECT kind, status, content, uploader, row_count FROM uploads WHERE id = ?",
            [saved.upload_id]).fetchone()
        original = db.targets.original_file(con, WANZHOU, saved.set_id)
        sets = con.raw.execute("SELECT upload_id, created_by, file_name FROM target_sets WHERE id = ?",
                           [saved.set_id]).fetchone()
    assert (kind, status, bytes(stored), uploader, rows) == (
        "targets", "accepted", content, "周家坝街道 张三", 11)
    assert original == ("周家坝任务分解表.xlsx", content)
    assert sets == (saved.upload_id, "周家坝街道 张三", "周家坝任务分解表.xlsx")


def test_a_csv_in_gbk_with_full_width_digits_and_long_names_loads_too(store):
    rows = [[f"{name}社区居民委员会", "", "", "", f"{3000 + i:,}".translate(
        str.maketrans("0123456789,", "０１２３４５６７８９，")), ""] for i, name in enumerate(COMMUNITIES)]
    content = csv_bytes([HEADER, *rows], encoding="gbk")
    saved = load(store, content, "任务.csv")
    assert saved.total_task == sum(3000 + i for i in range(11))


# --- bad files: row messages, nothing stored --------------------------------------------------

def _bad(kind: str) -> tuple[bytes, list[str]]:
    rows = community_rows()
    if kind == "missing units":
        return zhoujiaba_table(rows[:9]), ["缺少以下单位的任务数：集中社区居民委员会、狮子社区居民委员会"]
    if kind == "total mismatch":
        body = [HEADER, *rows, ["合计", "", "", "", sum(r[4] for r in rows) + 100, ""]]
        return xlsx_bytes(body), ["第 13 行：合计行的「2022年任务数」为", "相差 +100；请核对各行数字或合计行"]
    if kind == "duplicate units":
        return zhoujiaba_table(rows + [["天子湖社区", 1, 1, 1, 10, 1]], total=False), [
            "第 15 行：「天子湖社区居民委员会」重复出现（第 4 行已填写），每个单位只能填一行"]
    if kind == "negative task":
        rows[2][4] = -5
        return zhoujiaba_table(rows, total=False), ["第 6 行：「2022年任务数」人数不能为负数"]
    if kind == "text task":
        rows[3][4] = "待定"
        return zhoujiaba_table(rows, total=False), ["第 7 行：「2022年任务数」「待定」不是数字"]
    if kind == "fractional task":
        rows[3][4] = 1234.5
        return zhoujiaba_table(rows, total=False), ["第 7 行", "人数应为整数"]
    if kind == "unknown unit":
        rows[0][0] = "天子糊"
        return zhoujiaba_table(rows, total=False), ["第 4 行：未知单位「天子糊」。您是否要填：", "天子湖社区居民委员会"]
    if kind == "no task column":
        return xlsx_bytes([["社区", "常住人口数"], ["天子湖", 1]]), ["找不到「任务数」"]
    raise AssertionError(kind)


BAD = ["missing units", "total mismatch", "duplicate units", "negative task", "text task",
       "fractional task", "unknown unit", "no task column"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_target_files_are_rejected_with_row_messages_and_change_nothing(store, kind):
    load(store, zhoujiaba_table())                  # a current version that must survive
    content, expected = _bad(kind)
    before = dump(store)
    with pytest.raises(targets.TargetsRejected) as rejected:
        load(store, content)
    text = "\n".join(str(p) for p in rejected.value.table.problems)
    for part in expected:
        assert part in text, text
    assert not rejected.value.warnings_only
    assert dump(store) == before


@pytest.mark.parametrize("kind", ["missing units", "total mismatch", "text task"])
def test_cli_targets_load_rejects_bad_files_with_exit_1(store, tmp_path, kind):
    content, expected = _bad(kind)
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    before = dump(store)
    result = run(store, "targets", "load", str(path), "--campaign", WANZHOU)
    assert result.exit_code == 1
    assert all(part in result.output for part in expected), result.output
    assert "未保存任何数据" in result.output
    assert dump(store) == before


def test_warnings_need_confirmation(store, tmp_path):
    rows = community_rows()
    rows[0][4] = rows[0][3] - 100                 # task below last year's enrolment
    rows[1][5] = rows[1][4] + 1                   # more low-income residents than the task
    path = tmp_path / "w.xlsx"
    path.write_bytes(zhoujiaba_table(rows))
    before = dump(store)
    refused = run(store, "targets", "load", str(path), "--campaign", WANZHOU)
    assert refused.exit_code == 2
    assert "第 4 行" in refused.output and "低于上年参保人数" in refused.output
    assert "第 5 行" in refused.output and "低收入人口数" in refused.output
    assert dump(store) == before
    accepted = run(store, "targets", "load", str(path), "--campaign", WANZHOU, "--uploader",
                   "张三", "--accept-warnings", "--note", "万州周办发〔2022〕1号 附件1（测试数据）")
    assert accepted.exit_code == 0, accepted.output
    assert "录入人 张三" in accepted.output


def test_dry_run_checks_and_stores_nothing(store, tmp_path):
    path = tmp_path / "ok.xlsx"
    path.write_bytes(zhoujiaba_table())
    before = dump(store)
    result = run(store, "targets", "load", str(path), "--campaign", WANZHOU, "--dry-run")
    assert result.exit_code == 0 and "检查通过（未保存）：11 个村（社区）" in result.output
    assert dump(store) == before


# --- versions ---------------------------------------------------------------------------------

def test_earlier_versions_are_kept_and_the_current_one_is_marked(store):
    first = load(store, zhoujiaba_table(community_rows(0)), "第一版.xlsx")
    second = load(store, zhoujiaba_table(community_rows(500)), "第二版.xlsx")
    assert second.changed == 11
    with store.read() as con:
        history = targets.history(con, WANZHOU)
        current = db.targets.current(con, WANZHOU)
    assert list(history["set_id"]) == [second.set_id, first.set_id]
    assert list(history["status"]) == ["current", "replaced"]
    assert list(history["file_name"]) == ["第二版.xlsx", "第一版.xlsx"]
    assert list(history["created_by"]) == ["周家坝街道 张三"] * 2
    assert set(current["set_id"]) == {second.set_id}
    assert (first.number, second.number) == (1, 2)        # numbered within the campaign
    restored = targets.restore(store, WANZHOU, first.number, created_by="李四")
    with store.read() as con:
        history = targets.history(con, WANZHOU)
        current = db.targets.current(con, WANZHOU)
    assert list(history["status"]) == ["current", "replaced", "replaced"]
    assert history.iloc[0]["source"] == "restore" and history.iloc[0]["note"].startswith(
        "恢复第 1 版")
    assert restored.number == 3 and "已保存目标任务表第 3 版" in restored.summary()
    assert sorted(current["task"]) == sorted(r[4] for r in community_rows(0))
    assert restored.changed == 11


def test_history_cli_marks_the_current_version(store, tmp_path):
    load(store, zhoujiaba_table(community_rows(0)), "第一版.xlsx")
    load(store, zhoujiaba_table(community_rows(500)), "第二版.xlsx")
    text = run(store, "targets", "history", "--campaign", WANZHOU)
    lines = text.output.strip().splitlines()
    assert "当前使用" in lines[1] and "第二版.xlsx" in lines[1]
    assert "已被替换" in lines[2] and "第一版.xlsx" in lines[2]
    data = json.loads(run(store, "targets", "history", "--campaign", WANZHOU, "--format",
                          "json").output)
    assert [d["status"] for d in data] == ["current", "replaced"]
    older = data[1]["number"]
    restored = run(store, "targets", "restore", "--campaign", WANZHOU, "--set", str(older),
                   "--uploader", "李四")
    assert restored.exit_code == 0 and "录入人 李四" in restored.output
    shown = json.loads(run(store, "targets", "show", "--campaign", WANZHOU, "--format",
                           "json").output)
    assert [u["task"] for u in shown] == [r[4] for r in community_rows(0)]
    missing = run(store, "targets", "restore", "--campaign", WANZHOU, "--set", "999")
    assert missing.exit_code == 1 and "没有第 999 版" in missing.output


def test_a_township_table_for_one_county_sits_beside_the_county_table(store):
    # Jincheng: 阳城县's 292,300 split over its 15 townships; the county table stays current.
    with store.read() as con:
        towns = con.raw.execute("SELECT code, name FROM units WHERE campaign_id = ? AND "
                            "parent_code = '140522' ORDER BY position", [JINCHENG]).fetchall()
    tasks = [19480 + 10 * i for i in range(len(towns))]
    tasks[-1] += 292300 - sum(tasks)
    content = csv_bytes([["乡镇", "任务数"], *([n, t] for (_, n), t in zip(towns, tasks))])
    saved = targets.commit(store, JINCHENG, content, "阳城县乡镇.csv")
    assert (saved.level, saved.scope_code, saved.units) == ("township", "140522", 15)
    with store.read() as con:
        history = targets.history(con, JINCHENG)
        result = progress.compute(con, campaigns.get(con, JINCHENG), dt.date(2021, 11, 19))
    assert list(history["status"]) == ["current", "current"]
    yangcheng = result.children("140522")
    assert list(yangcheng["target"]) == tasks
    assert result.total["target"] == 1630000


def test_a_township_table_that_does_not_add_up_to_the_county_task_warns(store):
    with store.read() as con:
        towns = [r[0] for r in con.raw.execute("SELECT name FROM units WHERE campaign_id = ? AND "
                                           "parent_code = '140522'", [JINCHENG]).fetchall()]
    content = csv_bytes([["乡镇", "任务数"], *([n, 1000] for n in towns)])
    with pytest.raises(targets.TargetsRejected) as rejected:
        targets.commit(store, JINCHENG, content, "阳城县乡镇.csv")
    assert rejected.value.warnings_only
    assert "各乡镇（街道）任务数之和为 15,000，与阳城县现行任务数 292,300 不一致" in str(rejected.value)


def test_a_campaign_total_alone_is_a_table_of_its_own(store):
    saved = targets.commit(store, WANZHOU, csv_bytes([["单位", "任务数"], ["周家坝街道", 60000]]),
                           "街道总任务.csv")
    assert (saved.level, saved.scope_code, saved.units) == ("township", "500101021", 1)
    assert "周家坝街道总任务" in saved.summary()


# --- templates --------------------------------------------------------------------------------

def _cells(xlsx: bytes) -> list[list]:
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(xlsx))
    return book.get_sheet_by_index(0).to_python(skip_empty_area=False)


def test_the_template_lists_the_units_and_loads_once_the_tasks_are_filled_in(store):
    with store.read() as con:
        template = targets.template(con, WANZHOU, "community")
    cells = _cells(template)
    header = cells[2]
    assert header[:3] == ["单位代码", "单位名称", "任务数"] and "低收入人口及稳定脱贫人口数" in header
    units = [row for row in cells[3:] if str(row[0]).startswith("500101021")]
    assert [u[0] for u in units] == [f"500101021{i:03d}" for i in range(1, 12)]
    assert any(str(row[0]).startswith("说明") for row in cells)
    empty = targets.check_file(store, WANZHOU, template)
    assert not empty.ok and sum("缺少任务数" in p.message for p in empty.problems) == 11
    filled = [cells[0], [], header] + [[u[0], u[1], 3000 + i, None, None, None, 50]
                                       for i, u in enumerate(units)]
    saved = load(store, xlsx_bytes(filled))
    assert saved.units == 11 and saved.total_task == sum(3000 + i for i in range(11))
    with store.read() as con:
        again = _cells(targets.template(con, WANZHOU, "community"))
    assert [r[2] for r in again[3:14]] == [3000 + i for i in range(11)]   # current values filled


def test_cli_template_and_show(store, tmp_path):
    out = tmp_path / "t.xlsx"
    result = run(store, "targets", "template", "--campaign", JINCHENG, "--level", "township",
                 "--scope", "140522", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [r for r in _cells(out.read_bytes())[3:] if str(r[0]).startswith("140522")]
    assert len(rows) == 15
    csv_out = tmp_path / "t.csv"
    assert run(store, "targets", "template", "--campaign", WANZHOU, "--out",
               str(csv_out)).exit_code == 0
    assert csv_out.read_bytes().decode("utf-8-sig").splitlines()[0].startswith("单位代码,单位名称,任务数")
    shown = run(store, "targets", "show", "--campaign", JINCHENG, "--format", "csv")
    lines = shown.output.strip().splitlines()
    assert lines[0].startswith("code,name,level,task,baseline") and len(lines) == 7
    missing = run(store, "targets", "show", "--campaign", WANZHOU)
    assert missing.exit_code == 1 and "目标任务未录入" in missing.output


def test_allocate_with_a_campaign_saves_the_result_as_a_version(store, tmp_path):
    path = tmp_path / "base.csv"
    path.write_bytes(zhoujiaba_table(fmt="csv"))
    result = run(store, "allocate", str(path), "--total", "75000", "--by",
                 "常住人口数=0.5,户籍人口数=0.3,2021年参保人数=0.2", "--round", "10",
                 "--floor", "2021年参保人数", "--campaign", WANZHOU, "--save", "--uploader", "张三")
    assert result.exit_code == 0, result.output
    with store.read() as con:
        current = db.targets.current(con, WANZHOU)
        history = targets.history(con, WANZHOU)
    assert current["task"].sum() == 75000 and (current["task"] % 10 == 0).all()
    assert (current["task"] >= current["baseline"]).all()
    assert list(current["low_income"]) == [r[5] for r in community_rows()]
    assert history.iloc[0]["source"] == "allocation"
    assert "常住人口数×0.5＋户籍人口数×0.3＋2021年参保人数×0.2" in history.iloc[0]["note"]
    unknown = tmp_path / "other.csv"
    unknown.write_bytes(csv_bytes([["社区", "常住人口数"], ["天子湖", 1], ["火星", 2]]))
    refused = run(store, "allocate", str(unknown), "--total", "100", "--by", "常住人口数",
                  "--campaign", WANZHOU, "--save")
    assert refused.exit_code == 1 and "未知单位「火星」" in refused.output


@pytest.mark.parametrize("task_header, base_header", [
    ("2022年度参保缴费目标任务数", "2021年度参保缴费人数"),
    ("分解任务数（人）", "2021年实际参保人数"),
    ("任务数", "上年参保人数"),
])
def test_header_spellings_of_real_allocation_tables(store, task_header, base_header):
    rows = [[name, 1000 + i, 3000 + i] for i, name in enumerate(COMMUNITIES)]
    saved = load(store, xlsx_bytes([["社区", base_header, task_header], *rows]))
    with store.read() as con:
        current = db.targets.current(con, WANZHOU)
    assert saved.units == 11
    assert list(current["task"]) == [3000 + i for i in range(11)]
    assert list(current["baseline"]) == [1000 + i for i in range(11)]


def test_a_row_with_a_bad_task_is_not_also_reported_missing_nor_spoils_the_total_check(store):
    rows = community_rows()
    rows[3][4] = "待定"
    with pytest.raises(targets.TargetsRejected) as rejected:
        load(store, zhoujiaba_table(rows))
    messages = [str(p) for p in rejected.value.table.problems]
    assert messages == ["[错误] 第 7 行：「2022年任务数」「待定」不是数字"]


def test_loading_the_current_table_again_asks_first(store):
    load(store, zhoujiaba_table())
    before = dump(store)
    with pytest.raises(targets.TargetsRejected) as rejected:
        load(store, zhoujiaba_table())
    assert rejected.value.warnings_only and "与当前任务表完全相同" in str(rejected.value)
    assert dump(store) == before
