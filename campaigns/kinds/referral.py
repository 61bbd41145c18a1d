"""Referral campaigns (社交推荐): invite codes; a referee's qualifying action
within N days rewards both sides.

kind_settings: ``{"window_days": 30, "cap_per_referrer": 5, "qualifying_event": "first_deposit"}``.
Slots: one "referrer" slot (for the customer who invited) and one "referee"
slot (for the new customer). Self-referral is refused by the runtime.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.kinds import _common as common
from campaigns.kinds.base import Kind, SlotDefault

MAX_WINDOW_DAYS = 90
# For the forecast: how many friends an average referrer brings who qualify.
EXPECTED_REFERRALS = Decimal("1")


class ReferralSettingsForm(forms.Form):
    qualifying_event = forms.ChoiceField(
        label=_("Qualifying action of the referee"), choices=common.EventType.choices
    )
    window_days = forms.IntegerField(
        label=_("Within (days)"), min_value=1, max_value=MAX_WINDOW_DAYS,
        help_text=_("Days after accepting the invitation in which the referee must act (1 to 90)."),
    )
    cap_per_referrer = forms.IntegerField(
        label=_("Rewarded referrals per referrer"), min_value=1, max_value=1000,
        help_text=_("A referrer is rewarded for this many friends at most."),
    )


class ReferralKind(Kind):
    name = "referral"
    label = _("Referral")
    description = _(
        "Customers share an invite code; when a friend signs up and completes a qualifying action within "
        "a number of days, both are rewarded — with a cap per referrer and no self-referral."
    )
    code_prefix = "REF"
    order = 40
    slot_roles = {"referrer": _("referrer"), "referee": _("referee")}
    settings_form = ReferralSettingsForm
    actions = ("view", "invite", "referral", "event")

    def default_settings(self) -> dict[str, Any]:
        return {"window_days": 30, "cap_per_referrer": 5, "qualifying_event": common.EventType.FIRST_DEPOSIT}

    def default_slots(self, prizes) -> list[SlotDefault]:
        referrer = common.take(prizes, 0)
        referee = common.take(prizes, 1) or referrer
        return [
            SlotDefault(role="referrer", label=gettext("Reward for the referrer"), prize=referrer, quantity=200),
            SlotDefault(role="referee", label=gettext("Welcome reward for the friend"), prize=referee, quantity=200),
        ]

    def default_rules(self) -> dict[str, Any]:
        return {"limit_per_day": None, "limit_total": None}

    def default_rules_text(self) -> str:
        return gettext(
            "Share your invite code with friends. When a friend accepts it and completes the qualifying action "
            "within the stated number of days, you and your friend are both rewarded. Referring yourself does not "
            "count, and rewards per referrer are capped."
        )

    def validate(self, campaign) -> list[str]:
        errors: list[str] = []
        settings = campaign.kind_settings or {}
        days = settings.get("window_days")
        if not isinstance(days, int) or not 1 <= days <= MAX_WINDOW_DAYS:
            errors.append(gettext("The referee must act within 1 to 90 days."))
        cap = settings.get("cap_per_referrer")
        if not isinstance(cap, int) or cap < 1:
            errors.append(gettext("Reward each referrer for at least one referral (cap per referrer)."))
        if settings.get("qualifying_event") not in common.EventType.values:
            errors.append(gettext("Choose the referee's qualifying action."))
        found = common.slots(campaign)
        for role, label in self.slot_roles.items():
            matching = [slot for slot in found if slot.role == role]
            if len(matching) != 1:
                errors.append(gettext("A referral needs exactly one slot for the %(role)s.") % {"role": label})
            common.check_prize_slots(matching, errors)
        return errors

    def grants_per_participant(self, campaign) -> tuple[Decimal, int]:
        # Each qualifying referral rewards both sides: the referrer and the referee.
        cap = (campaign.kind_settings or {}).get("cap_per_referrer") or 1
        return EXPECTED_REFERRALS * 2, cap * 2

    def settings_summary(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (gettext("Qualifying action of the referee"), common.event_label(settings.get("qualifying_event", ""))),
            (gettext("Within (days)"), str(settings.get("window_days", "—"))),
            (gettext("Rewarded referrals per referrer"), str(settings.get("cap_per_referrer", "—"))),
        ]


KIND = ReferralKind()
