"""Cells as people type them: counts with thousands separators, full-width digits, a trailing 人
or stored as text; amounts in yuan; dates in the usual Chinese spellings. A cell that is not
what its column needs raises `CellError` with the reason in Chinese."""

from __future__ import annotations

import datetime as dt
import re

from .names import normalize


def cell_text(value: object) -> str:
    """A cell as normalised text ('' for empty); whole floats lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return normalize(value)


_EMPTY_MARKS = {"", "-", "--", "—", "——", "/", "无", "空", "—-", "-—"}
NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")


class CellError(ValueError):
    """A cell that is not what its column needs; the message says why, in Chinese.

    `kind` is 'text', 'negative', 'fraction' or 'unit' (a number written in 万); `text` is the
    cell as written. str() gives the whole message, as before.
    """

    def __init__(self, message: str, kind: str = "text", text: str = ""):
        super().__init__(message)
        self.kind = kind
        self.text = text


def _number_text(value: object, unit_words: tuple[str, ...]) -> tuple[str, str] | None:
    """(cleaned, as written) for a text cell; None when it is empty."""
    text = normalize(value)
    if text in _EMPTY_MARKS:
        return None
    cleaned = text.lstrip("'")       # Excel's "number stored as text" marker
    for word in unit_words:
        if cleaned.endswith(word):
            cleaned = cleaned[: -len(word)]
            break
    cleaned = cleaned.replace("，", ",").replace("．", ".")
    if "," in cleaned:
        if not _GROUPED.match(cleaned):
            raise CellError(f"「{text}」不是数字（千位分隔符位置不对）", "text", text)
        cleaned = cleaned.replace(",", "")
    if cleaned.endswith("万") and NUMBER.match(cleaned[:-1]):
        raise CellError(f"「{text}」以「万」为单位，请填写准确的数字（例如 12345）", "unit", text)
    if not NUMBER.match(cleaned):
        raise CellError(f"「{text}」不是数字", "text", text)
    return cleaned, text


def parse_count(value: object) -> int | None:
    """A head count: None when empty; CellError for text, negatives and fractions.

    Accepts thousands separators (1,234 / 1，234), full-width digits, spaces, a trailing 人,
    numbers stored as text (also with Excel's leading apostrophe) and whole floats from Excel.
    """
    if value is None or isinstance(value, bool):
        return None
    if type(value) in (int, float) and 0 <= value < 1e15 and float(value).is_integer():
        return int(value)        # the usual cell: a whole number typed into Excel
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise CellError(f"「{value}」是日期，不是人数", "text", str(value))
    if isinstance(value, (int, float)):
        number = float(value)
        text = cell_text(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise CellError(f"「{text}」不是数字", "text", text)
    else:
        parsed = _number_text(value, ("人次", "人"))
        if parsed is None:
            return None
        cleaned, text = parsed
        number = float(cleaned)
    if number < 0:
        raise CellError(f"人数不能为负数（{text}）", "negative", text)
    if not number.is_integer():
        raise CellError(f"人数应为整数（{text}）", "fraction", text)
    if number >= 1e15:
        raise CellError(f"「{text}」不是合理的人数", "text", text)
    return int(number)


def parse_amount(value: object) -> float | None:
    """Money in yuan (two decimals allowed); None when empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        raise CellError(f"「{value}」是日期，不是金额", "text", str(value))
    if isinstance(value, (int, float)):
        number = float(value)
        text = cell_text(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise CellError(f"「{text}」不是金额", "text", text)
    else:
        text = normalize(value)
        try:
            parsed = _number_text(value, ("元",))
        except CellError as exc:
            raise CellError(str(exc).replace("不是数字", "不是金额"), exc.kind, exc.text) from None
        if parsed is None:
            return None
        number = float(parsed[0])
    if number < 0:
        raise CellError(f"金额不能为负数（{text}）", "negative", text)
    if number >= 1e15:
        raise CellError(f"「{text}」不是合理的金额", "text", text)
    return round(number, 2)


_DATE = re.compile(r"(20\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*[日号]?")
_COMPACT_DATE = re.compile(r"(?<!\d)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_MONTH_DAY = re.compile(r"(?<![\d年.\-/])(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_DATE_WORDS = ("填报日期", "上报日期", "统计日期", "截至", "截止", "日期", "时间")


def parse_date(value: object) -> dt.date | None:
    """A date from a cell: a real date, or text like 2021年11月19日 / 2021-11-19 / 20211119.

    A cell with a range (2021年9月1日至2021年11月19日) gives its last date: the as-of day.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) or value is None:
        return None
    text = normalize(value)
    found = []
    for match in _DATE.finditer(text):
        try:
            found.append(dt.date(*(int(g) for g in match.groups())))
        except ValueError:
            continue
    if not found and any(word in text for word in _DATE_WORDS):
        for match in _COMPACT_DATE.finditer(text):
            try:
                found.append(dt.date(*(int(g) for g in match.groups())))
            except ValueError:
                continue
    return max(found) if found else None


def parse_month_day(value: object) -> tuple[int, int] | None:
    """(month, day) from text that names a day without a year, e.g. 截至11月19日."""
    if not isinstance(value, str):
        return None
    text = normalize(value)
    if _DATE.search(text):
        return None
    matches = list(_MONTH_DAY.finditer(text))
    if not matches:
        return None
    month, day = (int(g) for g in matches[-1].groups())
    if 1 <= month <= 12 and 1 <= day <= 31:
        return month, day
    return None
