"""Published bulletins: the figures each showed, the exact files circulated, and every push to
a group robot. A period (a week, a month) is published once: (campaign, period, key) is unique."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session


class Duplicate(Exception):
    """The period is already published (another process won the race to its unique key)."""


COLUMNS = ("id", "campaign_id", "period", "period_key", "as_of", "week", "source", "scope_code",
           "level", "stem", "published_by", "role", "published_at", "automatic", "figures",
           "summary", "notes")


def new_id(tx: Session) -> int:
    return tx.next_id("bulletin_ids")


def insert(tx: Session, files: list[tuple[str, str, str, str, bytes]], **values) -> None:
    """One bulletin and its files (name, kind, label, sha256, bytes) in their order."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown bulletin columns {sorted(unknown)}")
    # ON CONFLICT, not a caught unique violation: on PostgreSQL a failed statement aborts the
    # transaction, and the caller still reads in it who published the period first.
    inserted = tx.column(f"INSERT INTO bulletins ({', '.join(COLUMNS)}) "
                         f"VALUES ({', '.join(':' + c for c in COLUMNS)}) "
                         "ON CONFLICT (campaign_id, period, period_key) DO NOTHING RETURNING id",
                         {c: values.get(c) for c in COLUMNS})
    if not inserted:
        raise Duplicate(f"{values.get('campaign_id')} {values.get('period')} "
                        f"{values.get('period_key')} is already published")
    for position, (name, kind, label, sha256, content) in enumerate(files, start=1):
        tx.run("""INSERT INTO bulletin_files VALUES (:b, :p, :name, :kind, :label, :sha, :size,
                                                     :content)""",
               {"b": values["id"], "p": position, "name": name, "kind": kind, "label": label,
                "sha": sha256, "size": len(content), "content": content})


def find(tx: Session, campaign_id: str, period: str, period_key: str) -> dict | None:
    """The bulletin of a period (without its figures and files), or None."""
    return tx.row("""
        SELECT id, campaign_id, period, period_key, as_of, week, stem, published_by, role,
               published_at, automatic, scope_code, level, source
        FROM bulletins WHERE campaign_id = :c AND period = :p AND period_key = :k""",
        {"c": campaign_id, "p": period, "k": period_key})


def get(tx: Session, bulletin_id: int) -> dict | None:
    """A bulletin with its figures (JSON text) and summary."""
    return tx.row("SELECT * FROM bulletins WHERE id = :id", {"id": bulletin_id})


def archive(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every bulletin of the campaign, newest period first, with its files' count (the ZIP of
    them apart) and stored size and
    the outcome of its latest push per channel ('ok'/'failed' joined)."""
    return tx.frame("""
        SELECT b.id, b.period, b.period_key, b.as_of, b.week, b.stem, b.published_by, b.role,
               b.published_at, b.automatic, b.scope_code, b.level, b.notes,
               (SELECT count(*) FROM bulletin_files f
                WHERE f.bulletin_id = b.id AND f.kind <> 'zip') AS files,
               (SELECT coalesce(sum(f.size), 0) FROM bulletin_files f
                WHERE f.bulletin_id = b.id) AS size,
               (SELECT string_agg(p.channel || ':' || CASE WHEN p.ok THEN 'ok' ELSE 'failed' END,
                                  ',' ORDER BY p.channel)
                FROM bulletin_pushes p
                WHERE p.bulletin_id = b.id AND p.attempted_at = (
                    SELECT max(q.attempted_at) FROM bulletin_pushes q
                    WHERE q.bulletin_id = b.id AND q.channel = p.channel)) AS pushes
        FROM bulletins b WHERE b.campaign_id = :c
        ORDER BY b.as_of DESC, b.period DESC, b.id DESC""", {"c": campaign_id})


def files(tx: Session, bulletin_id: int) -> pd.DataFrame:
    """A bulletin's files without their bytes, in order."""
    return tx.frame("""SELECT position, name, kind, label, sha256, size FROM bulletin_files
                       WHERE bulletin_id = :b ORDER BY position""", {"b": bulletin_id})


def file_content(tx: Session, bulletin_id: int, position: int) -> tuple[str, bytes] | None:
    """(name, bytes) of one stored file, exactly as circulated."""
    row = tx.row("SELECT name, content FROM bulletin_files WHERE bulletin_id = :b AND position = :p",
                 {"b": bulletin_id, "p": position})
    return None if row is None else (row["name"], bytes(row["content"]))


def file_of_kind(tx: Session, bulletin_id: int, kind: str, name_part: str = "") -> tuple[str, bytes] | None:
    """(name, bytes) of the first stored file of a kind whose name contains `name_part`."""
    row = tx.row("""SELECT name, content FROM bulletin_files
                    WHERE bulletin_id = :b AND kind = :k AND strpos(name, :part) > 0
                    ORDER BY position LIMIT 1""", {"b": bulletin_id, "k": kind, "part": name_part})
    return None if row is None else (row["name"], bytes(row["content"]))


def insert_push(tx: Session, bulletin_id: int, channel: str, at: dt.datetime, attempts: int,
                ok: bool, message: str | None) -> None:
    tx.run("INSERT INTO bulletin_pushes VALUES (:b, :ch, :at, :n, :ok, :m)",
           {"b": bulletin_id, "ch": channel, "at": at, "n": attempts, "ok": ok, "m": message})


def pushes(tx: Session, bulletin_id: int) -> pd.DataFrame:
    return tx.frame("""SELECT channel, attempted_at, attempts, ok, message FROM bulletin_pushes
                       WHERE bulletin_id = :b ORDER BY attempted_at, channel""", {"b": bulletin_id})


def published_weeks(tx: Session, campaign_id: str) -> dict[dt.date, dict]:
    """Weekly bulletins by report day: who published each and when (for the overview)."""
    rows = tx.rows("""SELECT as_of, id, published_by, published_at FROM bulletins
                      WHERE campaign_id = :c AND period = 'week'""", {"c": campaign_id})
    return {r["as_of"]: r for r in rows}


def figures_stamp(tx: Session, campaign_id: str, source: str) -> tuple:
    """What the campaign's figures depend on, cheaply: reports are appended and target sets
    added, never changed, so equal stamps mean equal figures."""
    return tuple(tx.row("""
        SELECT (SELECT count(*) FROM reports WHERE campaign_id = :c AND source = :s) AS reports,
               (SELECT max(upload_id) FROM reports WHERE campaign_id = :c AND source = :s) AS last,
               (SELECT max(id) FROM target_sets WHERE campaign_id = :c) AS targets""",
        {"c": campaign_id, "s": source}).values())


def units_reporting(tx: Session, campaign_id: str, source: str, start: dt.date,
                    end: dt.date) -> int:
    """How many units have a figure that counts dated within [start, end]."""
    return tx.value("""SELECT count(DISTINCT unit_code) FROM figures
                       WHERE campaign_id = :c AND source = :s
                         AND report_date BETWEEN :start AND :end""",
                    {"c": campaign_id, "s": source, "start": start, "end": end})
