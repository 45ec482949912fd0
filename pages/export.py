"""通报导出: charts, the Excel 通报表, the Word 通报稿 and 张榜 boards of one week (or a month),
to download; 发布 (publish and lock the week), 锁定与例外, and the archive of published bulletins."""

import datetime as dt

import pandas as pd
import streamlit as st

from enrollment import ui
from enrollment.cycle import publishing, push, weeks
from enrollment.db import Store
from enrollment.export import (
    boards,
    bulletin,
    bundles,
    monthly,
    render,
    tables,
    workbook,
)
from enrollment.export import model as exports
from enrollment.identity import audit, websession
from enrollment.labels import EXPORT_FORMAT_LABELS, LEVEL_LABELS, PERIOD_LABELS
from enrollment.text import md
from enrollment.uploads import rights

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


@st.cache_data(max_entries=16, show_spinner="正在计算……")
def gather_month(path: str, version: int, campaign, month: str, source: str, level: str | None,
                 scope: str | None) -> exports.ExportData:
    with Store(path).read() as con:
        return monthly.gather_month(con, campaign, month, source, level, scope)


def pick(label: str, options: list, query: str, key: str, names: dict) -> str:
    """A select box that starts from the URL (?query=…) and keeps its choice there."""
    wanted = st.query_params.get(query)
    chosen = st.selectbox(label, options, index=options.index(wanted) if wanted in options else 0,
                          format_func=names.get, key=f"{key}:{campaign.id}")
    if st.query_params.get(query) != chosen:
        st.query_params[query] = chosen
    return chosen


with st.sidebar:
    period = pick("通报类型", list(PERIOD_LABELS), "period", "export:period", PERIOD_LABELS)
month = None
if period == "month":
    months = monthly.months(campaign)
    with st.sidebar:
        month = pick("月份", months, "month", "export:month",
                     {m: f"{m[:4]}年{int(m[5:])}月" for m in months})
else:
    as_of = ui.week_picker(campaign, "截至", "export:as_of", "as_of", default=ui.default_week(ctx))
st.subheader("通报导出", anchor=False)
ui.demo_banner(ctx)


def load(level: str | None, scope: str | None) -> exports.ExportData:
    """The week's (or the month's) export figures."""
    if month is not None:
        try:
            return gather_month(ctx.path, ctx.version, campaign, month, ctx.source, level, scope)
        except exports.ExportError as exc:
            st.error(md(exc), icon=":material/error:")
            st.stop()
    return gather(ctx.path, ctx.version, campaign, as_of, ctx.source, level, scope)


base = load(None, None)
as_of = base.as_of
levels = base.levels
with st.container(horizontal=True):
    level = pick("排名和张榜的层级", levels, "level", "export:level",
                 {lv: LEVEL_LABELS.get(lv, lv) for lv in levels})
    units = base.result.units
    above = levels[:levels.index(level)]
    scopes = units[(units["code"] == base.scope["code"]) | units["level"].isin(above)]
    scope = pick("范围", list(scopes["code"]), "scope", "export:scope",
                 dict(zip(scopes["code"], scopes["name"])))
data = load(level, scope)
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
           tuple(formats or ()), month)
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

# --- the month ---------------------------------------------------------------------------------
if month is not None:
    st.markdown(f"**{md(data.month.label)}情况**（截至{data.as_of:%m月%d日}；"
                f"月初为{data.month.previous_as_of or '集中参保期开始'}）")
    month_frame = monthly.table(data)
    st.dataframe(month_frame.style.apply(
        lambda row: ["background-color: #fde2e1"] * len(row) if row.name in set(
            data.month.units.index[data.month.units["behind_every_week"]]) else [""] * len(row),
        axis=1), hide_index=True, width="stretch", column_config={
            "月初完成率": st.column_config.NumberColumn(format="percent"),
            "月末完成率": st.column_config.NumberColumn(format="percent"),
            "完成率变化（百分点）": st.column_config.NumberColumn(format="%+.2f"),
            "排名变化": st.column_config.NumberColumn(format="%+d")}, placeholder=ui.MISSING)
    st.caption("标红的单位本月每周完成率都低于序时目标；排名变化为正表示上升。")
    st.dataframe(monthly.weekly_table(data), hide_index=True, width="stretch",
                 placeholder=ui.MISSING)


# --- 发布, 锁定与例外, 通报归档 (the Friday cycle) ------------------------------------------------

@st.cache_data(max_entries=16, show_spinner=False)
def published(path: str, version: int, campaign_id: str, period: str, key: str) -> dict | None:
    with Store(path).read() as con:
        return publishing.find(con, campaign, period, key)


def period_key() -> tuple[str, str]:
    return ("month", data.month.key) if month is not None else ("week", as_of.isoformat())


def publish_section() -> None:
    """发布: store the exact files and lock the week (a month: no lock); shows who published."""
    kind, key = period_key()
    title = publishing.period_title(campaign, kind, key)
    st.markdown("**发布**")
    found = published(ctx.path, ctx.version, campaign.id, kind, key)
    done = st.session_state.pop("export:published", None)
    if done is not None:
        st.success(md(done[0]), icon=":material/verified:")
        for ok, message in done[1]:
            (st.info if ok else st.warning)(md(message), icon=":material/send:")
    if found:
        st.caption(f"{md(title)}的通报{md(publishing.badge(found))}（第 {found['id']} 号），"
                   "发布的文件见下方「通报归档」。")
        return
    if ctx.source != "upload":
        st.caption("示例数据不能发布。")
        return
    if not ctx.viewer.can("publish"):
        st.caption("您的账号没有发布通报的权限。")
        return
    lock = "，并锁定该周数字：之后该周的上报和撤回将被拒绝，除非管理员开放例外或解除锁定" if kind == "week" else ""
    robots = "、".join(r.label for r in push.channels())
    st.caption(f"发布后，所选格式的文件和其中的数字按原样存档{lock}。"
               + (f"发布后推送到{md(robots)}群。" if robots else ""))
    if st.button(f"发布{title}的通报", icon=":material/publish:", key="export:publish",
                 disabled=not formats):
        st.session_state["export:confirm"] = key
    if st.session_state.get("export:confirm") == key:
        st.warning(f"确定发布{md(title)}的通报吗？发布后不能撤回或重复发布。", icon=":material/help:")
        yes, no = st.columns(2)
        if yes.button("确认发布", type="primary", key="export:publish_yes"):
            st.session_state.pop("export:confirm", None)
            bar = st.progress(0.0, text="正在生成并存档……")
            try:
                result = publishing.publish(
                    ctx.store, campaign.id, None if month else as_of, month=month,
                    actor=ctx.viewer.name, role=ctx.viewer.role,
                    address=websession.client_address(), level=level, scope=data.scope["code"],
                    formats=formats, progress_=lambda f, what: bar.progress(min(f, 1.0), text=what))
            except (publishing.PublishError, exports.ExportError) as exc:
                bar.empty()
                st.error(md(exc), icon=":material/error:")
                return
            bar.empty()
            st.session_state["export:published"] = (
                result.summary() + ("；".join(result.notes) if result.notes else ""),
                [(r.ok, r.message) for r in result.pushes])
            st.rerun()
        if no.button("取消", key="export:publish_no"):
            st.session_state.pop("export:confirm", None)
            st.rerun()


def locks_section() -> None:
    """锁定与例外 (administrators): lock or unlock the week, grant or end a unit's exception."""
    if not ctx.viewer.can("manage_weeks"):
        return
    with st.expander("锁定与例外", icon=":material/lock:"):
        flash = st.session_state.pop("export:lock_flash", None)
        if flash:
            (st.success if flash[0] else st.error)(md(flash[1]))
        who = dict(actor=ctx.viewer.name, role=ctx.viewer.role, address=websession.client_address())

        def act(function, *args, done: str, **kwargs) -> None:
            try:
                function(ctx.store, campaign.id, *args, **who, **kwargs)
            except weeks.WeekError as exc:
                st.session_state["export:lock_flash"] = (False, str(exc))
            else:
                st.session_state["export:lock_flash"] = (True, done)
            st.rerun()

        with Store(ctx.path).read() as con:
            status = weeks.status(con, campaign)
            note = rights.lock_note(con, campaign, as_of, ask=False)
            held = rights.week_lock(con, campaign, as_of)
        week_title = weeks.week_title(campaign, as_of)
        st.markdown(md(note or f"{week_title}未锁定，各单位可以上报和撤回。"))
        if note is None:
            if st.button(f"锁定{week_title}", icon=":material/lock:", key="export:lock"):
                act(weeks.lock, as_of, done=f"已锁定{week_title}。")
        else:
            units_ = base.result.units
            names = dict(zip(units_["code"], units_["name"]))
            left, right = st.columns([2, 3])
            unit = left.selectbox("开放例外的单位（含下属单位）", list(names), format_func=names.get,
                                  index=None, key="export:allow_unit", placeholder="选择单位")
            reason = right.text_input("原因", key="export:allow_reason", max_chars=weeks.MAX_REASON,
                                      placeholder="例如：县局申请更正录入错误")
            if st.button("开放例外", icon=":material/key:", key="export:allow",
                         disabled=unit is None):
                act(weeks.allow, as_of, unit, reason,
                    done=f"已为「{names.get(unit, unit)}」开放{week_title}的例外。")
            if held is not None and held.exceptions:
                granted = st.selectbox("撤销例外", list(held.exceptions),
                                       format_func=lambda c: names.get(c, c), index=None,
                                       key="export:revoke_unit", placeholder="选择已开放例外的单位")
                if st.button("撤销例外", key="export:revoke", disabled=granted is None):
                    act(weeks.revoke, as_of, granted, done=f"已撤销「{names.get(granted, granted)}」的例外。")
            why = st.text_input("解除锁定的原因", key="export:unlock_reason", max_chars=weeks.MAX_REASON)
            if st.button(f"解除{week_title}的锁定", icon=":material/lock_open:", key="export:unlock"):
                act(weeks.unlock, as_of, done=f"已解除{week_title}的锁定。", reason=why or None)
        locked = status[status["status"] != weeks.OPEN].rename(columns=weeks.STATUS_COLUMNS)
        if len(locked):
            st.dataframe(locked, hide_index=True, width="stretch", placeholder=ui.MISSING)


@st.cache_data(max_entries=16, show_spinner=False)
def archive_rows(path: str, version: int, campaign) -> tuple:
    with Store(path).read() as con:
        frame = publishing.archive(con, campaign)
        listed = {int(i): publishing.files(con, int(i)) for i in frame["id"]}
    return frame, listed


def archive_section() -> None:
    """通报归档: every published bulletin, each file downloadable exactly as circulated."""
    st.markdown("**通报归档**")
    frame, listed = archive_rows(ctx.path, ctx.version, campaign)
    if frame.empty:
        st.caption("还没有发布过通报。")
        return
    st.dataframe(publishing.archive_table(frame), hide_index=True, width="stretch",
                 key="export:archive", placeholder=ui.MISSING)
    titles = dict(zip(frame["id"].astype(int), frame["title"]))
    chosen = st.selectbox("下载已发布的通报（与当时发布的文件完全相同）", list(titles),
                          format_func=lambda i: f"第 {i} 号 · {titles[i]}", key="export:archived")
    files = listed[chosen]

    def fetch(position: int) -> bytes:
        with Store(ctx.path).read() as con:
            return publishing.file(con, chosen, position)[1]

    def logged(name: str) -> None:
        audit.log(ctx.store, ctx.viewer.name, "export", f"下载第 {chosen} 号已发布通报的文件「{name}」",
                  websession.client_address(), campaign_id=campaign.id, role=ctx.viewer.role)

    per_unit = files[(files["kind"] == "board") & ~files["name"].str.contains("全部")]
    singles = pd.concat([files[files["kind"] == "zip"], files[files["kind"] != "zip"].drop(per_unit.index)])
    with st.container(horizontal=True):
        for row in singles.itertuples():
            st.download_button(md(row.label), lambda p=int(row.position): fetch(p),
                               row.name.rsplit("/", 1)[-1],
                               icon=":material/folder_zip:" if row.kind == "zip" else ":material/download:",
                               type="primary" if row.kind == "zip" else "secondary",
                               key=f"export:archived:{chosen}:{row.position}",
                               on_click=logged, args=(row.name,))
    if len(per_unit):
        labels = dict(zip(per_unit["position"].astype(int), per_unit["label"]))
        position = st.selectbox("单个单位的张榜公示（已发布）", list(labels), format_func=labels.get,
                                key=f"export:archived_board:{chosen}")
        name = per_unit.set_index(per_unit["position"].astype(int)).at[position, "name"]
        st.download_button("下载这个单位已发布的张榜 PDF", lambda: fetch(position),
                           name.rsplit("/", 1)[-1], "application/pdf", icon=":material/download:",
                           key=f"export:archived_board_dl:{chosen}", on_click=logged, args=(name,))
    if push.channels() and ctx.viewer.can("publish"):
        if st.button("重新推送到群", icon=":material/send:", key=f"export:repush:{chosen}"):
            results = publishing.push_bulletin(ctx.store, chosen, actor=ctx.viewer.name,
                                               role=ctx.viewer.role,
                                               address=websession.client_address())
            for result in results:
                (st.info if result.ok else st.warning)(md(result.message), icon=":material/send:")


st.divider()
publish_section()
if month is None:
    locks_section()
archive_section()
st.divider()

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
