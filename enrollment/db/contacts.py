"""Contacts per unit (责任人 and phone) for 催报: one row per unit, replaced as a whole."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .engine import Session


def of_campaign(tx: Session, campaign_id: str) -> pd.DataFrame:
    """Every unit of the campaign in hierarchy order with its contact (empty when none)."""
    return tx.frame("""
        SELECT u.code, u.name, u.level, u.parent_code, c.person, c.phone, c.updated_by,
               c.updated_at
        FROM units u LEFT JOIN unit_contacts c
          ON c.campaign_id = u.campaign_id AND c.unit_code = u.code
        WHERE u.campaign_id = :c
        ORDER BY u.depth, u.position, u.code""", {"c": campaign_id})


def of_units(tx: Session, campaign_id: str, codes: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """(person, phone) of the given units that have a contact."""
    rows = tx.tuples("""
        SELECT unit_code, person, phone FROM unit_contacts
        WHERE campaign_id = :c AND unit_code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))""",
        {"c": campaign_id, "codes": list(codes)})
    return {code: (person, phone) for code, person, phone in rows}


def replace(tx: Session, campaign_id: str, rows: list[tuple[str, str | None, str | None]],
            by: str | None, at: dt.datetime) -> None:
    """Set the contact of each (unit_code, person, phone); a row without both clears it."""
    codes = [code for code, _, _ in rows]
    tx.run("""DELETE FROM unit_contacts WHERE campaign_id = :c
              AND unit_code IN (SELECT unnest(CAST(:codes AS VARCHAR[])))""",
           {"c": campaign_id, "codes": codes})
    kept = [r for r in rows if r[1] or r[2]]
    if not kept:
        return
    frame = pd.DataFrame({
        "campaign_id": [campaign_id] * len(kept), "unit_code": [r[0] for r in kept],
        "person": pd.array([r[1] for r in kept], dtype=object),
        "phone": pd.array([r[2] for r in kept], dtype=object),
        "updated_by": [by] * len(kept), "updated_at": [at] * len(kept)})
    tx.insert_frame("unit_contacts", frame)
