"""催报: who has not reported the week (or reported late), whom to call, the messages to send
(each with a copy button), a CSV for an SMS platform; and the units' contacts (责任人, phone),
edited by administrators or loaded from a table."""

import datetime as dt

import pandas as pd
import streamlit as st

from enrollment import chrome, ui
from enrollment.cycle import contacts, reminders
from enrollment.db import Store
from enrollment.identity import websession
from enrollment.labels import LEVEL_LABELS
from enrollment.text import csv_bytes, md
from enrollment.uploads import template

ctx = ui.require("export")
campaign = ctx.campaign
if campaign is None:
    st.stop()
P = f"remind:{campaign.id}:"


@st.cache_data(max_entries=32, show_spinner="正在查找未上报的单位……")
def due(path: str, version: int, campaign, as_of: dt.date, source: str,
        minute: dt.datetime) -> reminders.Reminders:
    """Keyed by the minute too: before the deadline the wording depends on the time."""
    with Store(path).read() as con:
        return reminders.due(con, campaign, as_of, source=source, now=minute)


@st.cache_data(max_entries=16, show_spinner=False)
def contact_rows(path: str, version: int, campaign_id: str) -> tuple[pd.DataFrame, str]:
    with Store(path).read() as con:
        return contacts.listing(con, campaign_id), template.report_level(con, campaign_id)


as_of = ui.week_picker(campaign, "周次", "remind:as_of", "as_of")
st.subheader("催报", anchor=False)
ui.demo_banner(ctx)
now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
tab_due, tab_contacts = st.tabs(["催报名单", "联系人"])

with tab_due:
    found = due(ctx.path, ctx.version, campaign, as_of, ctx.source, now)
    st.markdown(md(found.headline()))
    if not found.due:
        st.success(md(found.group_message), icon=":material/task_alt:")
    else:
        st.markdown("**发到工作群的消息**")
        chrome.copy_list([("全体单位", found.group_message)], key="remind-group")
        st.markdown(f"**逐个单位催报**（{len(found.missing)} 个未上报，{len(found.late)} 个逾期上报）")
        chrome.copy_list([(f"{r.name} · {r.status} · {r.person or '未录入责任人'} · "
                       f"{r.phone or '未录入电话'}", r.message) for r in found.due], key="remind-units")
        st.dataframe(found.table(), hide_index=True, width="stretch", key=P + "table",
                     column_config={"催报内容": st.column_config.TextColumn(width="large")},
                     placeholder=ui.MISSING)
        sms = found.sms_frame()
        st.download_button(f"下载短信平台导入表（CSV，{len(sms)} 条）", csv_bytes(sms),
                           f"催报短信-第{found.week}周-{found.as_of:%Y%m%d}.csv", "text/csv",
                           icon=":material/sms:", disabled=sms.empty, on_click="ignore")
        if found.without_mobile:
            st.caption("没有手机号码、未列入短信表的单位：" + md("、".join(r.name for r in found.without_mobile))
                       + "。可在「联系人」中补充。")

with tab_contacts:
    every, report_level = contact_rows(ctx.path, ctx.version, campaign.id)
    levels = list(dict.fromkeys(every["level"]))[1:] or list(dict.fromkeys(every["level"]))
    level = st.selectbox("层级", levels, index=levels.index(report_level) if report_level in levels else 0,
                         format_func=lambda lv: LEVEL_LABELS.get(lv, lv), key=P + "level")
    shown = every[every["level"] == level].reset_index(drop=True)
    if len(shown) > 2000:
        st.caption(f"该层级有 {len(shown):,} 个单位，这里列出前 2,000 个；更多请用联系人表载入。")
        shown = shown.head(2000)
    table = contacts.table(shown)
    if not ctx.viewer.can("manage_contacts"):
        st.dataframe(table, hide_index=True, width="stretch", placeholder=ui.MISSING)
        st.caption("联系人由管理员维护。")
        st.stop()
    flash = st.session_state.pop(P + "flash", None)
    if flash:
        (st.success if flash[0] else st.error)(md(flash[1]))
    who = dict(actor=ctx.viewer.name, role=ctx.viewer.role, address=websession.client_address())
    edited = st.data_editor(table, hide_index=True, width="stretch", key=P + f"editor:{level}",
                            disabled=["单位代码", "单位", "层级"], num_rows="fixed",
                            placeholder=ui.MISSING)
    if st.button("保存联系人", type="primary", icon=":material/save:", key=P + "save"):
        rows = contacts.edited_rows(table, edited)
        try:
            changed = contacts.save(ctx.store, campaign.id, rows, **who)
        except contacts.ContactError as exc:
            st.session_state[P + "flash"] = (False, f"{exc}；未保存任何修改。")
        else:
            st.session_state[P + "flash"] = (True, f"已保存 {changed} 个单位的联系人。")
        st.rerun()

    st.markdown("**从表格载入**")
    st.caption("表格需有「单位」或「单位代码」列，以及「责任人」「联系电话」列（可先下载模板）。"
               "表中空白的单元格会清除该单位原有的内容；表中没有的单位保持不变；有错误时不保存任何内容。")

    def make_template() -> bytes:
        with Store(ctx.path).read() as con:
            return contacts.template(con, campaign.id, level)

    st.download_button("下载联系人模板（.xlsx）", make_template,
                       f"{campaign.name}_联系人_{LEVEL_LABELS.get(level, level)}.xlsx",
                       icon=":material/download:", key=P + "template",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    generation = st.session_state.get(P + "generation", 0)
    uploaded = st.file_uploader("选择联系人表（.xlsx、.xls、.csv）", key=f"{P}file:{generation}")
    if uploaded is not None:
        checked = contacts.check_file(ctx.store, campaign.id, uploaded.getvalue())
        for problem in checked.problems:
            (st.error if problem.severity == "error" else st.warning)(md(problem))
        if checked.ok:
            preview = pd.DataFrame([{"行号": r, "单位": name, "责任人": person or "", "联系电话": phone or ""}
                                    for r, _, name, person, phone in checked.rows])
            st.dataframe(preview, hide_index=True, width="stretch", placeholder=ui.MISSING)
            if st.button(f"载入 {len(checked.rows)} 个单位的联系人", type="primary", key=P + "load"):
                try:
                    contacts.load(ctx.store, campaign.id, uploaded.getvalue(), uploaded.name, **who)
                except contacts.ContactError as exc:
                    st.session_state[P + "flash"] = (False, str(exc))
                else:
                    st.session_state[P + "flash"] = (True, f"已载入 {len(checked.rows)} 个单位的联系人。")
                    st.session_state[P + "generation"] = generation + 1
                st.rerun()
