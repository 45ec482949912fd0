"""Problems found in a file, each tied to the row the user sees in Excel."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    row: int | None          # Excel row number; None for the file as a whole
    message: str             # Chinese, says what is wrong and what to do
    severity: str = ERROR
    unit: str | None = None  # the unit code, when known

    def __str__(self) -> str:
        where = f"第 {self.row} 行：" if self.row else ""
        tag = "错误" if self.severity == ERROR else "提醒"
        return f"[{tag}] {where}{self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == WARNING]


def to_json(problems: list[Problem]) -> str:
    return json.dumps([asdict(p) for p in problems], ensure_ascii=False)


def from_json(text: str | None) -> list[Problem]:
    return [Problem(**item) for item in json.loads(text or "[]")]
