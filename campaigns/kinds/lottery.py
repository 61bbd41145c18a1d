"""Lottery campaigns (抽奖类): a wheel or grid of prize slots drawn by weight.

kind_settings: ``{"draws_per_day": 3, "draws_total": 10, "display": "wheel" | "grid"}``.
Slots: "prize" slots with a weight out of 10,000 (the chance of landing on it)
and the stock reserved for it, in the order the wheel or grid shows them, plus
one "none" slot ("no prize") that takes the rest of the chance. The shared
per-customer limits cap what one customer can win; draws cap how often they play.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.kinds import _common as common
from campaigns.kinds.base import Kind, SlotDefault

MAX_SLOTS = 8  # a wheel shows up to 8 sectors; a 3-by-3 grid has 8 cells around its button
DISPLAYS = [("wheel", _("wheel")), ("grid", _("grid (3 by 3)"))]
# Rarest first for the costliest prize: chances out of 10,000, and stock to reserve.
_DEFAULT_WEIGHTS = (100, 400, 1500, 3000)
_DEFAULT_QUANTITIES = (10, 50, 200, 500)
_DEFAULT_LABELS = (_("First prize"), _("Second prize"), _("Third prize"), _("Fourth prize"))


class LotterySettingsForm(forms.Form):
    draws_per_day = forms.IntegerField(label=_("Draws per customer per day"), min_value=1, max_value=100)
    draws_total = forms.IntegerField(label=_("Draws per customer in total"), min_value=1, max_value=1000)
    display = forms.ChoiceField(label=_("Display"), choices=DISPLAYS, widget=forms.RadioSelect)

    def clean(self):
        data = super().clean()
        per_day, total = data.get("draws_per_day"), data.get("draws_total")
        if per_day and total and per_day > total:
            self.add_error("draws_total", _("The total cannot be less than the draws per day."))
        return data


class LotteryKind(Kind):
    name = "lottery"
    label = _("Lottery")
    description = _(
        "Customers spin a wheel or open a grid: prize slots with chances out of 10,000 and their own stock, "
        "a “no prize” slot for the rest, and a number of draws per day and in total."
    )
    code_prefix = "LOT"
    order = 20
    slot_roles = {"prize": _("prize"), "none": _("no prize")}
    settings_form = LotterySettingsForm
    actions = ("view", "join", "draw")
    # Read by the slot form: this kind's slots carry weights; "none" slots give nothing.
    uses_weights = True
    prizeless_roles = ("none",)

    def default_settings(self) -> dict[str, Any]:
        return {"draws_per_day": 3, "draws_total": 10, "display": "wheel"}

    def default_slots(self, prizes) -> list[SlotDefault]:
        # The costliest prize is the rarest; without prizes in scope, three slots wait for one.
        ranked = sorted(prizes, key=lambda p: (-p.unit_cost, p.pk))[: len(_DEFAULT_WEIGHTS)]
        count = len(ranked) if ranked else 3
        slots = [
            SlotDefault(
                role="prize",
                label=str(_DEFAULT_LABELS[i]),
                prize=common.take(ranked, i),
                quantity=_DEFAULT_QUANTITIES[i],
                weight=_DEFAULT_WEIGHTS[i],
            )
            for i in range(count)
        ]
        slots.append(SlotDefault(role="none", label=gettext("Thanks for playing")))
        return slots

    def default_rules(self) -> dict[str, Any]:
        return {"limit_per_day": 1, "limit_total": 3}

    def default_rules_text(self) -> str:
        return gettext(
            "Each customer may draw up to the number of times shown per day and in total during the campaign. "
            "Prizes are limited; when a prize runs out, its slot can no longer be won. "
            "Winnings per customer are limited as stated."
        )

    def validate(self, campaign) -> list[str]:
        errors: list[str] = []
        settings = campaign.kind_settings or {}
        per_day, total = settings.get("draws_per_day"), settings.get("draws_total")
        if not isinstance(per_day, int) or per_day < 1:
            errors.append(gettext("Set the number of draws per customer per day."))
        if not isinstance(total, int) or total < 1:
            errors.append(gettext("Set the number of draws per customer in total."))
        elif isinstance(per_day, int) and per_day > total:
            errors.append(gettext("The draws in total cannot be fewer than the draws per day."))
        if settings.get("display") not in dict(DISPLAYS):
            errors.append(gettext("Choose how the lottery is shown: a wheel or a grid."))
        found = common.slots(campaign)
        prizes = [slot for slot in found if slot.role == "prize"]
        blanks = [slot for slot in found if slot.role == "none"]
        if not prizes:
            errors.append(gettext("Add at least one prize slot."))
        common.check_prize_slots(prizes, errors)
        for slot in prizes:
            if slot.weight < 1:
                errors.append(gettext("Prize slot “%(label)s” has no chance: give it a weight.") % {"label": slot.label})
        total_weight = sum(slot.weight for slot in prizes)
        if total_weight > common.WEIGHT_TOTAL:
            errors.append(
                gettext("The prize chances add up to %(total)s of 10,000 (more than 100 %%).")
                % {"total": f"{total_weight:,}"}
            )
        if len(blanks) > 1:
            errors.append(gettext("A lottery has one “no prize” slot at most."))
        if total_weight < common.WEIGHT_TOTAL and not blanks:
            errors.append(gettext("Add a “no prize” slot for the draws that win nothing."))
        if any(slot.prize_id for slot in blanks):
            errors.append(gettext("The “no prize” slot cannot give a prize."))
        if len(found) > MAX_SLOTS:
            errors.append(gettext("A wheel or grid shows at most %(max)s slots.") % {"max": MAX_SLOTS})
        return errors

    def grants_per_participant(self, campaign) -> tuple[Decimal, int]:
        settings = campaign.kind_settings or {}
        draws = settings.get("draws_total") or 1
        chance = Decimal(sum(s.weight for s in common.slots(campaign) if s.role == "prize")) / common.WEIGHT_TOTAL
        worst = min(draws, common.reward_cap(campaign, default=draws))
        return min(chance * draws, Decimal(worst)), worst

    def no_prize_weight(self, campaign) -> int:
        """The chance (of 10,000) that a draw wins nothing: what the prize slots leave."""
        taken = sum(s.weight for s in common.slots(campaign) if s.role == "prize")
        return max(0, common.WEIGHT_TOTAL - taken)

    def settings_summary(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (gettext("Draws per customer per day"), str(settings.get("draws_per_day", "—"))),
            (gettext("Draws per customer in total"), str(settings.get("draws_total", "—"))),
            (gettext("Display"), str(dict(DISPLAYS).get(settings.get("display"), "—"))),
        ]


KIND = LotteryKind()
