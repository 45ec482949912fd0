"""进度总览: who is behind the goal and the calendar."""

import streamlit as st

from enrollment import tables, ui
from enrollment.labels import COLUMN_LABELS, LEVEL_LABELS, STATUS_LABELS, TARGETS_MISSING

campaign = st.session_state.get("campaign_obj")
if campaign is None:
    st.stop()

source = ui.source_picker(campaign)
st.title("进度总览")
ui.demo_banner(source)
as_of = ui.as_of_picker(campaign, "overview:as_of")
result = ui.load_progress(campaign, as_of, source)
total = result.total

st.caption(f"{campaign.name} · 截至 {ui.week_label(campaign, as_of)} · "
           f"数据来源：{'示例数据' if source == 'demo' else '各单位每周上报'}")
if result.targets_missing:
    st.error(f"{TARGETS_MISSING}：本活动还没有各单位的任务数，无法计算完成率和进度状态。"
             "请管理员在「目标任务」中载入或测算任务分解表。", icon=":material/assignment_late:")

cols = st.columns(4)
cols[0].metric("累计参保 / 任务数",
               "—" if total["enrolled"] is None or str(total["enrolled"]) == "<NA>"
               else f"{total['enrolled']:,}",
               help="截至所选日期各单位最近一次上报的累计参保人数之和")
cols[0].caption(f"任务数 {total['target']:,}" if not result.targets_missing else TARGETS_MISSING)
cols[1].metric("完成率", ui.percent(total["completion"]),
               delta=None if total["gap_pp"] is None or str(total["gap_pp"]) == "nan"
               else f"{total['gap_pp']:+.2f} 个百分点（较序时）")
cols[2].metric("序时进度", ui.percent(float(result.time_progress)),
               help="（开始至今天数）÷（集中参保期天数），首尾两天都计入")
cols[2].caption(f"序时目标 {ui.percent(float(result.pace))}（{campaign.goal:.0%} × 序时进度）")
counts = result.status_counts(result.units[result.units["depth"] > 0])
cols[3].metric("进度落后单位", counts["behind"])
cols[3].caption(" · ".join(f"{STATUS_LABELS[k]} {v}" for k, v in counts.items() if v))

levels = [lv for lv in dict.fromkeys(result.units.sort_values("depth")["level"]) if lv != total["level"]]
level = st.segmented_control("层级", levels, default=levels[0] if levels else None,
                             format_func=LEVEL_LABELS.get, key="overview:level") or (levels[0] if levels else None)
frame = result.level(level) if level else result.units
table = tables.unit_table(frame.sort_values("completion", na_position="first"),
                          float(result.time_progress))
st.dataframe(
    tables.highlight_behind(table), hide_index=True, use_container_width=True,
    column_config={
        COLUMN_LABELS["completion"]: st.column_config.NumberColumn(format="%.2f%%"),
        COLUMN_LABELS["time_progress"]: st.column_config.NumberColumn(format="%.2f%%"),
        COLUMN_LABELS["gap_pp"]: st.column_config.NumberColumn(format="%+.2f"),
        COLUMN_LABELS["target"]: st.column_config.NumberColumn(format="localized"),
        COLUMN_LABELS["enrolled"]: st.column_config.NumberColumn(format="localized"),
        COLUMN_LABELS["week_delta"]: st.column_config.NumberColumn(format="localized"),
    })
