"""Campaigns: their definition and calendar (model), their contribution terms and groups
(terms), windows that move (windows: `change_window` is the one way to change one), the
division codes, region set-up, the shipped campaigns (bootstrap), demo data and the storing of
unit hierarchies.

The package itself is the campaign model: `campaigns.get(tx, id)`, `campaigns.Campaign`.
"""

from .model import (
                    FRIDAY,
                    Campaign,
                    CampaignError,
                    UnitWindow,
                    create,
                    from_toml,
                    get,
                    insert,
                    list_campaigns,
                    load,
                    shipped_definitions,
                    validate,
)
from .terms import Group, Terms, Tier
from .windows import WindowChange, WindowError, change_window

__all__ = ["FRIDAY", "Campaign", "CampaignError", "Group", "Terms", "Tier", "UnitWindow",
           "WindowChange", "WindowError", "change_window", "create", "from_toml", "get",
           "insert", "list_campaigns", "load", "shipped_definitions", "validate"]
