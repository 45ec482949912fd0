"""Reported figures: every revision appended, never changed; what counts is the view `figures`.

Every reader of figures asks `figures` (schema.py): the latest revision of a unit's figure for a
date, none when that revision is a withdrawal. Demo data (source 'demo') is kept apart from real
uploads (source 'upload'), and every query names the source it reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from .engine import Session

REPORT_COLUMNS = ("campaign_id", "source", "unit_code", "report_date", "revision", "enrolled",
                  "amount", "low_income_enrolled", "upload_id")


def lock_for_upload(tx: Session, campaign_id: str, sha256: str) -> None:
    """First in an upload's transaction: uploads of one campaign go on side by side (a shared
    lock, which only a withdrawal of the campaign waits for), except two copies of the same
    file, which take turns (the second then finds the first and is refused as a duplicate).
    Nothing to do on DuckDB, whose writes take turns in the process anyway."""
    tx.lock(f"figures:{campaign_id}", shared=True)
    tx.lock(f"file:{campaign_id}:{sha256}")


def lock_for_withdrawal(tx: Session, campaign_id: str) -> None:
    """First in a withdrawal's transaction: it waits for the campaign's uploads under way and
    holds off new ones until it commits, so that "nobody changed these figures since" stays
    true until its revisions are written."""
    tx.lock(f"figures:{campaign_id}")


def append(tx: Session, campaign_id: str, source: str, rows: pd.DataFrame, upload_id: int) -> None:
    """Append each row (unit_code, report_date, enrolled, amount, low_income_enrolled) as the
    next revision of its unit's figure for that date; a NULL enrolled withdraws the figure.

    Writers of one campaign number revisions one at a time, from here to their commit (a few
    milliseconds on PostgreSQL; the unique key of a revision would refuse a second number 2):
    the next one then counts from the revision just committed."""
    tx.lock(f"revisions:{campaign_id}")
    with tx.relations(new_rows=rows[["unit_code", "report_date", "enrolled", "amount",
                                     "low_income_enrolled"]]):
        tx.run("""
            INSERT INTO reports
            SELECT :c, :s, n.unit_code, n.report_date, coalesce(r.revision, 0) + 1, n.enrolled,
                   n.amount, n.low_income_enrolled, :u
            FROM new_rows n LEFT JOIN (
                SELECT unit_code, report_date, max(revision) AS revision FROM reports
                WHERE campaign_id = :c AND source = :s
                  AND unit_code IN (SELECT unit_code FROM new_rows)
                GROUP BY unit_code, report_date) r
              ON r.unit_code = n.unit_code AND r.report_date = n.report_date""",
               {"c": campaign_id, "s": source, "u": upload_id})


def insert_frame(tx: Session, rows: pd.DataFrame) -> None:
    """Rows already numbered (REPORT_COLUMNS), e.g. a whole simulation of demo data."""
    tx.insert_frame("reports", rows[list(REPORT_COLUMNS)])


def delete_source(tx: Session, campaign_id: str, source: str) -> int:
    """Remove every figure of one source (only demo data is ever removed); returns the count."""
    removed = tx.value("SELECT count(*) FROM reports WHERE campaign_id = :c AND source = :s",
                       {"c": campaign_id, "s": source})
    tx.run("DELETE FROM reports WHERE campaign_id = :c AND source = :s",
           {"c": campaign_id, "s": source})
    tx.run("DELETE FROM group_reports WHERE campaign_id = :c AND source = :s",
           {"c": campaign_id, "s": source})
    tx.run("DELETE FROM uploads WHERE campaign_id = :c AND source = :s",
           {"c": campaign_id, "s": source})
    return removed


def sources(tx: Session, campaign_id: str) -> set[str]:
    return set(tx.column("SELECT DISTINCT source FROM reports WHERE campaign_id = :c",
                         {"c": campaign_id}))


def latest_date(tx: Session, campaign_id: str, source: str, until: dt.date) -> dt.date | None:
    """The latest report date on or before `until` that has a figure that counts, or None."""
    # column(): a fully read result (see next_number in uploads.py).
    found = tx.column("""SELECT max(report_date) FROM figures
                      WHERE campaign_id = :c AND source = :s AND report_date <= :until""",
                      {"c": campaign_id, "s": source, "until": until})
    return found[0] if found else None


def parents_report(tx: Session, campaign_id: str, source: str) -> bool:
    """Whether any unit with units below it has a report of its own (withdrawn ones too)."""
    return bool(tx.value("""
        SELECT EXISTS (
            SELECT 1 FROM reports WHERE campaign_id = :c AND source = :s AND unit_code IN (
                SELECT parent_code FROM units WHERE campaign_id = :c AND parent_code IS NOT NULL))""",
        {"c": campaign_id, "s": source}))


def last_figures(tx: Session, campaign_id: str, codes: Iterable[str], until: dt.date | None,
                 source: str = "upload") -> dict[str, tuple[int, dt.date]]:
    """Each unit's latest figure on or before `until` (any date when None): (enrolled, date)."""
    rows = tx.tuples("""
        SELECT DISTINCT ON (unit_code) unit_code, enrolled, report_date FROM figures
        WHERE campaign_id = :c AND source = :s
          AND unit_code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))
          AND (CAST(:d AS DATE) IS NULL OR report_date <= :d)
        ORDER BY unit_code, report_date DESC""",
        {"c": campaign_id, "s": source, "codes": list(codes), "d": until})
    return {code: (enrolled, day) for code, enrolled, day in rows}


def around(tx: Session, campaign_id: str, codes: pd.DataFrame, day: dt.date,
           source: str = "upload") -> pd.DataFrame:
    """For the units in `codes` (column unit_code): the figure before `day` (previous,
    previous_date), the one after it (following, following_date) and the one on it (same_day)."""
    if codes.empty:
        return pd.DataFrame(columns=["unit_code", "previous", "previous_date", "following",
                                     "following_date", "same_day"])
    # The codes' range is a filter the engine pushes into the scan of the reports (and below
    # the view's grouping): a province's file reads that province's blocks of a whole country.
    with tx.relations(around_units=codes[["unit_code"]]):
        return tx.frame("""
            WITH f AS (
                SELECT unit_code, report_date, enrolled FROM figures
                WHERE campaign_id = :c AND source = :s AND unit_code BETWEEN :lo AND :hi
                  AND unit_code IN (SELECT unit_code FROM around_units)),
            before AS (
                SELECT DISTINCT ON (unit_code) unit_code, enrolled AS previous,
                       report_date AS previous_date
                FROM f WHERE report_date < :d ORDER BY unit_code, report_date DESC),
            after AS (
                SELECT DISTINCT ON (unit_code) unit_code, enrolled AS following,
                       report_date AS following_date
                FROM f WHERE report_date > :d ORDER BY unit_code, report_date),
            same AS (SELECT unit_code, enrolled AS same_day FROM f WHERE report_date = :d)
            SELECT u.unit_code, b.previous, b.previous_date, a.following, a.following_date,
                   s.same_day
            FROM (SELECT DISTINCT unit_code FROM around_units) u
            LEFT JOIN before b ON b.unit_code = u.unit_code
            LEFT JOIN after a ON a.unit_code = u.unit_code
            LEFT JOIN same s ON s.unit_code = u.unit_code""",
            {"c": campaign_id, "s": source, "d": day, "lo": codes["unit_code"].min(),
             "hi": codes["unit_code"].max()})


def week_reports(tx: Session, campaign_id: str, source: str, codes: list[str],
                 week_start: dt.date, as_of: dt.date) -> pd.DataFrame:
    """For each wanted unit: the first arrival of a figure of the week that still counts
    (uploaded_at, uploader), its last report date, and whether a unit below it reported.

    A figure counts when its upload was not withdrawn and the unit still has a figure in the
    week (`figures`); a correction keeps the time of the first figure it corrected.
    """
    return tx.frame("""
        WITH RECURSIVE wanted AS (SELECT unnest(CAST(:codes AS VARCHAR[])) AS code),
        week_units AS (
            SELECT DISTINCT unit_code FROM figures
            WHERE campaign_id = :c AND source = :s AND report_date BETWEEN :week_start AND :as_of),
        first_upload AS (
            SELECT DISTINCT ON (r.unit_code) r.unit_code, up.uploaded_at, up.uploader
            FROM reports r JOIN uploads up ON up.id = r.upload_id
            WHERE r.campaign_id = :c AND r.source = :s AND r.enrolled IS NOT NULL
              AND r.report_date BETWEEN :week_start AND :as_of
              AND r.unit_code IN (SELECT unit_code FROM week_units)
              AND NOT EXISTS (SELECT 1 FROM uploads w
                              WHERE w.kind = 'withdrawal' AND w.withdraws = up.id)
            ORDER BY r.unit_code, up.uploaded_at, up.id),
        last_report AS (
            SELECT unit_code, max(report_date) AS last_date FROM figures
            WHERE campaign_id = :c AND source = :s AND report_date <= :as_of
            GROUP BY unit_code),
        up_tree(code, ancestor) AS (   -- every unit that reported this week, with its ancestors
            SELECT u.code, u.parent_code FROM units u
            WHERE u.campaign_id = :c AND u.code IN (SELECT unit_code FROM week_units)
            UNION ALL
            SELECT t.code, p.parent_code FROM up_tree t
            JOIN units p ON p.campaign_id = :c AND p.code = t.ancestor
            WHERE t.ancestor IS NOT NULL),
        subtree_reported AS (SELECT DISTINCT ancestor AS code FROM up_tree
                             WHERE ancestor IS NOT NULL)
        SELECT u.code, u.name, f.uploaded_at, f.uploader, l.last_date,
               s.code IS NOT NULL AS children_reported
        FROM wanted w JOIN units u ON u.campaign_id = :c AND u.code = w.code
        LEFT JOIN first_upload f ON f.unit_code = u.code
        LEFT JOIN last_report l ON l.unit_code = u.code
        LEFT JOIN subtree_reported s ON s.code = u.code
        ORDER BY u.position, u.code""",
        {"codes": codes, "c": campaign_id, "s": source, "as_of": as_of,
         "week_start": week_start})


def last_two(tx: Session, campaign_id: str, source: str, as_of: dt.date) -> pd.DataFrame:
    """Per unit with figures up to `as_of`: its last two figures (now_value/now_date,
    before_value/before_date), its task, and the sum and count of its children's figures of
    its last date; with the unit's name, level and place in the tree."""
    return tx.frame("""
        WITH ranked AS (
            SELECT unit_code, report_date, enrolled,
                   row_number() OVER (PARTITION BY unit_code ORDER BY report_date DESC) AS k
            FROM figures WHERE campaign_id = :c AND source = :s AND report_date <= :as_of),
        last_two AS (
            SELECT unit_code,
                   max(CASE WHEN k = 1 THEN enrolled END) AS now_value,
                   max(CASE WHEN k = 1 THEN report_date END) AS now_date,
                   max(CASE WHEN k = 2 THEN enrolled END) AS before_value,
                   max(CASE WHEN k = 2 THEN report_date END) AS before_date
            FROM ranked WHERE k <= 2 GROUP BY unit_code),
        children_sum AS (   -- per parent and date: the sum of the children's own figures
            SELECT u.parent_code, f.report_date, sum(f.enrolled) AS total, count(*) AS n
            FROM figures f JOIN units u ON u.campaign_id = f.campaign_id AND u.code = f.unit_code
            WHERE f.campaign_id = :c AND f.source = :s AND f.report_date <= :as_of
              AND u.parent_code IS NOT NULL
            GROUP BY u.parent_code, f.report_date)
        SELECT u.code, u.name, u.level, u.depth, u.position, l.now_value, l.now_date,
               l.before_value, l.before_date, t.task, c.total AS children_total,
               c.n AS children_count
        FROM last_two l JOIN units u ON u.campaign_id = :c AND u.code = l.unit_code
        LEFT JOIN current_targets t ON t.campaign_id = :c AND t.unit_code = l.unit_code
        LEFT JOIN children_sum c ON c.parent_code = l.unit_code AND c.report_date = l.now_date
        ORDER BY u.depth, u.position, u.code""",
        {"c": campaign_id, "s": source, "as_of": as_of})


def revisions_of_upload(tx: Session, campaign_id: str, upload_id: int) -> list[tuple]:
    """Every revision of every (unit, date) that an upload wrote, in order, with the kind of
    upload that wrote it: (unit, date, upload id, kind, withdraws, enrolled, amount, low)."""
    return tx.tuples("""
        SELECT r.unit_code, r.report_date, r.upload_id, u.kind, u.withdraws,
               r.enrolled, r.amount, r.low_income_enrolled
        FROM reports r JOIN uploads u ON u.id = r.upload_id
        JOIN (SELECT DISTINCT unit_code, report_date FROM reports
              WHERE campaign_id = :c AND source = 'upload' AND upload_id = :u) k
          ON k.unit_code = r.unit_code AND k.report_date = r.report_date
        WHERE r.campaign_id = :c AND r.source = 'upload'
        ORDER BY r.unit_code, r.report_date, r.revision""", {"c": campaign_id, "u": upload_id})


def reported_units(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Units that have at least one uploaded revision: code, name, level, revisions, last date."""
    return tx.frame("""
        SELECT u.code, u.name, u.level, count(*) AS revisions, max(r.report_date) AS last_date
        FROM reports r JOIN units u ON u.campaign_id = r.campaign_id AND u.code = r.unit_code
        WHERE r.campaign_id = :c AND r.source = 'upload'
        GROUP BY u.code, u.name, u.level, u.depth, u.position
        ORDER BY u.depth, u.position, u.code""", {"c": campaign_id})


def unit_revisions(tx: Session, campaign_id: str, code: str) -> pd.DataFrame:
    """Every uploaded revision of a unit's figure, newest date first, each with its upload;
    `current` marks the revision that counts for its date."""
    return tx.frame("""
        SELECT r.report_date, r.revision, r.enrolled, r.amount, r.low_income_enrolled,
               r.upload_id, u.number AS upload_number, u.kind, u.file_name, u.uploader,
               u.uploaded_at, u.withdraws, o.number AS withdraws_number,
               r.revision = max(r.revision) OVER (PARTITION BY r.report_date) AS current
        FROM reports r LEFT JOIN uploads u ON u.id = r.upload_id
        LEFT JOIN uploads o ON o.id = u.withdraws
        WHERE r.campaign_id = :c AND r.source = 'upload' AND r.unit_code = :code
        ORDER BY r.report_date DESC, r.revision DESC""", {"c": campaign_id, "code": code})
