"""Contacts per unit for 催报: 责任人 and phone, optional, edited by administrators on the page
or loaded from a table (CSV/Excel read in the sandbox like any upload, its rows matched to units
by the one matcher, files/matching.py).

A phone is digits with optional +, -, spaces and brackets (a mobile 13800001111, a landline
0356-2221234); a name at most 60 characters without control or invisible characters. A table's
empty cell clears that field of its unit; units the table does not list keep their contacts.
A table with an error changes nothing. Every change is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from .. import db, text
from ..campaigns import units
from ..db import Session, Store
from ..files import matching, reader, sandbox
from ..files.problems import ERROR, Problem, bounded, errors
from ..files.reader import ReadError
from ..identity import audit
from ..labels import CONTACT_COLUMNS, LEVEL_LABELS

MAX_PERSON = 60
MAX_PHONE = 40
PHONE = re.compile(r"^\+?[0-9][0-9\- ()]{4,38}[0-9)]$")
MOBILE = re.compile(r"^(?:\+?86[- ]?)?1[3-9]\d{9}$")


class ContactError(ValueError):
    """Contacts that cannot be saved (Chinese, naming the unit or row); nothing was changed."""


def clean_person(value: object, where: str = "") -> str | None:
    """A 责任人 as stored (None when empty); ContactError when it cannot be."""
    try:
        return text.clean_text(_cell(value), what=f"{where}责任人", limit=MAX_PERSON, required=False)
    except text.TextError as exc:
        raise ContactError(str(exc)) from exc


def clean_phone(value: object, where: str = "") -> str | None:
    """A phone as stored (NFKC: full-width digits become digits; None when empty)."""
    raw = _cell(value)
    if raw is None:
        return None
    phone = unicodedata.normalize("NFKC", raw).strip().replace("（", "(").replace("）", ")")
    if not phone:
        return None
    if len(phone) > MAX_PHONE or not PHONE.match(phone):
        shown = text.scrub(raw, 40)
        raise ContactError(f"{where}联系电话「{shown}」不是电话号码：只能有数字，"
                           "可带 +、-、空格和括号，例如 13800001111 或 0356-2221234")
    return phone


def is_mobile(phone: str | None) -> bool:
    """Whether a phone can receive a text message (a mainland mobile number)."""
    return bool(phone) and bool(MOBILE.match(phone.replace(" ", "")))


def _cell(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    value = str(value).strip()
    return value or None


def listing(tx: Session, campaign_id: str, level: str | None = None) -> pd.DataFrame:
    """Units (of one level, or all) with their contacts, in hierarchy order."""
    frame = db.contacts.of_campaign(tx, campaign_id)
    if level:
        frame = frame[frame["level"] == level]
    return frame.reset_index(drop=True)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The contacts as people read them (Chinese headers, empty text for none)."""
    out = frame[list(CONTACT_COLUMNS)].copy()
    out["level"] = out["level"].map(lambda lv: LEVEL_LABELS.get(lv, lv))
    out["person"] = out["person"].fillna("")
    out["phone"] = out["phone"].fillna("")
    return out.rename(columns=CONTACT_COLUMNS)


def edited_rows(before: pd.DataFrame, after: pd.DataFrame) -> list[tuple[str, object, object]]:
    """The rows of an edited contacts `table` (Chinese headers) that changed: (code, person,
    phone), for `save`."""
    old, new = before.set_index("单位代码"), after.set_index("单位代码")
    fields = [CONTACT_COLUMNS["person"], CONTACT_COLUMNS["phone"]]

    def value(frame, code, field_):
        cell = frame.at[code, field_]
        return "" if cell is None or (not isinstance(cell, str) and pd.isna(cell)) else str(cell).strip()

    return [(code, value(new, code, fields[0]), value(new, code, fields[1])) for code in new.index
            if code in old.index and any(value(new, code, f) != value(old, code, f) for f in fields)]


def save(store: Store, campaign_id: str, rows: list[tuple[str, object, object]], *,
         actor: str | None, role: str | None = None, address: str | None = None,
         what: str = "修改联系人", now: dt.datetime | None = None) -> int:
    """Set the contacts of the given units ((code, person, phone); empty clears); returns how
    many units changed. ContactError (naming the unit) when one cannot be taken; then nothing
    is saved."""
    now = now or audit.now_utc()
    with store.write() as tx:
        names = db.units.names(tx, campaign_id, [r[0] for r in rows])
        current = db.contacts.of_units(tx, campaign_id, list(names))
        clean = []
        for code, person, phone in rows:
            if code not in names:
                raise ContactError(f"单位代码「{code}」不是本活动的单位")
            where = f"「{names[code]}」的"
            entry = (code, clean_person(person, where), clean_phone(phone, where))
            if current.get(code, (None, None)) != entry[1:]:
                clean.append(entry)
        if not clean:
            return 0
        db.contacts.replace(tx, campaign_id, clean, actor, now)
        listed = "、".join(names[c] for c, _, _ in clean[:10]) + ("等" if len(clean) > 10 else "")
        audit.record(tx, actor, "contacts_changed", f"{what}：{len(clean)} 个单位（{listed}）",
                     address, campaign_id=campaign_id, role=role, now=now)
    return len(clean)


# --- a table of contacts ----------------------------------------------------------------------

@dataclass
class ContactTable:
    rows: list[tuple[int, str, str, str | None, str | None]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)   # (row, code, name, person, phone)

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)


def read(content: bytes) -> reader.Table:
    """Read a contacts table in the sandbox, holding no connection; ReadError says why not."""
    return sandbox.read(reader.read_table, content, reader.CONTACT_ROLES, ())


def check_file(store: Store, campaign_id: str, content: bytes) -> ContactTable:
    """Read (no connection open) and check a contacts table; nothing is stored."""
    from ..files import bounds

    if problem := bounds.size_problem(len(content)):
        return ContactTable(problems=[Problem(None, problem)])
    try:
        found = read(content)
    except ReadError as exc:
        return ContactTable(problems=[Problem(None, str(exc))])
    with store.read() as tx:
        return parse_table(tx, campaign_id, found)


def parse_table(tx: Session, campaign_id: str, found: reader.Table) -> ContactTable:
    """Each row's unit (the one matcher), 责任人 and phone, with a problem per bad row."""
    out = ContactTable()
    if "person" not in found.columns and "phone" not in found.columns:
        out.problems.append(Problem(None, f"第 {found.header_row} 行的表头中找不到「责任人」或"
                                          "「联系电话」列，请使用联系人模板"))
        return out
    index = units.index(tx, campaign_id)
    matches = matching.match(found, index, db.units.parents(tx, campaign_id))
    for row in found.rows:
        code = matches.codes.get(row.number)
        if code is None:
            out.problems.append(matches.problems[row.number])
            continue
        try:
            person = clean_person(row.values.get("person"), f"「{index.names[code]}」的")
            phone = clean_phone(row.values.get("phone"), f"「{index.names[code]}」的")
        except ContactError as exc:
            out.problems.append(Problem(row.number, str(exc), unit=code))
            continue
        if duplicate := matches.claim(code, row.number):
            out.problems.append(duplicate)
            continue
        out.rows.append((row.number, code, index.names[code],
                         person if "person" in found.columns else None,
                         phone if "phone" in found.columns else None))
    if not out.rows and out.ok:
        out.problems.append(Problem(None, "表中没有任何单位的联系人"))
    return out


def load(store: Store, campaign_id: str, content: bytes, file_name: str, *,
         actor: str | None, role: str | None = None, address: str | None = None,
         dry_run: bool = False) -> ContactTable:
    """Check a contacts table and, without errors (and not `dry_run`), save its rows in one
    transaction; ContactError lists the problems when it has errors (nothing saved)."""
    checked = check_file(store, campaign_id, content)
    if not checked.ok:
        raise ContactError("\n".join(str(p) for p in bounded(errors(checked.problems))))
    if not dry_run:
        save(store, campaign_id, [(code, person, phone) for _, code, _, person, phone in checked.rows],
             actor=actor, role=role, address=address,
             what=f"载入联系人表「{text.clean_file_name(file_name)}」")
    return checked


def template(tx: Session, campaign_id: str, level: str) -> bytes:
    """A contacts table to fill in (.xlsx): the level's units with their current contacts."""
    frame = listing(tx, campaign_id, level)
    buffer = io.BytesIO()
    book = text.xlsx_workbook(buffer)
    ws = book.add_worksheet("联系人")
    head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1})
    plain = book.add_format({"border": 1, "num_format": "@"})
    for c, header in enumerate(("单位代码", "单位", "责任人", "联系电话")):
        ws.write_string(0, c, header, head)
    for r, row in enumerate(frame.itertuples(), start=1):
        for c, value in enumerate((row.code, row.name, row.person, row.phone)):
            ws.write_string(r, c, "" if value is None or pd.isna(value) else str(value), plain)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 24)
    ws.set_column(2, 3, 18)
    ws.freeze_panes(1, 2)
    book.close()
    return buffer.getvalue()
