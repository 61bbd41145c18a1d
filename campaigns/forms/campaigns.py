"""Forms for generating and editing campaigns, one per edit tab.

Every choice (owner branch, prize, segment, tag, target branch, material,
template) is narrowed here to ``campaigns.selectors.campaigns``' choices for
this user and this campaign's owner branch, so a tampered id is an invalid
choice and the service is never called. The services check the same again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from campaigns import kinds
from campaigns.models import MONEY, Campaign, CampaignChannel, RewardSlot
from campaigns.selectors import campaigns as selectors

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_MULTI = {"required": False, "widget": forms.SelectMultiple(attrs={"size": 8})}


def _prize_label(prize) -> str:
    return f"{prize.name} · {prize.pool.code}/{prize.code} · ¥{prize.unit_cost} · {prize.stock_available}"


class GenerateForm(forms.Form):
    """One click: the kind (or a template) and, for whoever has more than one, the owner branch."""

    kind = forms.ChoiceField(label=_("Kind"), choices=(), required=False)
    template = forms.ModelChoiceField(label=_("Template"), queryset=None, required=False)
    owner_branch = forms.ModelChoiceField(label=_("Owner branch"), queryset=None, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kinds.choices()
        self.fields["template"].queryset = selectors.template_choices(user=user)
        self.fields["owner_branch"].queryset = selectors.owner_branch_choices(user=user)
        self.user = user

    def clean(self):
        data = super().clean()
        if not data.get("kind") and not data.get("template") and not self.errors:
            raise ValidationError(_("Choose a kind of campaign or a template."))
        if not data.get("owner_branch"):
            data["owner_branch"] = self.user.branch
        return data


class BasicsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=_DATETIME, help_text=_("In your own time zone."))
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=_DATETIME)
    banner = forms.ModelChoiceField(
        label=_("Banner"), queryset=None, required=False,
        help_text=_("The image at the top of the campaign's landing page (from the materials library)."),
    )

    def __init__(self, *args, user, campaign: Campaign, **kwargs):
        kwargs.setdefault(
            "initial",
            {"name": campaign.name, "starts_at": campaign.starts_at, "ends_at": campaign.ends_at, "banner": campaign.banner_id},
        )
        super().__init__(*args, **kwargs)
        self.fields["banner"].queryset = selectors.material_choices(
            user=user, owner_branch=campaign.owner_branch, keep=[campaign.banner_id]
        )

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The campaign must end after it starts."))
        return data


class AudienceForm(forms.Form):
    segments_in = forms.ModelMultipleChoiceField(
        label=_("Segments included"), queryset=None,
        help_text=_("Empty: every customer of the target branches."), **_MULTI,
    )
    segments_out = forms.ModelMultipleChoiceField(label=_("Segments excluded"), queryset=None, **_MULTI)
    control_percent = forms.IntegerField(
        label=_("Control group (%)"), min_value=0, max_value=50,
        help_text=_("A share of the audience held out, not served, to measure uplift (0 to 50 %)."),
    )

    def __init__(self, *args, user, campaign: Campaign, **kwargs):
        chosen_in = [s.pk for s in campaign.segments_in.all()]
        chosen_out = [s.pk for s in campaign.segments_out.all()]
        kwargs.setdefault(
            "initial", {"segments_in": chosen_in, "segments_out": chosen_out, "control_percent": campaign.control_percent}
        )
        super().__init__(*args, **kwargs)
        choices = selectors.segment_choices(user=user, owner_branch=campaign.owner_branch, keep=chosen_in + chosen_out)
        self.fields["segments_in"].queryset = choices
        self.fields["segments_out"].queryset = choices

    def clean(self):
        data = super().clean()
        both = {s.pk for s in data.get("segments_in") or ()} & {s.pk for s in data.get("segments_out") or ()}
        if both:
            self.add_error("segments_out", _("A segment cannot be both included and excluded."))
        return data


class RulesForm(forms.Form):
    limit_per_day = forms.IntegerField(
        label=_("Per customer per day"), min_value=1, required=False, help_text=_("Empty: no daily limit.")
    )
    limit_total = forms.IntegerField(
        label=_("Per customer in total"), min_value=1, required=False, help_text=_("Empty: no overall limit.")
    )
    new_customers_only = forms.BooleanField(label=_("New customers only"), required=False)
    new_customer_days = forms.IntegerField(
        label=_("New means opened within (days)"), min_value=1, max_value=3650,
        help_text=_("Before the campaign starts."),
    )
    blacklist_tags = forms.ModelMultipleChoiceField(
        label=_("Excluded tags"), queryset=None, help_text=_("Customers with any of these tags cannot take part."),
        **_MULTI,
    )
    target_branches = forms.ModelMultipleChoiceField(
        label=_("Target branches"), queryset=None,
        help_text=_("The owner branch or branches below it; empty: the owner branch's whole subtree."), **_MULTI,
    )
    rules_text = forms.CharField(
        label=_("Rules shown to customers"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, user, campaign: Campaign, **kwargs):
        tags = [t.pk for t in campaign.blacklist_tags.all()]
        kwargs.setdefault(
            "initial",
            {
                "limit_per_day": campaign.limit_per_day, "limit_total": campaign.limit_total,
                "new_customers_only": campaign.new_customers_only, "new_customer_days": campaign.new_customer_days,
                "blacklist_tags": tags, "target_branches": [b.pk for b in campaign.target_branches.all()],
                "rules_text": campaign.rules_text,
            },
        )
        super().__init__(*args, **kwargs)
        tag_field = self.fields["blacklist_tags"]
        tag_field.queryset = selectors.tag_choices(user=user, owner_branch=campaign.owner_branch, keep=tags)
        tag_field.label_from_instance = lambda tag: f"{tag.name} ({tag.code})"
        self.fields["target_branches"].queryset = selectors.branch_choices(user=user, owner_branch=campaign.owner_branch)

    def clean(self):
        data = super().clean()
        per_day, total = data.get("limit_per_day"), data.get("limit_total")
        if per_day and total and per_day > total:
            self.add_error("limit_total", _("The limit in total cannot be less than the limit per day."))
        return data


class BudgetForm(forms.Form):
    budget_total = forms.DecimalField(label=_("Total budget (CNY)"), min_value=Decimal("0"), **MONEY)
    budget_daily = forms.DecimalField(
        label=_("Daily budget (CNY)"), min_value=Decimal("0"), required=False, help_text=_("Empty: no daily cap."),
        **MONEY,
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        kwargs.setdefault("initial", {"budget_total": campaign.budget_total, "budget_daily": campaign.budget_daily})
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        total, daily = data.get("budget_total"), data.get("budget_daily")
        if total is not None and daily is not None and daily > total:
            self.add_error("budget_daily", _("The daily budget cannot be more than the total budget."))
        return data


class SlotForm(forms.Form):
    """A reward slot; the kind adds its own option fields (a flash-sale price, a task-chain step).

    ``cleaned_data["options"]`` is what the kind makes of them (JSON-safe).
    """

    role = forms.ChoiceField(label=_("Role"))
    label = forms.CharField(label=_("Label"), max_length=80, help_text=_("What the customer sees."))
    prize = forms.ModelChoiceField(label=_("Prize"), queryset=None, required=False)
    quantity = forms.IntegerField(
        label=_("Quantity to reserve"), min_value=0, initial=0,
        help_text=_("Set aside from the prize's stock when the campaign is approved."),
    )
    weight = forms.IntegerField(
        label=_("Weight (of 10,000)"), min_value=0, max_value=10_000, initial=0, required=False,
        help_text=_("The chance of this slot: 100 is 1 %; the “no prize” slot takes what is left."),
    )

    def __init__(self, *args, user, campaign: Campaign, slot: RewardSlot | None = None, **kwargs):
        self.kind = kinds.get(campaign.kind)
        self.campaign = campaign
        if slot is not None:
            initial = {
                "role": slot.role, "label": slot.label, "prize": slot.prize_id, "quantity": slot.quantity,
                "weight": slot.weight, **(slot.options or {}),
            }
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = list(self.kind.slot_roles.items())
        prize_field = self.fields["prize"]
        prize_field.queryset = selectors.prize_choices(user=user, owner_branch=campaign.owner_branch)
        prize_field.label_from_instance = _prize_label
        prize_field.help_text = _("Name · pool/code · unit cost · in stock. Empty for a slot without a prize.")
        if not self.kind.uses_weights:
            del self.fields["weight"]
        self.option_names = []
        for name, field in self.kind.slot_option_fields(campaign).items():
            self.fields[name] = field
            self.option_names.append(name)

    def clean(self):
        data = super().clean()
        role = data.get("role")
        if role is None:
            return data
        if role in self.kind.prizeless_roles:
            data.update(prize=None, quantity=0, weight=0)
        data["weight"] = data.get("weight") or 0
        options: dict[str, Any] = {}
        if not self.errors:
            try:
                options = self.kind.slot_options(self.campaign, role, {name: data.get(name) for name in self.option_names})
            except ValidationError as exc:
                self.add_error(None, exc)
                return data
        for name in self.option_names:
            data.pop(name, None)
        data["options"] = options
        return data


class ChannelForm(forms.Form):
    enabled = forms.BooleanField(label=_("Send on this channel"), required=False)
    template = forms.CharField(
        label=_("Message template"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Placeholders: {name}, {campaign}, {link}."),
    )
    material = forms.ModelChoiceField(label=_("Material"), queryset=None, required=False)

    def __init__(self, *args, user, channel: CampaignChannel, **kwargs):
        kwargs.setdefault(
            "initial", {"enabled": channel.enabled, "template": channel.template, "material": channel.material_id}
        )
        kwargs.setdefault("prefix", channel.channel)
        super().__init__(*args, **kwargs)
        self.channel = channel
        material = self.fields["material"]
        material.queryset = selectors.material_choices(
            user=user, owner_branch=channel.campaign.owner_branch, keep=[channel.material_id]
        )
        material.label_from_instance = lambda m: f"{m.name} ({m.get_kind_display()})"

    def clean(self):
        data = super().clean()
        if data.get("enabled") and not (data.get("template") or "").strip():
            self.add_error("template", _("An enabled channel needs a message."))
        return data


def settings_form(campaign: Campaign, data=None):
    """The kind's own settings form, filled with the campaign's settings."""
    kind = kinds.get(campaign.kind)
    form = kind.settings_form(data, initial=dict(campaign.kind_settings or {}))
    form.campaign = campaign  # the task chain's rows post their new order to campaigns:task_order
    return form
