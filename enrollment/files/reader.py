"""Reading the tables people really send: the table in a sheet, found and mapped to roles.

One reader serves the Friday upload (page and `ingest`) and the target tables. It judges the
format by the bytes (never the file name), finds the header row below any title rows, joins
two-row (merged) headers, maps column names to roles by their many Chinese spellings, skips blank
rows, column-number rows, 其中 detail rows and notes, sets 合计/总计/小计 rows aside for a sum
check, and keeps the row numbers the user sees in Excel.

The file's sheets come from formats.py and its cells are parsed by cells.py. Every failure to
read is a `ReadError` with a Chinese message; a bad cell is a `CellError`.
Nothing else escapes `read_table`, whatever the bytes (a property test feeds it random ones).
A file beyond the bounds of `enrollment/files/bounds.py` (rows, columns, cells, merged ranges, cell
length, decompressed size) is refused with `FileRefused` before anything large is built; uploads
are read through `enrollment/files/sandbox.py`, which also bounds time and memory.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .bounds import Limits
from .cellvalues import NUMBER, cell_text, parse_date, parse_month_day
from .formats import Grid, ReadError, Sheet, read_sheets
from .names import normalize

# --- columns -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Role:
    key: str
    label: str                    # how the column is called in messages and templates
    exact: tuple[str, ...]        # exact header spellings (normalised)
    contains: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    pattern: str | None = None    # regular expression on the normalised header


_CHANGE_WORDS = ("新增", "本周", "本月", "本日", "当日", "当天", "上次", "上周", "上期", "上月",
                 "较", "环比", "减少", "增加", "增量", "未", "待", "剩余", "还需", "尚")
_NOT_PEOPLE = ("率", "%", "比例", "进度", "任务", "目标", "应参保", "上年", "去年", "同期", "增长",
               "差", "排名", "低收入", "困难", "特困", "低保", "脱贫", "金额", "元", "序时", "户籍",
               "常住", "人口数") + _CHANGE_WORDS
_NOT_LOW_INCOME = ("率", "%", "比例", "进度", "任务", "目标", "金额", "元") + _CHANGE_WORDS

UNIT_NAME = Role("unit_name", "单位", (
    "单位", "单位名称", "县区", "县(市、区)", "县(市,区)", "县市区", "县(区)", "县(市区)", "区县",
    "县(市、区)名称", "县区名称", "区县名称", "县(区、市)", "县市区名称",
    "社区", "村(社区)", "村社区", "村(居)", "社区名称", "村(社区)名称", "村居", "村居名称", "村名",
    "乡镇", "乡镇(街道)", "乡(镇、街道)", "乡镇街道", "乡镇名称", "街道名称", "镇(街道)", "镇街",
    "街道", "名称", "地区", "区域", "单位(社区)", "行政区划", "区划名称", "单位名", "填报单位",
    "统筹区", "地区名称", "区域名称", "参保单位"))
UNIT_CODE = Role("unit_code", "单位代码", (
    "单位代码", "区划代码", "代码", "统计用区划代码", "行政区划代码", "区划编码", "单位编码", "编码",
    "区划码", "行政代码"))
ENROLLED = Role("enrolled", "累计参保人数", (
    "累计参保人数", "已参保人数", "参保人数", "累计缴费人数", "已缴费人数", "缴费人数", "累计参保",
    "本年累计参保人数", "实际参保人数", "累计参保缴费人数", "已参保缴费人数", "参保缴费人数",
    "累计已参保人数", "累计完成", "已完成", "完成数", "完成人数", "累计完成人数", "实际完成"),
    contains=("参保人数", "缴费人数", "参保缴费人数"), excludes=_NOT_PEOPLE)
AMOUNT = Role("amount", "缴费金额", (
    "缴费金额", "累计缴费金额", "征缴金额", "金额", "缴费金额(元)", "累计征缴金额", "筹资金额"),
    contains=("金额",), excludes=("率", "%", "任务", "目标") + _CHANGE_WORDS)
LOW_INCOME_ENROLLED = Role("low_income_enrolled", "低收入人口参保人数", (
    "低收入人口参保人数", "低收入人口已参保人数", "困难群众参保人数", "低收入人口参保",
    "其中低收入人口", "其中:低收入人口", "其中低收入人口参保人数"),
    contains=("低收入", "困难群众"), excludes=_NOT_LOW_INCOME + ("人口数",))
REPORT_DATE = Role("report_date", "填报日期", (
    "填报日期", "上报日期", "日期", "统计日期", "截止日期", "数据日期", "截至日期"))

TASK = Role("task", "任务数", ("任务数", "任务", "目标任务", "参保任务", "任务人数", "目标任务数",
                             "分解任务数", "下达任务数", "任务分解数"),
            pattern=r"^(?:\d{4}年(?:度)?)?(?:参保)?(?:缴费)?(?:目标)?任务(?:数|人数)?$")
BASELINE = Role("baseline", "上年参保人数", ("上年参保人数", "去年参保人数", "基数", "上年度参保人数",
                                         "上年参保缴费人数"),
                pattern=r"^\d{4}年(?:度)?(?:实际)?(?:参保人数|参保|已参保人数|参保缴费人数)$")
REGISTERED = Role("registered_population", "户籍人口数",
                  ("户籍人口数", "户籍人口", "户籍人数"), contains=("户籍人口",))
RESIDENT = Role("resident_population", "常住人口数",
                ("常住人口数", "常住人口", "常住人数"), contains=("常住人口",))
LOW_INCOME = Role("low_income", "低收入人口数", (
    "低收入人口数", "低收入人口", "困难群众人数", "低收入人口及稳定脱贫人口数", "困难群众数"),
    contains=("低收入人口", "困难群众"), excludes=("参保", "率", "%", "金额"))

# Contacts for 催报 (责任人 and phone per unit).
CONTACT_PERSON = Role("person", "责任人", (
    "责任人", "联系人", "负责人", "姓名", "联系人姓名", "责任人姓名", "经办人", "具体负责人",
    "填报人", "统计员", "联络员"), contains=("责任人", "联系人", "负责人"),
    excludes=("电话", "手机", "方式", "号码"))
PHONE = Role("phone", "联系电话", (
    "联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "电话号码", "联系人电话",
    "责任人电话", "移动电话", "办公电话", "联系人手机", "责任人手机"),
    contains=("电话", "手机", "号码"))

REPORT_ROLES = (UNIT_CODE, UNIT_NAME, ENROLLED, AMOUNT, LOW_INCOME_ENROLLED, REPORT_DATE)
CONTACT_ROLES = (UNIT_CODE, UNIT_NAME, CONTACT_PERSON, PHONE)
TARGET_ROLES = (UNIT_CODE, UNIT_NAME, TASK, BASELINE, REGISTERED, RESIDENT, LOW_INCOME)

# --- groups (分类人群): columns of their own, named by the campaign's definition ------------

GROUP = "group:"                  # role key of a group's count: group:tekun
GROUP_AMOUNT = "group_amount:"    # role key of a group's amount collected (reports only)
_GROUP_COUNT = ("", "参保人数", "已参保人数", "参保缴费人数", "已参保缴费人数", "缴费人数",
                "已缴费人数", "累计参保人数", "参保", "已参保")
_GROUP_AMOUNT = ("缴费金额", "金额", "征缴金额", "累计缴费金额", "累计征缴金额", "缴费金额(元)")
_GROUP_POPULATION = ("", "数", "人数", "人口数", "总数", "人口", "任务数", "目标人数")


def group_roles(groups, kind: str = "report") -> tuple[Role, ...]:
    """Roles for the columns of groups given as (key, names, target column): a report's count
    (特困人员参保人数, 其中特困人员 …) and amount (特困人员缴费金额), or a target table's
    population (特困人员数, the definition's own header). Exact spellings only: 低保 must not
    claim 低保边缘户's column."""
    roles = []
    for key, names, target_column in groups:
        if kind == "report":
            counts = {header_key(f"{prefix}{n}{s}") for n in names for s in _GROUP_COUNT
                      for prefix in ("", "其中", "其中:")}
            amounts = {header_key(f"{n}{s}") for n in names for s in _GROUP_AMOUNT}
            roles.append(Role(GROUP + key, f"{names[0]}参保人数", tuple(sorted(counts))))
            roles.append(Role(GROUP_AMOUNT + key, f"{names[0]}缴费金额", tuple(sorted(amounts))))
        else:
            spellings = {header_key(f"{n}{s}") for n in names for s in _GROUP_POPULATION}
            if target_column:
                spellings.add(header_key(target_column))
            roles.append(Role(GROUP + key, f"{names[0]}人数", tuple(sorted(spellings))))
    return tuple(roles)


# A second unit-name column (县区 beside 乡镇), or a column titled 上级单位/所属乡镇, names the
# parent; rows carry it under this key.
UNIT_PARENT = "unit_parent"
_PARENT_HEADER = re.compile(r"^(?:上级(?:单位|区划)?|所属.{0,10}|隶属.{0,10})(?:名称)?$")

_PARENS = re.compile(r"\((?:人|元|户|万元|个|人次)\)")
_UNIT_MARK = re.compile(r"^[(（]?(?:单位:)?(?:人|元|万元|户|个|%|人次)[)）]?$")
_NOTE_START = ("注", "说明", "备注", "填报人", "填表人", "审核", "制表", "联系", "负责人", "单位负责人",
               "填报说明", "数据来源", "填写说明", "统计人", "分管领导", "主要负责人", "经办人",
               "附注", "*", "※")
_TOTAL_EXACT = {"合计", "总计", "小计", "总数", "汇总", "全市合计", "全县合计", "全区合计",
                "全市", "全县", "全区", "全街道", "街道合计", "全市总计", "总合计", "累计"}
_COLUMN_NUMBER_LABELS = {"甲", "乙", "丙", "丁", "栏次", "栏目", "序号", "行次"}
_DETAIL_START = ("其中",)


def header_key(text: object) -> str:
    """A header cell as compared with role spellings: normalised, unit suffixes like (人) gone."""
    key = normalize(text).replace("（", "(").replace("）", ")").replace("：", ":")
    key = key.replace("，", ",")
    return _PARENS.sub("", key)


def match_strength(header: str, role: Role) -> int:
    """3 for an exact spelling, 2 for the role's pattern, 1 for a contained word, else 0."""
    key = header_key(header)
    if not key:
        return 0
    if key in role.exact:
        return 3
    if role.pattern and re.match(role.pattern, key):
        return 2
    if any(word in key for word in role.contains) and not any(w in key for w in role.excludes):
        return 1
    return 0


def match_role(header: str, roles: tuple[Role, ...]) -> Role | None:
    """The role a header names: exact spellings first, then patterns, then contained words."""
    best: tuple[int, Role] | None = None
    for role in roles:
        strength = match_strength(header, role)
        if strength and (best is None or strength > best[0]):
            best = (strength, role)
    return best[1] if best else None


def is_total_label(text: object) -> bool:
    key = normalize(text).replace("：", ":").rstrip(":")
    return key in _TOTAL_EXACT or key.startswith(("合计", "总计", "小计"))


def is_note(text: object) -> bool:
    key = normalize(text)
    return key.startswith(_NOTE_START)


# --- tables --------------------------------------------------------------------------------

@dataclass
class Row:
    number: int                   # as the user sees it in Excel (1-based)
    values: dict[str, object]     # role key -> raw cell value (plus UNIT_PARENT when present)
    unit_text: str                # what identifies the unit (name or code), for messages


@dataclass
class Table:
    sheet: str
    header_row: int               # Excel row number of the (last) header row
    columns: dict[str, int]       # role key -> 0-based column index
    headers: dict[str, str]       # role key -> header text as written
    rows: list[Row]
    totals: list[Row]             # 合计/总计/小计 rows, for the sum check
    dates: list[tuple[int, dt.date]]   # (row number, date) found in titles, 填报日期 lines, notes
    ignored_columns: list[str]
    month_days: list[tuple[int, tuple[int, int]]] = field(default_factory=list)  # dates without a year
    parent_header: str | None = None        # the parent unit column (县区 beside 乡镇), if any
    other_sheets: list[str] = field(default_factory=list)  # further sheets that hold a table too
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row, why) rows not read as data


def _merged_fill(sheet: Sheet) -> Grid:
    """The grid in which every merged area repeats its top-left value (rows in a merged area
    are copies; the others are the sheet's own lists, which are not changed)."""
    rows = list(sheet.rows)
    if not sheet.merged:
        return rows
    # Not past the data: a range merged over the whole sheet fills only the cells that exist.
    width = max(map(len, rows), default=0)
    copied: set[int] = set()
    for (r0, c0), (r1, c1) in sheet.merged:
        if r0 >= len(rows) or r1 < r0 or c1 < c0 or c0 >= width:
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            if r not in copied:
                rows[r] = list(rows[r])
                copied.add(r)
            for c in range(c0, min(c1, c0 + 200, width - 1) + 1):
                while len(rows[r]) <= c:
                    rows[r].append("")
                rows[r][c] = value
    return rows


def _score(row: list[object], roles: tuple[Role, ...]) -> tuple[int, bool]:
    matched = (match_role(cell_text(v), roles) for v in row[:200])
    keys = {role.key for role in matched if role}
    has_unit = bool(keys & {"unit_name", "unit_code"})
    return len(keys), has_unit


def _is_number(text: str) -> bool:
    return bool(NUMBER.match(text.replace(",", "")))


def find_table(sheet: Sheet, roles: tuple[Role, ...], scan_rows: int = 20) -> Table | None:
    """The table in a sheet whose header names a unit column and the required roles."""
    grid = _merged_fill(sheet)
    best: tuple[int, int] | None = None
    for i, row in enumerate(grid[:scan_rows]):
        count, has_unit = _score(row, roles)
        if has_unit and count >= 2 and (best is None or count > best[1]):
            best = (i, count)
    if best is None:
        return None
    top = best[0]
    header_rows = [top]
    # A second header row (merged headers: 累计参保 over 人数 | 其中低收入, or a row of units
    # such as (人) | (元)) is text, not data.
    if top + 1 < len(grid):
        below = grid[top + 1]
        texts = [cell_text(v) for v in below]
        numeric = sum(1 for t in texts if _is_number(t))
        labelled = [t for t in texts if t and not _is_number(t)]
        units_only = bool(labelled) and all(_UNIT_MARK.match(t) for t in labelled)
        if numeric == 0 and labelled and not any(is_total_label(t) for t in texts) \
                and (_score(below, roles)[0] >= 1 or units_only):
            header_rows.append(top + 1)
    width = max(len(grid[r]) for r in header_rows)
    headers: list[str] = []
    for c in range(width):
        parts: list[str] = []
        for r in header_rows:
            text = cell_text(grid[r][c]) if c < len(grid[r]) else ""
            if text and text not in parts and not _UNIT_MARK.match(text):
                parts.append(text)
        headers.append(parts[0] if len(parts) == 1 else _join_header(parts, roles) if parts else "")
    columns, header_text, ignored, parent = _assign_columns(headers, roles)
    return _rows(sheet, grid, header_rows[-1], columns, header_text, ignored, parent)


def _assign_columns(headers: list[str], roles: tuple[Role, ...]):
    """Each role gets its strongest column (leftmost on a tie); other headers are ignored.

    With two unit-name columns (县区 | 乡镇) the right one names the unit and the left one its
    parent, as in tables that list townships under their counties.
    """
    by_role: dict[str, list[tuple[int, int]]] = {}
    for c, header in enumerate(headers):
        role = match_role(header, roles)
        if role:
            by_role.setdefault(role.key, []).append((match_strength(header, role), c))
    columns: dict[str, int] = {}
    parent: int | None = None
    for key, found in by_role.items():
        if key == "unit_name" and len(found) > 1:
            columns[key] = found[-1][1]
            parent = found[-2][1]
        else:
            columns[key] = max(found, key=lambda sc: (sc[0], -sc[1]))[1]
    if parent is None and ("unit_name" in columns or "unit_code" in columns):
        parent = next((c for c, h in enumerate(headers)
                       if c not in columns.values() and _PARENT_HEADER.match(header_key(h))), None)
    used = set(columns.values()) | ({parent} if parent is not None else set())
    header_text = {key: headers[c] for key, c in columns.items()}
    ignored = [h for c, h in enumerate(headers) if h and c not in used]
    return columns, header_text, ignored, parent


def _join_header(parts: list[str], roles: tuple[Role, ...]) -> str:
    """For a two-row header prefer the lower cell when it names a role on its own, unless the
    two together name a group's column (特困人员 over 参保人数 | 缴费金额)."""
    lower, joined = parts[-1], "".join(parts)
    group = match_role(joined, roles)
    if group is not None and group.key.startswith((GROUP, GROUP_AMOUNT)) and \
            match_strength(joined, group) == 3:
        return joined
    if match_role(lower, roles):
        return lower
    return joined


def _is_column_number_row(texts: list[str], unit_text: str) -> bool:
    """A row like 甲 | 乙 | 1 | 2 | 3 under the header: column numbers, not data."""
    numbers = [t for t in texts if t and _is_number(t)]
    others = [t for t in texts if t and not _is_number(t)]
    if len(numbers) < 2 or any(t not in _COLUMN_NUMBER_LABELS for t in others):
        return False
    values = [float(t.replace(",", "")) for t in numbers]
    return values == [values[0] + i for i in range(len(values))] and values[0] in (0, 1)


def _dates_in(row: list[object], number: int, dates: list, month_days: list) -> None:
    for value in row:
        found = parse_date(value)
        if found:
            dates.append((number, found))
            continue
        partial = parse_month_day(value)
        if partial:
            month_days.append((number, partial))


def _rows(sheet: Sheet, grid: Grid, header_index: int, columns: dict[str, int],
          headers: dict[str, str], ignored: list[str], parent: int | None) -> Table:
    unit_cols = [columns[k] for k in ("unit_name", "unit_code") if k in columns]
    value_cols = [c for k, c in columns.items() if k not in ("unit_name", "unit_code")]
    rows: list[Row] = []
    totals: list[Row] = []
    dates: list[tuple[int, dt.date]] = []
    month_days: list[tuple[int, tuple[int, int]]] = []
    skipped: list[tuple[int, str]] = []
    for i in range(header_index):
        _dates_in(grid[i], i + 1, dates, month_days)
    raw_rows = sheet.rows
    for i in range(header_index + 1, len(grid)):
        raw = raw_rows[i] if i < len(raw_rows) else []
        cells = {key: (raw[c] if c < len(raw) else "") for key, c in columns.items()}
        if parent is not None:
            # A county cell merged down over its townships names the parent of every row.
            filled = grid[i]
            cells[UNIT_PARENT] = filled[parent] if parent < len(filled) else ""
        texts = [cell_text(v) for v in raw]     # once per cell: the rest reads these
        if not any(texts):
            continue
        first = next((t for t in texts if t), "")
        unit_text = next((texts[c] for c in unit_cols if c < len(texts) and texts[c]), "")
        if parent is not None and not unit_text:
            # 泽州县 | (empty) | 6000 in a 县区 | 乡镇 table: the county's own row.
            own = texts[parent] if parent < len(texts) else ""
            if own and not is_total_label(own) and not is_note(own):
                cells["unit_name"], cells[UNIT_PARENT], unit_text = raw[parent], "", own
        number = i + 1
        if is_note(first) and not unit_text.isdigit() and not is_total_label(unit_text):
            _dates_in(raw, number, dates, month_days)
            skipped.append((number, "说明"))
            continue
        if i <= header_index + 2 and _is_column_number_row(texts, unit_text):
            skipped.append((number, "栏次"))
            continue
        row = Row(number, cells, unit_text or first)
        if is_total_label(unit_text or first) or (
                not unit_text and any(is_total_label(t) for t in texts[:3])):
            totals.append(row)
            continue
        if unit_text.startswith(_DETAIL_START):
            skipped.append((number, "其中"))
            continue
        if not unit_text and not any(texts[c] for c in value_cols if c < len(texts)):
            # Text outside the table's columns only: a note line below the table.
            _dates_in(raw, number, dates, month_days)
            skipped.append((number, "说明"))
            continue
        rows.append(row)
    parent_header = None
    if parent is not None:
        parent_header = next((h for h in (cell_text(grid[header_index][parent]),) if h), None)
    return Table(sheet.name, header_index + 1, columns, headers, rows, totals, dates, ignored,
                 month_days, parent_header, [], skipped)


def read_table(content: bytes, roles: tuple[Role, ...] = REPORT_ROLES,
               required: tuple[str, ...] = ("enrolled",), limits: Limits | None = None) -> Table:
    """The first table in the file with a unit column; ReadError explains what is missing.

    Visible sheets are read before hidden ones; `Table.other_sheets` names further sheets that
    hold a table too, so a caller can say which one was read.
    """
    sheets = read_sheets(content, limits)
    if not any(any(cell_text(v) for v in row) for s in sheets for row in s.rows):
        raise ReadError("文件中没有任何内容，请检查是否选错了文件。")
    ordered = [s for s in sheets if s.visible] + [s for s in sheets if not s.visible]
    found: Table | None = None
    others: list[str] = []
    for sheet in ordered:
        table = find_table(sheet, roles)
        if table is None:
            continue
        if found is not None:
            if sheet.visible and all(k in table.columns for k in required) and table.rows:
                others.append(sheet.name)
            continue
        missing = [k for k in required if k not in table.columns]
        if missing:
            names = "、".join(_role_label(k, roles) for k in missing)
            where = f"工作表「{sheet.name}」" if len(sheets) > 1 else ""
            raise ReadError(
                f"{where}第 {table.header_row} 行的表头中找不到「{names}」列。"
                f"请使用模板，或把该列的标题改为「{names}」。")
        found = table
    if found is not None:
        found.other_sheets = others
        return found
    wanted = "、".join(_role_label(k, roles) for k in ("unit_name",) + required)
    raise ReadError(f"没有找到表头：文件前 20 行中没有同时包含「{wanted}」等列标题的一行。"
                    "请使用模板，或检查表头文字。")


def _role_label(key: str, roles: tuple[Role, ...]) -> str:
    return next((r.label for r in roles if r.key == key), key)


# --- any table (the allocation tool's base data) -------------------------------------------

EXTRA_ROLE = "col:"     # role key prefix of a column no role claims, read under its own header


def read_any_table(content: bytes, limits: Limits | None = None) -> Table:
    """The first table with a unit column and other columns, every column kept: those no role
    names under EXTRA_ROLE + their header (the allocation tool weighs any number column)."""
    for sheet in read_sheets(content, limits):
        table = find_table(sheet, TARGET_ROLES)
        extra = extra_roles(table.ignored_columns) if table else _headers_near_unit(sheet)
        if table is None and not extra:
            continue
        roles = (UNIT_CODE, UNIT_NAME) if table is None else TARGET_ROLES
        full = find_table(sheet, tuple(extra) + roles)
        if full is None:
            continue
        return full
    raise ReadError("没有找到表头：文件前 20 行中没有一行同时包含单位列（单位、乡镇、社区、单位代码等）"
                    "和数字列的标题。请使用模板，或检查表头文字。")


def extra_roles(headers: list[str]) -> list[Role]:
    """A role for each column the target roles did not claim, so its cells are read too."""
    roles, seen = [], set()
    for header in headers:
        key = header_key(header)
        if key and key not in seen:
            seen.add(key)
            roles.append(Role(EXTRA_ROLE + header, header, (key,)))
    return roles


def _headers_near_unit(sheet: Sheet, scan_rows: int = 20) -> list[Role]:
    """For a table with a unit column and only unrecognised number columns: their headers."""
    units = (UNIT_CODE, UNIT_NAME)
    for row in sheet.rows[:scan_rows]:
        texts = [cell_text(v) for v in row]
        if any(match_role(t, units) for t in texts):
            others = [t for t in texts if t and not match_role(t, units)]
            if others:
                return extra_roles(others)
    return []
