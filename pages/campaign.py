"""活动设置: the chosen campaign's window and every change of it, its contribution per tier and
group, subsidies and payment days; an administrator extends or moves a window with a reason,
for the whole campaign or for one unit and the units below it."""

import streamlit as st

from enrollment import campaigns, db, ui
from enrollment.campaigns import details
from enrollment.db import Store
from enrollment.identity import websession
from enrollment.labels import LEVEL_LABELS
from enrollment.metrics import weekly
from enrollment.text import md

K = "campaign:"
WHOLE = ""                     # the scope option that means the whole campaign
ctx = ui.require("manage_campaigns")
campaign = ctx.campaign
if campaign is None:
    st.stop()


@st.cache_data(max_entries=16, show_spinner=False)
def load(path: str, version: int, campaign: campaigns.Campaign) -> details.Details:
    with Store(path).read() as con:
        return details.details(con, campaign)


@st.cache_data(max_entries=16, show_spinner=False)
def scopes(path: str, version: int, campaign_id: str) -> list[tuple[str, str, str]]:
    """Units a window can be set for: the two levels below the top (code, name, level)."""
    with Store(path).read() as con:
        levels = db.units.levels_by_depth(con, campaign_id)[1:3]
        return [(u.code, u.name, u.level) for u in db.units.at_levels(con, campaign_id, levels)]


st.title("活动设置")
st.caption(md(campaign.name))
if done := st.session_state.pop(K + "done", None):
    st.success(md(done), icon=":material/check_circle:")
shown = load(ctx.path, ctx.version, campaign)

left, right = st.columns(2)
with left:
    st.markdown("**参保活动**")
    st.markdown("\n".join(f"- {md(label)}：{md(value)}" for label, value in shown.definition))
with right:
    st.markdown("**缴费标准与分类人群**")
    st.markdown("\n".join(f"- {md(label)}：{md(value)}" for label, value in shown.terms))
    if not campaign.terms.known:
        st.caption("活动定义中没有缴费标准，不测算应缴金额，也不核对上报的缴费金额。")

# --- the window ---------------------------------------------------------------------------------
st.subheader("调整集中参保期", anchor=False)
st.caption("延长或调整全活动的集中参保期，或为某个单位（及其下属单位）单独设置参保期（如系统切换推迟开始）。"
           "周次、序时进度、进度状态和通报都按调整后的参保期计算；每次调整都保留记录。")
units = scopes(ctx.path, ctx.version, campaign.id)
names = {WHOLE: "全活动", **{code: f"{name}（{LEVEL_LABELS.get(level, level)}）"
                            for code, name, level in units}}
scope = st.selectbox("调整范围", list(names), format_func=names.get, key=f"{K}scope:{campaign.id}")
own = campaign.own_window(scope) if scope else None
window = campaign if not scope else campaign.window_of(
    [u.code for u in ui.unit_path(ctx, scope)])
if scope and own is None:
    st.caption(f"{md(names[scope])}目前按全活动的参保期计算"
               + (f"（随上级单位：{window.start} 至 {window.end}）" if window is not campaign else "")
               + "。")
with st.form(f"{K}form:{campaign.id}:{scope}"):
    c1, c2 = st.columns(2)
    start = c1.date_input("开始日期", value=window.start, format="YYYY-MM-DD")
    end = c2.date_input("结束日期", value=window.end, format="YYYY-MM-DD")
    reason = st.text_input("调整原因（必填）", max_chars=campaigns.windows.MAX_REASON,
                           placeholder="例如：为防控疫情风险；因系统切换原因")
    inherit = st.checkbox("取消该单位单独的参保期，恢复按全活动参保期计算",
                          disabled=own is None) if scope else False
    submitted = st.form_submit_button("保存调整", type="primary", icon=":material/event:")
if submitted:
    try:
        change = campaigns.change_window(
            ctx.store, campaign.id, reason=reason, start=start, end=end, unit=scope or None,
            inherit=inherit, actor=ctx.viewer.name, address=websession.client_address(),
            role=ctx.viewer.role, then=weekly.after_calendar_change)
    except campaigns.WindowError as exc:
        st.error(md(exc), icon=":material/error:")
    else:
        st.session_state[K + "done"] = change.summary()
        st.rerun()

if len(shown.unit_windows):
    st.markdown("**单独设置集中参保期的单位**（其下属单位同样适用）")
    st.dataframe(shown.unit_windows, hide_index=True, width="stretch", placeholder=ui.MISSING)
st.markdown("**调整记录**")
if len(shown.history):
    st.dataframe(shown.history, hide_index=True, width="stretch", placeholder=ui.MISSING)
else:
    st.caption("集中参保期没有调整过。")
