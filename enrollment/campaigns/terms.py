"""What a campaign charges and whom it watches, in one place: the contribution per tier (一档,
二档) and per group, the subsidies of the groups, the days of the month on which payment is
possible, and the groups (分类人群) with their goals.

Every figure comes from the campaign's definition file (data/campaigns/*.toml, the notice's
numbers) and nowhere else: a figure the notice does not give stays None, and the pages and
commands say so (缴费标准：通知未载明) instead of guessing. The upload check (expected amount,
group checks, payment days), the progress figures (应缴金额), the 分类人群 tab and the exports
all read these terms.

A group of the seeds' notices (特困人员, 低保对象, … 稳定脱贫人口, students, 计生 families) is
named in a definition file by its catalogue key and takes its name, spellings and goal from
`CATALOGUE`; anything the file says replaces the default.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import tomllib
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .. import settings


class TermsError(ValueError):
    """A definition's contribution, group or payment figures cannot be used (Chinese message)."""


@dataclass(frozen=True)
class Tier:
    """A contribution level residents choose (一档, 二档): yuan per person and year."""
    key: str
    name: str
    yuan: Decimal


@dataclass(frozen=True)
class Subsidy:
    """What a group's subsidy pays per person at one tier: a share of the first tier's
    contribution (万州: 特困人员 100%, 低保对象 90%), or a fixed amount (稳定脱贫人口 100 元)."""
    tier: str
    share: Decimal | None = None
    yuan: Decimal | None = None

    def per_person(self, base_yuan: Decimal | None) -> Decimal | None:
        if self.yuan is not None:
            return self.yuan
        if self.share is None or base_yuan is None:
            return None
        return (self.share * base_yuan).quantize(Decimal("0.01"))

    def describe(self) -> str:
        if self.yuan is not None:
            return f"定额资助 {_yuan(self.yuan)} 元"
        return f"按一档个人缴费标准的 {_pct(self.share)} 资助"


@dataclass(frozen=True)
class Group:
    """A group of residents counted on its own (分类人群): its reports have a column of their
    own, its target tables a population, and the 分类人群 tab checks it against its goal."""
    key: str
    name: str
    goal: Decimal | None = None          # 1 for the low-income groups (100%); None: no goal set
    low_income: bool = False             # part of 低收入人口及稳定脱贫人口 (the low-income total)
    aliases: tuple[str, ...] = ()        # other names of the group in people's tables
    target_column: str | None = None     # the header of its population in target tables
    contribution: tuple[Tier, ...] = ()  # its own contribution per tier (students); () : the campaign's
    subsidies: tuple[Subsidy, ...] = ()
    in_template: bool = True             # a column of the upload and target templates
    note: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,) + tuple(a for a in self.aliases if a != self.name)

    def subsidy(self, tier: str) -> Subsidy | None:
        return next((s for s in self.subsidies if s.tier == tier), None)


@dataclass(frozen=True)
class PaymentDays:
    """Days of each month on which contributions can be paid (晋城: 每月 1-25 日)."""
    first: int
    last: int

    def holds(self, day: dt.date) -> bool:
        return self.first <= day.day <= self.last

    def any_between(self, after: dt.date, until: dt.date) -> bool:
        """Whether a payment day lies in (after, until]."""
        day = after + dt.timedelta(days=1)
        while day <= until:
            if self.holds(day):
                return True
            day += dt.timedelta(days=1)
        return False

    def describe(self) -> str:
        return f"每月 {self.first}-{self.last} 日"


@dataclass(frozen=True)
class Terms:
    tiers: tuple[Tier, ...] = ()
    groups: tuple[Group, ...] = ()
    payment_days: PaymentDays | None = None
    note: str | None = None              # the notice's own words on contributions, for people

    @property
    def base(self) -> Tier | None:
        """The first tier: the contribution most residents pay, and the base of subsidies."""
        return self.tiers[0] if self.tiers else None

    @property
    def known(self) -> bool:
        """Whether the campaign knows what a resident pays (the amount checks need it)."""
        return bool(self.tiers)

    def group(self, key: str) -> Group | None:
        return next((g for g in self.groups if g.key == key), None)

    @property
    def low_income_groups(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.low_income)

    def contribution_range(self, group: Group | None = None) -> tuple[Decimal, Decimal] | None:
        """Lowest and highest contribution per person (a group's own tiers, if it has them)."""
        tiers = (group.contribution if group is not None and group.contribution else self.tiers)
        if not tiers:
            return None
        values = [t.yuan for t in tiers]
        return min(values), max(values)

    def expected_range(self, enrolled: int,
                       groups: dict[str, int] | None = None) -> tuple[Decimal, Decimal] | None:
        """What `enrolled` people pay in all: enrolled × contribution, at the lowest and the
        highest tier (one figure twice when the campaign has one tier). People counted in a
        group with a contribution of its own (students) pay that instead."""
        whole = self.contribution_range()
        if whole is None:
            return None
        lo, hi = Decimal(0), Decimal(0)
        rest = enrolled
        for key, count in (groups or {}).items():
            group = self.group(key)
            if group is None or not group.contribution or not count:
                continue
            own = self.contribution_range(group)
            lo, hi = lo + own[0] * count, hi + own[1] * count
            rest -= count
        rest = max(rest, 0)
        return lo + whole[0] * rest, hi + whole[1] * rest

    def expected_base(self, enrolled: int, groups: dict[str, int] | None = None) -> Decimal | None:
        """应缴金额 at the first tier (the figure the 征缴金额 share is taken of)."""
        found = self.expected_range(enrolled, groups)
        if found is None:
            return None
        if not any(g.contribution for g in self.groups) or not groups:
            return self.base.yuan * enrolled
        # With students at their own first tier: the first tier of each.
        total, rest = Decimal(0), enrolled
        for key, count in groups.items():
            group = self.group(key)
            if group is not None and group.contribution and count:
                total += group.contribution[0].yuan * count
                rest -= count
        return total + self.base.yuan * max(rest, 0)

    def describe(self) -> list[tuple[str, str]]:
        """The terms as label/value lines, for the campaign page and `campaign show`."""
        lines = [("缴费标准", "；".join(f"{t.name} {_yuan(t.yuan)} 元/人·年" for t in self.tiers)
                  if self.tiers else "通知未载明")]
        lines.append(("缴费时间", self.payment_days.describe() + "可办理缴费"
                      if self.payment_days else "通知未限定（每天均可缴费）"))
        if self.note:
            lines.append(("通知原文", self.note))
        for g in self.groups:
            parts = ["参保率目标 " + (_pct(g.goal) if g.goal is not None else "未规定")]
            if g.low_income:
                parts.append("计入低收入人口及稳定脱贫人口")
            if g.contribution:
                parts.append("缴费标准 " + "、".join(f"{t.name} {_yuan(t.yuan)} 元" for t in g.contribution))
            for s in g.subsidies:
                tier = next((t.name for t in self.tiers if t.key == s.tier), s.tier)
                base = self.base.yuan if self.base else None
                amount = s.per_person(base)
                parts.append(f"{tier}：{s.describe()}" + (f"（{_yuan(amount)} 元/人）"
                                                         if amount is not None and s.yuan is None else ""))
            if not g.subsidies and g.low_income:
                parts.append("资助标准通知未载明")
            if g.note:
                parts.append(g.note)
            lines.append((g.name, "；".join(parts)))
        return lines

    # --- storage --------------------------------------------------------------------------
    def to_json(self) -> str | None:
        if self == Terms():
            return None
        return json.dumps(_plain(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Terms:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            tiers=tuple(_tier(t) for t in raw.get("tiers", ())),
            groups=tuple(Group(
                key=g["key"], name=g["name"], goal=_dec(g.get("goal")),
                low_income=bool(g.get("low_income")), aliases=tuple(g.get("aliases", ())),
                target_column=g.get("target_column"),
                contribution=tuple(_tier(t) for t in g.get("contribution", ())),
                subsidies=tuple(Subsidy(s["tier"], _dec(s.get("share")), _dec(s.get("yuan")))
                                for s in g.get("subsidies", ())),
                in_template=g.get("in_template", True), note=g.get("note"))
                for g in raw.get("groups", ())),
            payment_days=(PaymentDays(**raw["payment_days"]) if raw.get("payment_days") else None),
            note=raw.get("note"))


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__
                if getattr(value, k) not in (None, ())}
    return value


def _tier(raw: dict) -> Tier:
    return Tier(raw["key"], raw["name"], Decimal(str(raw["yuan"])))


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


# --- the groups named in the seeds' notices ------------------------------------------------

_LOW = dict(goal=Decimal(1), low_income=True)
CATALOGUE: dict[str, Group] = {g.key: g for g in (
    # 万州周办发〔2022〕1号 and 吉医保联〔2021〕23号: the seven low-income groups and the stable
    # post-poverty population must reach 100%.
    Group("tekun", "特困人员", aliases=("特困", "特困供养人员", "城乡特困人员"), **_LOW),
    Group("dibao", "低保对象", aliases=("低保", "低保户", "城乡低保对象"), **_LOW),
    Group("fanpin", "返贫致贫人口", aliases=("返贫致贫",), **_LOW),
    Group("tuopin_buwending", "脱贫不稳定户", aliases=("脱贫不稳定人口",), **_LOW),
    Group("bianyuan", "边缘易致贫户", aliases=("边缘易致贫人口",), **_LOW),
    Group("tufa", "突发严重困难户", aliases=("突发严重困难人口",), **_LOW),
    Group("dibao_bianyuan", "低保边缘户", aliases=("低保边缘家庭", "低保边缘人口"), **_LOW),
    Group("wending_tuopin", "稳定脱贫人口", aliases=("稳定脱贫",), **_LOW),
    # Students pay a contribution of their own (万州: 在渝高校大学生 280/655 元; 吉林: 220 元).
    Group("students", "学生", aliases=("在校学生", "大学生", "大中小学生")),
    # 渝卫发〔2017〕123号 (quoted in 万州周办发〔2022〕1号): family-planning families.
    Group("jisheng_tefu", "计生特扶对象",
          aliases=("计生残抚（特扶）对象", "计生残抚(特扶)对象", "计生特扶")),
    Group("jisheng_jiangfu", "计生奖扶对象",
          aliases=("计生优抚（奖扶）对象", "计生优抚(奖扶)对象", "计生奖扶")),
)}

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def from_definition(raw: dict, where: str = "活动定义") -> Terms:
    """Terms from a definition file's tables: `contribution_yuan` or [[tiers]], [[groups]]
    (catalogue keys with anything the file replaces), payment_days = {first, last}."""
    try:
        tiers = tuple(_tier(t) for t in raw.get("tiers", ()))
        if not tiers and raw.get("contribution_yuan") is not None:
            tiers = (Tier("standard", "统一标准", Decimal(str(raw["contribution_yuan"]))),)
        groups = tuple(_group(g, tiers, where) for g in raw.get("groups", ()))
        days = raw.get("payment_days")
        payment = PaymentDays(int(days["first"]), int(days["last"])) if days else None
    except (KeyError, TypeError, InvalidOperation, ValueError) as exc:
        if isinstance(exc, TermsError):
            raise
        raise TermsError(f"{where}的缴费标准或分类人群写法有误：{exc}") from exc
    terms = Terms(tiers, groups, payment, raw.get("contribution_note"))
    validate(terms, where)
    return terms


def _group(raw: dict, tiers: tuple[Tier, ...], where: str) -> Group:
    key = raw["key"]
    base = CATALOGUE.get(key) or Group(key, raw.get("name") or "")
    changes: dict = {}
    for name in ("name", "target_column", "note", "in_template", "low_income"):
        if name in raw:
            changes[name] = raw[name]
    if "goal" in raw:
        changes["goal"] = _dec(raw["goal"])
    if "aliases" in raw:
        changes["aliases"] = tuple(raw["aliases"]) + base.aliases
    if "contribution" in raw:
        names = {t.key: t.name for t in tiers}
        changes["contribution"] = tuple(
            Tier(k, names.get(k, k), Decimal(str(v))) for k, v in raw["contribution"].items())
    subsidies = [Subsidy(k, share=Decimal(str(v))) for k, v in raw.get("subsidy", {}).items()]
    subsidies += [Subsidy(k, yuan=Decimal(str(v))) for k, v in raw.get("subsidy_yuan", {}).items()]
    if subsidies:
        changes["subsidies"] = tuple(subsidies)
    group = replace(base, **changes)
    if not group.name:
        raise TermsError(f"{where}：分类人群「{key}」没有名称（不在内置名单中时须写 name）")
    return group


def validate(terms: Terms, where: str = "活动定义") -> None:
    """Raise TermsError (Chinese) for figures that cannot be right."""
    keys = [t.key for t in terms.tiers]
    if len(set(keys)) != len(keys):
        raise TermsError(f"{where}：缴费档次重复")
    for t in terms.tiers + tuple(t for g in terms.groups for t in g.contribution):
        if t.yuan < 0:
            raise TermsError(f"{where}：缴费标准「{t.name}」不能为负数")
    seen: set[str] = set()
    for g in terms.groups:
        if not _KEY.match(g.key):
            raise TermsError(f"{where}：分类人群编号「{g.key}」只能用小写字母、数字和下划线")
        for name in g.names:
            if name in seen:
                raise TermsError(f"{where}：分类人群名称「{name}」重复")
            seen.add(name)
        if g.goal is not None and not Decimal(0) < g.goal <= Decimal(1):
            raise TermsError(f"{where}：分类人群「{g.name}」的参保率目标应在 0 到 100% 之间")
        for s in g.subsidies:
            if s.tier not in keys:
                raise TermsError(f"{where}：分类人群「{g.name}」的资助档次「{s.tier}」不是本活动的缴费档次")
            if s.share is not None and not Decimal(0) <= s.share <= Decimal(1):
                raise TermsError(f"{where}：分类人群「{g.name}」的资助比例应在 0 到 100% 之间")
            if s.yuan is not None and s.yuan < 0:
                raise TermsError(f"{where}：分类人群「{g.name}」的资助金额不能为负数")
    days = terms.payment_days
    if days is not None and not 1 <= days.first <= days.last <= 31:
        raise TermsError(f"{where}：缴费日应为每月 1 到 31 日之间，且开始日不晚于结束日")


def known_groups(folder: Path | None = None) -> tuple[tuple[str, tuple[str, ...], str | None], ...]:
    """(key, names, target column) of every group a campaign can have: the catalogue's and
    those of the definition files, names of one key merged. Uploads and target tables are read
    with these columns before any database connection is opened (the campaign's own terms are
    only known after); the check then keeps the campaign's groups."""
    folder = folder or settings.data_dir() / "campaigns"
    files = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.toml"))) \
        if folder.is_dir() else ()
    return _known(str(folder), files)


@functools.lru_cache(maxsize=8)
def _known(folder: str, files: tuple) -> tuple[tuple[str, tuple[str, ...], str | None], ...]:
    merged: dict[str, tuple[list[str], str | None]] = {
        g.key: (list(g.names), g.target_column) for g in CATALOGUE.values()}
    for name, _ in files:
        try:
            with open(Path(folder) / name, "rb") as fh:
                raw = tomllib.load(fh)
            groups = from_definition(raw, name).groups
        except (OSError, tomllib.TOMLDecodeError, TermsError):
            continue              # a broken file is reported where it is loaded (init)
        for g in groups:
            names, column = merged.setdefault(g.key, ([], None))
            names.extend(n for n in g.names if n not in names)
            merged[g.key] = (names, column or g.target_column)
    return tuple((key, tuple(names), column) for key, (names, column) in merged.items())


def catalogue_group(text: str) -> Group | None:
    """A catalogue group by key or by one of its names."""
    text = text.strip()
    return CATALOGUE.get(text) or next((g for g in CATALOGUE.values() if text in g.names), None)


__all__ = ["CATALOGUE", "Group", "PaymentDays", "Subsidy", "Terms", "TermsError", "Tier",
           "catalogue_group", "from_definition", "known_groups", "validate"]
