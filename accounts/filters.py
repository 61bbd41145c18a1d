import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch, Role, User


def yes_no_filter(label, **kwargs) -> django_filters.BooleanFilter:
    """A boolean filter whose empty choice reads "All", not "Unknown"."""
    widget = forms.Select(choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))])
    return django_filters.BooleanFilter(label=label, widget=widget, **kwargs)


class OwnedArchivableFilter(django_filters.FilterSet):
    """Name search, owner branch (its subtree, within the user's scope) and
    active/archived — for lists of things a branch owns and archives. Archived
    rows stay out of the way unless asked for."""

    ACTIVE, ARCHIVED, ALL = "active", "archived", "all"

    q = django_filters.CharFilter(label=_("Name"), field_name="name", lookup_expr="icontains")
    owner_branch = django_filters.ModelChoiceFilter(
        label=_("Owner branch"), queryset=Branch.objects.none(), to_field_name="code", method="in_subtree"
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[(ACTIVE, _("Active")), (ARCHIVED, _("Archived")), (ALL, _("All"))],
        empty_label=None,
        method="by_status",
    )

    def __init__(self, data=None, *args, user, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("status", self.ACTIVE)
        super().__init__(data, *args, **kwargs)
        self.filters["owner_branch"].queryset = Branch.objects.visible_to(user)

    def in_subtree(self, queryset, name, value):
        return queryset.filter(owner_branch__path__startswith=value.path)

    def by_status(self, queryset, name, value):
        if value == self.ALL:
            return queryset
        return queryset.filter(is_archived=value == self.ARCHIVED)


class UserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    role = django_filters.ChoiceFilter(label=_("Role"), choices=Role.choices)
    branch = django_filters.ModelChoiceFilter(
        label=_("Branch"), queryset=Branch.objects.none(), method="in_subtree"
    )
    is_active = yes_no_filter(_("Active"))

    class Meta:
        model = User
        fields = ["q", "role", "branch", "is_active"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # A branch outside the user's scope fails validation like any bad choice.
        self.filters["branch"].queryset = Branch.objects.visible_to(user)

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )

    def in_subtree(self, queryset, name, value):
        return queryset.filter(branch__path__startswith=value.path)
