"""Streamlit glue shared by the entry file and the pages: context, cached queries, pickers.

The entry file builds one `Context` per script run (database path, its data version, the chosen
campaign and data source) before `st.navigation(...).run()`; pages read it with `context()`.
Query results are cached with `st.cache_data`, keyed by the database path and the data version
(every committed write bumps it), so a rerun that changes nothing reads one small row. The two
big ones (every unit's progress, a unit's trend) are kept in `Newest` caches instead: shared
without copies, computed once when several sessions ask at once, and holding only the newest
data version of each.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from . import campaigns, db
from .campaigns import bootstrap, choice
from .campaigns.model import Campaign
from .db import Store
from .identity.access import Viewer
from .labels import COLUMN_LABELS, DEMO_BANNER, SOURCE_LABELS
from .metrics import groups, progress, quality, reporting
from .text import md

CONTEXT_KEY = "_context"
MISSING = "—"        # an empty cell of a table (st.dataframe's own word for it is "None")
OPEN_VIEWER = Viewer(None, open_mode=True)
PENDING_CAMPAIGN_KEY = "campaign:pending"
ENTRY_MARK = "_entry_ran"

# How the display tables' columns are formatted (rates are percentages 0-100).
COLUMN_CONFIG = {
    COLUMN_LABELS["completion"]: st.column_config.NumberColumn(format="%.2f%%"),
    COLUMN_LABELS["time_progress"]: st.column_config.NumberColumn(format="%.2f%%"),
    COLUMN_LABELS["gap_pp"]: st.column_config.NumberColumn(format="%+.2f"),
    COLUMN_LABELS["target"]: st.column_config.NumberColumn(format="localized"),
    COLUMN_LABELS["enrolled"]: st.column_config.NumberColumn(format="localized"),
    COLUMN_LABELS["week_delta"]: st.column_config.NumberColumn(format="localized"),
    COLUMN_LABELS["low_income_target"]: st.column_config.NumberColumn(format="localized"),
    COLUMN_LABELS["low_income_enrolled"]: st.column_config.NumberColumn(format="localized"),
    COLUMN_LABELS["low_income_completion"]: st.column_config.NumberColumn(format="%.2f%%"),
    "完成率变化（百分点）": st.column_config.NumberColumn(format="%+.2f"),
    COLUMN_LABELS["amount"]: st.column_config.NumberColumn(format="accounting"),
    COLUMN_LABELS["expected_amount"]: st.column_config.NumberColumn(format="accounting"),
    COLUMN_LABELS["amount_share"]: st.column_config.NumberColumn(format="%.2f%%"),
}


@dataclass(frozen=True)
class Context:
    path: str          # the database: a DuckDB file path or a postgresql:// URL (Store.target)
    version: int
    campaign: Campaign | None
    source: str
    viewer: Viewer = OPEN_VIEWER     # who is using the app (enrollment/identity/access.py)

    @property
    def store(self) -> Store:
        return Store(self.path)


def column_config(frame: pd.DataFrame) -> dict:
    """COLUMN_CONFIG plus formats for columns named by pattern (e.g. 完成率（11月12日）)."""
    config = dict(COLUMN_CONFIG)
    for name in frame.columns:
        if name in config:
            continue
        if name.startswith("完成率") or name.endswith("参保率"):
            config[name] = st.column_config.NumberColumn(format="%.2f%%")
        elif name.startswith(("累计参保", "新增参保", "任务数")) or name.endswith("人数"):
            config[name] = st.column_config.NumberColumn(format="localized")
    return config


def context() -> Context:
    """The context the entry file built for this run (see require_entry); once per page run."""
    require_entry()
    return st.session_state[CONTEXT_KEY]


@st.cache_resource(show_spinner="正在准备数据库……")
def _ensure_ready(path: str) -> None:
    bootstrap.ensure_ready(Store(path))


def build_context(viewer: Viewer = OPEN_VIEWER, version: int | None = None) -> Context:
    """For the entry file: database, campaign picker and data source, once per run."""
    store = Store()
    _ensure_ready(store.target)
    version = store.data_version() if version is None else version
    with st.sidebar:
        campaign = campaign_picker(store.target, version, viewer)
        source = source_picker(store.target, version, campaign) if campaign else "upload"
    ctx = Context(store.target, version, campaign, source, viewer)
    st.session_state[CONTEXT_KEY] = ctx
    st.session_state[ENTRY_MARK] = True
    return ctx


# --- cached queries ---------------------------------------------------------------------------

@st.cache_data(max_entries=16, show_spinner=False)
def _campaigns(path: str, version: int) -> list[Campaign]:
    with Store(path).read() as con:
        return campaigns.list_campaigns(con)


@st.cache_data(max_entries=64, show_spinner=False)
def _sources(path: str, version: int, campaign_id: str) -> tuple[list[str], str]:
    with Store(path).read() as con:
        return (progress.available_sources(con, campaign_id),
                progress.default_source(con, campaign_id))


class Newest:
    """Results shared by every session: per key only the newest data version's, read-only.

    st.cache_data pickles a result when it stores it and unpickles a copy on every hit, and
    keeps one entry per data version seen: for a national campaign (665,277 units) 0.1 s on
    every rerun and, after a Friday of uploads, gigabytes of stale versions. Here a key holds
    one result, replaced when the version changes; callers must not modify it. Sessions that
    ask for the same key at the same time wait for one computation (after an upload, twenty
    leaders refreshing start one query, not twenty).
    """

    def __init__(self, entries: int):
        self.entries = entries
        self._items: OrderedDict[tuple, tuple[int, object]] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def _hit(self, key: tuple, version: int):
        with self._guard:
            found = self._items.get(key)
            if found is not None and found[0] == version:
                self._items.move_to_end(key)
                return True, found[1]
            return False, self._locks.setdefault(key, threading.Lock())

    def get(self, key: tuple, version: int, compute: Callable[[], object], spinner: str):
        found, value = self._hit(key, version)
        if found:
            return value
        with value:                       # the key's lock: one computation at a time
            found, result = self._hit(key, version)
            if found:
                return result
            with st.spinner(spinner):
                result = compute()
            with self._guard:
                held = self._items.get(key)
                if held is None or held[0] <= version:    # never replace a newer version
                    self._items[key] = (version, result)
                    self._items.move_to_end(key)
                while len(self._items) > self.entries:
                    old, _ = self._items.popitem(last=False)
                    self._locks.pop(old, None)
            return result

    def clear(self) -> None:
        with self._guard:
            self._items.clear()


PROGRESS = Newest(entries=8)      # a national campaign's is some 200 MB
TRENDS = Newest(entries=128)


def _progress(path: str, version: int, campaign: Campaign, as_of: dt.date,
              source: str, view: str | None) -> progress.Progress:
    def compute() -> progress.Progress:
        with Store(path).read() as con:
            return progress.compute(con, campaign, as_of, source, view)

    return PROGRESS.get((path, campaign, as_of, source, view), version, compute,
                        "正在计算进度……")


def _trend(path: str, version: int, campaign: Campaign, code: str, source: str) -> pd.DataFrame:
    def compute() -> pd.DataFrame:
        with Store(path).read() as con:
            return progress.trend(con, campaign, code, source)

    return TRENDS.get((path, campaign, code, source), version, compute, "正在计算趋势……")


@st.cache_data(max_entries=64, show_spinner=False)
def _week_status(path: str, version: int, campaign: Campaign, as_of: dt.date, source: str,
                 codes: tuple[str, ...]) -> pd.DataFrame:
    with Store(path).read() as con:
        return reporting.week_status(con, campaign, as_of, source, list(codes))


@st.cache_data(max_entries=64, show_spinner=False)
def _flags(path: str, version: int, campaign: Campaign, as_of: dt.date,
           source: str) -> pd.DataFrame:
    with Store(path).read() as con:
        return quality.flags(con, campaign, as_of, source)


@st.cache_data(max_entries=64, show_spinner=False)
def _groups(path: str, version: int, campaign: Campaign, as_of: dt.date, source: str,
            code: str) -> pd.DataFrame:
    with Store(path).read() as con:
        return groups.figures(con, campaign, as_of, source, root=code, view=True)


def load_groups(ctx: Context, as_of: dt.date, code: str) -> pd.DataFrame:
    """The groups (分类人群) of a unit and its children against their goals."""
    return _groups(ctx.path, ctx.version, ctx.campaign, as_of, ctx.source, code)


def _default_week(path: str, version: int, campaign: Campaign, source: str,
                  today: dt.date) -> dt.date:
    with Store(path).read() as con:
        return reporting.default_week(con, campaign, source, today)


def default_week(ctx: Context) -> dt.date:
    """The week a page opens at: the latest one with reports (see reporting.default_week)."""
    from .uploads.ingest import local_today

    return _default_week(ctx.path, ctx.version, ctx.campaign, ctx.source, local_today())


@st.cache_data(max_entries=256, show_spinner=False)
def _path(path: str, version: int, campaign_id: str, code: str) -> list[db.units.Unit]:
    with Store(path).read() as con:
        return db.units.ancestors(con, campaign_id, code)


@st.cache_data(max_entries=64, show_spinner=False)
def _subtree(path: str, version: int, campaign_id: str, code: str) -> frozenset[str]:
    with Store(path).read() as con:
        return frozenset(db.units.descendants(con, campaign_id, [code]))


@st.cache_data(max_entries=64, show_spinner=False)
def _has_targets(path: str, version: int, campaign_id: str) -> bool:
    with Store(path).read() as con:
        return db.targets.has_targets(con, campaign_id)


def has_targets(ctx: Context) -> bool:
    """Whether any task of the campaign has been loaded (a view's own unit may still lack one)."""
    return _has_targets(ctx.path, ctx.version, ctx.campaign.id)


def subtree(ctx: Context, code: str) -> frozenset[str]:
    """The unit and every unit below it."""
    return _subtree(ctx.path, ctx.version, ctx.campaign.id, code)


def load_progress(ctx: Context, as_of: dt.date, view: str | None = None) -> progress.Progress:
    """Every unit's progress, or with `view` only the top unit, that unit and its children."""
    return _progress(ctx.path, ctx.version, ctx.campaign, as_of, ctx.source, view)


def load_trend(ctx: Context, code: str) -> pd.DataFrame:
    return _trend(ctx.path, ctx.version, ctx.campaign, code, ctx.source)


def load_week_status(ctx: Context, as_of: dt.date, codes: list[str]) -> pd.DataFrame:
    return _week_status(ctx.path, ctx.version, ctx.campaign, as_of, ctx.source, tuple(codes))


def load_flags(ctx: Context, as_of: dt.date) -> pd.DataFrame:
    return _flags(ctx.path, ctx.version, ctx.campaign, as_of, ctx.source)


def unit_path(ctx: Context, code: str) -> list[db.units.Unit]:
    return _path(ctx.path, ctx.version, ctx.campaign.id, code)


# --- pickers and banners ----------------------------------------------------------------------

# Widgets take their starting value from the URL through `index` rather than by writing their
# key into st.session_state before they exist, so the URL is the one source of a shared view.

OPENING_KEY = "campaign:opening"


def _opening(path: str, viewer: Viewer) -> tuple[str | None, str | None]:
    """(the campaign this session opens at, the account's remembered one), once per session
    and account: the viewer's own campaign (enrollment/campaigns/choice.py)."""
    key = (path, viewer.name)
    kept = st.session_state.get(OPENING_KEY)
    if kept is None or kept[0] != key:
        with Store(path).read() as con:
            last = db.accounts.last_campaign(con, viewer.name) if viewer.logged_in else None
            opening = choice.default_for(con, viewer.name, viewer.user.units if viewer.user else ())
        kept = (key, opening, last)
        st.session_state[OPENING_KEY] = kept
    return kept[1], kept[2]


def campaign_picker(path: str, version: int, viewer: Viewer = OPEN_VIEWER) -> Campaign | None:
    """The campaign select box, kept in the URL (?campaign=…) so a view can be shared; without
    one the viewer's own campaign, which a logged-in account keeps for its next visit."""
    options = _campaigns(path, version)
    if not options:
        st.warning("还没有任何参保活动。")
        return None
    by_id = {c.id: c for c in options}
    ids = list(by_id)
    opening, remembered = _opening(path, viewer)
    wanted = st.query_params.get("campaign") or opening
    pending = st.session_state.pop(PENDING_CAMPAIGN_KEY, None)     # set by select_campaign()
    if pending in ids:
        wanted = pending
        st.session_state["campaign"] = pending      # set before the widget: the browser follows
    chosen = st.selectbox("参保活动", ids, key="campaign", index=ids.index(wanted) if wanted in ids else 0,
                          format_func=lambda i: by_id[i].name)
    if st.query_params.get("campaign") != chosen:
        st.query_params["campaign"] = chosen
    if viewer.logged_in and chosen != remembered:
        try:
            choice.remember(Store(path), viewer.name, chosen)
        except db.StorageError:
            pass            # a convenience: the page works without it (a full disk says so elsewhere)
        key, opening, _ = st.session_state[OPENING_KEY]
        st.session_state[OPENING_KEY] = (key, opening, chosen)
    return by_id[chosen]


def select_campaign(campaign_id: str) -> None:
    """Make the sidebar picker show this campaign from the next run on (e.g. a new one)."""
    st.session_state[PENDING_CAMPAIGN_KEY] = campaign_id
    st.query_params["campaign"] = campaign_id


def source_picker(path: str, version: int, campaign: Campaign) -> str:
    """Real uploads or demo data, kept in the URL (?source=…); offered only when the campaign
    has demo data."""
    available, default = _sources(path, version, campaign.id)
    if "demo" not in available:
        return default
    options = list(progress.SOURCES)
    wanted = st.query_params.get("source")
    source = st.radio("数据来源", options, key=f"source:{campaign.id}",
                      index=options.index(wanted if wanted in options else default),
                      format_func=SOURCE_LABELS.get, horizontal=True)
    if st.query_params.get("source") != source:
        st.query_params["source"] = source
    return source


def demo_banner(ctx: Context) -> None:
    if ctx.source == "demo":
        st.warning(DEMO_BANNER, icon=":material/science:")


def week_label(campaign: Campaign, day: dt.date) -> str:
    n = campaign.week_number(day)
    return f"第{n}周（{day:%Y年%m月%d日}）" if n else f"{day:%Y年%m月%d日}"


def date_from_query(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def week_picker(campaign: Campaign, label: str, key: str, query: str,
                default: dt.date | None = None, sidebar: bool = True, **options) -> dt.date:
    """A week (its Friday, or the window's last day) of the campaign, kept in the URL."""
    days = progress.report_days(campaign)
    wanted = date_from_query(query)
    if wanted not in days:
        target = default or campaign.default_as_of()
        wanted = min(days, key=lambda d: abs((d - target).days))
    where = st.sidebar if sidebar else st
    day = where.selectbox(label, days, key=f"{key}:{campaign.id}", index=days.index(wanted),
                          format_func=lambda d: week_label(campaign, d), **options)
    if st.query_params.get(query) != day.isoformat():
        st.query_params[query] = day.isoformat()
    return day


def store() -> Store:
    """The database of this server (ENROLLMENT_DB), ready for use."""
    current = Store()
    _ensure_ready(current.target)
    return current


def require_entry() -> None:
    """Make sure dashboard.py ran before this page in this very run; rerun through it if not.

    With a folder named pages/ beside the entry file, Streamlit starts a process (and every
    AppTest run) in its legacy pages-folder mode until the first st.navigation call, and in that
    mode it runs a page file alone: a bookmark to /upload on a fresh server, or a rerun in
    AppTest. The page would then use a stale context from an earlier run. The entry file marks
    each run; a page that finds no mark switches the legacy mode off and reruns, which runs
    dashboard.py and selects the same page (its hash is the URL path).
    """
    if st.session_state.pop(ENTRY_MARK, False):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()


RETRY_SECONDS = 3


def fault_page(exc: BaseException) -> None:
    """The page shown when the database cannot be used or a setting is wrong: why, and what
    to do (the same words as the command line's)."""
    st.title("参保进度看板暂时无法使用")
    st.error(md(exc), icon=":material/error:")
    if isinstance(exc, db.DatabaseUnavailable):
        retry_soon()
    st.caption("请把以上信息告知系统管理员。问题解决后刷新本页即可。")


def retry_soon() -> None:
    """A passing fault (the database server restarting): say so and run the page again in a
    few seconds, until the server is back (the connection pool reconnects by itself)."""
    import time

    st.caption(f"数据库恢复后本页会自动刷新（每 {RETRY_SECONDS} 秒重试一次）。")
    time.sleep(RETRY_SECONDS)
    st.rerun()


def refusal_page() -> None:
    """What a page the viewer's role lacks shows at its address."""
    st.error("您的账号没有使用本页面的权限。如需使用，请联系管理员调整账号的角色。",
             icon=":material/block:")
    st.page_link("pages/overview.py", label="返回进度总览", icon=":material/monitoring:")


def account_box(store: Store, viewer: Viewer) -> None:
    """The sidebar's who-am-I line and logout button (after st.navigation, see dashboard.py)."""
    if not viewer.logged_in:
        return
    from .identity import websession

    with st.sidebar:
        text, button = st.columns([3, 2], vertical_alignment="center")
        text.caption(md(viewer.label))
        if button.button("退出", icon=":material/logout:", key="account:logout", help="退出登录"):
            websession.logout(store, viewer)
            st.rerun()


def require(permission: str, ctx: Context | None = None) -> Context:
    """The page's context; stops the page with a message when the viewer lacks the permission
    (navigation already hides such pages; this guards a direct run)."""
    ctx = ctx or context()
    if not ctx.viewer.can(permission):
        st.error("您的账号没有使用本页面的权限。", icon=":material/block:")
        st.stop()
    return ctx


# --- the Friday cycle (published weeks) -----------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _published_weeks(path: str, version: int, campaign_id: str) -> dict:
    from .cycle import publishing

    with Store(path).read() as con:
        return publishing.published_weeks(con, campaign_id)


def published_badge(ctx: Context, as_of: dt.date) -> str | None:
    """已发布 · 2021-11-19 17:40 · 张三 when the week's bulletin is published, else None."""
    from .cycle import publishing

    if ctx.source != "upload":
        return None
    return publishing.badge(_published_weeks(ctx.path, ctx.version, ctx.campaign.id).get(as_of))
