"""账号管理: accounts, roles and unit scopes (administrators); the first administrator in open mode."""

import pandas as pd
import streamlit as st

from enrollment import db, ui
from enrollment.db import StorageError, Store
from enrollment.identity import accounts, logins, websession
from enrollment.labels import LEVEL_LABELS, ROLE_LABELS
from enrollment.text import md
from enrollment.uploads import log as uploads

ctx = ui.context()
viewer = ctx.viewer
store = ctx.store
P = "users:"

st.title("账号管理")
flash = st.session_state.pop(P + "flash", None)
if flash:
    st.success(md(flash), icon=":material/task_alt:")


@st.cache_data(max_entries=8, show_spinner=False)
def unit_choices(path: str, version: int) -> dict[str, str]:
    """Units a 填报员 can be given, of every campaign (a code means the same unit in all of
    them), labelled 名称（代码）· 层级, top down."""
    with Store(path).read() as con:
        rows = db.units.across_campaigns(con)
    return {r.code: f"{r.name}（{r.code}）· {LEVEL_LABELS.get(r.level, r.level)}"
            for r in rows.itertuples()}


def password_pair(prefix: str) -> tuple[str, str]:
    first = st.text_input(f"{prefix}（至少 {accounts.MIN_PASSWORD_LENGTH} 个字符）", type="password",
                          autocomplete="new-password", max_chars=256)
    second = st.text_input(f"再次输入{prefix}", type="password", autocomplete="new-password",
                           max_chars=256)
    return first, second


def run(action, success: str) -> None:
    """Do an account change; show its Chinese error, or rerun with a success message."""
    try:
        action()
    except (accounts.AccountError, StorageError) as exc:
        st.error(md(exc), icon=":material/error:")
    else:
        st.session_state[P + "flash"] = success
        st.rerun()


address = websession.client_address()
with store.read() as con:
    has_accounts = accounts.any_account(con)

# --- open mode: the first administrator ----------------------------------------------------
if not has_accounts:
    st.info("目前没有任何账号，所有人都可以修改数据。创建第一个管理员账号后即启用登录："
            "之后每个人都要用自己的账号登录，管理员再为各县区、街道的填报员和领导创建账号。",
            icon=":material/lock_open:")
    with st.form(P + "first", clear_on_submit=True):
        st.subheader("创建第一个管理员账号")
        name = st.text_input("用户名", max_chars=accounts.MAX_NAME_LENGTH,
                             help="汉字、字母、数字和 . _ - @，例如 admin 或 市医保局-王五")
        full_name = st.text_input("姓名/单位（可选）", max_chars=60)
        first, second = password_pair("密码")
        submitted = st.form_submit_button("创建管理员并登录", type="primary",
                                          icon=":material/admin_panel_settings:")
    if submitted:
        if first != second:
            st.error("两次输入的密码不一致。")
        else:
            def create_first():
                user = accounts.create(store, name, accounts.ADMIN, first, full_name=full_name,
                                       actor=name.strip(), address=address)
                websession.start_session(store, user.name)
            run(create_first, "管理员账号已创建，登录已启用。")
    st.stop()

ui.require("manage_users", ctx)

# --- the accounts ----------------------------------------------------------------------------
with store.read() as con:
    users = accounts.list_users(con)
    names = accounts.unit_names(con, [c for u in users for c in u.units])
now = accounts.now_utc()


def when(value) -> str:
    return f"{uploads.local_time(value):%Y-%m-%d %H:%M}" if value is not None else ""


st.dataframe(pd.DataFrame([{
    "用户名": u.name, "姓名/单位": u.full_name or "", "角色": u.role_label,
    "负责单位": "、".join(f"{names.get(c, c)}（{c}）" for c in u.units),
    "状态": accounts.status_label(u, now), "最近登录": when(u.last_login_at),
    "创建时间": when(u.created_at), "创建人": u.created_by or "",
} for u in users]), hide_index=True, width="stretch", key=P + "table", placeholder=ui.MISSING)

units = unit_choices(ctx.path, ctx.version)
roles = list(ROLE_LABELS)
scope_help = ("只有填报员需要；可以选县区、乡镇（街道）或村（社区），含其下属单位。列出的是所有参保活动的单位"
              "（输入名称或代码搜索），单位代码在各活动间通用。")

new_tab, edit_tab = st.tabs(["新建账号", "修改、重置密码、停用"])
with new_tab:
    with st.form(P + "create", clear_on_submit=True):
        left, right = st.columns(2)
        name = left.text_input("用户名", max_chars=accounts.MAX_NAME_LENGTH,
                               help="汉字、字母、数字和 . _ - @，例如 zezhou-zhangsan")
        full_name = right.text_input("姓名/单位", max_chars=60, placeholder="例如：泽州县医保局 张三")
        role = left.selectbox("角色", roles, index=roles.index(accounts.REPORTER),
                              format_func=ROLE_LABELS.get)
        scope = right.multiselect("负责单位（填报员）", list(units), format_func=units.get,
                                  placeholder="输入单位名称搜索", help=scope_help)
        first, second = password_pair("初始密码")
        must_change = st.checkbox("首次登录时须修改密码", value=True)
        submitted = st.form_submit_button("创建账号", type="primary", icon=":material/person_add:")
    if submitted:
        if first != second:
            st.error("两次输入的密码不一致。")
        else:
            run(lambda: accounts.create(
                    store, name, role, first, units=scope if role == accounts.REPORTER else (),
                    full_name=full_name, actor=viewer.name, actor_role=viewer.role,
                    address=address, must_change_password=must_change),
                f"账号「{name.strip()}」已创建（{ROLE_LABELS[role]}）。")

with edit_tab:
    by_name = {u.name: u for u in users}
    picked = st.selectbox("选择账号", list(by_name), index=None, key=P + "picked",
                          format_func=lambda n: f"{by_name[n].display} · {by_name[n].role_label}",
                          placeholder="选择要修改的账号")
    if picked is not None:
        user = by_name[picked]
        st.caption(f"状态：{accounts.status_label(user, now)}")
        with st.form(P + f"edit:{picked}"):
            st.markdown("**角色和负责单位**")
            left, right = st.columns(2)
            role = left.selectbox("角色", roles, index=roles.index(user.role),
                                  format_func=ROLE_LABELS.get)
            options = list(units) + [c for c in user.units if c not in units]
            scope = right.multiselect("负责单位（填报员）", options, default=list(user.units),
                                      format_func=lambda c: units.get(c, f"{names.get(c, c)}（{c}）"),
                                      help=scope_help)
            full_name = st.text_input("姓名/单位", value=user.full_name or "", max_chars=60)
            save = st.form_submit_button("保存修改", icon=":material/save:")
        if save:
            run(lambda: accounts.update(
                    store, picked, role=role, units=scope if role == accounts.REPORTER else (),
                    full_name=full_name, actor=viewer.name, actor_role=viewer.role, address=address),
                f"账号「{picked}」已修改。")
        with st.form(P + f"reset:{picked}", clear_on_submit=True):
            st.markdown("**重置密码**（该账号的登录全部失效，下次登录须修改密码）")
            first, second = password_pair("新密码")
            reset = st.form_submit_button("重置密码", icon=":material/lock_reset:")
        if reset:
            if first != second:
                st.error("两次输入的密码不一致。")
            else:
                run(lambda: accounts.reset_password(
                        store, picked, first, actor=viewer.name, actor_role=viewer.role,
                        address=address),
                    f"已重置账号「{picked}」的密码。")
        left, right = st.columns(2)
        if user.locked(now) and left.button("解除登录锁定", icon=":material/lock_open:",
                                            key=P + f"unlock:{picked}"):
            run(lambda: logins.unlock(store, picked, actor=viewer.name, actor_role=viewer.role,
                                        address=address), f"已解除账号「{picked}」的锁定。")
        if user.active:
            if right.button("停用账号", icon=":material/person_off:", key=P + f"disable:{picked}",
                            disabled=picked == viewer.name,
                            help="停用后不能登录，已登录的会话立即失效；上报记录保留。"):
                run(lambda: accounts.set_active(store, picked, False, actor=viewer.name,
                                                actor_role=viewer.role, address=address),
                    f"账号「{picked}」已停用。")
        elif right.button("重新启用账号", icon=":material/person_check:", key=P + f"enable:{picked}"):
            run(lambda: accounts.set_active(store, picked, True, actor=viewer.name,
                                            actor_role=viewer.role, address=address),
                f"账号「{picked}」已启用。")
