import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from rewards.models import (
    BatchStatus,
    Fulfilment,
    GrantStatus,
    MovementKind,
    Prize,
    PrizeKind,
    PrizePool,
)

_DATE = {"widget": forms.DateInput(attrs={"type": "date"})}


class ValidityFilter(django_filters.ChoiceFilter):
    """Pools valid today, not yet valid, or expired (by the local date)."""

    def __init__(self, **kwargs):
        choices = [("current", _("valid today")), ("future", _("not yet valid")), ("expired", _("expired"))]
        super().__init__(label=_("Validity"), choices=choices, method=self.by_validity, **kwargs)

    @staticmethod
    def by_validity(queryset, name, value):
        today = timezone.localdate()
        if value == "future":
            return queryset.filter(valid_from__gt=today)
        if value == "expired":
            return queryset.filter(valid_until__lt=today)
        return queryset.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today)).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=today)
        )


class PoolFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Code or name"), method="search")
    owner_branch = django_filters.ModelChoiceFilter(label=_("Owner branch"), queryset=Branch.objects.none())
    validity = ValidityFilter()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["owner_branch"].queryset = Branch.objects.visible_to(user)

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))


class StockMovementFilter(django_filters.FilterSet):
    """The stock ledger of one pool (the prize choice is that pool's prizes)."""

    prize = django_filters.ModelChoiceFilter(label=_("Prize"), queryset=Prize.objects.none())
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=MovementKind.choices)
    since = django_filters.DateFilter(label=_("From"), field_name="at", lookup_expr="date__gte", **_DATE)
    until = django_filters.DateFilter(label=_("To"), field_name="at", lookup_expr="date__lte", **_DATE)

    def __init__(self, *args, pool, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["prize"].queryset = pool.prizes.all()


class BudgetMovementFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=MovementKind.choices)
    since = django_filters.DateFilter(label=_("From"), field_name="at", lookup_expr="date__gte", **_DATE)
    until = django_filters.DateFilter(label=_("To"), field_name="at", lookup_expr="date__lte", **_DATE)


class GrantFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Customer number, key or source reference"), method="search")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=GrantStatus.choices)
    pool = django_filters.ModelChoiceFilter(
        label=_("Prize pool"), field_name="prize__pool", queryset=PrizePool.objects.none()
    )
    prize = django_filters.ModelChoiceFilter(label=_("Prize"), queryset=Prize.objects.none())
    kind = django_filters.ChoiceFilter(label=_("Prize kind"), field_name="prize__kind", choices=PrizeKind.choices)
    fulfilment = django_filters.ChoiceFilter(label=_("Gift fulfilment"), choices=Fulfilment.choices)
    source = django_filters.CharFilter(label=_("Source"), lookup_expr="icontains")
    since = django_filters.DateFilter(label=_("From"), field_name="created_at", lookup_expr="date__gte", **_DATE)
    until = django_filters.DateFilter(label=_("To"), field_name="created_at", lookup_expr="date__lte", **_DATE)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["pool"].queryset = PrizePool.objects.visible_to(user)
        # The option labels name the pool: one query for all of them, not one per option.
        self.filters["prize"].queryset = Prize.objects.visible_to(user).select_related("pool")

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(customer__customer_ref=value) | Q(idempotency_key=value) | Q(source_ref=value))


class BatchFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=BatchStatus.choices)
    pool = django_filters.ModelChoiceFilter(
        label=_("Prize pool"), field_name="prize__pool", queryset=PrizePool.objects.none()
    )
    since = django_filters.DateFilter(label=_("From"), field_name="created_at", lookup_expr="date__gte", **_DATE)
    until = django_filters.DateFilter(label=_("To"), field_name="created_at", lookup_expr="date__lte", **_DATE)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["pool"].queryset = PrizePool.objects.visible_to(user)
