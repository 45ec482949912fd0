"""enrollment/text.py: Markdown escaping, typed names, file names and spreadsheet cells, each
checked with hostile text generated here (hypothesis for the escaping)."""

import io
import string

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from enrollment import text

PARSER = MarkdownIt("commonmark").enable(["strikethrough", "table"])
HOST = "http://127.0.0.1:9/x"
HOSTILE_MARKDOWN = [
    f"![i]({HOST})", f"[点我]({HOST})", f"&#33;[i]({HOST})", f"<img src={HOST}>",
    f"<{HOST}>", "**粗** _斜_ ~~删~~ `代码`", ":red[红色] :material/home: :smile:", "$x^2$ $$y$$",
    "# 标题", "- 列表", "1. 列表", "> 引用", "| a | b |\n|---|---|", "&lt;b&gt; &amp;#47; &#47;",
    "a\\![i](x)", "[a][ref]\n\n[ref]: http://x", "***", "<script>alert(1)</script>",
]


def inline_tokens(markdown: str) -> list:
    return [child for token in PARSER.parse(markdown) if token.type == "inline"
            for child in token.children]


def shown(markdown: str) -> str:
    """What a CommonMark renderer shows of the Markdown, as plain text (paragraphs apart)."""
    return "\n\n".join("".join(c.content if c.type == "text" else "\n" for c in token.children)
                       for token in PARSER.parse(markdown) if token.type == "inline")


@pytest.mark.parametrize("value", HOSTILE_MARKDOWN)
def test_escaped_text_renders_as_exactly_that_text(value):
    html = PARSER.render(text.md(value))
    assert "<img" not in html and "<a " not in html and "<script" not in html
    assert all(t.type in ("text", "softbreak") for t in inline_tokens(text.md(value)))
    assert {b.type for b in PARSER.parse(text.md(value))} == {
        "paragraph_open", "inline", "paragraph_close"}            # no heading, list, table, quote
    assert shown(text.md(value)) == value


# Names as people type them: any printable characters with single spaces between words.
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Zs")),
                min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(names | st.sampled_from(["![", "](", "&#", ";", "`", "$", ":", "<", "\\", "*"]),
                min_size=1, max_size=6))
def test_any_name_shows_literally(parts):
    value = " ".join(parts)
    escaped = text.md(value)
    tokens = inline_tokens(escaped)
    assert all(t.type == "text" for t in tokens), tokens
    assert shown(escaped) == value


HIDDEN = ["\n", "\r", "\t", "\x1b", "\x00", "\x7f", "\u200b", "\u200e", "\u200f", "\u202a",
          "\u202e", "\u2066", "\u2069", "\ufeff", "\u00ad", "\u2028", "\u3164", "\ue000"]


@pytest.mark.parametrize("ch", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_names_with_control_or_invisible_characters_are_refused(ch):
    with pytest.raises(text.TextError, match="不可见字符|控制") as caught:
        text.clean_text(f"阳城{ch}2022", what="活动名称", limit=100)
    assert f"U+{ord(ch):04X}" in str(caught.value)


def test_names_are_normalised_and_bounded():
    assert text.clean_text("  阳城县（2022）：居民  ", what="活动名称", limit=100) == "阳城县（2022）：居民"
    assert text.clean_text("ｒｅｐ１", what="用户名", limit=32, fold=True) == "rep1"
    assert text.identity(" ｒｅｐ１ ") == "rep1"
    assert text.clean_text("  ", what="说明", limit=10, required=False) is None
    with pytest.raises(text.TextError, match="活动名称不能为空"):
        text.clean_text(" ", what="活动名称", limit=100)
    with pytest.raises(text.TextError, match="太长（5,000 个字符），最多 100 个字符"):
        text.clean_text("名" * 5000, what="活动名称", limit=100)


@pytest.mark.parametrize("name, expected", [
    ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
    ("../../etc/passwd", "passwd"),
    ("..&#47;..&#47;etc&#47;passwd", "passwd"),
    ("..&amp;#47;secret.xlsx", "secret.xlsx"),
    ("C:&#92;Users&#92;x&#92;报表.xlsx", "报表.xlsx"),
    ("周报\u202egpj.xlsx", "周报gpj.xlsx"),
    ("a\u200b\ufeffb.csv", "ab.csv"),
    ("ctl\x07\x1b[31m\r\nFAKE.csv", "ctl [31m FAKE.csv"),
    ("..", text.UNNAMED_FILE),
    ("", text.UNNAMED_FILE),
    (None, text.UNNAMED_FILE),
])
def test_file_names_are_labels(name, expected):
    assert text.clean_file_name(name) == expected


def test_long_file_names_keep_their_extension():
    cleaned = text.clean_file_name("名" * 5000 + ".xlsx")
    assert len(cleaned) == text.MAX_FILE_NAME and cleaned.endswith("….xlsx")
    assert len(text.clean_file_name("x" * 5000)) == text.MAX_FILE_NAME


FORMULAS = ['=HYPERLINK("http://x","点我")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1", "\r=1", "=1+1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_like_text_gets_an_apostrophe(value):
    assert text.cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-5", "+3.2", "-1,234", "+0.46%", "1e5", "泽州县", "", "a=b"])
def test_numbers_and_plain_text_stay(value):
    assert text.cell(value) == value


def test_frames_are_neutralised_in_cells_and_headers():
    frame = pd.DataFrame({"=A1": ["=1+2", "泽州县"], "n": [-5, 3]})
    out = text.safe_frame(frame)
    assert list(out.columns) == ["'=A1", "n"]
    assert list(out["'=A1"]) == ["'=1+2", "泽州县"] and list(out["n"]) == [-5, 3]
    assert frame.iloc[0, 0] == "=1+2"                     # the original is left alone
    csv = text.csv_bytes(frame).decode("utf-8-sig").splitlines()
    assert csv == ["'=A1,n", "'=1+2,-5", "泽州县,3"]


def test_workbooks_write_formula_like_strings_as_text():
    buffer = io.BytesIO()
    book = text.xlsx_workbook(buffer)
    sheet = book.add_worksheet()
    for row, value in enumerate(FORMULAS + ["http://evil.example/x"]):
        sheet.write(row, 0, value)
    book.close()
    cells = [c for row in openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active.iter_rows()
             for c in row]
    assert [c.data_type for c in cells] == ["s"] * (len(FORMULAS) + 1)
    assert not openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active._hyperlinks


def test_scrub_keeps_what_it_can():
    assert text.scrub("a\x1b[31m\nb", 100) == "a [31m b"
    assert text.scrub("x" * 10, 5) == "xxxx…"
    assert text.scrub(None, 5) is None
    assert set(string.printable) - set(text.md(string.printable)) == set()
