"""Keeping the figures per week end up to date, in the transaction of every write that changes
them (the tables and their SQL: db/weekly.py).

Which write changes what:

* a report upload, a correction, a withdrawal (`after_reports`): the figures of the units it
  wrote and of their ancestors, at the week ends on or after the earliest date it wrote;
* a target table, a restored version (`after_targets`): the tasks of its units and ancestors;
* demo data generated or cleared, a new campaign, a campaign whose calendar changed (its window
  moved, a unit's own window): everything of the campaign (`rebuild`).

The week ends are the campaign calendar's report days (`progress.report_days`, with
`progress.date_params` for each week's first day and the day a week earlier), read here and
nowhere else: a campaign whose calendar no longer matches the kept one is rebuilt by its next
write, and views roll up from the reports until then (db/weekly.read checks every date).
`rebuild` is the one entry point for a write that changes the calendar (and the CLI's
`rebuild-figures`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .. import campaigns, db
from ..campaigns.model import Campaign
from ..db import Session, Store
from . import progress


@dataclass
class Rebuilt:
    campaign_id: str
    week_ends: int
    figures: int          # kept figure rows (unit × week end × source)
    targets: int          # kept task rows

    def summary(self) -> str:
        return (f"已重算「{self.campaign_id}」的每周数字：{self.week_ends} 个统计日（每周五及活动最后一天），"
                f"共 {self.figures:,} 行单位数字，{self.targets:,} 个单位的任务数")


def calendar(campaign: Campaign) -> dict[dt.date, tuple[dt.date, dt.date]]:
    """{week end: (first day of its week, the day a week earlier)}: the dates that are kept."""
    days = progress.report_days(campaign)
    params = progress.date_params(campaign, days)
    return dict(zip(days, zip(params["week_start"], params["prev"])))


def rebuild(tx: Session, campaign_id: str, source: str | None = None) -> Rebuilt:
    """Recompute the campaign's kept figures (of one source, or of all) and tasks from the raw
    reports and target tables, for the calendar the campaign has now.

    With `source`, only that source's figures, unless the calendar changed (then everything).
    Call it inside the transaction of the write that made it necessary.
    """
    _turn(tx, campaign_id)
    campaign = campaigns.get(tx, campaign_id)
    wanted = calendar(campaign)
    everything = source is None or db.weekly.kept_dates(tx, campaign_id) != wanted
    if everything:
        ends = sorted(wanted)
        db.weekly.set_dates(tx, campaign_id, ends, [wanted[d][0] for d in ends],
                            [wanted[d][1] for d in ends])
        _rebuild_targets(tx, campaign_id)
        sources = db.weekly.sources(tx, campaign_id)
        stale = [k for k in db.weekly.stored_marks(tx, campaign_id) if k != db.weekly.TARGETS_MARK]
        db.weekly.set_marks(tx, campaign_id, {k: (0, None) for k in stale})
        db.weekly.clear_figures(tx, campaign_id)
    else:
        sources = [source]
        db.weekly.clear_figures(tx, campaign_id, source)
    depths = db.weekly.depths(tx, campaign_id)
    for name in sources:
        for depth in depths:
            db.weekly.refresh_figures(tx, campaign_id, name, depth, None, None)
    db.weekly.set_marks(tx, campaign_id, db.weekly.current_marks(tx, campaign_id, sources))
    return Rebuilt(campaign_id, len(wanted), db.weekly.count_figures(tx, campaign_id),
                   db.weekly.count_targets(tx, campaign_id))


def after_calendar_change(tx: Session, campaign_id: str) -> None:
    """The campaign's window moved (campaigns.change_window): rebuild its kept figures for the
    new week ends, in the same transaction (nothing when none are kept, or a unit's own window
    moved, which leaves the campaign's week ends as they are)."""
    _kept(tx, campaign_id)


def _rebuild_targets(tx: Session, campaign_id: str) -> None:
    db.weekly.clear_targets(tx, campaign_id)
    for depth in db.weekly.depths(tx, campaign_id):
        db.weekly.refresh_targets(tx, campaign_id, depth, None)


def _turn(tx: Session, campaign_id: str) -> None:
    """Writers of one campaign refresh its kept rows one at a time, to their commit. Nothing on
    DuckDB (writes take turns anyway); on PostgreSQL two uploads store side by side, and
    without it both would refresh their common ancestors' rows from the children's rows as
    they were before the other's commit (a row twice, or a stale sum)."""
    tx.lock(f"weekly:{campaign_id}")


def _kept(tx: Session, campaign_id: str) -> bool:
    """Whether the campaign's figures are kept, for its current calendar; a kept campaign
    whose calendar changed is rebuilt here (False: nothing left to refresh)."""
    _turn(tx, campaign_id)
    kept = db.weekly.kept_dates(tx, campaign_id)
    if not kept:
        return False             # not built yet: views roll up; `init` builds it
    if kept != calendar(campaigns.get(tx, campaign_id)):
        rebuild(tx, campaign_id)
        return False
    return True


def _followed(tx: Session, campaign_id: str, mark: str, sources: list[str],
              appended: int) -> tuple | None:
    """The mark after a write that appended `appended` rows, when the kept rows followed every
    earlier write (None when rows were written past them: the caller rebuilds)."""
    before = db.weekly.stored_marks(tx, campaign_id).get(mark, (0, None))
    now = db.weekly.current_marks(tx, campaign_id, sources)[mark]
    return now if before[0] + appended == now[0] else None


def after_reports(tx: Session, campaign_id: str, source: str, codes: Iterable[str],
                  since: dt.date, appended: int) -> None:
    """`appended` report rows of `codes` were written for dates on or after `since`: refresh
    their figures and their ancestors' at the week ends from `since` on, level by level from
    the bottom."""
    if not _kept(tx, campaign_id):
        return
    mark = db.weekly.report_mark(source)
    now = _followed(tx, campaign_id, mark, [source], appended)
    if now is None:
        rebuild(tx, campaign_id, source)
        return
    levels = db.weekly.with_ancestors(tx, campaign_id, sorted(set(codes)))
    for depth in sorted(levels, reverse=True):
        db.weekly.refresh_figures(tx, campaign_id, source, depth, levels[depth], since)
    db.weekly.set_marks(tx, campaign_id, {mark: now})


def after_targets(tx: Session, campaign_id: str, codes: Iterable[str], appended: int) -> None:
    """A target set of `appended` rows for `codes` was saved: refresh their kept tasks and
    their ancestors'."""
    if not _kept(tx, campaign_id):
        return
    mark = db.weekly.TARGETS_MARK
    now = _followed(tx, campaign_id, mark, [], appended)
    if now is None:
        _rebuild_targets(tx, campaign_id)
        now = db.weekly.current_marks(tx, campaign_id, [])[mark]
    else:
        levels = db.weekly.with_ancestors(tx, campaign_id, sorted(set(codes)))
        for depth in sorted(levels, reverse=True):
            db.weekly.refresh_targets(tx, campaign_id, depth, levels[depth])
    db.weekly.set_marks(tx, campaign_id, {mark: now})


def after_source_replaced(tx: Session, campaign_id: str, source: str) -> None:
    """Every report of a source was replaced or removed (demo data): rebuild that source."""
    if _kept(tx, campaign_id):
        rebuild(tx, campaign_id, source)


def missing(tx: Session) -> list[str]:
    """Campaigns whose figures are not kept, or kept for another calendar than theirs, or
    from other reports or targets than there are."""
    out = []
    for c in campaigns.list_campaigns(tx):
        stored = db.weekly.stored_marks(tx, c.id)
        now = db.weekly.current_marks(tx, c.id, db.weekly.sources(tx, c.id))
        if db.weekly.kept_dates(tx, c.id) != calendar(c) or any(
                stored.get(k, (0, None)) != v for k, v in now.items()) or any(
                k not in now for k in stored):
            out.append(c.id)
    return out


def build_missing(store: Store) -> list[Rebuilt]:
    """Build the kept figures of every campaign that lacks them (after the migration that
    added them, or a calendar changed by an older program), each in its own write."""
    with store.read() as tx:
        ids = missing(tx)
    done = []
    for campaign_id in ids:
        with store.write() as tx:
            done.append(rebuild(tx, campaign_id))
    return done
