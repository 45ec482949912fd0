"""数据上报: the Friday upload — date, template, file, preview, confirm, receipt, history, undo."""

import datetime as dt

import streamlit as st

from enrollment import campaigns, chrome, db, ui
from enrollment.db import StorageError, Store
from enrollment.files import bounds
from enrollment.identity import audit, websession
from enrollment.labels import LEVEL_LABELS, zone_label
from enrollment.text import TextError, clean_text, md
from enrollment.uploads import ingest, rights, template, withdrawals
from enrollment.uploads import log as uploads

ctx = ui.require("upload")
campaign = ctx.campaign
if campaign is None:
    st.stop()
viewer = ctx.viewer
# The units whose figures this viewer may change (and those below them); None: every unit.
scope = rights.of_viewer(viewer, rights.UPLOAD).units
address = websession.client_address()

P = f"upload:{campaign.id}:"          # session keys of this page, per campaign
TAGS = {"error": ":red-badge[错误]", "warning": ":orange-badge[提醒]"}
store = ctx.store
path = ctx.path


@st.cache_data(max_entries=32, show_spinner="正在检查文件……")
def check(path: str, version: int, campaign_id: str, content: bytes, name: str,
          day: dt.date, confirmed: bool, today: dt.date,
          scope: tuple[str, ...] | None) -> ingest.Preview:
    return ingest.preview(Store(path), campaign_id, content, name, day, allowed_units=scope,
                          today=today, date_confirmed=confirmed)


@st.cache_data(max_entries=16, show_spinner=False)
def template_choices(path: str, version: int, campaign_id: str, scope: tuple[str, ...] | None):
    """Levels and, per level, the units a template can cover (a reporter: only their own)."""
    with Store(path).read() as con:
        level = template.report_level(con, campaign_id)
        levels = db.units.levels_by_depth(con, campaign_id)[1:] or [level]
        scopes = {lv: [(u.code, u.name) for u in template.scopes(con, campaign_id, lv, scope)]
                  for lv in levels}
    if scope is not None:
        levels = [lv for lv in levels if scopes.get(lv)]
    return level, levels, scopes


@st.cache_data(max_entries=16, show_spinner=False)
def history(path: str, version: int, campaign_id: str, uploader: str | None):
    with Store(path).read() as con:
        return uploads.history(con, campaign_id, uploader), db.reports.reported_units(con, campaign_id)


def show_receipt(receipt: ingest.Receipt) -> None:
    st.success(f"上报成功：第 {receipt.shown_number} 号上报已保存。", icon=":material/task_alt:")
    with st.container(border=True):
        st.markdown("**上报回执**")
        st.markdown("\n".join(f"- {label}：**{md(value)}**" for label, value in receipt.details()))
    as_of = min(campaign.week_end(receipt.report_date), campaign.end)
    st.page_link("pages/overview.py", label="到「进度总览」查看", icon=":material/monitoring:",
                 query_params={"campaign": campaign.id, "as_of": as_of.isoformat()})


def withdraw_button(who: str, expected: int | None, key: str) -> None:
    """Two steps: ask, then confirm; the withdrawal itself is logged as an upload."""
    if st.button("撤回这次上报…", key=f"{key}:ask", icon=":material/undo:"):
        st.session_state[f"{key}:confirm"] = True
    if st.session_state.get(f"{key}:confirm"):
        st.warning("撤回后，这次上报的各单位数字恢复为上报前的状态（之前没有数字的单位将不再有该日期的数字）；"
                   "上报和撤回都会留在记录中。确定要撤回吗？")
        yes, no = st.columns(2)
        if yes.button("确认撤回", key=f"{key}:yes", type="primary"):
            st.session_state.pop(f"{key}:confirm", None)
            try:
                done = withdrawals.withdraw(store, campaign.id, who, expected, allowed_units=scope,
                                       address=address, role=viewer.role)
            except (withdrawals.WithdrawError, StorageError) as exc:
                st.session_state[P + "flash"] = ("error", str(exc))
            else:
                st.session_state.pop(P + "receipt", None)
                st.session_state[P + "flash"] = ("success", done.summary())
            st.rerun()
        if no.button("取消", key=f"{key}:no"):
            st.session_state.pop(f"{key}:confirm", None)
            st.rerun()


st.title("数据上报")
st.caption(f"{md(campaign.name)} · 每周五 17:00 前上报截至当天的累计参保人数。"
           "可以用下载的模板，也可以直接上传您平时用的 Excel（.xlsx/.xls）或 CSV 表格。")

flash = st.session_state.pop(P + "flash", None)
if flash:
    (st.success if flash[0] == "success" else st.error)(md(flash[1]))

receipt: ingest.Receipt | None = st.session_state.get(P + "receipt")
if receipt is not None:
    show_receipt(receipt)
    left, right = st.columns(2)
    with left:
        withdraw_button(receipt.uploader or "", receipt.shown_number, P + "undo_receipt")
    if right.button("继续上报其他文件", icon=":material/upload_file:"):
        st.session_state.pop(P + "receipt", None)
        st.rerun()
    st.divider()

# A 填报员 in a campaign that has none of their units: say so, and offer their own campaigns.
if scope is not None:
    with Store(path).read() as con:
        own = [c for c in campaigns.list_campaigns(con)
               if c.id in db.units.campaigns_of(con, scope)]
        if campaign.id not in {c.id for c in own}:
            held = db.units.names_in_any_campaign(con, scope)
            st.warning(f"您负责的单位（{md('、'.join(held.get(c, c) for c in scope))}）不在本活动"
                       f"「{md(campaign.name)}」中，不能在这里上报。"
                       + ("请选择您所在的参保活动：" if own else "请联系管理员核对您的负责单位。"),
                       icon=":material/swap_horiz:")
            for other in own:
                if st.button(md(other.name), key=f"{P}switch:{other.id}",
                             icon=":material/arrow_forward:"):
                    ui.select_campaign(other.id)
                    st.rerun()
            st.stop()

# --- 1. who and which date -----------------------------------------------------------------
today = ingest.local_today()
lo = campaign.start
hi = max(lo, rights.latest_allowed_date(campaign, today))
default = min(max(ingest.default_report_date(campaign, today), lo), hi)
st.subheader("① 填报人和上报日期")
who_col, date_col = st.columns(2)
if viewer.logged_in:
    # With accounts the uploader is the logged-in user: the name cannot be typed.
    uploader = viewer.name
    with who_col:
        st.markdown(f"填报人：**{md(viewer.user.display)}**")
        if scope is not None:
            with Store(path).read() as con:
                names = db.units.names(con, campaign.id, scope)
            st.caption("负责单位：" + md("、".join(names[c] for c in scope if c in names))
                       + "及其下属单位")
else:
    if "upload:uploader" not in st.session_state:
        # Widget state is dropped while another page is shown; the name is kept apart from it.
        st.session_state["upload:uploader"] = st.session_state.get("upload:who", "")
    typed = who_col.text_input(
        "填报人", key="upload:uploader", placeholder="例如：泽州县医保局 张三",
        max_chars=rights.MAX_NAME,
        help="会记录在上报记录中；撤回时只能撤回本人最近一次的上报。")
    st.session_state["upload:who"] = typed
    try:
        uploader = clean_text(typed, what="填报人", limit=rights.MAX_NAME, required=False,
                              fold=True) or ""
    except TextError as exc:
        who_col.error(md(exc), icon=":material/error:")
        uploader = ""
day = date_col.date_input("上报日期（数字截至哪天）", value=default, min_value=lo, max_value=hi,
                          key=P + "date", format="YYYY-MM-DD",
                          help="默认是本周五。上报日期须在集中参保期内。")
deadline = campaign.deadline(day)
st.caption(f"{ui.week_label(campaign, campaign.week_end(day))}，截止时间 "
           f"{deadline:%Y-%m-%d %H:%M}（{zone_label(deadline.tzinfo)}）")
with Store(path).read() as con:
    locked = rights.lock_note(con, campaign, day)      # a published week: say so before the upload
if locked:
    st.warning(md(locked), icon=":material/lock:")

# --- 2. template ---------------------------------------------------------------------------
level, levels, scopes = template_choices(path, ctx.version, campaign.id, scope)
with st.expander("② 下载上报模板（只需填写「累计参保人数」一列）", expanded=receipt is None
                 and not st.session_state.get(P + "file_seen")):
    if not levels:
        st.info("您负责的单位不在本活动中，没有可下载的模板。请在左侧「参保活动」中选择您所在的活动。",
                icon=":material/info:")
    else:
        lv_col, scope_col = st.columns(2)
        chosen_level = lv_col.selectbox("模板层级", levels, index=levels.index(level) if level in levels else 0,
                                        format_func=lambda lv: LEVEL_LABELS.get(lv, lv), key=P + "tpl_level")
        options = scopes.get(chosen_level) or []
        names = dict(options)
        scope_code = scope_col.selectbox("填报单位（模板列出其下属单位）", [c for c, _ in options],
                                         format_func=lambda c: f"{names[c]}（{c}）", key=P + "tpl_scope",
                                         placeholder="（本层级没有可选的单位）")

        def make_template() -> bytes:
            with Store(path).read() as con:
                return template.build(con, campaign, scope_code, chosen_level, day).content

        st.download_button("下载模板（.xlsx）", make_template, icon=":material/download:",
                           file_name=(f"{campaign.name}_上报模板_{names.get(scope_code, '')}_"
                                      f"{template.FILE_LEVEL_WORDS.get(chosen_level, chosen_level)}.xlsx"),
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           key=P + "tpl_download")
        st.caption("模板已填好单位代码和名称、任务数和上次上报数；请不要修改单位代码和名称。")

# --- 3. file, preview, confirm -------------------------------------------------------------
st.subheader("③ 上传文件并核对")
generation = st.session_state.get(P + "generation", 0)
limit_mb = chrome.upload_limit_mb()
# The browser refuses a larger file before sending it (max_upload_size); chrome.chrome_css puts the
# widget's words in Chinese.
uploaded = st.file_uploader(
    f"选择文件（.xlsx、.xls、.csv，不超过 {limit_mb} MB）", key=f"{P}file:{generation}",
    max_upload_size=limit_mb,
    help=f"支持 Excel（.xlsx、.xls、WPS）和 CSV（UTF-8 或 GBK）；文件不超过 {limit_mb} MB。")

def preview_and_confirm(uploaded) -> None:
    st.session_state[P + "file_seen"] = True
    too_large = bounds.size_problem(uploaded.size)
    if too_large:
        # Refused before its bytes are read (the browser normally refuses it before sending).
        st.error(f"「{md(uploaded.name)}」不能上报：{too_large}", icon=":material/error:")
        return
    content = uploaded.getvalue()
    version = ctx.version
    preview = check(path, version, campaign.id, content, uploaded.name, day, False, today, scope)
    effective, confirmed = day, False
    question = preview.date_question
    if question:
        form, others = question
        choice = st.radio(
            f"文件中写的日期是 {'、'.join(map(str, others))}，与上面选择的上报日期 {form} 不一致。"
            "这份数字是截至哪一天的？", [form, *others], index=None, key=f"{P}date_choice:{preview.sha256}",
            format_func=lambda d: f"{d}（{'上面选择的日期' if d == form else '文件中的日期'}）")
        if choice is None:
            st.info("请先选择使用哪个日期，再核对数字。", icon=":material/event:")
            return
        effective, confirmed = choice, True
        preview = check(path, version, campaign.id, content, uploaded.name, effective, True, today,
                        scope)

    if preview.errors:
        # One box: why the file cannot be taken (a file that is empty, not a table, too large …
        # and the rows with errors), nothing stored; no figures of a file that was not read.
        general = [p for p in preview.errors if p.row is None]
        listed = [p for p in preview.errors if p.row is not None]
        st.error(f"文件有 {len(preview.errors)} 处错误，本次不能上报，也不会保存任何数字。"
                 "请按下列说明修改文件后重新上传："
                 + "".join("\n- " + md(p.text) for p in general + listed[:50])
                 + (f"\n- ……还有 {len(listed) - 50} 处" if len(listed) > 50 else ""),
                 icon=":material/error:")
    if preview.lines:
        rows_col, units_col, total_col = st.columns(3)
        rows_col.metric("数据行", len(preview.rows))
        units_col.metric("单位", preview.units)
        total_col.metric("累计参保人数合计", f"{preview.total_enrolled:,}")
        # A CSV file has no worksheets: only where its header is.
        where = ("" if not preview.sheet else f"表头在第 {preview.header_row} 行"
                 if preview.sheet == "CSV" else
                 f"读取了工作表「{md(preview.sheet)}」，表头在第 {preview.header_row} 行")
        ignored = (f"；未使用的列：{md('、'.join(map(str, preview.ignored_columns)))}"
                   if preview.ignored_columns else "")
        date_note = "（文件中的日期）" if preview.date_source == "file" or effective != day else ""
        st.caption(f"上报日期 {preview.report_date or '未确定'}{date_note}。{where}{ignored}")
        frame = preview.frame()
        colours = {"错误": "background-color: #fde2e1; color: #8b0000",
                   "需确认": "background-color: #fff4d6; color: #7a4b00",
                   "合计行": "color: #555555", "不上报": "color: #555555"}
        styled = frame.style.apply(
            lambda row: [colours.get(row["检查结果"], "")] * len(row), axis=1).format(na_rep="")
        st.dataframe(styled, hide_index=True, width="stretch", key=P + "preview",
                     column_config={
                         "行号": st.column_config.NumberColumn(width="small"),
                         "说明": st.column_config.TextColumn(width="large")}, placeholder=ui.MISSING)

    if preview.errors:
        archived = st.session_state.setdefault(P + "archived", {})
        key = f"{preview.sha256}:{effective}"
        if key not in archived:
            try:
                ingest.commit(store, campaign.id, content, uploaded.name, report_date=effective,
                              uploader=uploader or None, date_confirmed=confirmed, today=today,
                              allowed_units=scope, address=address, role=viewer.role)
            except ingest.UploadRejected as rejected:
                archived[key] = rejected.number
            except StorageError:
                pass
        if archived.get(key):
            st.caption(f"这次未通过的上传已记录为第 {archived[key]} 号（便于核查），不影响任何数字。")
        return

    accept = True
    if preview.warnings:
        with st.container(border=True):
            st.markdown(f"**有 {len(preview.warnings)} 条提醒需要您确认：**")
            st.markdown("\n".join(f"- {md(p.text)}" for p in preview.warnings))
            accept = st.checkbox("我已逐条核对以上提醒，数字无误，确认上报",
                                 key=f"{P}accept:{preview.sha256}:{effective}")
    ready = bool(uploader) and accept
    if not uploader:
        st.info("请在上面填写填报人，再确认上报。", icon=":material/person:")
    if st.button(f"确认上报 {preview.units} 个单位的数字", type="primary", disabled=not ready,
                 icon=":material/cloud_upload:", key=P + "commit"):
        try:
            done = ingest.commit(store, campaign.id, content, uploaded.name, report_date=effective,
                                 uploader=uploader, accept_warnings=accept,
                                 date_confirmed=confirmed, today=today, allowed_units=scope,
                                 address=address, role=viewer.role)
        except ingest.UploadRejected as rejected:
            st.session_state[P + "flash"] = (
                "error", "上报未保存：数据在检查后发生了变化，请重新核对。"
                + "；".join(p.text for p in rejected.preview.problems))
        except StorageError as exc:
            st.session_state[P + "flash"] = ("error", str(exc))
        else:
            st.session_state[P + "receipt"] = done
            st.session_state[P + "generation"] = generation + 1
            st.session_state.pop(P + "file_seen", None)
        st.rerun()


if uploaded is not None:
    preview_and_confirm(uploaded)

# --- 4. history ----------------------------------------------------------------------------
st.divider()
st.subheader("上报记录")
mine = st.toggle("只看我的上报", key=P + "mine", disabled=not uploader,
                 help="按上面填写的填报人筛选")
# A fresh version: a commit or withdrawal earlier in this run has changed the log.
log, reported = history(path, store.data_version(), campaign.id, uploader if mine and uploader else None)
if log.empty:
    st.caption("还没有任何上报记录。")
else:
    st.dataframe(uploads.history_table(log), hide_index=True, width="stretch",
                 key=P + "log", column_config={
                     "累计参保人数合计": st.column_config.NumberColumn(format="localized"),
                     "说明": st.column_config.TextColumn(width="large")}, placeholder=ui.MISSING)
    entries = log.set_index("id")
    picked = st.selectbox("查看某次上报的详情", log["id"].tolist(), index=None, key=P + "detail",
                          placeholder="选择上报编号",
                          format_func=lambda i: f"第 {entries.loc[i, 'number']} 号 · "
                                                f"{entries.loc[i, 'file_name']}")
    if picked is not None:
        number = int(entries.loc[picked, "number"])
        with Store(path).read() as con:
            messages = uploads.problems(con, int(picked))
            raw = uploads.raw_file(con, campaign.id, number)
        if messages:
            st.markdown("\n".join(f"- {TAGS[p.severity]} {md(p.text)}" for p in messages))
        else:
            st.caption("这次上报没有错误或提醒。")
        if raw is not None:
            def record_export(number=number, file_name=raw[0]) -> None:
                audit.log(store, uploader or None, "export",
                          f"下载第 {number} 号上报的原始文件「{file_name}」", address,
                          campaign_id=campaign.id, role=viewer.role)

            st.download_button("下载当时上传的原始文件", raw[1], file_name=raw[0],
                               icon=":material/download:", key=P + "raw", on_click=record_export)
    if uploader:
        with Store(path).read() as con:
            latest = withdrawals.withdrawable(con, campaign.id, uploader)
        if latest is not None and receipt is None:
            st.markdown(f"**{md(uploader)}** 最近一次上报：第 {latest['number']} 号（{md(latest['file_name'])}，"
                        f"上报日期 {latest['report_date']}）。")
            withdraw_button(uploader, int(latest["number"]), P + "undo_latest")

st.subheader("单位数字历史")
if reported.empty:
    st.caption("还没有单位上报过数字。")
else:
    labels = {r.code: f"{r.name}（{r.code}）" for r in reported.itertuples()}
    unit = st.selectbox("选择单位", list(labels), index=None, format_func=labels.get,
                        key=P + "unit", placeholder="输入单位名称搜索")
    if unit is not None:
        with Store(path).read() as con:
            revisions = uploads.unit_history(con, campaign.id, unit)
        st.dataframe(uploads.revision_table(revisions), hide_index=True, width="stretch",
                     key=P + "revisions", column_config={
                         "累计参保人数": st.column_config.NumberColumn(format="localized")},
                     placeholder=ui.MISSING)
        st.caption("同一上报日期有多个版本时，以最新版本（当前有效）为准；撤回产生的版本恢复撤回前的数字。")
