"""登录: the only page before login (when accounts exist or ENROLLMENT_REQUIRE_LOGIN is on)."""

import streamlit as st

from enrollment import ui
from enrollment.db import StorageError
from enrollment.identity import accounts, websession
from enrollment.labels import APP_TITLE
from enrollment.text import md

ui.require_entry()          # a first request on a fresh server runs through dashboard.py
store = ui.store()
left, middle, right = st.columns([1, 2, 1])
with middle:
    st.title(APP_TITLE)
    with store.read() as con:
        has_accounts = accounts.any_account(con)
    if not has_accounts:
        st.warning("已设置必须登录，但还没有任何账号。请管理员在服务器上运行："
                   "`python -m enrollment users add 用户名 --role 管理员` 创建第一个管理员账号。",
                   icon=":material/person_add:")
    message = st.session_state.pop("login:message", None)
    with st.form("login:form", clear_on_submit=True, enter_to_submit=True):
        st.subheader("登录")
        name = st.text_input("用户名", key="login:name", autocomplete="username", max_chars=64)
        password = st.text_input("密码", type="password", key="login:password",
                                 autocomplete="current-password", max_chars=256)
        submitted = st.form_submit_button("登录", type="primary", icon=":material/login:",
                                          width="stretch")
    if submitted:
        if not name.strip() or not password:
            st.session_state["login:message"] = "请输入用户名和密码。"
        else:
            try:
                result = websession.login(store, name, password)
            except StorageError as exc:
                st.session_state["login:message"] = str(exc)
            else:
                if result.user is None:
                    st.session_state["login:message"] = result.message
        st.rerun()
    if message:
        st.error(md(message), icon=":material/error:")
    st.caption("忘记密码或账号被锁定时，请联系管理员重置。同一台电脑连续 5 次输错密码，"
               "将暂停用该用户名登录 15 分钟；其他电脑不受影响。")
