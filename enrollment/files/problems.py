"""Problems found in a file, each tied to the row the user sees in Excel."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

ERROR = "error"
WARNING = "warning"
STORED_LIMIT = 200        # problems stored with an upload and printed by the CLI; then a count
MESSAGE_LIMIT = 500       # characters of one stored message (a message may quote a long cell)


@dataclass(frozen=True)
class Problem:
    row: int | None          # Excel row number; None for the file as a whole
    message: str             # Chinese, says what is wrong and what to do
    severity: str = ERROR
    unit: str | None = None  # the unit code, when known
    count: int = 1           # problems this entry stands for: more than 1 only in the entry
    #                          that ends a bounded list (「另有 N 处错误未列出」)

    def __str__(self) -> str:
        tag = "错误" if self.severity == ERROR else "提醒"
        return f"[{tag}] {self.text}"

    @property
    def text(self) -> str:
        """The message with its row, without the [错误]/[提醒] tag (for a page, whose boxes and
        headings already say which it is)."""
        where = f"第 {self.row} 行：" if self.row else ""
        return f"{where}{self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == WARNING]


def total(problems: list[Problem], severity: str) -> int:
    """How many problems of a severity a (possibly bounded) list stands for."""
    return sum(p.count for p in problems if p.severity == severity)


def bounded(problems: list[Problem], limit: int = STORED_LIMIT) -> list[Problem]:
    """The first `limit` problems, each message at most MESSAGE_LIMIT characters, then one entry
    per severity for the rest: 「另有 19,800 处错误未列出」 (its `count` says how many).

    A file of a million bad rows must not become a million stored messages, nor a million
    printed lines; a list that is already bounded stays as it is.
    """
    head = [p if len(p.message) <= MESSAGE_LIMIT else replace(p, message=p.message[:MESSAGE_LIMIT - 1] + "…")
            for p in problems[:limit]]
    rest = problems[limit:]
    more_errors, more_warnings = total(rest, ERROR), total(rest, WARNING)
    if more_errors:
        head.append(Problem(None, f"另有 {more_errors:,} 处错误未列出", ERROR, count=more_errors))
    if more_warnings:
        head.append(Problem(None, f"另有 {more_warnings:,} 条提醒未列出", WARNING, count=more_warnings))
    return head


def to_json(problems: list[Problem]) -> str:
    """The problems as stored with an upload (each entry's count only when it is not 1)."""
    return json.dumps([{k: v for k, v in asdict(p).items() if k != "count" or v != 1}
                       for p in problems], ensure_ascii=False)


def from_json(text: str | None) -> list[Problem]:
    return [Problem(**item) for item in json.loads(text or "[]")]
