import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from campaigns import kinds
from campaigns.models import CampaignStatus
from campaigns.selectors.results import ANALYSED

_DATE = {"widget": forms.DateInput(attrs={"type": "date"})}
ARCHIVED_CHOICES = [("yes", _("archived only")), ("all", _("archived or not"))]


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class CampaignFilter(django_filters.FilterSet):
    """Campaigns by kind, status, owner branch (its subtree), a date range their window
    overlaps, and code or name. Archived campaigns are left out unless asked for."""

    q = django_filters.CharFilter(label=_("Code or name"), method="search")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=())
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CampaignStatus.choices)
    owner_branch = django_filters.ModelChoiceFilter(
        label=_("Owner branch"), queryset=Branch.objects.none(), method="in_subtree"
    )
    since = django_filters.DateFilter(label=_("Running from"), method="running_since", **_DATE)
    until = django_filters.DateFilter(label=_("Running until"), method="running_until", **_DATE)
    archived = django_filters.ChoiceFilter(
        label=_("Archived"), choices=ARCHIVED_CHOICES, empty_label=_("not archived"), method="by_archived"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["kind"].extra["choices"] = kinds.choices()
        # A branch outside the user's scope fails validation like any bad choice.
        self.filters["owner_branch"].queryset = Branch.objects.visible_to(user)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(is_archived=False)
        return queryset

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))

    def in_subtree(self, queryset, name, value):
        return queryset.filter(owner_branch__path__startswith=value.path)

    def running_since(self, queryset, name, value):
        # Overlap: the campaign ends on or after the first day of the range.
        return queryset.filter(ends_at__gte=_local_midnight(value))

    def running_until(self, queryset, name, value):
        return queryset.filter(starts_at__lt=_local_midnight(value + dt.timedelta(days=1)))

    def by_archived(self, queryset, name, value):
        return queryset.filter(is_archived=True) if value == "yes" else queryset


UPLIFT_CHOICES = [("significant", _("significant only")), ("gain", _("significant gain only"))]


class ResultFilter(CampaignFilter):
    """The results list (campaigns:results): the campaign list's filters, the
    status limited to the states that have an analysis, plus the uplift —
    significant either way, or a significant gain."""

    uplift = django_filters.ChoiceFilter(
        label=_("Uplift"), choices=UPLIFT_CHOICES, empty_label=_("any"), method="by_uplift"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.filters["status"].extra["choices"] = [
            (value, label) for value, label in CampaignStatus.choices if value in ANALYSED
        ]

    def by_uplift(self, queryset, name, value):
        queryset = queryset.filter(result__uplift_significant=True)
        return queryset.filter(result__uplift__gt=0) if value == "gain" else queryset
