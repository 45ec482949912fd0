"""What Streamlit would render of the Markdown a page sends: every Markdown text and label of an
AppTest run, rendered by a CommonMark parser, to find images and links that hostile text made."""

from __future__ import annotations

from markdown_it import MarkdownIt

PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])
# Elements whose value is Markdown, and widgets whose label is.
MARKDOWN_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "title",
                     "header", "subheader")
LABELLED = ("button", "download_button", "text_input", "number_input", "selectbox",
            "multiselect", "checkbox", "toggle", "radio", "date_input", "metric", "tabs",
            "expander", "file_uploader", "pills", "segmented_control", "text_area")


def markdown_sent(at) -> list[str]:
    """Every Markdown string of the page: element bodies and widget labels."""
    out = [e.value for kind in MARKDOWN_ELEMENTS for e in getattr(at, kind)]
    for kind in LABELLED:
        for element in getattr(at, kind):
            label = getattr(element, "label", None)
            if isinstance(label, str):
                out.append(label)
    return out


def plain(markdown: str) -> str:
    """The text a reader sees of a Markdown string (paragraphs and lines joined by newlines)."""
    return "\n".join("".join(c.content if c.type in ("text", "code_inline")
                             else "\n" if c.type in ("softbreak", "hardbreak") else ""
                             for c in token.children)
                     for token in PARSER.parse(markdown) if token.type == "inline")


def assert_inert(at, *shown: str) -> None:
    """No Markdown of the page makes an image or a link, and each of `shown` is visible as
    plain text somewhere (so the check looked where the hostile text is)."""
    sent = markdown_sent(at)
    for markdown in sent:
        html = PARSER.render(markdown)
        assert "<img" not in html and "<a " not in html, markdown
    visible = "\n".join(plain(m) for m in sent)
    for text in shown:
        assert text in visible, (text, visible[:3000])
