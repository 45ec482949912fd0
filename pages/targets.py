"""目标任务: the current target tables, loading one, splitting a total over units, the versions."""

import datetime as dt

import pandas as pd
import streamlit as st

from enrollment import chrome, db, ui
from enrollment.db import Store
from enrollment.export import tables
from enrollment.files.problems import errors, warnings
from enrollment.identity import websession
from enrollment.labels import LEVEL_LABELS, TARGET_COLUMN_LABELS, TARGETS_MISSING
from enrollment.targets import allocation
from enrollment.targets import tables as targets
from enrollment.text import TextError, clean_file_name, clean_text, csv_bytes, md

ctx = ui.require("manage_targets")
campaign = ctx.campaign
if campaign is None:
    st.stop()
store = ctx.store
PATH = ctx.path
VERSION = ctx.version
K = "targets:"                      # session-state prefix of this page


@st.cache_data(max_entries=32, show_spinner=False)
def _overview(path: str, version: int, campaign_id: str):
    with Store(path).read() as con:
        return (db.targets.coverage(con, campaign_id), db.targets.current(con, campaign_id),
                targets.history(con, campaign_id), db.targets.scopes(con, campaign_id))


@st.cache_data(max_entries=32, show_spinner=False)
def _template(path: str, version: int, campaign_id: str, level: str, scope: str | None) -> bytes:
    with Store(path).read() as con:
        return targets.template(con, campaign_id, level, scope)


@st.cache_data(max_entries=32, show_spinner=False)
def _check(path: str, version: int, campaign_id: str, content: bytes) -> targets.TargetTable:
    return targets.check_file(Store(path), campaign_id, content)


@st.cache_data(max_entries=32, show_spinner=False)
def _base_template(path: str, version: int, campaign_id: str, scope: str) -> pd.DataFrame:
    with Store(path).read() as con:
        return targets.base_template(con, campaign_id, scope)


@st.cache_data(max_entries=64, show_spinner=False)
def _version(path: str, version: int, campaign_id: str, set_id: int):
    with Store(path).read() as con:
        return (db.targets.version(con, campaign_id, set_id),
                db.targets.original_file(con, campaign_id, set_id))


def fit(rows: int) -> int:
    """A table height (px) that shows up to 20 rows without scrolling (35 px a row + header)."""
    return 35 * (min(rows, 20) + 1) + 3


def level_name(level: str) -> str:
    return LEVEL_LABELS.get(level, level)


def show_targets(rows: pd.DataFrame) -> pd.DataFrame:
    """A target table with Chinese headers; optional columns nobody filled in are left out."""
    table = tables.target_table(rows)
    table = table[[c for c in table.columns if table[c].notna().any() or c in (
        TARGET_COLUMN_LABELS["task"], TARGET_COLUMN_LABELS["baseline"])]]
    st.dataframe(table, hide_index=True, width="stretch", height=fit(len(table)), column_config={
        TARGET_COLUMN_LABELS["growth"]: st.column_config.NumberColumn(format="%.2f%%"),
        **{TARGET_COLUMN_LABELS[k]: st.column_config.NumberColumn(format="localized")
           for k in ("task", "baseline", "registered_population", "resident_population",
                     "low_income")}}, placeholder=ui.MISSING)
    return table


def show_problems(problems) -> None:
    for p in errors(problems):
        st.error(md(p.text), icon=":material/error:")
    for p in warnings(problems):
        st.warning(md(p.text), icon=":material/warning:")


def preview_frame(table: targets.TargetTable) -> pd.DataFrame:
    """The checked rows with each row's problems beside it."""
    by_row: dict[int, list[str]] = {}
    for p in table.problems:
        if p.row is not None:
            by_row.setdefault(p.row, []).append(p.message)
    frame = pd.DataFrame([{
        "行号": r.row, "单位代码": r.code, "单位": r.name, "任务数": r.task,
        "上年参保人数": r.baseline, "户籍人口数": r.registered_population,
        "常住人口数": r.resident_population, "低收入人口数": r.low_income,
        "问题": "；".join(by_row.get(r.row, [])),
    } for r in table.rows])
    frame = frame.dropna(axis=1, how="all")
    return frame if frame["问题"].any() else frame.drop(columns="问题")


def save_controls(table: targets.TargetTable, key: str) -> bool | None:
    """The save button, and the confirmation of warnings when there are any.

    None: not clicked; False: clicked, no warnings shown; True: clicked, warnings confirmed.
    Saving passes that on, so a warning that appears only at commit time is not accepted unseen.
    """
    if not table.ok:
        st.error(f"有 {len(errors(table.problems))} 处错误，未保存任何数据。请修改文件后重新上传。")
        return None
    confirmed = False
    if warnings(table.problems):
        confirmed = st.checkbox("已核对以上提醒，仍然保存", key=f"{key}:accept")
    clicked = st.button("保存为当前任务表", type="primary",
                        disabled=bool(warnings(table.problems)) and not confirmed,
                        key=f"{key}:save", icon=":material/save:")
    return confirmed if clicked else None


def commit(content: bytes, file_name: str, *, by: str | None, note: str | None,
           source: str, accept_warnings: bool) -> None:
    try:
        by = clean_text(by, what="录入人", limit=targets.MAX_PERSON, required=False, fold=True)
        if source == "upload":          # typed on this page; an allocation's note is made here
            note = clean_text(note, what="说明", limit=targets.MAX_NOTE, required=False)
    except TextError as exc:
        st.error(md(exc), icon=":material/error:")
        return
    try:
        saved = targets.commit(store, campaign.id, content, file_name,
                               created_by=ctx.viewer.name or by or None, note=note, source=source,
                               accept_warnings=accept_warnings,
                               address=websession.client_address(), role=ctx.viewer.role)
    except targets.TargetsRejected as rejected:
        show_problems(rejected.table.problems)
        st.error("保存失败：表格未通过检查，未保存任何数据。")
        return
    st.session_state[f"{K}saved"] = saved.summary()
    st.session_state[f"{K}round"] = st.session_state.get(f"{K}round", 0) + 1
    st.rerun()


# --- header ----------------------------------------------------------------------------------

st.title("目标任务")
st.caption(f"{md(campaign.name)} · 任务分解表：载入、测算、历史版本")
coverage, current, history, scopes = _overview(PATH, VERSION, campaign.id)
round_ = st.session_state.get(f"{K}round", 0)     # a new round clears the file uploaders
if saved := st.session_state.pop(f"{K}saved", None):
    st.success(md(saved), icon=":material/check_circle:")

root = coverage.iloc[0]
below = coverage.iloc[1:]
default_level = below.iloc[0]["level"] if len(below) else root["level"]
if current.empty:
    st.error(f"{TARGETS_MISSING}：本活动还没有任何单位的任务数，「进度总览」无法计算完成率和进度状态。"
             "请下载模板、填写「任务数」后在「载入任务表」中上传；或在「测算分解」中按上年参保人数、"
             "户籍人口、常住人口等测算。", icon=":material/assignment_late:")
    st.download_button(
        f"下载{level_name(default_level)}任务分解表模板（Excel）",
        _template(PATH, VERSION, campaign.id, default_level, None),
        file_name=f"{campaign.id}-{default_level}-任务分解表模板.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:", key=f"{K}missing-template")
else:
    total = root["total_task"] if not pd.isna(root["total_task"]) else next(
        (r["total_task"] for _, r in below.iterrows() if r["with_task"] == r["units"]), pd.NA)
    cols = st.columns(1 + min(len(below), 3))
    cols[0].metric("总任务数", "—" if pd.isna(total) else f"{int(total):,}",
                   help="本活动最上级单位的任务数（未单独录入时为下级任务数之和）")
    for col, (_, r) in zip(cols[1:], below.iterrows()):
        col.metric(f"{level_name(r['level'])}已录入", f"{r['with_task']:,} / {r['units']:,}",
                   help="已录入任务数的单位 / 该层级单位总数")
    low = coverage["with_low_income"].sum()
    if low:
        st.caption(f"低收入人口及稳定脱贫人口：{int(low)} 个单位已录入人数，"
                   f"参保率目标 {float(campaign.low_income_goal or 1):.0%}")

tab_current, tab_load, tab_allocate, tab_history = st.tabs(
    ["当前任务表", "载入任务表", "测算分解", "历史版本"],
    default="载入任务表" if current.empty else "当前任务表")

# --- current tables ----------------------------------------------------------------------------

with tab_current:
    levels = list(below["level"]) or [root["level"]]
    with_task = [lv for lv in levels if int(coverage.set_index("level").loc[lv, "with_task"])]
    level = st.segmented_control(
        "层级", levels, default=(with_task or levels)[0], format_func=level_name,
        key=f"{K}level") or (with_task or levels)[0]
    rows = current[current["level"] == level]
    if rows.empty:
        st.info(f"「{level_name(level)}」层级尚未录入任务数。上级单位的任务数可在「测算分解」中分解到"
                f"{level_name(level)}，或下载模板填写后载入。", icon=":material/info:")
    else:
        table = show_targets(rows)
        n_units = int(coverage.set_index("level").loc[level, "units"])
        st.caption(f"共 {len(rows)} 个单位（该层级共 {n_units} 个），任务数合计 "
                   f"{int(rows['task'].sum()):,}")
        st.download_button("下载当前任务表（CSV）", csv_bytes(table),
                           file_name=f"{campaign.id}-{level}-当前任务表.csv", mime="text/csv",
                           icon=":material/download:", key=f"{K}current-csv")

# --- load a table ------------------------------------------------------------------------------

with tab_load:
    st.markdown("上传县区、乡镇或社区的任务分解表（Excel 或 CSV）。每个单位一行，须有「任务数」列；"
                "可同时填写上年参保人数、户籍人口数、常住人口数、低收入人口数。保存后成为当前任务表，"
                "以前的版本保留在「历史版本」中。")
    c1, c2 = st.columns(2)
    t_level = c1.selectbox("模板层级", levels, format_func=level_name, key=f"{K}tpl-level")
    parents = scopes[scopes["child_level"] == t_level] if t_level != root["level"] else scopes[:0]
    scope_options = [None] + (list(parents["code"]) if len(parents) > 1 else [])
    parent_names = dict(zip(parents["code"], parents["name"]))
    t_scope = c2.selectbox("范围", scope_options, key=f"{K}tpl-scope",
                           format_func=lambda c: "全部" if c is None else parent_names[c])
    st.download_button(
        "下载模板（Excel，已填好单位名称和代码）",
        _template(PATH, VERSION, campaign.id, t_level, t_scope),
        file_name=f"{campaign.id}-{t_level}-任务分解表模板.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:", key=f"{K}template")
    st.text_input("录入人", key=f"{K}by", placeholder="例如：周家坝街道 张三")
    upload = st.file_uploader(f"选择任务分解表文件（.xlsx、.xls、.csv，不超过 {chrome.upload_limit_mb()} MB）",
                              type=["xlsx", "xls", "csv"], key=f"{K}file:{round_}",
                              max_upload_size=chrome.upload_limit_mb())
    if upload is not None:
        content = upload.getvalue()
        table = _check(PATH, VERSION, campaign.id, content)
        show_problems([p for p in table.problems if p.row is None])
        if table.rows:
            scope_name = next((n for c, n in zip(scopes["code"], scopes["name"])
                               if c == table.scope_code), "")
            st.markdown(f"**{md(clean_file_name(upload.name))}**：{md(scope_name)} {len(table.rows)} 个"
                        f"{level_name(table.level or '')}，任务数合计 "
                        f"{sum(r.task for r in table.rows):,}")
            preview = preview_frame(table)
            st.dataframe(preview, hide_index=True, width="stretch", height=fit(len(preview)),
                         column_config={c: st.column_config.NumberColumn(format="localized")
                                        for c in preview.columns[3:] if c != "问题"},
                         placeholder=ui.MISSING)
        show_problems([p for p in table.problems if p.row is not None])
        note = (st.text_input("说明（可选）", key=f"{K}note", placeholder="例如：万州周办发〔2022〕1号 附件1")
                if table.ok else None)
        if (confirmed := save_controls(table, f"{K}load")) is not None:
            commit(content, upload.name, by=st.session_state.get(f"{K}by"), note=note or None,
                   source="upload", accept_warnings=confirmed)

# --- allocate ----------------------------------------------------------------------------------

with tab_allocate:
    st.markdown("把上级单位的总任务按一列或几列基础数据（上年参保人数、户籍人口、常住人口等）的占比"
                "分解到下级单位，按最大余数法取整，保证各单位之和正好等于总任务。")
    if scopes.empty:
        st.info("本活动只有一个层级，没有可分解的下级单位。")
        allocation_tab = None
    else:
        allocation_tab = tab_allocate


def allocation_tool() -> None:
    by_code = scopes.set_index("code")

    def scope_label(code: str) -> str:
        r = by_code.loc[code]
        return f"{r['name']} → {r['children']} 个{level_name(r['child_level'])}"

    scope = st.selectbox("分解对象（上级单位）", list(scopes["code"]), format_func=scope_label,
                         key=f"{K}scope")
    parent = by_code.loc[scope]
    child_level = parent["child_level"]
    source = st.radio("基础数据", ["在下表中填写", "上传文件"], horizontal=True, key=f"{K}source")
    base_frame = _base_template(PATH, VERSION, campaign.id, scope)
    base_content = None
    if source == "上传文件":
        st.download_button("下载基础数据模板（CSV）", csv_bytes(base_frame),
                           file_name=f"{campaign.id}-{scope}-基础数据.csv", mime="text/csv",
                           icon=":material/download:", key=f"{K}base-template")
        base_file = st.file_uploader("选择基础数据文件（每个单位一行，含上年参保人数、人口等列）",
                                     type=["xlsx", "xls", "csv"], key=f"{K}base:{round_}",
                                     max_upload_size=chrome.upload_limit_mb())
        if base_file is not None:
            base_content = base_file.getvalue()
    else:
        edited = st.data_editor(
            base_frame, hide_index=True, width="stretch", num_rows="fixed",
            disabled=["单位代码", "单位名称", targets.CURRENT_TASK_HEADER], key=f"{K}editor:{scope}:{round_}",
            column_config={c: st.column_config.NumberColumn(c, min_value=0, step=1, format="%d")
                           for c in base_frame.columns[2:]}, placeholder="")
        if edited.iloc[:, 2:].notna().any().any():
            base_content = edited.to_csv(index=False).encode("utf-8")
        else:
            st.info("请在上表中至少填写一列基础数据（例如上年参保人数），或改为上传文件。")

    base = None
    if base_content is not None:
        try:
            base = allocation.read_base(base_content)
        except allocation.ReadError as exc:
            st.error(md(exc))
    if base is not None:
        numeric = [h for h in base.numeric_headers() if h != base.roles.get("task")]
        if not numeric:
            st.error("基础数据中没有可用于测算的数字列。")
            return
        own_task = next((int(v) for v in (parent["task"], parent["children_task"])
                         if not pd.isna(v)), None)
        c1, c2 = st.columns([2, 1])
        total_value = c1.number_input(
            f"总任务数（{md(parent['name'])}）", min_value=0, step=1,
            value=own_task,
            placeholder="请输入要分解的总任务数", key=f"{K}total:{scope}",
            help="默认为该单位当前的任务数（未单独录入时为其下级当前任务数之和）")
        step = c2.segmented_control("取整到", allocation.STEPS, default=10, key=f"{K}step",
                                    format_func=lambda s: f"{s} 人") or 10
        st.markdown("**测算依据与权重**（各列按占比计算，权重会自动换算为合计 100%）")
        weight_cols = st.columns(min(len(numeric), 4))
        baseline_header = base.roles.get("baseline")
        weights = []
        for i, header in enumerate(numeric):
            default = 1.0 if header == (baseline_header or numeric[0]) else 0.0
            w = weight_cols[i % len(weight_cols)].number_input(
                md(header), min_value=0.0, max_value=100.0, value=default, step=0.1,
                key=f"{K}w:{header}")
            if w:
                weights.append(allocation.Weight(header, allocation.parse_number(str(w), "权重")))
        b1, b2, b3 = st.columns(3)
        floor_col = b1.selectbox("下限：任务数不低于", [None] + numeric, key=f"{K}floor",
                                 format_func=lambda h: "不设下限" if h is None else h,
                                 index=0)
        cap_col = b2.selectbox("上限：任务数不高于", [None] + numeric, key=f"{K}cap",
                               format_func=lambda h: "不设上限" if h is None else h)
        cap_factor = b3.number_input("上限倍数", min_value=0.0, value=1.0, step=0.01,
                                     key=f"{K}cap-factor", disabled=cap_col is None,
                                     help="例如上年参保人数 × 1.05：任务数最多比上年多 5%")
        result = None
        if total_value is None:
            st.info("请输入总任务数。")
        elif not weights:
            st.warning("请至少给一列设置大于 0 的权重。")
        else:
            try:
                result = allocation.allocate(
                    base, int(total_value), weights, int(step),
                    allocation.Bound(floor_col) if floor_col else None,
                    allocation.Bound(cap_col, allocation.parse_number(str(cap_factor), "倍数"))
                    if cap_col else None)
            except allocation.AllocationError as exc:
                show_problems(exc.problems)
        if result is not None:
            st.subheader("测算结果")
            st.caption(md(result.describe()))
            m1, m2, m3 = st.columns(3)
            m1.metric("总任务数", f"{result.total:,}")
            m2.metric("各单位之和", f"{result.sum:,}")
            m2.caption("与总任务一致" if result.sum == result.total else "与总任务不一致")
            if result.baseline is not None:
                base_sum = sum(b for b in result.baseline if b is not None)
                m3.metric("较上年增长", f"{(result.sum - base_sum) / base_sum:+.2%}" if base_sum
                          else "—")
            frame = result.frame()
            frame = frame[[c for c in frame.columns if (frame[c].astype(str) != "").any()]]
            st.dataframe(frame, hide_index=True, width="stretch", height=fit(len(frame)),
                         column_config={
                             allocation.GROWTH_HEADER: st.column_config.NumberColumn(format="percent"),
                             allocation.TASK_HEADER: st.column_config.NumberColumn(format="localized")},
                         placeholder=ui.MISSING)
            content = result.to_csv()
            st.download_button("下载测算结果（CSV）", content,
                               file_name=f"{campaign.id}-{scope}-测算结果.csv", mime="text/csv",
                               icon=":material/download:", key=f"{K}result-csv")
            checked = _check(PATH, VERSION, campaign.id, content)
            show_problems(checked.problems)
            by = st.text_input("录入人", key=f"{K}by-allocate", placeholder="例如：阳城县医保局 李四")
            if (confirmed := save_controls(checked, f"{K}allocate")) is not None:
                commit(content, f"{parent['name']}-{level_name(child_level)}-测算结果-"
                                f"{dt.date.today():%Y%m%d}.csv",
                       by=by, note=result.describe(), source="allocation",
                       accept_warnings=confirmed)


if allocation_tab is not None:
    with allocation_tab:
        allocation_tool()

# --- history -----------------------------------------------------------------------------------

with tab_history:
    if history.empty:
        st.info(f"{TARGETS_MISSING}：还没有任何版本。")
    else:
        shown = tables.target_history(history)
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            TARGET_COLUMN_LABELS["total_task"]: st.column_config.NumberColumn(format="localized")},
                     placeholder=ui.MISSING)
        st.caption("「当前使用」的版本决定各单位的任务数；新版本保存后，旧版本标为「已被替换」但不会删除。")
        ids = list(history["set_id"])
        numbers = dict(zip(history["set_id"], history["number"]))
        chosen = st.selectbox("查看版本", ids, key=f"{K}version",
                              format_func=lambda i: f"第 {numbers[i]} 版")
        info = history.set_index("set_id").loc[chosen]
        rows, original = _version(PATH, VERSION, campaign.id, int(chosen))
        show_targets(rows)
        c1, c2 = st.columns(2)
        if original is not None:
            c1.download_button(f"下载原始文件：{md(original[0])}", original[1], file_name=original[0],
                               icon=":material/download:", key=f"{K}original")
        if info["status"] != "current":
            if c2.button(f"恢复第 {numbers[chosen]} 版为当前任务表", key=f"{K}restore",
                         icon=":material/restore:"):
                saved = targets.restore(store, campaign.id, int(numbers[chosen]),
                                        created_by=ctx.viewer.name
                                        or st.session_state.get(f"{K}by") or None,
                                        address=websession.client_address(),
                                        role=ctx.viewer.role)
                st.session_state[f"{K}saved"] = saved.summary()
                st.rerun()
