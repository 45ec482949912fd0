"""The shipped campaigns match the seed notices and the statistical division codes."""

import datetime as dt

from enrollment import campaigns, db
from enrollment.campaigns import bootstrap, units
from enrollment.db import Store

from .fixtures import dump

# 晋市医保发〔2021〕20号, attachment 2: (2021 enrolled, 2022 task)
RESIDENTS = {"140502": (187142, 188000), "140525": (402900, 404760), "140581": (371937, 373650),
             "140522": (290957, 292300), "140524": (212385, 213360), "140521": (157217, 157930)}
# Attachment 1: (2020 enrolled, 2021 task); 市本级 is not a division.
EMPLOYEES = {"L140500": (254265, 267300), "140502": (36976, 38900), "140525": (41956, 44100),
             "140581": (61190, 64400), "140522": (53673, 56400), "140524": (16338, 17200),
             "140521": (31117, 32700)}


def _targets(store, campaign_id):
    with store.read() as con:
        frame = db.targets.current(con, campaign_id)
    return {r.code: (r.baseline, r.task) for r in frame.itertuples()}


def test_residents_targets_are_attachment_2(store):
    assert _targets(store, "jincheng-2022-residents") == RESIDENTS
    assert sum(t for _, t in RESIDENTS.values()) == 1630000
    assert sum(b for b, _ in RESIDENTS.values()) == 1622538


def test_employees_targets_are_attachment_1(store):
    assert _targets(store, "jincheng-2021-employees") == EMPLOYEES
    assert sum(t for _, t in EMPLOYEES.values()) == 521000
    assert sum(b for b, _ in EMPLOYEES.values()) == 495515


def test_campaign_windows_and_goals(store):
    with store.read() as con:
        by_id = {c.id: c for c in campaigns.list_campaigns(con)}
    r = by_id["jincheng-2022-residents"]
    assert (r.start, r.end, float(r.goal), r.contribution_yuan) == (
        dt.date(2021, 9, 1), dt.date(2021, 12, 25), 0.97, 320)
    e = by_id["jincheng-2021-employees"]
    assert (e.start, e.end, float(e.goal)) == (dt.date(2021, 1, 1), dt.date(2021, 12, 31), 0.97)
    w = by_id["wanzhou-zhoujiaba-2022-residents"]
    assert (w.start, w.end, float(w.goal), float(w.low_income_goal)) == (
        dt.date(2021, 12, 1), dt.date(2022, 2, 28), 0.97, 1.0)


def test_jincheng_hierarchy_from_division_codes(store):
    with store.read() as con:
        counts = db.units.level_counts(con, "jincheng-2022-residents")
        root = db.units.root(con, "jincheng-2022-residents")
        names = {u.code: u.name for u in db.units.children(con, "jincheng-2022-residents", "1405")}
    assert counts == {"city": 1, "county": 6, "township": 77, "community": 1729}
    assert (root.code, root.name) == ("1405", "晋城市")
    assert names == {"140502": "城区", "140521": "沁水县", "140522": "阳城县",
                     "140524": "陵川县", "140525": "泽州县", "140581": "高平市"}


def test_employees_have_shiben_ji_first_and_no_lower_levels(store):
    with store.read() as con:
        children = db.units.children(con, "jincheng-2021-employees", "1405")
        counts = db.units.level_counts(con, "jincheng-2021-employees")
    assert [u.name for u in children][0] == "市本级"
    assert not children[0].is_division and children[0].code == "L140500"
    assert counts == {"city": 1, "county": 7}


def test_zhoujiaba_has_its_eleven_communities_and_no_targets(store):
    with store.read() as con:
        kids = db.units.children(con, "wanzhou-zhoujiaba-2022-residents", "500101021")
        root = db.units.root(con, "wanzhou-zhoujiaba-2022-residents")
        has = db.targets.has_targets(con, "wanzhou-zhoujiaba-2022-residents")
    assert (root.code, root.name) == ("500101021", "周家坝街道")
    assert [u.name.removesuffix("社区居民委员会") for u in kids] == [
        "天子湖", "天生城", "流水", "周家坝", "救兵城", "天子路", "映水坪", "双堰塘", "长生河", "集中", "狮子"]
    assert [u.code for u in kids] == [f"500101021{i:03d}" for i in range(1, 12)]
    assert not has


def test_aliases_resolve_short_and_full_names(store):
    with store.read() as con:
        jc = units.index(con, "jincheng-2022-residents")
        wz = units.index(con, "wanzhou-zhoujiaba-2022-residents")
    for text in ("泽州", "泽州县", "140525", " 泽 州 县 "):
        assert jc.resolve(text) == ["140525"], text
    assert jc.resolve("城 区") == ["140502"]
    assert jc.resolve("高平") == ["140581"]
    for text in ("天子湖", "天子湖社区", "天子湖社区居民委员会", "500101021001"):
        assert wz.resolve(text) == ["500101021001"], text
    assert jc.resolve("不存在的县") == []


def test_init_is_idempotent(store):
    before = dump(store)
    report = bootstrap.init(store)
    assert not report.campaigns_added and not report.target_sets_added and not report.migrations
    assert dump(store) == before


def test_init_on_a_new_file(empty_store: Store):
    report = bootstrap.init(empty_store)
    assert sorted(report.campaigns_added) == [
        "jincheng-2021-employees", "jincheng-2022-residents", "wanzhou-zhoujiaba-2022-residents"]
    assert len(report.target_sets_added) == 2
