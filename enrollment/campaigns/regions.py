"""Region set-up: a new campaign for any city, county or street from the national division codes.

The administrator names a region by its statistical division code (or finds it by name), picks
the levels to track below it, and the campaign gets one unit per division, keyed by its code.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .. import campaigns, db
from ..db import Store
from ..labels import LEVEL_CODE_LENGTHS, LEVEL_LABELS, PROGRAMME_LABELS
from ..text import TextError, clean_text
from . import divisions
from .divisions import DivisionError
from .model import Campaign, CampaignError

# What people call the levels; the package's name for the 12-digit level is 'community'.
LEVEL_ALIASES = {
    "province": "province", "省": "province",
    "city": "city", "市": "city", "地市": "city",
    "county": "county", "县": "county", "区县": "county", "县区": "county",
    "township": "township", "town": "township", "street": "township", "乡镇": "township",
    "街道": "township", "乡镇街道": "township",
    "community": "community", "village": "community", "村": "community", "社区": "community",
    "村社区": "community",
}
MAX_NAME = 100            # characters of a campaign name (shown on every page and export)
MAX_ISSUER = 60           # characters of an issuing body (医疗保障局, 街道办事处 …)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")


class SetupError(ValueError):
    """The new campaign cannot be created as asked (message in Chinese)."""


def normalize_levels(region_code: str, levels: list[str] | str) -> tuple[str, ...]:
    """Levels below the region, top down: aliases resolved (village → community), the region's
    own level and duplicates dropped; SetupError for an unknown level or one above the region."""
    if isinstance(levels, str):
        levels = [p for p in re.split(r"[,，、\s]+", levels) if p]
    root = divisions.level_of(region_code)
    order = list(LEVEL_CODE_LENGTHS)
    out: list[str] = []
    for raw in levels:
        level = LEVEL_ALIASES.get(raw.strip().lower(), LEVEL_ALIASES.get(raw.strip()))
        if level is None:
            known = "county、township、village（或 community）"
            raise SetupError(f"未知层级「{raw}」，可选：{known}")
        if root != "nation" and order.index(level) < order.index(root):
            raise SetupError(f"层级「{LEVEL_LABELS[level]}」在所选区划（{LEVEL_LABELS[root]}级）之上")
        if level != root and level not in out:
            out.append(level)
    if not out:
        raise SetupError("请至少选择一个要跟踪的下级层级")
    return tuple(sorted(out, key=order.index))


def levels_below(region_code: str) -> list[str]:
    """The levels a campaign for this region can track."""
    root = divisions.level_of(region_code)
    order = list(LEVEL_CODE_LENGTHS)
    return order if root == "nation" else order[order.index(root) + 1:]


@dataclass(frozen=True)
class RegionPlan:
    region: divisions.Division
    counts: dict[str, int]           # level -> number of units of that level in the region

    def summary(self) -> str:
        parts = "、".join(f"{n:,} 个{LEVEL_LABELS[lv]}" for lv, n in self.counts.items())
        return f"{self.region.name}（{self.region.code}）：{parts}"


def plan(region_code: str, levels: list[str] | str, data_dir: Path | None = None) -> RegionPlan:
    """What a campaign for the region would track, without creating anything."""
    code = (region_code or "").strip()
    try:
        region = divisions.lookup(code, data_dir)
        chosen = normalize_levels(code, levels)
    except DivisionError as exc:
        raise SetupError(str(exc)) from exc
    counts = divisions.count_below(code, chosen, data_dir)
    return RegionPlan(region, counts)


def define(*, id: str, name: str, region_code: str, levels: list[str] | str, start: dt.date,
           end: dt.date, goal: Decimal | str | float = Decimal("0.97"),
           programme: str = "residents", low_income_goal: Decimal | str | float | None = None,
           year: int | None = None, data_dir: Path | None = None,
           issuer: str | None = None) -> Campaign:
    """A checked campaign definition from what the administrator typed."""
    campaign_id = (id or "").strip()
    if not _ID.match(campaign_id):
        raise SetupError(f"活动编号「{campaign_id}」不合规：只能用小写字母、数字和连字符（-），3 到 64 位，"
                         "例如 yangcheng-2022-residents")
    try:
        name = clean_text(name, what="活动名称", limit=MAX_NAME)
    except TextError as exc:
        raise SetupError(str(exc)) from exc
    issuer = check_issuer(issuer)
    if programme not in PROGRAMME_LABELS:
        raise SetupError(f"未知险种「{programme}」，可选：{'、'.join(PROGRAMME_LABELS)}")
    code = (region_code or "").strip()
    try:
        divisions.lookup(code, data_dir)
        chosen = normalize_levels(code, levels)
    except DivisionError as exc:
        raise SetupError(str(exc)) from exc
    if end < start:
        raise SetupError(f"结束日期 {end} 早于开始日期 {start}")
    return Campaign(
        id=campaign_id, name=name, programme=programme, region_code=code, start=start, end=end,
        goal=_rate(goal, "目标参保率"), levels=chosen, year=year,
        low_income_goal=None if low_income_goal in (None, "") else _rate(low_income_goal,
                                                                         "低收入人口参保率目标"),
        source="created", issuer=issuer)


def check_issuer(issuer: str | None) -> str | None:
    """发文机关署名 as typed, checked like a name (None when empty)."""
    try:
        return clean_text(issuer or "", what="发文机关署名", limit=MAX_ISSUER, required=False) or None
    except TextError as exc:
        raise SetupError(str(exc)) from exc


def set_issuer(store: Store, campaign_id: str, issuer: str | None, *, actor: str | None = None,
               address: str | None = None, role: str | None = None) -> str | None:
    """Change the 发文机关署名 that signs a campaign's Word 通报稿 (empty: none); audited."""
    from ..identity import audit

    issuer = check_issuer(issuer)
    with store.write() as con:
        try:
            campaign = campaigns.get(con, campaign_id)
        except CampaignError as exc:
            raise SetupError(str(exc)) from exc
        db.campaigns.set_issuer(con, campaign_id, issuer)
        audit.record(con, actor, "campaign_changed",
                     f"参保活动「{campaign.name}」的发文机关署名改为「{issuer or '（无）'}」",
                     address, campaign_id=campaign_id, role=role)
    return issuer


def _rate(value: Decimal | str | float, what: str) -> Decimal:
    text = str(value).strip()
    try:
        rate = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise SetupError(f"{what}「{value}」不是数字") from None
    if not Decimal(0) < rate <= Decimal(1):
        raise SetupError(f"{what}应在 0 到 100% 之间（{value}），请写成小数（如 0.97）或百分数（如 97%）")
    return rate


@dataclass(frozen=True)
class Created:
    campaign: Campaign
    units: int
    counts: dict[str, int]

    def summary(self) -> str:
        parts = "、".join(f"{n:,} 个{LEVEL_LABELS.get(lv, lv)}" for lv, n in self.counts.items())
        return (f"已创建参保活动 {self.campaign.id}（{self.campaign.name}）：共 {self.units:,} 个单位，"
                f"{parts}；下一步请在「目标任务」中载入或测算任务数")


def create(store: Store, campaign: Campaign, data_dir: Path | None = None, *,
           actor: str | None = None, address: str | None = None,
           role: str | None = None) -> Created:
    """Store the campaign and its units in one transaction (in the audit log under `actor`)."""
    from ..identity import audit
    from ..metrics import weekly

    try:
        with store.write() as con:
            count = campaigns.create(con, campaign, data_dir)
            weekly.rebuild(con, campaign.id)      # kept from the start (nothing to keep yet)
            counts = db.units.level_counts(con, campaign.id)
            audit.record(con, actor, "campaign_changed",
                         f"新建参保活动「{campaign.name}」（{campaign.id}），{count:,} 个单位",
                         address, campaign_id=campaign.id, role=role)
    except (DivisionError, CampaignError) as exc:
        raise SetupError(str(exc)) from exc
    return Created(campaign, count, counts)


def search(text: str, data_dir: Path | None = None, limit: int = 20) -> list[divisions.Division]:
    """Regions (province to township) by part of their name, or by a code."""
    text = (text or "").strip()
    if not text:
        return []
    if text.isdigit():
        try:
            return [divisions.lookup(text, data_dir)]
        except DivisionError:
            return []
    return divisions.search(text, data_dir, limit)


def full_names(codes: list[str], data_dir: Path | None = None) -> dict[str, str]:
    """山西省 晋城市 阳城县: each region with its ancestors, to tell one 城区 from another."""
    lengths = [n for n in LEVEL_CODE_LENGTHS.values()]
    prefixes = {code: [code[:n] for n in lengths if n <= len(code)] for code in codes}
    names = divisions.names_of([p for parts in prefixes.values() for p in parts], data_dir)
    return {code: " ".join(names[p] for p in parts if p in names)
            for code, parts in prefixes.items()}
