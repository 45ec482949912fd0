"""The CLI contract: `python -m enrollment [--db PATH] COMMAND` (relied on; extend, don't break)."""

import json
import subprocess
import sys

from click.testing import CliRunner

from enrollment.cli import cli

from .fixtures import csv_bytes, dump, xlsx_bytes


def run(store, *args):
    result = CliRunner().invoke(cli, ["--db", store.target, *args])
    return result


def test_init_then_campaigns(empty_store):
    result = run(empty_store, "init")
    assert result.exit_code == 0, result.output
    assert "新增参保活动 3 个" in result.output
    again = run(empty_store, "init")
    assert again.exit_code == 0 and "已是最新" in again.output
    listed = run(empty_store, "campaigns")
    lines = listed.output.strip().splitlines()
    assert len(lines) == 3
    assert any(line.startswith("jincheng-2022-residents\t") and "2021-09-01 至 2021-12-25" in line
               and "97%" in line for line in lines)


def test_commands_on_an_uninitialised_database_say_run_init(empty_store):
    result = run(empty_store, "campaigns")
    assert result.exit_code == 1
    assert "python -m enrollment init" in result.output


def test_progress_json_contract_for_jincheng_residents(store):
    result = run(store, "progress", "--campaign", "jincheng-2022-residents",
                 "--as-of", "2021-11-19", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"campaign", "as_of", "time_progress", "goal", "total", "units"} <= set(data)
    assert data["campaign"] == "jincheng-2022-residents" and data["as_of"] == "2021-11-19"
    assert data["time_progress"] == 80 / 116 and data["goal"] == 0.97
    assert data["total"]["target"] == 1630000
    assert [u["name"] for u in data["units"]] == ["城区", "沁水县", "阳城县", "陵川县", "泽州县", "高平市"]
    assert {u["code"]: u["target"] for u in data["units"]} == {
        "140502": 188000, "140525": 404760, "140581": 373650, "140522": 292300,
        "140524": 213360, "140521": 157930}
    unit_keys = {"code", "name", "level", "parent_code", "target", "enrolled", "completion",
                 "pace", "gap_pp", "status", "week_delta", "report_date"}
    assert all(unit_keys <= set(u) for u in data["units"])
    assert all(u["status"] == "not_reported" and u["level"] == "county" for u in data["units"])


def test_progress_json_for_employees_has_seven_units(store):
    data = json.loads(run(store, "progress", "--campaign", "jincheng-2021-employees",
                          "--as-of", "2021-11-19", "--format", "json").output)
    assert len(data["units"]) == 7 and data["total"]["target"] == 521000
    assert data["units"][0]["name"] == "市本级"


def test_progress_for_wanzhou_lists_communities_and_missing_targets(store):
    result = run(store, "progress", "--campaign", "wanzhou-zhoujiaba-2022-residents",
                 "--as-of", "2022-01-14", "--format", "json")
    data = json.loads(result.output)
    assert len(data["units"]) == 11 and data["targets_missing"] is True
    assert all(u["status"] == "no_target" and u["target"] is None for u in data["units"])
    table = run(store, "progress", "--campaign", "wanzhou-zhoujiaba-2022-residents",
                "--as-of", "2022-01-14")
    assert "目标任务未录入" in table.output


def test_progress_levels_and_formats(store):
    townships = json.loads(run(store, "progress", "--campaign", "jincheng-2022-residents",
                               "--as-of", "2021-11-19", "--level", "township",
                               "--format", "json").output)
    assert len(townships["units"]) == 77
    everything = json.loads(run(store, "progress", "--campaign", "jincheng-2022-residents",
                                "--as-of", "2021-11-19", "--level", "all", "--format", "json").output)
    assert len(everything["units"]) == 1 + 6 + 77 + 1729
    csv_out = run(store, "progress", "--campaign", "jincheng-2022-residents",
                  "--as-of", "2021-11-19", "--format", "csv").output.splitlines()
    assert csv_out[0].startswith("code,name,level,parent_code,target,enrolled")
    assert len(csv_out) == 7
    bad = run(store, "progress", "--campaign", "jincheng-2021-employees", "--level", "township")
    assert bad.exit_code == 1 and "没有" in bad.output


def test_unknown_campaign_and_bad_date(store):
    unknown = run(store, "progress", "--campaign", "nope")
    assert unknown.exit_code == 1 and "没有编号为「nope」" in unknown.output
    bad_date = run(store, "progress", "--campaign", "jincheng-2022-residents", "--as-of", "19/11")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output


def test_ingest_then_progress(store, tmp_path):
    path = tmp_path / "zezhou.csv"
    path.write_bytes(csv_bytes([["县区", "累计参保人数"], ["泽州", "270,000"], ["高平市", 300000]]))
    result = run(store, "ingest", str(path), "--campaign", "jincheng-2022-residents",
                 "--report-date", "2021-11-19", "--uploader", "泽州县医保局")
    assert result.exit_code == 0, result.output
    assert "2 个单位" in result.output and "570,000" in result.output
    data = json.loads(run(store, "progress", "--campaign", "jincheng-2022-residents",
                          "--as-of", "2021-11-19", "--format", "json").output)
    enrolled = {u["name"]: u["enrolled"] for u in data["units"]}
    assert enrolled["泽州县"] == 270000 and enrolled["高平市"] == 300000
    assert data["source"] == "upload"


def test_ingest_with_bad_rows_exits_1_names_rows_and_changes_nothing(store, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx_bytes([["单位", "累计参保人数"], ["泽州", 1000], ["火星县", 5],
                                 ["高平", "很多"], ["阳城", -3]]))
    before = dump(store)
    result = run(store, "ingest", str(path), "--campaign", "jincheng-2022-residents",
                 "--report-date", "2021-11-19")
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "未知单位「火星县」" in result.output
    assert "第 4 行" in result.output and "不是数字" in result.output
    assert "第 5 行" in result.output and "负数" in result.output
    after = dump(store)
    assert after["reports"] == before["reports"] and after["targets"] == before["targets"]
    rejected = [r for r in after["uploads"] if r not in before["uploads"]]
    assert len(rejected) == 1 and "rejected" in rejected[0]   # kept in the archive, nothing else


def test_ingest_dry_run_stores_nothing(store, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(csv_bytes([["单位", "累计参保人数"], ["城区", 1000]]))
    before = dump(store)
    result = run(store, "ingest", str(path), "--campaign", "jincheng-2022-residents",
                 "--report-date", "2021-11-19", "--dry-run")
    assert result.exit_code == 0 and "未保存" in result.output
    assert dump(store) == before


def test_ingest_warnings_need_acceptance(store, tmp_path):
    first = tmp_path / "w1.csv"
    first.write_bytes(csv_bytes([["单位", "累计参保人数"], ["城区", 1000]]))
    assert run(store, "ingest", str(first), "--campaign", "jincheng-2022-residents",
               "--report-date", "2021-11-12").exit_code == 0
    lower = tmp_path / "w2.csv"
    lower.write_bytes(csv_bytes([["单位", "累计参保人数"], ["城区", 900]]))
    refused = run(store, "ingest", str(lower), "--campaign", "jincheng-2022-residents",
                  "--report-date", "2021-11-19")
    assert refused.exit_code == 2 and "低于上次上报的 1,000" in refused.output
    accepted = run(store, "ingest", str(lower), "--campaign", "jincheng-2022-residents",
                   "--report-date", "2021-11-19", "--accept-warnings")
    assert accepted.exit_code == 0


def test_demo_and_clear(store):
    result = run(store, "demo", "--campaign", "jincheng-2022-residents")
    assert result.exit_code == 0 and "示例数据" in result.output
    table = run(store, "progress", "--campaign", "jincheng-2022-residents", "--as-of", "2021-11-19")
    assert table.output.startswith("【示例数据】")
    assert run(store, "demo", "--campaign", "wanzhou-zhoujiaba-2022-residents").output.strip() \
        == "该活动尚未录入目标任务，无法生成示例数据"
    cleared = run(store, "demo", "--campaign", "jincheng-2022-residents", "--clear")
    assert cleared.exit_code == 0 and "已删除" in cleared.output


def test_python_dash_m_entry_point_and_env_setting(store):
    proc = subprocess.run([sys.executable, "-m", "enrollment", "campaigns"],
                          capture_output=True, text=True, env={**__import__("os").environ,
                                                               "ENROLLMENT_DB": store.target})
    assert proc.returncode == 0 and "jincheng-2022-residents" in proc.stdout
