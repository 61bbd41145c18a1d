import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.filters import OwnedArchivableFilter, yes_no_filter
from accounts.models import Branch
from audiences import selectors
from audiences.models import ImportBatch, ImportKind, ImportStatus, Segment, Tag, TagCategory


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Customer number or name"), method="search")
    branch = django_filters.ModelChoiceFilter(
        label=_("Branch"), queryset=Branch.objects.none(), method="in_subtree"
    )
    tag = django_filters.ModelChoiceFilter(
        label=_("Tag"), queryset=Tag.objects.none(), to_field_name="code", method="has_tag"
    )
    category = django_filters.ModelChoiceFilter(
        label=_("Tag category"), queryset=TagCategory.objects.all(), to_field_name="code", method="in_category"
    )
    opened_after = django_filters.DateFilter(
        label=_("Customer since (from)"), field_name="opened_on", lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    opened_before = django_filters.DateFilter(
        label=_("Customer since (to)"), field_name="opened_on", lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # Choices outside the user's scope fail validation like any bad choice.
        self.filters["branch"].queryset = Branch.objects.visible_to(user)
        self.filters["tag"].queryset = Tag.objects.visible_to(user).select_related("category")

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(customer_ref__istartswith=value) | Q(name__icontains=value))

    def in_subtree(self, queryset, name, value):
        return queryset.filter(branch__path__startswith=value.path)

    def has_tag(self, queryset, name, value):
        return queryset.filter(selectors.tag_has_members_filter([value.pk]))

    def in_category(self, queryset, name, value):
        tag_ids = Tag.objects.visible_to(self.user).filter(category=value).values("pk")
        return queryset.filter(selectors.tag_has_members_filter(tag_ids))


class TagFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    category = django_filters.ModelChoiceFilter(
        label=_("Category"), queryset=TagCategory.objects.all(), to_field_name="code"
    )
    owner_branch = django_filters.ModelChoiceFilter(label=_("Owner branch"), queryset=Branch.objects.none())
    is_active = yes_no_filter(_("Active"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["owner_branch"].queryset = Branch.objects.all().filter(
            pk__in=Tag.objects.visible_to(user).values("owner_branch")
        )

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(code__icontains=value) | Q(name_zh__icontains=value) | Q(name_en__icontains=value)
        )


class SegmentFilter(OwnedArchivableFilter):
    class Meta:
        model = Segment
        fields = ["q", "owner_branch", "status"]


class ImportFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=ImportKind.choices)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=ImportStatus.choices)
    # Dates in the user's time zone (``__date`` converts to the current one).
    uploaded_after = django_filters.DateFilter(
        label=_("Uploaded (from)"), field_name="created_at", lookup_expr="date__gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    uploaded_before = django_filters.DateFilter(
        label=_("Uploaded (to)"), field_name="created_at", lookup_expr="date__lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = ImportBatch
        fields = ["kind", "status", "uploaded_after", "uploaded_before"]
