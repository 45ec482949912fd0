"""Campaigns: their definition and calendar (model), the division codes, region set-up, the
shipped campaigns (bootstrap), demo data and the storing of unit hierarchies.

The package itself is the campaign model: `campaigns.get(tx, id)`, `campaigns.Campaign`.
"""

from .model import (
                    FRIDAY,
                    Campaign,
                    CampaignError,
                    create,
                    from_toml,
                    get,
                    insert,
                    list_campaigns,
                    load,
                    shipped_definitions,
                    validate,
)

__all__ = ["FRIDAY", "Campaign", "CampaignError", "create", "from_toml", "get", "insert",
           "list_campaigns", "load", "shipped_definitions", "validate"]
