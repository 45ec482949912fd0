"""The upload commands of the CLI: template, ingest (preview), uploads, history, withdraw,
upload-file. Same messages as the page; exit 1 on errors, 2 on unconfirmed warnings."""

import json

from click.testing import CliRunner

from enrollment.cli import cli

from . import files
from .fixtures import csv_bytes, dump
from .test_template import fill

CAMPAIGN = "jincheng-2022-residents"


def run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


def test_template_fill_ingest_history_withdraw_round_trip(store, tmp_path):
    blank = tmp_path / "模板.xlsx"
    made = run(store, "template", "--campaign", CAMPAIGN, "--scope", "泽州县", "--level", "township",
               "--out", str(blank))
    assert made.exit_code == 0, made.output
    assert "泽州县，乡镇（街道），16 个单位" in made.output
    filled = tmp_path / "泽州.xlsx"
    filled.write_bytes(fill(blank.read_bytes(), {"140525100": 1234, "140525101": 2000}))
    dry = run(store, "ingest", str(filled), "--campaign", CAMPAIGN, "--report-date", "2021-11-19",
              "--dry-run")
    assert dry.exit_code == 2          # 14 townships left empty: confirm that they are not reported
    assert "南村镇" in dry.output and "1,234" in dry.output
    assert "「大东沟镇」没有填写累计参保人数，本行不上报" in dry.output
    refused = run(store, "ingest", str(filled), "--campaign", CAMPAIGN, "--report-date", "2021-11-19",
                  "--uploader", "泽州县医保局")
    assert refused.exit_code == 2 and "--accept-warnings" in refused.output
    done = run(store, "ingest", str(filled), "--campaign", CAMPAIGN, "--report-date", "2021-11-19",
               "--uploader", "泽州县医保局", "--accept-warnings")
    assert done.exit_code == 0 and "2 个单位，累计参保人数合计 3,234" in done.output

    log = json.loads(run(store, "uploads", "--campaign", CAMPAIGN, "--format", "json").output)
    assert [(u["status"], u["uploader"]) for u in log] == [
        ("accepted", "泽州县医保局"), ("rejected", "泽州县医保局")]
    table = run(store, "uploads", "--campaign", CAMPAIGN, "--uploader", "泽州县医保局")
    assert "已接收" in table.output and "未通过（未保存）" in table.output

    history = run(store, "history", "--campaign", CAMPAIGN, "--unit", "南村镇")
    assert history.exit_code == 0 and "1234" in history.output and "泽州.xlsx" in history.output

    raw = tmp_path / "raw.xlsx"
    fetched = run(store, "upload-file", str(log[0]["id"]), "--campaign", CAMPAIGN, "--out", str(raw))
    assert fetched.exit_code == 0 and raw.read_bytes() == filled.read_bytes()

    undone = run(store, "withdraw", "--campaign", CAMPAIGN, "--uploader", "泽州县医保局")
    assert undone.exit_code == 0 and f"已撤回第 {log[0]['id']} 号上报" in undone.output
    progress = json.loads(run(store, "progress", "--campaign", CAMPAIGN, "--as-of", "2021-11-19",
                              "--level", "township", "--format", "json").output)
    assert {u["code"]: u["enrolled"] for u in progress["units"]}["140525100"] is None
    again = run(store, "withdraw", "--campaign", CAMPAIGN, "--uploader", "泽州县医保局")
    assert again.exit_code == 1 and "没有可以撤回的上报" in again.output


def test_ingest_error_messages_name_excel_rows_and_store_nothing(store, tmp_path):
    path = tmp_path / "bad.xls"
    path.write_bytes(files.xls([["晋城市参保进度表"], ["单位", "累计参保人数"], ["泽州", "1,000"],
                                ["火星县", 5], ["高平", "１２．５"], ["合计", 1000]]))
    before = dump(store)
    result = run(store, "ingest", str(path), "--campaign", CAMPAIGN, "--report-date", "2021-11-19")
    assert result.exit_code == 1
    assert "第 4 行：未知单位「火星县」" in result.output
    assert "第 5 行：「高平市」的累计参保人数为 12.5，人数应为整数" in result.output
    assert "文件有 2 处错误，未保存任何数据" in result.output
    after = dump(store)
    assert after["reports"] == before["reports"]


def test_ingest_date_question_is_answered_by_flags(store, tmp_path):
    path = tmp_path / "dated.csv"
    path.write_bytes(csv_bytes([["填报日期：2021年11月12日"], ["单位", "累计参保人数"], ["城区", 5]]))
    asked = run(store, "ingest", str(path), "--campaign", CAMPAIGN, "--report-date", "2021-11-19")
    assert asked.exit_code == 2
    assert "去掉 --report-date 则使用文件中的日期" in asked.output
    by_file = run(store, "ingest", str(path), "--campaign", CAMPAIGN)
    assert by_file.exit_code == 0 and "上报日期 2021-11-12" in by_file.output


def test_bad_template_scope_and_unknown_unit_history_exit_1(store, tmp_path):
    bad = run(store, "template", "--campaign", CAMPAIGN, "--scope", "火星", "--out",
              str(tmp_path / "x.xlsx"))
    assert bad.exit_code == 1 and "不是本活动的单位" in bad.output
    none = run(store, "history", "--campaign", CAMPAIGN, "--unit", "城区")
    assert none.exit_code == 0 and "还没有上报过数字" in none.output
    missing = run(store, "upload-file", "999", "--campaign", CAMPAIGN, "--out", str(tmp_path / "y"))
    assert missing.exit_code == 1 and "第 999 号上报不存在" in missing.output
