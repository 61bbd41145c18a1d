"""Flash-sale campaigns (秒杀): items with sale stock go on sale at an exact time.

kind_settings: ``{"sale_price_kind": "points" | "cash", "sold_out_message": "…"}``.
Slots: "item" slots; the quantity is the sale stock (reserved at approval, so a
sale can never oversell) and ``options`` holds the price in the sale's currency:
``{"price_points": 500}`` or ``{"price_cash": "9.90"}``. The campaign's
``starts_at`` is the exact second the sale opens; ``limit_total`` is how many
items one customer may buy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.kinds import _common as common
from campaigns.kinds.base import Kind, SlotDefault

PRICE_KINDS = [("points", _("points")), ("cash", _("cash (CNY)"))]
_DEFAULT_POINTS = 500


class FlashSaleSettingsForm(forms.Form):
    sale_price_kind = forms.ChoiceField(label=_("Price in"), choices=PRICE_KINDS, widget=forms.RadioSelect)
    sold_out_message = forms.CharField(
        label=_("Sold-out message"), max_length=200, help_text=_("What customers see when an item is gone.")
    )


class FlashSaleKind(Kind):
    name = "flash_sale"
    label = _("Flash sale")
    description = _(
        "Items with their own sale stock go on sale at an exact time, priced in points or cash, "
        "with a limit per customer — never oversold, whatever the rush."
    )
    code_prefix = "FS"
    order = 30
    slot_roles = {"item": _("item")}
    settings_form = FlashSaleSettingsForm
    actions = ("view", "claim")

    def default_settings(self) -> dict[str, Any]:
        return {"sale_price_kind": "points", "sold_out_message": gettext("Sold out — thank you for taking part!")}

    def default_slots(self, prizes) -> list[SlotDefault]:
        prize = common.take(prizes, 0)
        return [
            SlotDefault(
                role="item", label=prize.name if prize else gettext("Sale item"), prize=prize, quantity=100,
                options={"price_points": _DEFAULT_POINTS},
            )
        ]

    def default_rules(self) -> dict[str, Any]:
        return {"limit_per_day": 1, "limit_total": 1}

    def default_rules_text(self) -> str:
        return gettext(
            "The sale opens at the exact time shown. Items are limited and sold in the order requests arrive; "
            "each customer may buy the number of items stated. Points or cash are taken when the purchase succeeds."
        )

    # --- the per-slot price ---------------------------------------------------

    def slot_option_fields(self, campaign) -> dict[str, forms.Field]:
        if (campaign.kind_settings or {}).get("sale_price_kind") == "cash":
            return {
                "price_cash": forms.DecimalField(
                    label=_("Price (CNY)"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2
                )
            }
        return {"price_points": forms.IntegerField(label=_("Price (points)"), min_value=1)}

    def slot_options(self, campaign, role: str, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("price_cash") is not None:
            return {"price_cash": common.money_text(data["price_cash"])}
        if data.get("price_points") is not None:
            return {"price_points": data["price_points"]}
        raise ValidationError(gettext("Give the item a price."))

    # --- checks ----------------------------------------------------------------

    def validate(self, campaign) -> list[str]:
        errors: list[str] = []
        settings = campaign.kind_settings or {}
        price_kind = settings.get("sale_price_kind")
        if price_kind not in dict(PRICE_KINDS):
            errors.append(gettext("Choose whether items are priced in points or cash."))
        if not (settings.get("sold_out_message") or "").strip():
            errors.append(gettext("Write the message customers see when an item is sold out."))
        if campaign.starts_at is None:
            errors.append(gettext("A flash sale needs an exact start time."))
        elif campaign.starts_at.second or campaign.starts_at.microsecond:
            errors.append(gettext("A flash sale opens on the minute: set a start time without seconds."))
        if not campaign.limit_total:
            errors.append(gettext("Set how many items one customer may buy (rules: per customer in total)."))
        items = [slot for slot in common.slots(campaign) if slot.role == "item"]
        if not items:
            errors.append(gettext("Add at least one item to sell."))
        common.check_prize_slots(items, errors)
        for slot in items:
            options = slot.options or {}
            if price_kind == "cash":
                price = common.money_value(options.get("price_cash"))
                if price is None or price <= 0:
                    errors.append(gettext("Item “%(label)s” needs a price in CNY.") % {"label": slot.label})
            elif price_kind == "points":
                points = options.get("price_points")
                if not isinstance(points, int) or points < 1:
                    errors.append(gettext("Item “%(label)s” needs a price in points.") % {"label": slot.label})
        return errors

    def grants_per_participant(self, campaign) -> tuple[Decimal, int]:
        # A participant is a customer who buys: one item, at most the per-customer limit.
        return Decimal("1"), common.reward_cap(campaign)

    def settings_summary(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (gettext("Price in"), str(dict(PRICE_KINDS).get(settings.get("sale_price_kind"), "—"))),
            (gettext("Sold-out message"), settings.get("sold_out_message") or "—"),
        ]


KIND = FlashSaleKind()
