"""我的账号: who I am, what I may do, change my password, log out."""

import streamlit as st

from enrollment import ui
from enrollment.db import StorageError
from enrollment.identity import accounts, websession
from enrollment.labels import ROLE_LABELS
from enrollment.text import md

ctx = ui.context()
viewer = ctx.viewer
store = ctx.store
if viewer.user is None:
    st.stop()
user = viewer.user

st.title("我的账号")
if user.must_change_password:
    st.warning("管理员重置了您的密码，请先设置一个只有您自己知道的新密码，然后才能使用其他页面。",
               icon=":material/key:")
flash = st.session_state.pop("account:flash", None)
if flash:
    st.success(flash, icon=":material/task_alt:")

with store.read() as con:
    names = accounts.unit_names(con, user.units)
facts = [("用户名", user.name), ("姓名/单位", user.full_name or "—"),
         ("角色", ROLE_LABELS.get(user.role, user.role))]
if user.role == accounts.REPORTER:
    facts.append(("负责单位", "、".join(f"{names.get(c, c)}（{c}）" for c in user.units)
                  + "（含下属单位）"))
st.markdown("\n".join(f"- {label}：**{md(value)}**" for label, value in facts))
what = {accounts.ADMIN: "可以查看全部数据、上报、导出，管理账号、参保活动和目标任务，查看操作日志。",
        accounts.LEADER: "可以查看全部数据和导出，不能上报或修改数据。",
        accounts.REPORTER: "可以查看全部数据，只能为负责的单位及其下属单位上报和撤回数字。"}
st.caption(what.get(user.role, ""))

st.subheader("修改密码")
with st.form("account:password", clear_on_submit=True):
    old = st.text_input("原密码", type="password", autocomplete="current-password", max_chars=256)
    new = st.text_input(f"新密码（至少 {accounts.MIN_PASSWORD_LENGTH} 个字符）", type="password",
                        autocomplete="new-password", max_chars=256)
    again = st.text_input("再次输入新密码", type="password", autocomplete="new-password",
                          max_chars=256)
    submitted = st.form_submit_button("修改密码", type="primary", icon=":material/key:")
if submitted:
    if new != again:
        st.error("两次输入的新密码不一致。")
    else:
        try:
            accounts.change_password(store, user.name, old, new,
                                     address=websession.client_address(), keep_token=viewer.token)
        except (accounts.AccountError, StorageError) as exc:
            st.error(md(exc))
        else:
            st.session_state["account:flash"] = "密码已修改；其他设备上的登录已失效。"
            st.rerun()

st.subheader("退出")
if st.button("退出登录", icon=":material/logout:", key="account:logout_page"):
    websession.logout(store, viewer)
    st.rerun()
