"""进度总览: who is behind the goal and the calendar, at a glance, down to every community."""

import streamlit as st

from enrollment import ui
from enrollment.export import charts, tables
from enrollment.labels import COLUMN_LABELS, TARGETS_MISSING
from enrollment.metrics import groups, overview, progress
from enrollment.text import md

ctx = ui.context()
campaign = ctx.campaign
if campaign is None:
    st.stop()

# The title and the week side by side (the week below the title on a phone): the week picker
# is on the page itself, so a phone reaches it without opening the sidebar.
with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
    title = st.empty()
    as_of = ui.week_picker(campaign, "截至", "overview:as_of", "as_of", default=ui.default_week(ctx),
                           sidebar=False, label_visibility="collapsed", width=250)
# Only the shown unit and its children are computed (the roll-up runs over the unit's subtree);
# an unknown code in the URL shows the top unit.
wanted = st.query_params.get("unit")
path = (ui.unit_path(ctx, wanted) if wanted else []) or ui.unit_path(ctx, campaign.region_code)
result = ui.load_progress(ctx, as_of, view=path[-1].code)
view = overview.View.at(result, path[-1].code)
if st.query_params.get("unit") != view.code:
    st.query_params["unit"] = view.code


def go_to(code: str) -> None:
    """Show another unit; widgets of the old view (chart selection, drill box) start afresh."""
    st.query_params["unit"] = code
    st.session_state.pop("overview:drill", None)
    st.session_state["overview:nav"] = st.session_state.get("overview:nav", 0) + 1


def drill() -> None:
    if st.session_state.get("overview:drill"):
        go_to(st.session_state["overview:drill"])


# --- title, breadcrumb, banners ---------------------------------------------------------------
title.subheader(f"进度总览 · {md(view.unit['name'])}", anchor=False, width="content")
st.caption(overview.caption(ctx, result))
if published := ui.published_badge(ctx, as_of):     # the week's bulletin is out and locked
    st.badge(md(published), icon=":material/verified:", color="green")
ui.demo_banner(ctx)
if len(path) > 1:
    with st.container(horizontal=True, gap="small"):
        for unit in path[:-1]:
            st.button(md(unit.name), key=f"crumb:{unit.code}", on_click=go_to, args=(unit.code,),
                      icon=":material/arrow_upward:", type="tertiary")
        st.markdown(f"**{md(path[-1].name)}**")
if not ui.has_targets(ctx):
    st.error(f"{TARGETS_MISSING}：本活动还没有各单位的任务数，无法计算完成率和进度状态。"
             "请管理员在「目标任务」中载入或测算任务分解表。", icon=":material/assignment_late:")

# --- headline ---------------------------------------------------------------------------------
trend = ui.load_trend(ctx, view.code)
head = overview.headline(result, view.unit, trend)


def metric(label: str, value: str, change: overview.Change | None = None, **options) -> None:
    """A headline figure; its change red with a down arrow when bad, grey when zero."""
    st.metric(label, value, change.text if change else None,
              delta_color=change.color if change else "normal",
              delta_arrow=change.arrow if change else "auto", width="content", **options)


# A wrapping row: five across on a projector, two or three per line on a phone; each figure
# as wide as its text, so no change line is cut short.
with st.container(horizontal=True, gap="small"):
    metric("累计参保人数", head.enrolled, head.week_delta, help=head.enrolled_help)
    metric("完成率", head.completion, head.gap, help="完成率 = 累计参保人数 ÷ 任务数；"
           "下方为与序时目标之差")
    metric("序时进度", head.time_progress,
           help="（开始至截至日天数）÷（集中参保期天数），首尾两天都计入")
    metric("剩余天数", head.days_left, help="截至日之后到集中参保期结束的天数")
    metric("预计期末完成率", head.projection, head.projection_gap,
           help="按最近三周的平均增速推算到集中参保期最后一天")
st.markdown(head.summary_markdown)

# --- ranking ----------------------------------------------------------------------------------
children = view.children
if not children.empty and (children["status"] == "no_target").all():
    st.info("下级单位尚未录入任务数，无法按完成率排名；各单位的上报数见「明细表」。", icon=":material/info:")
elif not children.empty:
    shown, note = overview.ranking_rows(children)
    fig = charts.ranking_chart(shown, goal=float(campaign.goal), pace=float(result.pace))
    event = st.plotly_chart(fig, key=f"overview:ranking:{st.session_state.get('overview:nav', 0)}",
                            on_select="rerun", theme=None,
                            selection_mode="points", config={"displayModeBar": False})
    picked = overview.selected_code(event)
    if picked and picked in set(children["code"]):
        go_to(picked)
        st.rerun()
    if note:
        st.caption(note)
    if windows := overview.window_note(result, children):
        st.caption(md(windows) + "（图中短竖线）")
if not children.empty:
    names = dict(zip(children["code"], children["name"]))
    st.selectbox("下钻查看", list(children["code"]), index=None, key="overview:drill",
                 format_func=names.get, placeholder="点击图中的条形，或在此选择下级单位",
                 on_change=drill)

# --- details ----------------------------------------------------------------------------------
# Only the open tab is computed (each is a query of its own); ?tab=… opens one directly.
def show_trend() -> None:
    options = [view.code] + list(children["code"])
    names = {view.code: view.unit["name"], **dict(zip(children["code"], children["name"]))}
    chosen = st.selectbox("单位", options, format_func=names.get, key="overview:trend_unit")
    series = trend if chosen == view.code else ui.load_trend(ctx, chosen)
    shown = series[series["as_of"] <= as_of]
    if shown["enrolled"].isna().all():
        st.info(f"{md(names[chosen])}截至{as_of:%Y年%m月%d日}还没有上报数据，第一次上报后这里显示逐周走势。",
                icon=":material/info:")
    # Each unit's pace line follows its own window (its own, or one it inherits).
    calendar = campaign.window_of([u.code for u in path] + ([chosen] if chosen != view.code else []))
    projected = progress.projection(series, calendar, as_of)
    st.plotly_chart(charts.trend_chart(shown, calendar, projection=projected),
                    key="overview:trend", theme=None, config={"displayModeBar": False})


def show_table() -> None:
    frame = children if not children.empty else result.units[result.units["code"] == view.code]
    table = tables.unit_table(frame.sort_values("completion", na_position="first"),
                              float(result.time_progress),
                              money=overview.shows_money(result, frame))
    # 单位 and 状态 first (a phone shows them without scrolling sideways), the code last.
    first = [COLUMN_LABELS["name"], COLUMN_LABELS["status"], COLUMN_LABELS["completion"]]
    order = first + [c for c in table.columns if c not in first and c != COLUMN_LABELS["code"]] \
        + [COLUMN_LABELS["code"]]
    st.dataframe(tables.highlight_behind(table), hide_index=True, width="stretch",
                 column_config=ui.COLUMN_CONFIG, column_order=order, placeholder=ui.MISSING)
    name = overview.file_stem(ctx, result, view.unit)
    with st.container(horizontal=True):
        st.download_button("下载 CSV", tables.to_csv_bytes(table), f"{name}.csv", "text/csv",
                           icon=":material/download:")
        st.download_button("下载 Excel", tables.to_xlsx_bytes(table, view.unit["name"]),
                           f"{name}.xlsx", icon=":material/download:",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def show_reporting() -> None:
    codes = list(children["code"]) if not children.empty else [view.code]
    status = ui.load_week_status(ctx, as_of, codes)
    st.markdown(overview.reporting_markdown(status, campaign, as_of))
    st.dataframe(overview.reporting_table(status), hide_index=True, width="stretch",
                 placeholder=ui.MISSING)


def show_low_income() -> None:
    low = overview.low_income_rows(result, view)
    if low.empty:
        st.info("本活动尚未录入低收入人口（含稳定脱贫人口）任务数。录入后，这里按 100% 的要求逐个单位检查。")
        return
    below = int((low["低收入人口参保率"] < 100).sum())
    st.markdown(f"低收入人口参保率要求 **100%**；未达到的单位 **:red[{below}]** 个。")
    st.dataframe(tables.highlight_below(low, "低收入人口参保率", 100), hide_index=True,
                 width="stretch", column_config=ui.column_config(low), placeholder=ui.MISSING)


def show_groups() -> None:
    figures = ui.load_groups(ctx, as_of, view.code)
    summary = groups.summary(figures, view.code)
    st.markdown(f"{md(view.unit['name'])}各类人群参保情况（目标人数来自目标任务表，参保人数来自各单位上报）：")
    st.dataframe(tables.highlight_below(summary, "参保率", 100), hide_index=True, width="stretch",
                 column_config=ui.column_config(summary), placeholder=ui.MISSING)
    keys = [g.key for g in campaign.terms.groups]
    labels = {g.key: g.name for g in campaign.terms.groups}
    chosen = st.selectbox("逐个单位查看", keys, format_func=labels.get, key="overview:group")
    rows = groups.by_unit(figures, view.code, chosen)
    goal = campaign.terms.group(chosen).goal
    shown = rows
    if goal is not None:
        below = int((rows["状态"] == groups.BELOW).sum())
        st.markdown(f"{md(labels[chosen])}参保率要求 **{goal:.0%}**；未达到的单位 **:red[{below}]** 个，"
                    f"共还差 **{int(rows['还差人数'].fillna(0).sum()):,}** 人。")
        shown = tables.highlight_below(rows, "参保率", 100 * float(goal))
    st.dataframe(shown, hide_index=True, width="stretch", column_config=ui.column_config(rows),
                 placeholder=ui.MISSING)


def show_quality() -> None:
    flags = overview.flags_in_view(ui.load_flags(ctx, as_of), ui.subtree(ctx, view.code))
    if flags.empty:
        st.success("未发现异常：没有累计数下降、单周增幅异常、超过任务数或与下级合计不符的情况。")
        return
    st.markdown(f"发现 **{len(flags)}** 处需要核实的数据：")
    st.dataframe(flags, hide_index=True, width="stretch", placeholder=ui.MISSING)


def show_comparison() -> None:
    days = [d for d in progress.report_days(campaign) if d < as_of] or [as_of]
    other = st.selectbox("与哪一周比较", days[::-1], key="overview:compare",
                         format_func=lambda d: ui.week_label(campaign, d))
    compared = overview.compare_weeks(result, ui.load_progress(ctx, other, view=view.code),
                                      view.code)
    st.dataframe(compared, hide_index=True, width="stretch",
                 column_config=ui.column_config(compared), placeholder=ui.MISSING)


TABS = {"趋势": show_trend, "明细表": show_table, "上报情况": show_reporting,
        "低收入人口": show_low_income, "数据质量": show_quality, "两周对比": show_comparison}
if campaign.terms.groups:           # 分类人群: the campaign's groups against their goals
    TABS = {**dict(list(TABS.items())[:4]), "分类人群": show_groups, **dict(list(TABS.items())[4:])}
for tab, render in zip(st.tabs(list(TABS), key="tab", bind="query-params"), TABS.values()):
    if tab.open:
        with tab:
            render()
