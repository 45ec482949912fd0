"""Campaign records: one row per campaign (its definition; the calendar lives in the domain)."""

from __future__ import annotations

from collections.abc import Mapping

from .engine import Session

COLUMNS = ("id", "name", "programme", "year", "region_code", "levels", "start_date", "end_date",
           "goal", "low_income_goal", "deadline_weekday", "deadline_time", "contribution_yuan",
           "contribution_note", "notice", "source", "terms", "issuer")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM campaigns"


def insert(tx: Session, values: Mapping) -> None:
    """A new campaign row (values keyed by COLUMNS)."""
    tx.run(f"INSERT INTO campaigns ({', '.join(COLUMNS)}, created_at) "
           f"VALUES ({', '.join(':' + c for c in COLUMNS)}, CAST(now() AS TIMESTAMP))",
           {c: values[c] for c in COLUMNS})


def set_issuer(tx: Session, campaign_id: str, issuer: str | None) -> None:
    tx.run("UPDATE campaigns SET issuer = :i WHERE id = :id", {"i": issuer, "id": campaign_id})


def get(tx: Session, campaign_id: str) -> dict | None:
    return tx.row(f"{_SELECT} WHERE id = :id", {"id": campaign_id})


def all_rows(tx: Session) -> list[dict]:
    """Campaigns with targets first (they have something to show), then the most recent."""
    return tx.rows(f"""{_SELECT} c
        ORDER BY NOT EXISTS (SELECT 1 FROM targets t WHERE t.campaign_id = c.id),
                 start_date DESC, id""")


def exists(tx: Session, campaign_id: str) -> bool:
    return bool(tx.value("SELECT count(*) FROM campaigns WHERE id = :id", {"id": campaign_id}))


def count(tx: Session) -> int:
    return tx.value("SELECT count(*) FROM campaigns")


def set_terms(tx: Session, campaign_id: str, terms: str | None) -> None:
    """The campaign's contribution terms (JSON text, campaigns/terms.py)."""
    tx.run("UPDATE campaigns SET terms = :t WHERE id = :id", {"t": terms, "id": campaign_id})


def set_window(tx: Session, campaign_id: str, start, end) -> None:
    """The campaign's current window (its changes are kept in window_changes)."""
    tx.run("UPDATE campaigns SET start_date = :s, end_date = :e WHERE id = :id",
           {"s": start, "e": end, "id": campaign_id})
