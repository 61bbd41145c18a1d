"""Event campaigns (事件类): a business event with conditions earns a reward.

kind_settings: ``{"event_type": "fund_purchase", "min_amount": "1000.00" | None,
"product": "FUND001" | ""}``. Slots: one or more "reward" slots, each granted
when a customer's qualifying event arrives (up to the per-customer limits).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.kinds import _common as common
from campaigns.kinds.base import Kind, SlotDefault

EventType = common.EventType


class EventSettingsForm(forms.Form):
    event_type = forms.ChoiceField(label=_("Business event"), choices=EventType.choices)
    min_amount = forms.DecimalField(
        label=_("Minimum amount (CNY)"), required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
        help_text=_("Only for events with an amount (deposits, purchases, spending, salary); empty for any amount."),
    )
    product = forms.CharField(
        label=_("Product code"), required=False, max_length=40,
        help_text=_("Only for purchases and card activation: the product that counts; empty for any product."),
    )

    def clean(self):
        data = super().clean()
        event = data.get("event_type")
        if event and data.get("min_amount") is not None and event not in common.EVENTS_WITH_AMOUNT:
            self.add_error("min_amount", _("This event has no amount; leave the minimum empty."))
        if event and data.get("product") and event not in common.EVENTS_WITH_PRODUCT:
            self.add_error("product", _("This event is not about a product; leave the product empty."))
        return {
            "event_type": event,
            "min_amount": common.money_text(data.get("min_amount")),
            "product": (data.get("product") or "").strip(),
        }


class EventKind(Kind):
    name = "event"
    label = _("Event")
    description = _(
        "A business event — a first deposit, a card activation, a fund purchase, a login — "
        "with conditions (minimum amount, product) earns the customer a reward."
    )
    code_prefix = "EVT"
    order = 10
    slot_roles = {"reward": _("reward")}
    settings_form = EventSettingsForm
    actions = ("view", "join", "event")

    def default_settings(self) -> dict[str, Any]:
        return {"event_type": EventType.FIRST_DEPOSIT, "min_amount": "1000.00", "product": ""}

    def default_slots(self, prizes) -> list[SlotDefault]:
        prize = common.take(prizes, 0)
        return [SlotDefault(role="reward", label=prize.name if prize else gettext("Reward"), prize=prize, quantity=500)]

    def default_rules(self) -> dict[str, Any]:
        return {"limit_per_day": 1, "limit_total": 1}

    def default_rules_text(self) -> str:
        return gettext(
            "Complete the qualifying transaction during the campaign to receive the reward. "
            "Each customer is rewarded once. Rewards are limited and given in the order the events arrive."
        )

    def validate(self, campaign) -> list[str]:
        errors: list[str] = []
        settings = campaign.kind_settings or {}
        event = settings.get("event_type")
        if event not in EventType.values:
            errors.append(gettext("Choose the business event that earns the reward."))
        amount = settings.get("min_amount")
        if amount not in (None, ""):
            value = common.money_value(amount)
            if value is None or value <= 0:
                errors.append(gettext("The minimum amount must be a positive number of CNY."))
            elif event in EventType.values and event not in common.EVENTS_WITH_AMOUNT:
                errors.append(
                    gettext("“%(event)s” has no amount; remove the minimum amount.") % {"event": common.event_label(event)}
                )
        if settings.get("product") and event in EventType.values and event not in common.EVENTS_WITH_PRODUCT:
            errors.append(
                gettext("“%(event)s” is not about a product; remove the product.") % {"event": common.event_label(event)}
            )
        rewards = [slot for slot in common.slots(campaign) if slot.role == "reward"]
        if not rewards:
            errors.append(gettext("Add a reward slot: an event campaign must give something."))
        common.check_prize_slots(rewards, errors)
        return errors

    def grants_per_participant(self, campaign) -> tuple[Decimal, int]:
        # Every qualifying event is rewarded with every reward slot, up to the customer's cap.
        per_event = max(1, sum(1 for slot in common.slots(campaign) if slot.role == "reward"))
        cap = common.reward_cap(campaign)
        return Decimal(per_event), per_event * cap

    def settings_summary(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        rows = [(gettext("Business event"), common.event_label(settings.get("event_type", "")))]
        if settings.get("min_amount"):
            rows.append((gettext("Minimum amount"), f"¥{settings['min_amount']}"))
        if settings.get("product"):
            rows.append((gettext("Product code"), settings["product"]))
        return rows


KIND = EventKind()
