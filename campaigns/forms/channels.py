"""Forms of the API channels pages: the list's filters, a new channel, a
channel's switch and rate limits, and the confirmation of a secret rotation.

Channels belong to the whole bank (no branch scope); who may see these forms
at all is the views' MANAGE_CHANNELS check. The service validates again.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.models import ApiChannel, ApiChannelKind

ACTIVE_CHOICES = [("yes", _("active")), ("no", _("inactive"))]
_RATE = {"min_value": 1, "max_value": 2_147_483_647}


def _default(field: str) -> int:
    return ApiChannel._meta.get_field(field).default


class ChannelFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Name or key id"), method="search")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=ApiChannelKind.choices)
    active = django_filters.ChoiceFilter(label=_("Status"), choices=ACTIVE_CHOICES, method="by_active")

    class Meta:
        model = ApiChannel
        fields = ["q", "kind", "active"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(key_id__icontains=value))

    def by_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "yes")


class ChannelRatesForm(forms.Form):
    rate_per_minute = forms.IntegerField(
        label=_("Requests per minute (whole channel)"),
        initial=_default("rate_per_minute"),
        help_text=_("Requests above this rate get 429 (rate limited)."),
        **_RATE,
    )
    customer_rate_per_minute = forms.IntegerField(
        label=_("Requests per minute (per customer)"),
        initial=_default("customer_rate_per_minute"),
        help_text=_("The same limit for the requests about any one customer."),
        **_RATE,
    )


class ChannelCreateForm(ChannelRatesForm):
    name = forms.CharField(
        label=_("Name"), max_length=80, help_text=_("Unique; for example “Mobile banking app”.")
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=ApiChannelKind.choices,
        help_text=_("Customer actions are served for campaigns that enable this kind; any active channel may report business events."),
    )

    field_order = ["name", "kind", "rate_per_minute", "customer_rate_per_minute"]


class ChannelUpdateForm(ChannelRatesForm):
    is_active = forms.BooleanField(
        label=_("Active"), required=False,
        help_text=_("An inactive channel's requests are refused until it is switched on again."),
    )

    field_order = ["is_active", "rate_per_minute", "customer_rate_per_minute"]


class ChannelRotateForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand: the channel must switch to the new secret before the current one expires."),
        error_messages={"required": _("Tick the box to confirm the rotation.")},
    )
