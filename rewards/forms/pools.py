"""Forms for prize pools, prizes, stock, budget and coupon codes.

They validate input; the services in ``rewards.services`` act. Every choice of
a branch or a pool is narrowed to the user's scope here, so a tampered id is
an invalid choice, never a change outside the scope.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from rewards import selectors
from rewards.models import MONEY, MovementKind, PrizeKind, PrizePool

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_REASON = {"label": _("Reason"), "max_length": 200}


def _amount_field(label):
    return forms.DecimalField(label=label, min_value=Decimal("0.01"), **MONEY)


class _Validity(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and start > end:
            self.add_error("valid_until", _("The end of validity is before its start."))
        return data


class PoolEditForm(_Validity):
    name = forms.CharField(label=_("Name"), max_length=120)
    valid_from = forms.DateField(label=_("Valid from"), required=False, widget=_DATE)
    valid_until = forms.DateField(
        label=_("Valid until"), required=False, widget=_DATE, help_text=_("Leave both empty for a pool without an end.")
    )


class PoolForm(PoolEditForm):
    code = forms.CharField(
        label=_("Code"), max_length=40, help_text=_("Letters, digits, - and _; it cannot be changed later.")
    )
    owner_branch = forms.ModelChoiceField(label=_("Owner branch"), queryset=Branch.objects.none())

    field_order = ["code", "name", "owner_branch", "valid_from", "valid_until"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_branch"].queryset = Branch.objects.visible_to(user)
        if user.branch_id and "owner_branch" not in self.initial:
            self.initial["owner_branch"] = user.branch_id

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if code.lower() == "new":  # the address of the "new pool" page
            raise forms.ValidationError(_("This code is reserved; choose another."))
        return code


class PrizeEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    unit_cost = forms.DecimalField(
        label=_("Unit cost (CNY)"), min_value=Decimal("0"), help_text=_("Taken from the pool's budget for each grant."),
        **MONEY,
    )


class PrizeForm(PrizeEditForm):
    code = forms.CharField(label=_("Code"), max_length=40, help_text=_("Unique in the pool; it cannot be changed later."))
    kind = forms.ChoiceField(label=_("Kind"), choices=PrizeKind.choices)

    field_order = ["code", "name", "kind", "unit_cost"]


class StockAddForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1)
    reason = forms.CharField(**_REASON)


class StockAdjustForm(forms.Form):
    """A correction of stock: a count, damage or loss (either sign), or expiry (only down)."""

    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(MovementKind.ADJUSTED, _("adjusted (a count, damage, loss)")), (MovementKind.EXPIRED, _("expired"))],
        initial=MovementKind.ADJUSTED,
    )
    change = forms.IntegerField(
        label=_("Change"), help_text=_("Negative to take units out of stock, positive to add units that were found.")
    )
    reason = forms.CharField(**_REASON)

    def clean_change(self):
        change = self.cleaned_data["change"]
        if change == 0:
            raise forms.ValidationError(_("The change must not be zero."))
        return change

    def clean(self):
        data = super().clean()
        if data.get("kind") == MovementKind.EXPIRED and data.get("change", 0) > 0:
            self.add_error("change", _("Expired units leave the stock: enter a negative change."))
        return data


class _TargetPoolForm(forms.Form):
    target_pool = forms.ModelChoiceField(
        label=_("To pool"), queryset=PrizePool.objects.none(), to_field_name="code",
        help_text=_("A pool of a branch below this pool's branch."),
    )

    def __init__(self, *args, user, pool: PrizePool, **kwargs):
        super().__init__(*args, **kwargs)
        targets = selectors.transfer_targets(user=user, pool=pool)
        self.fields["target_pool"].queryset = targets
        self.fields["target_pool"].label_from_instance = lambda p: f"{p.name} ({p.code}) · {p.owner_branch.name}"


class StockTransferForm(_TargetPoolForm):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1)
    reason = forms.CharField(**_REASON)


class BudgetAddForm(forms.Form):
    amount = _amount_field(_("Amount (CNY)"))
    reason = forms.CharField(**_REASON)


class BudgetTransferForm(_TargetPoolForm):
    amount = _amount_field(_("Amount (CNY)"))
    reason = forms.CharField(**_REASON)


class CouponUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK, as Excel saves it) or an Excel workbook (.xlsx) with one column: code."),
        widget=forms.FileInput(attrs={"accept": ".csv,.xlsx"}),
    )
