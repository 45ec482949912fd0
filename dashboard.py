"""参保进度看板: the Streamlit entry file. Shared layout, then the page the user chose."""

import streamlit as st

from enrollment import ui
from enrollment.labels import APP_TITLE

st.set_page_config(page_title=APP_TITLE, page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="auto")
# Less empty space above the content: leaders look at this on a 768-pixel-high projector.
st.html("<style>@media (min-width: 800px) {.block-container{padding-top:2.2rem}}</style>")

pages = [
    st.Page("pages/overview.py", title="进度总览", icon=":material/monitoring:", default=True),
    st.Page("pages/upload.py", title="数据上报", icon=":material/upload_file:"),
    st.Page("pages/export.py", title="通报导出", icon=":material/file_export:"),
    st.Page("pages/targets.py", title="目标任务", icon=":material/assignment:"),
    st.Page("pages/campaign_setup.py", title="新建活动", icon=":material/add_location_alt:"),
]
# st.navigation comes before any widget of this file: in Streamlit 1.67 the first change of a
# widget created before it is lost (the first rerun after a page load resets it).
navigation = st.navigation(pages)
ctx = ui.build_context()
st.session_state["campaign_obj"] = ctx.campaign
navigation.run()
