"""新建活动: set up a campaign for any region from the national division codes."""

import datetime as dt

import streamlit as st

from enrollment import ui
from enrollment.campaigns import regions
from enrollment.identity import websession
from enrollment.labels import LEVEL_LABELS, PROGRAMME_LABELS
from enrollment.text import md

K = "setup:"
ctx = ui.require("manage_campaigns")

st.title("新建参保活动")
st.caption("按国家统计用区划代码为任意市、县（区）或乡镇（街道）建立参保活动，选择要跟踪到哪一级。")


@st.cache_data(max_entries=64, show_spinner=False)
def _search(text: str) -> tuple[list[regions.divisions.Division], dict[str, str]]:
    found = regions.search(text)
    return found, regions.full_names([d.code for d in found])


@st.cache_data(max_entries=64, show_spinner="正在统计区划……")
def _plan(code: str, levels: tuple[str, ...]) -> regions.RegionPlan:
    return regions.plan(code, list(levels))


if created := st.session_state.pop(f"{K}created", None):
    st.success(md(created), icon=":material/check_circle:")
    st.page_link("pages/targets.py", label="下一步：载入或测算目标任务", icon=":material/arrow_forward:")
    st.divider()

text = st.text_input("查找区划（名称或代码）", key=f"{K}search", placeholder="例如：阳城、周家坝、140522")
region = None
if text.strip():
    found, names = _search(text.strip())
    if not found:
        st.warning(f"没有找到名称包含「{md(text.strip())}」的区划，请换个写法或直接输入区划代码。")
    else:
        by_code = {d.code: d for d in found}
        code = st.selectbox(
            f"选择区划（找到 {len(found)} 个）", list(by_code), key=f"{K}region",
            format_func=lambda c: f"{names.get(c, by_code[c].name)}（{c}，"
                                  f"{LEVEL_LABELS.get(by_code[c].level, '')}）")
        region = by_code[code]

if region is not None:
    options = regions.levels_below(region.code)
    levels = st.multiselect("跟踪到哪些层级", options, default=options, key=f"{K}levels:{region.code}",
                            format_func=lambda lv: LEVEL_LABELS[lv])
    plan = None
    if levels:
        try:
            plan = _plan(region.code, tuple(levels))
            st.info(f"将建立：{md(plan.summary())}", icon=":material/account_tree:")
        except regions.SetupError as exc:
            st.error(md(exc))
    else:
        st.warning("请至少选择一个层级。")

    today = dt.date.today()
    year = today.year + 1
    programme = st.radio("险种", list(PROGRAMME_LABELS), format_func=PROGRAMME_LABELS.get,
                         horizontal=True, key=f"{K}programme")
    with st.form(f"{K}form"):
        c1, c2 = st.columns([1, 2])
        campaign_id = c1.text_input("活动编号", value=f"{region.code}-{year}-{programme}",
                                    help="小写字母、数字和连字符，例如 yangcheng-2022-residents")
        name = c2.text_input("活动名称", value=f"{region.name}{year}年度{PROGRAMME_LABELS[programme]}参保缴费",
                             max_chars=regions.MAX_NAME)
        c3, c4 = st.columns(2)
        start = c3.date_input("集中参保期开始", value=dt.date(today.year, 9, 1), format="YYYY-MM-DD")
        end = c4.date_input("集中参保期结束", value=dt.date(today.year, 12, 31), format="YYYY-MM-DD")
        c5, c6 = st.columns(2)
        goal = c5.number_input("目标参保率（%）", min_value=1.0, max_value=100.0, value=97.0, step=0.5)
        low_income = c6.checkbox("低收入人口及稳定脱贫人口参保率要求 100%",
                                 value=programme == "residents")
        issuer = st.text_input("发文机关署名（通报稿落款）", max_chars=regions.MAX_ISSUER,
                               placeholder=f"例如：{region.name}医疗保障局")
        submitted = st.form_submit_button("创建活动", type="primary", icon=":material/add_circle:",
                                          disabled=plan is None)
    if submitted:
        try:
            definition = regions.define(
                id=campaign_id, name=name, region_code=region.code, levels=levels, start=start,
                end=end, goal=f"{goal}%", programme=programme,
                low_income_goal="1" if low_income else None, issuer=issuer)
            created = regions.create(ctx.store, definition, actor=ctx.viewer.name,
                                     address=websession.client_address(), role=ctx.viewer.role)
        except regions.SetupError as exc:
            st.error(md(exc))
        else:
            st.session_state[f"{K}created"] = created.summary()
            ui.select_campaign(definition.id)        # the sidebar shows the new campaign
            st.rerun()

# --- the current campaign's signature -----------------------------------------------------------
if ctx.campaign is not None:
    st.divider()
    st.subheader("当前活动的通报稿落款", anchor=False)
    with st.form(f"{K}issuer:{ctx.campaign.id}"):
        typed = st.text_input(f"「{md(ctx.campaign.name)}」的发文机关署名", value=ctx.campaign.issuer or "",
                              max_chars=regions.MAX_ISSUER, placeholder="例如：晋城市医疗保障局",
                              help="印在 Word 通报稿末尾、成文日期之上。")
        save = st.form_submit_button("保存落款", icon=":material/save:")
    if save:
        try:
            regions.set_issuer(ctx.store, ctx.campaign.id, typed, actor=ctx.viewer.name,
                               address=websession.client_address(), role=ctx.viewer.role)
        except regions.SetupError as exc:
            st.error(md(exc))
        else:
            st.session_state[f"{K}issuer_saved"] = True
            st.rerun()
    if st.session_state.pop(f"{K}issuer_saved", False):
        st.success("落款已保存，之后生成的通报稿使用新的署名。", icon=":material/check_circle:")
