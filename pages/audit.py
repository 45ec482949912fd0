"""操作日志: who did what, when and from where; filter and download (administrators)."""

import datetime as dt

import streamlit as st

from enrollment import db, settings, ui
from enrollment.db import Store
from enrollment.identity import audit, websession
from enrollment.labels import AUDIT_ACTION_LABELS
from enrollment.text import csv_bytes
from enrollment.uploads import ingest

ctx = ui.require("view_audit")
viewer = ctx.viewer
P = "audit:"

st.title("操作日志")
st.caption("登录（成功和失败）、数据上报和撤回、目标任务和参保活动的修改、导出、账号变动都记录在这里，"
           f"只能追加，不能修改或删除。时间为本地时间（{settings.timezone()}）。")


@st.cache_data(max_entries=16, show_spinner=False)
def load(path: str, version: int, actor, actions, since, until, text):
    with Store(path).read() as con:
        return audit.query(con, actor=actor, actions=list(actions), since=since, until=until,
                           text=text, limit=5000)


with Store(ctx.path).read() as con:
    everyone = db.audit.actors(con)
today = ingest.local_today()
c1, c2, c3 = st.columns([1, 1, 2])
actor = c1.selectbox("操作人", everyone, index=None, placeholder="全部", key=P + "actor")
days = c2.date_input("日期", value=(today - dt.timedelta(days=30), today), key=P + "days",
                     format="YYYY-MM-DD")
actions = c3.multiselect("操作", list(AUDIT_ACTION_LABELS), format_func=AUDIT_ACTION_LABELS.get,
                         placeholder="全部操作", key=P + "actions")
text = st.text_input("内容包含", key=P + "text", max_chars=200,
                     placeholder="例如：文件名、单位名称、上报编号、IP 地址").strip()
since, until = (days[0], days[1]) if isinstance(days, tuple) and len(days) == 2 else (None, None)
# A fresh version: the log grows with every login, including this administrator's own.
frame = load(ctx.path, ctx.store.data_version(), actor, tuple(actions), since, until, text or None)
shown = audit.table(frame)
st.caption(f"共 {len(shown):,} 条" + ("（最多显示最新的 5,000 条）" if len(shown) >= 5000 else ""))
st.dataframe(shown, hide_index=True, width="stretch", key=P + "table",
             column_config={"内容": st.column_config.TextColumn(width="large")},
             placeholder=ui.MISSING)


def record_export() -> None:
    audit.log(ctx.store, viewer.name, "export", f"下载操作日志（{len(shown)} 条，CSV）",
              websession.client_address(), role=viewer.role)


st.download_button("下载筛选结果（CSV）", csv_bytes(shown),
                   file_name=f"操作日志_{today:%Y%m%d}.csv", mime="text/csv",
                   icon=":material/download:", key=P + "download", on_click=record_export,
                   disabled=shown.empty)
