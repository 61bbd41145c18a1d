"""Forms of manual dispatch: choosing a prize and customers, and carrying the
previewed choice to the confirmation in a signed token."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import PurePath

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from pyroaring import BitMap

from audiences import rules
from audiences import selectors as audience_selectors
from audiences.models import Customer, Segment
from audiences.services.imports import reading
from rewards import selectors
from rewards.models import BatchSelection, Prize

PREVIEW_SALT = "rewards.batch.preview"
# A preview older than this must be made again: stock, budget and scope move.
TOKEN_MAX_AGE = 2 * 3600
# Row problems of an uploaded list shown on the page (all of them are counted).
PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Problem:
    row: int
    customer_ref: str
    message: str


class PrizeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Prize) -> str:
        return _("%(prize)s · CNY %(cost)s · stock %(stock)s") % {
            "prize": obj, "cost": obj.unit_cost, "stock": obj.stock_available,
        }


class BatchForm(forms.Form):
    """Prize, reason and customers, chosen one of three ways, all within the user's scope.

    A valid form has ``members`` (a bitmap of customer ids), ``selection_label``
    and, for an uploaded list, ``problems`` (the rows left out).
    """

    prize = PrizeChoiceField(label=gettext_lazy("Prize"), queryset=Prize.objects.none())
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=200,
        help_text=gettext_lazy("Why these customers get the prize; it is kept with every grant's audit record."),
    )
    way = forms.ChoiceField(
        label=gettext_lazy("Customers from"), choices=BatchSelection.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        initial=BatchSelection.SEARCH,
    )
    q = forms.CharField(label=gettext_lazy("Customer number or name"), max_length=100, required=False)
    customers = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Customers"), queryset=Customer.objects.none(), required=False,
        widget=forms.MultipleHiddenInput,
    )
    segment = forms.ModelChoiceField(label=gettext_lazy("Segment"), queryset=Segment.objects.none(), required=False)
    file = forms.FileField(
        label=gettext_lazy("List of customers"), required=False,
        help_text=gettext_lazy("CSV (UTF-8 or GBK, as Excel saves it) or an Excel workbook (.xlsx) with a column customer_ref."),
        widget=forms.FileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    skip_unknown = forms.BooleanField(
        label=gettext_lazy("Leave out rows whose customer number is unknown, and dispatch to the others"),
        required=False,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["prize"].queryset = selectors.prize_list(user=user)
        self.fields["customers"].queryset = Customer.objects.visible_to(user)
        self.fields["segment"].queryset = audience_selectors.segment_list(user=user).filter(is_archived=False)
        self.members = BitMap()
        self.selection_label = ""
        self.problems: list[Problem] = []
        self.problem_count = 0

    def clean(self):
        data = super().clean()
        way = data.get("way")
        if way == BatchSelection.SEARCH:
            self._from_search(data.get("customers"))
        elif way == BatchSelection.SEGMENT:
            self._from_segment(data.get("segment"))
        elif way == BatchSelection.UPLOAD:
            self._from_upload(data.get("file"), data.get("skip_unknown"))
        return data

    def _from_search(self, customers) -> None:
        if "customers" in self.errors:
            return
        if not customers:
            self.add_error("customers", _("Search for customers and tick at least one."))
            return
        customers = sorted(customers, key=lambda c: c.customer_ref)
        self.members = BitMap(c.pk for c in customers)
        refs = ", ".join(c.customer_ref for c in customers[:5])
        more = len(customers) - 5
        self.selection_label = refs + (_(" and %(n)s more") % {"n": more} if more > 0 else "")

    def _from_segment(self, segment) -> None:
        if "segment" in self.errors:
            return
        if segment is None:
            self.add_error("segment", _("Choose a segment."))
            return
        try:
            members = audience_selectors.segment_members(
                rule=segment.rule, owner_branch=segment.owner_branch, segment=segment
            )
        except rules.RuleError as exc:
            self.add_error("segment", _("This segment cannot be evaluated: %(error)s") % {"error": exc.message})
            return
        # A segment owned above the user's branch reaches further than the user may.
        self.members = BitMap(members & audience_selectors.scope_universe(self.user))
        if not self.members:
            self.add_error("segment", _("This segment has no customers in your scope."))
            return
        self.selection_label = f"{segment.name} (#{segment.pk})"

    def _from_upload(self, uploaded, skip_unknown: bool) -> None:
        if "file" in self.errors:
            return
        if uploaded is None:
            self.add_error("file", _("Choose a file."))
            return
        try:
            refs, rows = _read_refs(uploaded)
        except ValidationError as exc:
            self.add_error("file", exc)
            return
        found = selectors.batch_customers_by_ref(user=self.user, refs=sorted({r for r in refs if r}))
        problems = []
        for row, ref in zip(rows, refs, strict=True):
            if not ref:
                problems.append(Problem(int(row), ref, _("The customer number is empty.")))
            elif ref in found:
                self.members.add(found[ref])
            else:
                # Out of scope reads the same as missing: existence never leaks.
                problems.append(Problem(int(row), ref, _("Unknown customer number.")))
        self.problems = problems[:PROBLEMS_SHOWN]
        self.problem_count = len(problems)
        if problems and not skip_unknown:
            self.add_error("file", ngettext(
                "%(count)s row does not name a customer you can dispatch to (listed below). "
                "Correct the file, or tick the box to leave it out.",
                "%(count)s rows do not name a customer you can dispatch to (listed below). "
                "Correct the file, or tick the box to leave those rows out.",
                len(problems),
            ) % {"count": len(problems)})
        elif not self.members:
            self.add_error("file", _("No row names a customer you can dispatch to."))
        else:
            name = PurePath(uploaded.name or "").name
            self.selection_label = _("%(file)s (%(rows)s rows)") % {"file": name, "rows": len(refs)}


def _read_refs(uploaded) -> tuple[list[str], list[int]]:
    """The ``customer_ref`` column and the row numbers of an uploaded CSV or XLSX."""
    frame, rows = reading.read_upload(uploaded, "customer_refs")
    return frame["customer_ref"].tolist(), rows.tolist()


# ------------------------------------------------------------ preview → confirm


def preview_token(*, user, prize: Prize, form: BatchForm) -> str:
    """The previewed choice, signed: the confirmation cannot change what was shown."""
    data = {
        "user": user.pk,
        "prize": prize.pk,
        "way": form.cleaned_data["way"],
        "label": form.selection_label,
        "reason": form.cleaned_data["reason"],
        "members": base64.b64encode(form.members.serialize()).decode("ascii"),
        "request": uuid.uuid4().hex,
    }
    return signing.dumps(data, salt=PREVIEW_SALT, compress=True)


class ConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_token(self) -> dict:
        expired = _("This preview has expired or was changed; choose the customers again.")
        try:
            data = signing.loads(self.cleaned_data["token"], salt=PREVIEW_SALT, max_age=TOKEN_MAX_AGE)
            if data["user"] != self.user.pk:
                raise ValidationError(expired)
            data["members"] = BitMap.deserialize(base64.b64decode(data["members"]))
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise ValidationError(expired) from exc
        return data


class DecisionForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200, required=False)
