"""Publishing a bulletin, and the archive of what was published.

`publish` makes a week's (or a month's) 通报 files from the export model, exactly as the page's
and the CLI's export makes them (`export.model.gather` or `monthly.gather_month`, then
`bundles.build`), and stores in one transaction the bytes of every file and of the ZIP that is
circulated, the figures they show (JSON) and a summary, and locks the week
(`weeks.lock_week`: uploads and withdrawals for its dates are refused by `uploads/rights.py`
until an administrator unlocks it or grants a unit an exception). Then it pushes the summary
and the ranking image to the configured group robots (push.py); a failed push is reported and
recorded but never undoes or blocks the publication.

A period is published once: the key (campaign, period, period key) is unique in the database,
so of two servers whose timers run `publish --latest` at once exactly one stores the bulletin
and the other is told it is already published. The files are built outside the transaction
(Chromium takes seconds); the write checks that the figures did not change meanwhile (a stamp
of the campaign's reports and target sets) and builds again when they did. The archive hands
back the stored bytes, never a rebuild: a later correction of another week changes nothing
that was circulated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd

from .. import campaigns, db, settings
from ..campaigns.model import Campaign
from ..db import Session, Store
from ..export import bundles, monthly
from ..export import model as exports
from ..export.render import Renderer
from ..identity import audit
from ..labels import EXPORT_FORMAT_LABELS, LEVEL_LABELS
from ..metrics import progress
from . import push, weeks

WEEK, MONTH = "week", "month"
SOURCE = "upload"                 # demo data is never published
BOARDS_BY_DEFAULT = 100           # as on the page: more units than this, no 张榜 boards
ATTEMPTS = 3                      # builds while the figures keep changing


class PublishError(Exception):
    """Nothing was published (message in Chinese)."""


class AlreadyPublished(PublishError):
    """The period has its bulletin already; `bulletin` says who published it and when."""

    def __init__(self, message: str, bulletin: dict):
        super().__init__(message)
        self.bulletin = bulletin


@dataclass
class Published:
    id: int
    campaign_id: str
    period: str
    key: str
    as_of: dt.date
    title: str                                   # 第12周（截至2021-11-19）, 2021年11月
    stem: str
    files: list[exports.ExportFile]
    zip_name: str
    zip_bytes: bytes
    notes: list[str] = field(default_factory=list)
    pushes: list[push.Result] = field(default_factory=list)

    def summary(self) -> str:
        lock = "，并锁定该周数字（不再接受上报和撤回）" if self.period == WEEK else ""
        return (f"已发布{self.title}的通报（第 {self.id} 号）：{len(self.files)} 个文件已存档{lock}。")


def _local(value: dt.datetime) -> str:
    zone = ZoneInfo(settings.timezone())
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def period_title(campaign: Campaign, period: str, key: str) -> str:
    if period == MONTH:
        year, number = monthly.parse_month(key)
        return f"{year}年{number}月"
    day = dt.date.fromisoformat(key)
    return f"第{campaign.week_number(day)}周（截至{day}）"


def latest_due(campaign: Campaign, now: dt.datetime) -> dt.date | None:
    """The latest report day whose deadline (Friday 17:00) has passed at `now` (UTC, naive)."""
    moment = now.replace(tzinfo=dt.timezone.utc)
    due = [d for d in progress.report_days(campaign) if campaign.deadline(d) <= moment]
    return max(due) if due else None


def find(tx: Session, campaign: Campaign, period: str, key: str) -> dict | None:
    return db.bulletins.find(tx, campaign.id, period, key)


def _already(campaign: Campaign, period: str, key: str, found: dict) -> AlreadyPublished:
    who = f"由「{found['published_by']}」" if found["published_by"] else ""
    auto = "（定时任务）" if found["automatic"] else ""
    change = ("如需更正该周数字，请管理员为相关单位开放例外后上报，更正在下一期通报中体现。"
              if period == WEEK else "")
    return AlreadyPublished(
        f"{period_title(campaign, period, key)}的通报已于 {_local(found['published_at'])} "
        f"{who}{auto}发布（第 {found['id']} 号），不能重复发布；已发布的文件可在「通报导出 → 通报归档」"
        f"中下载。{change}", found)


def default_formats(data: exports.ExportData) -> tuple[str, ...]:
    """Every format, without 张榜 boards when the level has more than BOARDS_BY_DEFAULT units."""
    many = len(data.units) > BOARDS_BY_DEFAULT
    return tuple(f for f in bundles.FORMATS if not (many and f == "board"))


def figures_of(data: exports.ExportData) -> dict:
    """The figures a bulletin shows, as JSON-ready data (kept with the files)."""
    def plain(value):
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, (pd.Timestamp, dt.datetime)):
            return value.isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if hasattr(value, "item"):
            return value.item()
        return value

    def rows(frame: pd.DataFrame, fields) -> list[dict]:
        return [{f: plain(r.get(f)) for f in fields} for r in frame.to_dict("records")]

    unit_fields = ("rank", "code", "name", "target", "enrolled", "completion", "gap_pp", "status",
                   "week_delta", "report_date", "low_income_target", "low_income_enrolled")
    out = {
        "campaign": data.campaign.id, "as_of": data.as_of.isoformat(), "week": data.week,
        "source": data.source, "level": data.level, "time_progress": float(data.result.time_progress),
        "pace": float(data.result.pace), "goal": float(data.campaign.goal),
        "scope": {f: plain(data.scope.get(f)) for f in unit_fields if f != "rank"},
        "units": rows(data.units, unit_fields),
        "reporting": rows(data.week_status, ("code", "name", "status", "uploaded_at", "uploader",
                                             "last_date")),
    }
    if data.month is not None:
        out["month"] = {"key": data.month.key, "previous_as_of": plain(data.month.previous_as_of),
                        "days": [d.isoformat() for d in data.month.days],
                        "units": rows(data.month.units, list(monthly.TABLE_COLUMNS) + ["code"])}
    return out


def _gather(tx: Session, campaign: Campaign, period: str, key: str, level: str | None,
            scope: str | None) -> exports.ExportData:
    if period == MONTH:
        return monthly.gather_month(tx, campaign, key, SOURCE, level, scope)
    return exports.gather(tx, campaign, dt.date.fromisoformat(key), SOURCE, level, scope)


def _refuse_empty(tx: Session, campaign: Campaign, period: str, key: str) -> None:
    if period == MONTH:
        year, number = monthly.parse_month(key)
        days = monthly.month_days(campaign, year, number)
        start = campaign.week_start_of(campaign.week_number(days[0]))
        end, what = days[-1], f"{year}年{number}月"
    else:
        end = dt.date.fromisoformat(key)
        number = campaign.week_number(end)
        start, what = campaign.week_start_of(number), weeks.week_title(campaign, end)
    if not db.bulletins.units_reporting(tx, campaign.id, SOURCE, start, end):
        raise PublishError(f"{what}没有任何单位上报，不能发布通报；未做任何修改。")


def publish(store: Store, campaign_id: str, as_of: dt.date | None = None, *,
            month: str | None = None, actor: str | None = None, role: str | None = None,
            address: str | None = None, level: str | None = None, scope: str | None = None,
            formats: Iterable[str] | None = None, renderer: Renderer | None = None,
            now: dt.datetime | None = None, automatic: bool = False, send: bool = True,
            progress_: Callable[[float, str], None] | None = None,
            sleep: Callable[[float], None] | None = None) -> Published:
    """Publish the week of `as_of` (or the month YYYY-MM): store the files and their figures,
    lock the week, then push. Raises AlreadyPublished, PublishError (no reports, a date
    outside the window, nothing could be made) or exports.ExportError, changing nothing."""
    now = now or audit.now_utc()
    campaign = campaigns.load(store, campaign_id)
    try:
        if month is not None:
            year, number = monthly.parse_month(month)
            monthly.month_days(campaign, year, number)
            period, key = MONTH, f"{year}-{number:02d}"
        else:
            period, key = WEEK, weeks.report_day(campaign, as_of or campaign.default_as_of()).isoformat()
    except (weeks.WeekError, exports.ExportError) as exc:
        raise PublishError(f"{exc}；未做任何修改。") from exc
    title = period_title(campaign, period, key)
    for _ in range(ATTEMPTS):
        with store.read() as tx:
            if found := find(tx, campaign, period, key):
                raise _already(campaign, period, key, found)
            _refuse_empty(tx, campaign, period, key)
            stamp = db.bulletins.figures_stamp(tx, campaign.id, SOURCE)
            data = _gather(tx, campaign, period, key, level, scope)
        wanted = bundles.parse_formats(list(formats)) if formats else default_formats(data)
        bundle = bundles.build(data, wanted, renderer, progress_)
        if not bundle.files:
            raise PublishError(f"没有生成任何文件，未发布：{bundles.failure_message(bundle) or '未选择格式'}")
        zip_bytes = bundle.zip_bytes(_local_now(now))
        notes = list(bundle.notes) + ([bundles.failure_message(bundle)] if bundle.failures else [])
        summary = push.compose(data, _link(campaign, data))
        with store.write() as tx:
            if db.bulletins.figures_stamp(tx, campaign.id, SOURCE) != stamp:
                continue        # an upload came in while the files were made: make them again
            if found := find(tx, campaign, period, key):
                raise _already(campaign, period, key, found)
            bulletin_id = db.bulletins.new_id(tx)
            stored = [(f.name, f.kind, f.label, hashlib.sha256(f.data).hexdigest(), f.data)
                      for f in bundle.files]
            stored.append((bundle.zip_name, "zip", "全部文件（ZIP）",
                           hashlib.sha256(zip_bytes).hexdigest(), zip_bytes))
            try:
                db.bulletins.insert(
                    tx, stored, id=bulletin_id, campaign_id=campaign.id, period=period,
                    period_key=key, as_of=data.as_of, week=data.week if period == WEEK else None,
                    source=SOURCE, scope_code=data.scope["code"], level=data.level,
                    stem=data.stem, published_by=actor, role=role, published_at=now,
                    automatic=automatic, figures=json.dumps(figures_of(data), ensure_ascii=False),
                    summary=summary, notes="\n".join(notes) or None)
            except db.bulletins.Duplicate:
                found = find(tx, campaign, period, key) or {
                    "id": "?", "published_by": None, "published_at": now, "automatic": True}
                raise _already(campaign, period, key, found) from None
            kinds = "、".join(dict.fromkeys(EXPORT_FORMAT_LABELS.get(f.kind, f.kind)
                                            for f in bundle.files))
            audit.record(tx, actor, "publish",
                         f"发布{title}的通报（第 {bulletin_id} 号）：{data.scope['name']}各"
                         f"{LEVEL_LABELS.get(data.level, data.level)}，{len(bundle.files)} 个文件（{kinds}）"
                         + ("，定时任务" if automatic else ""),
                         address, campaign_id=campaign.id, role=role, now=now)
            if period == WEEK:
                weeks.lock_week(tx, campaign, data.as_of, actor=actor, role=role, address=address,
                                now=now, bulletin_id=bulletin_id)
        break
    else:
        raise PublishError("发布期间数字一直在变化（有新的上报或任务数），请稍后重试；未发布任何内容。")
    done = Published(bulletin_id, campaign.id, period, key, data.as_of, title, data.stem,
                     bundle.files, bundle.zip_name, zip_bytes, notes)
    if send:
        done.pushes = push_bulletin(store, bulletin_id, actor=actor, role=role, address=address,
                                    sleep=sleep)
    return done


def _local_now(now: dt.datetime) -> dt.datetime:
    return now.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(settings.timezone())).replace(
        tzinfo=None)


def _link(campaign: Campaign, data: exports.ExportData) -> str | None:
    base = settings.app_url()
    if not base:
        return None
    return f"{base}/overview?campaign={campaign.id}&as_of={data.as_of.isoformat()}"


def push_bulletin(store: Store, bulletin_id: int, *, actor: str | None = None,
                  role: str | None = None, address: str | None = None,
                  sleep: Callable[[float], None] | None = None) -> list[push.Result]:
    """Send a published bulletin's stored summary and ranking image to every configured robot;
    each outcome is recorded with the bulletin and in the audit log. Never raises for a
    failed push."""
    robots = push.channels()
    if not robots:
        return []
    with store.read() as tx:
        bulletin = db.bulletins.get(tx, bulletin_id)
        if bulletin is None:
            raise PublishError(f"没有第 {bulletin_id} 号通报")
        image = db.bulletins.file_of_kind(tx, bulletin_id, "png", "排名")
    results = []
    for channel in robots:
        kwargs = {"sleep": sleep} if sleep else {}
        results.append(push.send(channel, bulletin["summary"], image[1] if image else None, **kwargs))
    with store.write(bump=False) as tx:
        at = audit.now_utc()
        for result in results:
            db.bulletins.insert_push(tx, bulletin_id, result.channel, at, result.attempts,
                                     result.ok, result.message)
            audit.record(tx, actor, "push" if result.ok else "push_failed",
                         f"第 {bulletin_id} 号通报：{result.message}", address,
                         campaign_id=bulletin["campaign_id"], role=role, now=at)
    return results


# --- the archive ------------------------------------------------------------------------------

ARCHIVE_COLUMNS = {"id": "编号", "period": "类型", "title": "期次", "published_by": "发布人",
                   "published_at": "发布时间", "files": "文件数", "size": "大小", "pushes": "推送"}


def archive(tx: Session, campaign: Campaign) -> pd.DataFrame:
    """Every published bulletin, newest first: period, who, when (local), files and pushes."""
    frame = db.bulletins.archive(tx, campaign.id)
    frame["title"] = [period_title(campaign, p, k) for p, k in zip(frame["period"], frame["period_key"])]
    return frame


def archive_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The archive as people read it (Chinese headers, local times, sizes in KB/MB)."""
    from ..labels import PERIOD_LABELS, PUSH_CHANNEL_LABELS

    out = frame.copy()
    out["period"] = out["period"].map(lambda p: PERIOD_LABELS.get(p, p))
    out["published_by"] = [(who or "") + ("（定时任务）" if auto else "")
                           for who, auto in zip(out["published_by"], out["automatic"])]
    out["published_at"] = out["published_at"].map(_local)
    out["size"] = out["size"].map(lambda n: f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB")

    def pushes(text) -> str:
        if not isinstance(text, str) or not text:
            return ""
        parts = [p.split(":") for p in text.split(",")]
        return "、".join(f"{PUSH_CHANNEL_LABELS.get(c, c)}{'成功' if s == 'ok' else '失败'}" for c, s in parts)

    out["pushes"] = out["pushes"].map(pushes)
    return out[list(ARCHIVE_COLUMNS)].rename(columns=ARCHIVE_COLUMNS)


def files(tx: Session, bulletin_id: int) -> pd.DataFrame:
    return db.bulletins.files(tx, bulletin_id)


def file(tx: Session, bulletin_id: int, position: int) -> tuple[str, bytes] | None:
    """(name, bytes) of a stored file exactly as circulated."""
    return db.bulletins.file_content(tx, bulletin_id, position)


def bulletin(tx: Session, campaign_id: str, bulletin_id: int) -> dict | None:
    found = db.bulletins.get(tx, bulletin_id)
    return found if found and found["campaign_id"] == campaign_id else None


def stored_figures(found: dict) -> dict:
    return json.loads(found["figures"])


def published_weeks(tx: Session, campaign_id: str) -> dict[dt.date, dict]:
    """Published weekly bulletins by report day (who, when), for 已发布 on the overview."""
    return db.bulletins.published_weeks(tx, campaign_id)


def badge(found: dict | None) -> str | None:
    """已发布 · 2021-11-19 17:40 张三 — the overview's line for a published week."""
    if not found:
        return None
    who = f" · {found['published_by']}" if found.get("published_by") else ""
    return f"已发布 · {_local(found['published_at'])}{who}"
