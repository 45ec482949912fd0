"""通报导出: charts, the Excel 通报表, the Word 通报稿 and 张榜 boards of one week, to download."""

import datetime as dt

import streamlit as st

from enrollment import ui
from enrollment.db import Store
from enrollment.export import boards, bulletin, bundles, render, tables, workbook
from enrollment.export import model as exports
from enrollment.identity import audit, websession
from enrollment.labels import EXPORT_FORMAT_LABELS, LEVEL_LABELS
from enrollment.text import md

# Boards take about 0.3 s each (measured: benchmarks/export_batch.py --level township); beyond
# this many units the page leaves them unselected and says how long they would take.
BOARDS_BY_DEFAULT = 100
SECONDS_PER_BOARD = 0.3

ctx = ui.require("export")
campaign = ctx.campaign
if campaign is None:
    st.stop()


@st.cache_data(max_entries=16, show_spinner="正在计算……")
def gather(path: str, version: int, campaign, as_of: dt.date, source: str, level: str | None,
           scope: str | None) -> exports.ExportData:
    with Store(path).read() as con:
        return exports.gather(con, campaign, as_of, source, level, scope)


def pick(label: str, options: list, query: str, key: str, names: dict) -> str:
    """A select box that starts from the URL (?query=…) and keeps its choice there."""
    wanted = st.query_params.get(query)
    chosen = st.selectbox(label, options, index=options.index(wanted) if wanted in options else 0,
                          format_func=names.get, key=f"{key}:{campaign.id}")
    if st.query_params.get(query) != chosen:
        st.query_params[query] = chosen
    return chosen


as_of = ui.week_picker(campaign, "截至", "export:as_of", "as_of", default=ui.default_week(ctx))
st.subheader("通报导出", anchor=False)
ui.demo_banner(ctx)

base = gather(ctx.path, ctx.version, campaign, as_of, ctx.source, None, None)
levels = base.levels
with st.container(horizontal=True):
    level = pick("排名和张榜的层级", levels, "level", "export:level",
                 {lv: LEVEL_LABELS.get(lv, lv) for lv in levels})
    units = base.result.units
    above = levels[:levels.index(level)]
    scopes = units[(units["code"] == base.scope["code"]) | units["level"].isin(above)]
    scope = pick("范围", list(scopes["code"]), "scope", "export:scope",
                 dict(zip(scopes["code"], scopes["name"])))
data = gather(ctx.path, ctx.version, campaign, as_of, ctx.source, level, scope)
st.caption(f"{md(data.scope['name'])} · 各{LEVEL_LABELS.get(level, level)} {len(data.units)} 个 · "
           f"{data.when} · {data.source_note}")

problem = render.chromium_problem()
if problem:
    st.warning(f"{problem}。Excel 通报表和 Word 通报稿（用表格代替图片）仍可导出。",
               icon=":material/image_not_supported:")

# --- files ------------------------------------------------------------------------------------
st.markdown("**生成文件**")
usable = [f for f in bundles.FORMATS if not (problem and f in bundles.BROWSER_FORMATS)]
many = len(data.units) > BOARDS_BY_DEFAULT
if many:
    usable = [f for f in usable if f != "board"]
formats = st.pills("格式", list(bundles.FORMATS), selection_mode="multi", default=usable,
                   format_func=EXPORT_FORMAT_LABELS.get, key=f"export:formats:{campaign.id}")
if "board" in (formats or []) or many:
    minutes = len(data.units) * SECONDS_PER_BOARD / 60
    st.caption(f"张榜公示：每个{LEVEL_LABELS.get(level, level)}一页 A4，共 {len(data.units)} 个，"
               f"外加一份合并打印的 PDF，约需 {max(minutes, 0.1):.1f} 分钟"
               + ("（单位较多，默认不生成，需要时请选上）。" if many else "。"))
request = (ctx.path, ctx.version, campaign.id, as_of, ctx.source, level, data.scope["code"],
           tuple(formats or ()))
if st.button("生成", type="primary", icon=":material/file_export:", disabled=not formats):
    bar = st.progress(0.0, text="正在准备……")
    bundle = bundles.build(data, formats, progress=lambda f, what: bar.progress(min(f, 1.0), text=what))
    bar.empty()
    st.session_state["export:bundle"] = (request, bundle)
    if bundle.files:
        audit.log(ctx.store, ctx.viewer.name, "export",
                  f"生成通报文件 {len(bundle.files)} 个（{'、'.join(EXPORT_FORMAT_LABELS.get(f, f) for f in formats)}），"
                  f"截至 {as_of}，{data.scope['name']}下属{LEVEL_LABELS.get(level, level)}",
                  websession.client_address(), campaign_id=campaign.id, role=ctx.viewer.role)

kept = st.session_state.get("export:bundle")
if kept and kept[0] == request:
    bundle = kept[1]
    failure = bundles.failure_message(bundle)
    if failure:
        st.error(md(failure), icon=":material/error:")
    for note in bundle.notes:
        st.info(md(note), icon=":material/info:")
    if bundle.files:
        st.download_button(f"下载全部（ZIP，{len(bundle.files)} 个文件）", bundle.zip_bytes(),
                           bundle.zip_name, "application/zip", type="primary",
                           icon=":material/folder_zip:", on_click="ignore")
        singles = [f for f in bundle.files if f.kind != "board" or "全部" in f.name]
        with st.container(horizontal=True):
            for item in singles:
                st.download_button(md(item.label), item.data, item.name.rsplit("/", 1)[-1],
                                   icon=":material/download:", on_click="ignore",
                                   key=f"export:dl:{item.name}")
        per_unit = [f for f in bundle.of("board") if "全部" not in f.name]
        if per_unit:
            by_name = {f.name: f for f in per_unit}
            chosen = st.selectbox("单个单位的张榜公示", list(by_name),
                                  format_func=lambda n: by_name[n].label, key="export:board_file")
            st.download_button("下载这个单位的张榜 PDF", by_name[chosen].data,
                               chosen.rsplit("/", 1)[-1], "application/pdf",
                               icon=":material/download:", on_click="ignore")
        pngs = bundle.of("png")
        if pngs:
            with st.expander("查看导出的图片（与下载的文件相同）"):
                for item in pngs:
                    st.image(item.data, caption=item.name, width=760)

# --- preview ----------------------------------------------------------------------------------
st.markdown("**预览**")
tab_charts, tab_table, tab_text, tab_board = st.tabs(["图表", "通报表", "通报稿", "张榜公示"])
with tab_charts:
    made = exports.charts_of(data)
    if not any(c.key == "ranking" for c in made):
        st.info("下级单位尚未录入任务数，无法按完成率排名。", icon=":material/info:")
    for chart in made:
        st.plotly_chart(chart.figure, theme=None, width=chart.width,
                        config={"displayModeBar": False}, key=f"export:{chart.key}")
with tab_table:
    for lv in workbook.sheet_levels(data):
        frame = workbook.sheet_frame(data, lv)
        st.markdown(f"**各{LEVEL_LABELS.get(lv, lv)}**（{len(frame)} 个，按完成率排名）")
        st.dataframe(
            tables.highlight_behind(frame), hide_index=True, width="stretch", height=min(36 * (len(frame) + 1) + 3, 420),
            column_config={"完成率": st.column_config.NumberColumn(format="percent"),
                           "序时进度": st.column_config.NumberColumn(format="percent"),
                           "与序时目标差距（百分点）": st.column_config.NumberColumn(format="%+.2f"),
                           "任务数": st.column_config.NumberColumn(format="localized"),
                           "累计参保人数": st.column_config.NumberColumn(format="localized"),
                           "较上周增加": st.column_config.NumberColumn(format="localized"),
                           "最近上报日期": st.column_config.DateColumn(format="YYYY-MM-DD")},
                     placeholder=ui.MISSING)
with tab_text:
    st.markdown(bulletin.draft(data).markdown())
with tab_board:
    names = dict(zip(data.units["code"], data.units["name"]))
    shown = st.selectbox("单位", list(data.units["code"]), format_func=names.get,
                         key=f"export:board:{campaign.id}")
    unit = data.units[data.units["code"] == shown].iloc[0].to_dict()
    st.iframe(boards.board_html(data, unit), height=1140)
