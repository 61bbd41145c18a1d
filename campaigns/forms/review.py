"""Forms of the review pages: decisions with a reason, and the queue's filter."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from campaigns import kinds


class DecisionForm(forms.Form):
    """Approve, withdraw, pause, resume or end: a reason is welcome, not required."""

    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it rejected?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say why the campaign is rejected.")},
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the campaign is rejected."))
        return reason


class ReviewFilter(django_filters.FilterSet):
    """The review queue: pending revisions, filtered by their campaign."""

    q = django_filters.CharFilter(label=_("Code or name"), method="search")
    kind = django_filters.ChoiceFilter(label=_("Kind"), field_name="campaign__kind", choices=[])
    owner_branch = django_filters.ModelChoiceFilter(
        label=_("Owner branch"), field_name="campaign__owner_branch", queryset=Branch.objects.none()
    )
    change = django_filters.ChoiceFilter(
        label=_("Submission"), method="by_change",
        choices=[("new", _("new campaign")), ("change", _("change to a running campaign"))],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["kind"].extra["choices"] = kinds.choices()
        self.filters["owner_branch"].queryset = Branch.objects.visible_to(user)

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(campaign__code__icontains=value) | Q(campaign__name__icontains=value))

    def by_change(self, queryset, name, value):
        return queryset.filter(campaign__live_revision__isnull=value == "new")
