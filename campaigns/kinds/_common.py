"""Helpers the kind modules share: the business events, slot checks and caps.

A private module (the registry skips names starting with "_"), so it is no kind.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from campaigns.models import Campaign, RewardSlot

WEIGHT_TOTAL = 10_000


class EventType(models.TextChoices):
    """The business events the bank's systems report (channel API ``POST /events``)."""

    FIRST_DEPOSIT = "first_deposit", _("first deposit")
    ACCOUNT_OPENING = "account_opening", _("account opening")
    CARD_ACTIVATION = "card_activation", _("card activation")
    CARD_SPEND = "card_spend", _("card spending")
    FUND_PURCHASE = "fund_purchase", _("fund purchase")
    WEALTH_PURCHASE = "wealth_purchase", _("wealth-management purchase")
    SALARY_CREDIT = "salary_credit", _("salary credited")
    LOGIN = "login", _("app login")


# Events that carry an amount (CNY): only these can have a minimum or target amount.
EVENTS_WITH_AMOUNT = frozenset(
    {
        EventType.FIRST_DEPOSIT,
        EventType.CARD_SPEND,
        EventType.FUND_PURCHASE,
        EventType.WEALTH_PURCHASE,
        EventType.SALARY_CREDIT,
    }
)
# Events about a product: only these can be narrowed to one product code.
EVENTS_WITH_PRODUCT = frozenset({EventType.FUND_PURCHASE, EventType.WEALTH_PURCHASE, EventType.CARD_ACTIVATION})


def event_label(value: str) -> str:
    try:
        return str(EventType(value).label)
    except ValueError:
        return value


def money_text(value: Decimal | None) -> str | None:
    """A Decimal as JSON-safe text ("12.50"); None stays None."""
    return None if value is None else str(value.quantize(Decimal("0.01")))


def money_value(value: Any) -> Decimal | None:
    """Text from kind_settings back to a Decimal; None when missing or not a number."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def slots(campaign: Campaign) -> list[RewardSlot]:
    """The campaign's slots in order, with their prizes (uses a prefetch when there is one)."""
    return sorted(campaign.slots.all(), key=lambda s: (s.position, s.pk or 0))


def check_prize_slots(found: list[RewardSlot], errors: list[str]) -> None:
    """Every slot that gives something names a prize and reserves at least one unit."""
    for slot in found:
        if slot.prize_id is None:
            errors.append(gettext("Slot “%(label)s” has no prize.") % {"label": slot.label})
        elif slot.quantity < 1:
            errors.append(gettext("Slot “%(label)s” reserves no stock: set a quantity.") % {"label": slot.label})


def window_days(campaign: Campaign) -> int:
    """Calendar days the campaign window touches (at least one)."""
    if not campaign.starts_at or not campaign.ends_at:
        return 1
    return max(1, (campaign.ends_at - campaign.starts_at).days + 1)


def reward_cap(campaign: Campaign, default: int = 1) -> int:
    """How many times one customer can be rewarded: the total limit, else the
    daily limit over the window, else ``default``."""
    if campaign.limit_total:
        return campaign.limit_total
    if campaign.limit_per_day:
        return campaign.limit_per_day * window_days(campaign)
    return default


def take(prizes: list, index: int):
    """The ``index``-th prize, or None when there are not that many."""
    return prizes[index] if index < len(prizes) else None
