"""参保进度看板: the Streamlit entry file. Who is using it, shared layout, then the chosen page."""

import streamlit as st

from enrollment.labels import APP_TITLE, OPEN_MODE_BANNER

# Before the heavier imports: on the first visit after a server start the browser's tab shows
# this file's name ("dashboard") until the page's title arrives.
st.set_page_config(page_title=APP_TITLE, page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="auto")

from enrollment import chrome, settings, ui  # noqa: E402
from enrollment.db import DatabaseUnavailable, StorageError  # noqa: E402
from enrollment.identity import access, websession  # noqa: E402
from enrollment.text import md  # noqa: E402

# Less empty space above the content (leaders look at this on a 768-pixel-high projector), and
# Chinese for the English words of Streamlit's widgets, from the first paint on.
st.html(chrome.chrome_css())

try:
    settings.secret()                   # a short secret stops the app here, not after a login
    store = ui.store()
    version = store.data_version()
    viewer = websession.viewer(store, version)
except (StorageError, settings.SettingError) as exc:
    # A damaged database, a full disk or a bad setting: its explanation and the way out, as
    # the command line gives it, on the one page there is (not a traceback).
    fault = exc
    st.navigation([st.Page(lambda: ui.fault_page(fault), title=APP_TITLE, icon=":material/error:",
                           url_path="fault")], position="hidden").run()
    st.stop()
# The page list per role is one table (enrollment/identity/access.py: PAGES).
specs = access.pages_for(viewer)
pages = [st.Page(p.path, title=p.title, icon=p.icon, default=p.default or len(specs) == 1)
         for p in specs]
# Logged out, other pages' addresses (bookmarks) show the login form instead of "Page not found".
pages += [st.Page(specs[0].path, title=specs[0].title, icon=specs[0].icon, url_path=address)
          for address in access.stand_ins(viewer)]
# Logged in, the addresses of pages this role lacks say so in Chinese (not "Page not found").
pages += [st.Page(ui.refusal_page, title=p.title, icon=":material/block:",
                  url_path=access.url_path(p), visibility="hidden")
          for p in access.refused(viewer)]
# st.navigation comes before any widget of this file: in Streamlit 1.67 the first change of a
# widget created before it is lost (the first rerun after a page load resets it).
# The menu is our own (chrome.menu): client.showSidebarNavigation is off in .streamlit/config.toml, so
# that the first visit after a server start never shows Streamlit's listing of pages/ (English
# file names) before this call replaces it.
navigation = st.navigation(pages, position="hidden")
chrome.menu(specs)
websession.sync_cookie(store, viewer)
if viewer.open_mode:
    # One slim line in the page's top margin: the projector view must still fit 768 pixels.
    st.html(f'<div role="status" data-testid="open-mode-banner" style="margin:-1.4rem 0 -0.6rem;'
            f'padding:1px 10px;border-radius:6px;background:#fff4d6;color:#7a4b00;'
            f'font-size:0.85rem;line-height:1.6">{OPEN_MODE_BANNER}。'
            f'在「账号管理」中创建第一个管理员账号后即启用登录。</div>')
try:
    if viewer.logged_in or viewer.open_mode:
        ui.account_box(store, viewer)
        ui.build_context(viewer, version)
    else:
        st.session_state[ui.ENTRY_MARK] = True      # the login page ran through this file
    navigation.run()
except StorageError as exc:
    # The file or the disk failed in the middle of a page (a full disk at a save): the same
    # explanation as at the start, below what the page showed. A database server that is
    # restarting: the page runs again by itself until it is back.
    st.error(md(exc), icon=":material/error:")
    if isinstance(exc, DatabaseUnavailable):
        ui.retry_soon()
