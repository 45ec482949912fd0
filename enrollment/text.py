"""Text from people and files, made safe for where it goes.

Anything a user typed or a file carried is shown, stored and written out as plain text. Four
places where text turns into something else, and the one rule for each:

* **Markdown on pages.** `st.markdown`, captions, alerts, titles and widget labels render
  Markdown: `![i](http://host/x)` makes every viewer's browser fetch that address, `:red[…]`
  and `$…$` change the look, `&#47;` becomes `/`. `md()` backslash-escapes every ASCII
  punctuation character (CommonMark allows escaping each of them), so the text shows exactly as
  typed. Data frames do not render Markdown and get the text unescaped.
* **Names on entry.** `clean_text()` normalises (NFC, or NFKC for names that identify someone),
  refuses control and invisible characters (newlines, ESC, zero-width spaces, direction
  overrides, BOM …) and bounds the length; `identity()` is the same normalisation for lookups.
* **Spreadsheet cells.** CSV cells beginning with = + - @ (or a tab or carriage return) are
  formulas to Excel and WPS (OWASP: CSV injection): `cell()` prefixes them with an apostrophe,
  except real numbers such as -5 or +3.2%. Every xlsxwriter workbook is made with
  `XLSX_OPTIONS`, so a string is always written as text, never as a formula or a link.
* **File names.** `clean_file_name()`: HTML entities decoded first (so `&#47;` cannot hide a
  `/`), the last part of a / or \\ path, control and invisible characters removed, at most 200
  characters with the extension kept. A file name is only ever a label.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Iterable

import pandas as pd

# Not shown, or shown as nothing, yet part of the string: controls (incl. newline, tab, ESC),
# format characters (zero-width space U+200B, LRM/RLM U+200E/F, embeddings and overrides
# U+202A–E, isolates U+2066–9, BOM U+FEFF, soft hyphen), private use, surrogates, unassigned
# code points, line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
# Letters that render as blank space.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_REAL_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][+-]?\d+)?%?$")

# Every xlsxwriter workbook of the package: strings stay text (no formulas, no hyperlinks).
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False}

MAX_FILE_NAME = 200
UNNAMED_FILE = "未命名文件"


class TextError(ValueError):
    """Typed text that cannot be taken as it is (message in Chinese)."""


# --- Markdown ----------------------------------------------------------------------------------

def md(value: object) -> str:
    """Text for Streamlit Markdown (st.markdown, captions, alerts, titles, labels) that shows
    exactly as given: no image, link, emphasis, colour, LaTeX, HTML or entity takes effect."""
    text = "" if value is None else str(value)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


# --- names and typed text ----------------------------------------------------------------------

def hidden(ch: str) -> bool:
    """Whether a character is a control, an invisible format character or a blank letter."""
    return ch in _BLANK_LETTERS or unicodedata.category(ch) in _HIDDEN_CATEGORIES


def describe(ch: str) -> str:
    """A character as people can find it: 换行 (U+000A), 零宽空格 (U+200B) …"""
    names = {"\n": "换行", "\r": "回车", "\t": "制表符", "\x1b": "ESC 控制符", "\u200b": "零宽空格",
             "\ufeff": "BOM", "\u200e": "方向控制符", "\u200f": "方向控制符"}
    name = names.get(ch) or ("方向控制符" if "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"
                             else "不可见字符")
    return f"{name}（U+{ord(ch):04X}）"


def identity(value: object) -> str:
    """The form under which a name identifies someone: NFKC (full-width ｒｅｐ１ is rep1),
    surrounding spaces removed. For looking names up; `clean_text` refuses what it cannot be."""
    return unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()


def clean_text(value: object, *, what: str, limit: int, required: bool = True,
               fold: bool = False) -> str | None:
    """Typed text as it is stored: normalised, no control or invisible characters, at most
    `limit` characters; TextError (in Chinese, naming `what`) otherwise.

    `fold` applies NFKC, for names that identify someone (accounts, uploaders); other text
    keeps NFC, so Chinese full-width punctuation such as （）：，stays as typed. Empty text is
    None when not `required`.
    """
    text = identity(value) if fold else unicodedata.normalize(
        "NFC", "" if value is None else str(value)).strip()
    if not text:
        if required:
            raise TextError(f"{what}不能为空。")
        return None
    bad = next((ch for ch in text if hidden(ch)), None)
    if bad is not None:
        raise TextError(f"{what}中有{describe(bad)}，请删去换行、控制字符和零宽空格等不可见字符后重新输入。")
    if len(text) > limit:
        raise TextError(f"{what}太长（{len(text):,} 个字符），最多 {limit} 个字符。")
    return text


def scrub(value: object, limit: int) -> str | None:
    """Text from a file or an old record, made printable without refusing it: control and
    invisible characters become spaces, runs of spaces one, at most `limit` characters."""
    if value is None:
        return None
    text = "".join(" " if hidden(ch) else ch for ch in unicodedata.normalize("NFC", str(value)))
    text = re.sub(r" {2,}", " ", text).strip()
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


# --- file names --------------------------------------------------------------------------------

def clean_file_name(name: object, limit: int = MAX_FILE_NAME) -> str:
    """The label an uploaded file is stored and shown under (never a path)."""
    text = "" if name is None else str(name)
    for _ in range(5):               # &amp;#47; needs two rounds
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf",)
                   and ch not in _BLANK_LETTERS)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = scrub(text, len(text) + 1) or ""
    if text.strip(". ") == "":
        return UNNAMED_FILE
    if len(text) > limit:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            text = stem[:limit - len(extension) - 2] + "…." + extension
        else:
            text = text[:limit - 1] + "…"
    return text


# --- spreadsheets ------------------------------------------------------------------------------

def cell(value: object) -> object:
    """A value for a CSV cell: text that a spreadsheet would run as a formula gets a leading
    apostrophe (OWASP); numbers, and text that is a real number, stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _REAL_NUMBER.match(value):
        return "'" + value
    return value


def cells(values: Iterable[object]) -> list[object]:
    """`cell` for each value of a row."""
    return [cell(v) for v in values]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table with every text cell and header passed through `cell`."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = values.map(cell)
    out.columns = [cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame, index: bool = False) -> str:
    """A table as CSV text with formula-like cells neutralised."""
    return safe_frame(frame).to_csv(index=index)


def csv_bytes(frame: pd.DataFrame, bom: bool = True) -> bytes:
    """A table as UTF-8 CSV (with a BOM, so Excel reads the Chinese right), cells neutralised."""
    return (("\ufeff" if bom else "") + csv_text(frame)).encode("utf-8")


def xlsx_workbook(buffer: io.BytesIO):
    """An in-memory xlsxwriter workbook whose strings are always text."""
    import xlsxwriter

    return xlsxwriter.Workbook(buffer, {"in_memory": True, **XLSX_OPTIONS})
