"""Forms of campaign templates: "Save as template" and the gallery's filters."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns import kinds
from campaigns.models import Campaign, CampaignTemplate


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What the campaign is for and when to use it: shown in the gallery."),
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        kwargs.setdefault("initial", {"name": campaign.name})
        super().__init__(*args, **kwargs)


class TemplateFilter(django_filters.FilterSet):
    """The gallery's filters. ``source`` and ``kind`` also narrow the built-in
    defaults shown above the templates (see ``builtin_kinds``)."""

    BUILTIN, PUBLISHED, OWN = "builtin", "published", "own"

    q = django_filters.CharFilter(label=_("Search"), method="search")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=(), field_name="kind")
    source = django_filters.ChoiceFilter(
        label=_("Source"),
        choices=[
            (BUILTIN, _("Built-in defaults only")),
            (PUBLISHED, _("Published by head office")),
            (OWN, _("My branch's templates")),
        ],
        method="by_source",
    )

    class Meta:
        model = CampaignTemplate
        fields = ["q", "kind", "source"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["kind"].extra["choices"] = kinds.choices()
        self.user = user

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def by_source(self, queryset, name, value):
        if value == self.BUILTIN:
            return queryset.none()
        if value == self.PUBLISHED:
            return queryset.filter(published=True)
        return queryset.filter(pk__in=CampaignTemplate.objects.visible_to(self.user).values("pk"))

    def cleaned(self, name: str) -> str:
        """A filter's valid value ("" when absent or invalid, which the list ignores too)."""
        if not self.is_bound:
            return ""
        self.form.is_valid()
        return self.form.cleaned_data.get(name) or ""
