"""Which campaign a person sees first: their own, not merely the first in the list.

A 填报员 sees the campaign their units belong to (of several, the one they used last, else the
busiest); anyone else the campaign they used last, else the one with the latest real upload,
else the first of the list (campaigns with targets, newest first). Each account's last campaign
is kept in the database, so it follows the person from one browser to another.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import db
from ..db import Session, Store
from .model import list_campaigns


def default_for(tx: Session, user: str | None = None,
                units: Iterable[str] | None = None) -> str | None:
    """The id of the campaign to open for this account (None when there is no campaign)."""
    ids = [c.id for c in list_campaigns(tx)]
    if not ids:
        return None
    active = db.uploads.last_activity(tx)
    # The busiest first (latest real upload), then the list's own order.
    ranked = sorted(ids, key=lambda c: (c not in active, -active[c].timestamp() if c in active
                                        else 0, ids.index(c)))
    last = db.accounts.last_campaign(tx, user) if user else None
    mine = db.units.campaigns_of(tx, units or ())
    if mine:
        return last if last in mine else next(c for c in ranked if c in mine)
    return last if last in ids else ranked[0]


def remember(store: Store, user: str, campaign_id: str) -> None:
    """Keep the account's current campaign for its next visit (changes no figure)."""
    with store.write(bump=False) as tx:
        db.accounts.set_last_campaign(tx, user, campaign_id)
