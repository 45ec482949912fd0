"""The page's frame, the same on every page and for every viewer: the CSS of the first paint
(Chinese for Streamlit's English widget words), the sidebar's page menu and the 复制 buttons.

Nothing here reads the database or the session's context (that is `ui`); the entry file and the
pages call these directly.
"""

from __future__ import annotations

import streamlit as st

from . import settings


def upload_limit_mb() -> int:
    """ENROLLMENT_MAX_UPLOAD_MB in whole MB, as the upload widgets refuse larger files."""
    return max(1, settings.max_upload_bytes() // 1048576)


def chrome_css() -> str:
    """Chinese for the words Streamlit's widgets carry in English, in the page's first paint.

    Streamlit 1.67 offers no way to translate them (streamlit/streamlit#13500): the file
    uploader's button (Upload), size line (50MB per file), refusal of a large file (File must
    be … or smaller), the select boxes' "No results" and the multiselect's "Select all". The
    English text is hidden (font size 0) and Chinese drawn in its place; the size is
    ENROLLMENT_MAX_UPLOAD_MB, which the upload widgets also enforce in the browser
    (max_upload_size), so an oversize file is refused before it is sent.
    """
    mb = upload_limit_mb()
    swap = "font-size:0 !important;"
    text = "font-size:0.875rem;"
    return f"""<style>
@media (min-width: 800px) {{.block-container{{padding-top:2.2rem}}}}
[data-testid=stFileUploaderDropzone] [data-testid=stBaseButton-secondary] p {{{swap}}}
[data-testid=stFileUploaderDropzone] [data-testid=stBaseButton-secondary] p::after {{
  {text} content:"选择文件";}}
[data-testid=stFileUploaderDropzoneInstructions] span {{{swap}}}
[data-testid=stFileUploaderDropzoneInstructions] span::after {{
  {text} content:"或把文件拖到这里 · 不超过 {mb} MB";}}
[data-testid=stTooltipErrorContent] {{{swap}}}
[data-testid=stTooltipErrorContent]::after {{
  {text} content:"未能上传：请选择不超过 {mb} MB 的 Excel（.xlsx、.xls）或 CSV 文件";}}
[data-testid=stFileChip][aria-invalid=true] [data-testid=stFileChipName]::after {{
  content:"（未上传：文件须不超过 {mb} MB）"; color:#c00000;}}
[role=listbox][data-empty=true] [role=option] > span {{{swap}}}
[role=listbox][data-empty=true] [role=option] > span::after {{{text} content:"没有匹配的选项";}}
[role=option][data-key=__select_all__] [data-item-hl] {{{swap}}}
[role=option][data-key=__select_all__] [data-item-hl]::after {{{text} content:"全部选中";}}
[role=option][data-key=__select_matches__] [data-item-hl] {{{swap}}}
[role=option][data-key=__select_matches__] [data-item-hl]::after {{{text} content:"选中全部匹配项";}}
[data-testid=stTabs] [role=tablist] {{flex-wrap:wrap; row-gap:0.25rem;}}
</style>"""


def menu(specs) -> None:
    """The sidebar's page menu (page links, the current one highlighted); none for one page.

    Streamlit's own menu is switched off (client.showSidebarNavigation): in the first run after
    a server start it lists the files of pages/ by their English names.
    """
    if len(specs) <= 1:
        return
    with st.sidebar:
        with st.container(gap="small", key="menu"):
            for spec in specs:
                st.page_link(spec.path, label=spec.title, icon=spec.icon, width="stretch")
        st.divider()


COPY_SCRIPT = """
<script>
(function () {
  // A real copy: the Clipboard API where the page is a secure context (https, localhost),
  // else a selected textarea and execCommand('copy'), which bureau intranets on plain http need.
  document.querySelectorAll('button[data-copy]:not([data-ready])').forEach(function (button) {
    button.setAttribute('data-ready', '1');
    button.addEventListener('click', async function () {
      var text = button.getAttribute('data-copy');
      var done = false;
      try {
        if (navigator.clipboard && window.isSecureContext) {
          await navigator.clipboard.writeText(text);
          done = true;
        }
      } catch (e) { done = false; }
      if (!done) {
        var area = document.createElement('textarea');
        area.value = text;
        area.setAttribute('readonly', '');
        area.style.position = 'fixed';
        area.style.opacity = '0';
        document.body.appendChild(area);
        area.select();
        try { done = document.execCommand('copy'); } catch (e) { done = false; }
        area.remove();
      }
      button.textContent = done ? '已复制' : '复制失败，请手动选择文字复制';
      setTimeout(function () { button.textContent = '复制'; }, 2500);
    });
  });
})();
</script>
"""


def copy_list(items: list[tuple[str, str]], key: str) -> None:
    """Messages, each with a 复制 button that copies it to the clipboard (labels and texts are
    escaped: they carry unit and contact names)."""
    import html

    rows = "".join(
        f'<div class="copy-item" data-testid="copy-item" style="display:flex;gap:10px;'
        f'align-items:flex-start;padding:6px 0;border-bottom:1px solid #eee">'
        f'<div style="flex:1"><div style="font-size:0.8rem;color:#666">{html.escape(label)}</div>'
        f'<div class="copy-text" style="white-space:pre-wrap">{html.escape(text)}</div></div>'
        f'<button type="button" data-copy="{html.escape(text, quote=True)}" '
        f'style="flex:none;padding:3px 12px;border:1px solid #ccc;border-radius:6px;'
        f'background:#fff;cursor:pointer">复制</button></div>'
        for label, text in items)
    st.html(f'<div id="{html.escape(key, quote=True)}">{rows}</div>{COPY_SCRIPT}',
            unsafe_allow_javascript=True)
