"""Region set-up: a campaign for any region from the national division codes."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from enrollment import campaigns, db
from enrollment.campaigns import regions
from enrollment.cli import cli

from .fixtures import dump

YANGCHENG = ["campaign", "create", "--id", "yangcheng-2022-residents",
             "--name", "阳城县2022年度城乡居民基本医疗保险参保缴费", "--region", "140522",
             "--levels", "county,township,village", "--start", "2021-09-01",
             "--end", "2021-12-25", "--goal", "0.97"]


def run(store, *args):
    return CliRunner().invoke(cli, ["--db", store.target, *args])


def test_create_yangcheng_down_to_its_villages(store):
    result = run(store, *YANGCHENG)
    assert result.exit_code == 0, result.output
    assert "共 357 个单位" in result.output and "15 个乡镇（街道）、341 个村（社区）" in result.output
    with store.read() as con:
        campaign = campaigns.get(con, "yangcheng-2022-residents")
        counts = db.units.level_counts(con, "yangcheng-2022-residents")
        root = db.units.root(con, "yangcheng-2022-residents")
        towns = db.units.children(con, "yangcheng-2022-residents", "140522")
    # The county itself is the root; 'village' is the package's 'community'.
    assert campaign.levels == ("township", "community")
    assert (campaign.start, campaign.end, float(campaign.goal)) == (
        dt.date(2021, 9, 1), dt.date(2021, 12, 25), 0.97)
    assert counts == {"county": 1, "township": 15, "community": 341}
    assert (root.code, root.name) == ("140522", "阳城县")
    assert all(t.code.startswith("140522") and len(t.code) == 9 for t in towns)
    listed = run(store, "campaigns").output
    assert "yangcheng-2022-residents\t阳城县2022年度" in listed
    progress = json.loads(run(store, "progress", "--campaign", "yangcheng-2022-residents",
                              "--as-of", "2021-11-19", "--format", "json").output)
    assert progress["targets_missing"] is True and len(progress["units"]) == 15


def test_a_city_campaign_with_counties_only(store):
    result = run(store, "campaign", "create", "--id", "taiyuan-2022", "--name", "太原市2022年度",
                 "--region", "1401", "--levels", "county", "--start", "2021-09-01",
                 "--end", "2021-12-31", "--goal", "97%", "--low-income-goal", "1")
    assert result.exit_code == 0, result.output
    with store.read() as con:
        c = campaigns.get(con, "taiyuan-2022")
        counts = db.units.level_counts(con, "taiyuan-2022")
    assert counts["city"] == 1 and counts["county"] >= 10
    assert float(c.goal) == 0.97 and float(c.low_income_goal) == 1.0


@pytest.mark.parametrize("change, message", [
    ({"--region": "999999"}, "区划代码 999999 不存在"),
    ({"--region": "14052"}, "不是有效的统计用区划代码"),
    ({"--levels": "province"}, "在所选区划（县（市、区）级）之上"),
    ({"--levels": "hamlet"}, "未知层级「hamlet」"),
    ({"--id": "Yang Cheng!"}, "活动编号「Yang Cheng!」不合规"),
    ({"--id": "jincheng-2022-residents"}, "已存在"),
    ({"--end": "2021-08-01"}, "早于开始日期"),
    ({"--goal": "1.5"}, "目标参保率应在 0 到 100% 之间"),
])
def test_bad_set_up_is_refused_and_changes_nothing(store, change, message):
    args = list(YANGCHENG)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    before = dump(store)
    result = run(store, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert dump(store) == before


def test_regions_search_names_the_ancestors():
    result = CliRunner().invoke(cli, ["regions", "阳城"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "140522\t县（市、区）\t山西省 晋城市 阳城县" in lines
    assert any(line.startswith("140830106\t") and "运城市 芮城县 阳城镇" in line for line in lines)
    by_code = CliRunner().invoke(cli, ["regions", "500101021"])
    assert "重庆市" in by_code.output and "周家坝街道" in by_code.output
    none = CliRunner().invoke(cli, ["regions", "不存在的地方"])
    assert none.exit_code == 1


def test_plan_counts_without_creating():
    plan = regions.plan("140522", "township,村")
    assert plan.counts == {"township": 15, "community": 341}
    assert plan.summary() == "阳城县（140522）：15 个乡镇（街道）、341 个村（社区）"
    assert regions.normalize_levels("1405", ["village", "county", "community"]) == (
        "county", "community")
    assert regions.levels_below("500101021") == ["community"]
