"""Streamlit glue shared by the entry file and the pages: store, cache, pickers, banners.

Query results are cached with `st.cache_data`, keyed by the database path and its data version
(every committed write bumps it), so a rerun that changes nothing reads only one small row.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from . import bootstrap, campaigns, progress
from .campaigns import Campaign
from .labels import DEMO_BANNER, SOURCE_LABELS
from .storage import Store

CAMPAIGN_KEY = "campaign"
PENDING_CAMPAIGN_KEY = "campaign:pending"


def store() -> Store:
    """The database of this server (ENROLLMENT_DB), ready for use."""
    current = Store()
    _ensure_ready(str(current.path))
    return current


@st.cache_resource(show_spinner="正在准备数据库……")
def _ensure_ready(path: str) -> None:
    bootstrap.ensure_ready(Store(path))


def data_version() -> int:
    return store().data_version()


@st.cache_data(max_entries=16, show_spinner=False)
def _campaigns(path: str, version: int) -> list[Campaign]:
    with Store(path).read() as con:
        return campaigns.list_campaigns(con)


@st.cache_data(max_entries=64, show_spinner=False)
def _sources(path: str, version: int, campaign_id: str) -> tuple[list[str], str]:
    with Store(path).read() as con:
        return (progress.available_sources(con, campaign_id),
                progress.default_source(con, campaign_id))


@st.cache_data(max_entries=64, show_spinner="正在计算进度……")
def _progress(path: str, version: int, campaign_id: str, as_of: dt.date,
              source: str) -> progress.Progress:
    with Store(path).read() as con:
        return progress.compute(con, campaigns.get(con, campaign_id), as_of, source)


def all_campaigns() -> list[Campaign]:
    s = store()
    return _campaigns(str(s.path), s.data_version())


def campaign_picker() -> Campaign | None:
    """Sidebar select box, kept in the URL (?campaign=…) so a view can be shared."""
    options = all_campaigns()
    if not options:
        st.sidebar.warning("还没有任何参保活动。")
        return None
    ids = [c.id for c in options]
    wanted = st.query_params.get(CAMPAIGN_KEY)
    if st.session_state.get(PENDING_CAMPAIGN_KEY) in ids:   # set by select_campaign()
        st.session_state[CAMPAIGN_KEY] = st.session_state.pop(PENDING_CAMPAIGN_KEY)
    if st.session_state.get(CAMPAIGN_KEY) not in ids:
        st.session_state[CAMPAIGN_KEY] = wanted if wanted in ids else ids[0]
    by_id = {c.id: c for c in options}
    chosen = st.sidebar.selectbox("参保活动", ids, key=CAMPAIGN_KEY,
                                  format_func=lambda i: by_id[i].name)
    st.query_params[CAMPAIGN_KEY] = chosen
    return by_id[chosen]


def select_campaign(campaign_id: str) -> None:
    """Make the sidebar picker show this campaign from the next run on (e.g. a new one)."""
    st.session_state[PENDING_CAMPAIGN_KEY] = campaign_id
    st.query_params[CAMPAIGN_KEY] = campaign_id


def source_picker(campaign: Campaign) -> str:
    """Real uploads or demo data; offered only when the campaign has demo data."""
    s = store()
    available, default = _sources(str(s.path), s.data_version(), campaign.id)
    if "demo" not in available:
        return default
    options = ["upload", "demo"]
    key = f"source:{campaign.id}"
    if key not in st.session_state:
        st.session_state[key] = default
    return st.sidebar.radio("数据来源", options, key=key, format_func=SOURCE_LABELS.get,
                            horizontal=True)


def load_progress(campaign: Campaign, as_of: dt.date, source: str) -> progress.Progress:
    s = store()
    return _progress(str(s.path), s.data_version(), campaign.id, as_of, source)


def demo_banner(source: str) -> None:
    if source == "demo":
        st.warning(DEMO_BANNER, icon=":material/science:")


def week_label(campaign: Campaign, day: dt.date) -> str:
    n = campaign.week_number(day)
    return f"第{n}周（{day:%Y年%m月%d日}）" if n else f"{day:%Y年%m月%d日}"


def as_of_picker(campaign: Campaign, key: str) -> dt.date:
    """A week-end (Friday) picker inside the window, in the URL as ?as_of=YYYY-MM-DD."""
    ends = [d for d in campaign.week_ends() if d <= campaign.end]
    if campaign.end not in ends:
        ends.append(campaign.end)
    default = campaign.default_as_of()
    wanted = st.query_params.get("as_of")
    try:
        wanted_day = dt.date.fromisoformat(wanted) if wanted else None
    except ValueError:
        wanted_day = None
    state_key = f"{key}:{campaign.id}"
    if st.session_state.get(state_key) not in ends:
        pick = wanted_day if wanted_day in ends else min(ends, key=lambda d: abs((d - default).days))
        st.session_state[state_key] = pick
    day = st.select_slider("截至", options=ends, key=state_key,
                           format_func=lambda d: week_label(campaign, d))
    st.query_params["as_of"] = day.isoformat()
    return day


def percent(value: object, digits: int = 2) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.{digits}%}"
