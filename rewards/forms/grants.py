"""Grant forms: the actions on one grant, and the history filter."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from rewards.models import Fulfilment
from rewards.selectors import HistoryKind

_REASON_MAX = 200  # the length a ledger row keeps


class ReasonForm(forms.Form):
    """Retry, mark delivered, revoke: a reason is all they ask."""

    reason = forms.CharField(
        label=_("Reason"), max_length=_REASON_MAX, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args, help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if help_text:
            self.fields["reason"].help_text = help_text


class FulfilmentForm(forms.Form):
    """Where a gift goes next: only the states it may reach from where it is."""

    status = forms.ChoiceField(label=_("New fulfilment status"), choices=())
    reason = forms.CharField(label=_("Note"), max_length=_REASON_MAX, required=False)

    def __init__(self, *args, allowed: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.offer(allowed)

    def offer(self, allowed: tuple[str, ...]) -> None:
        self.fields["status"].choices = [(value, Fulfilment(value).label) for value in allowed]


class HistoryFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of entry"), required=False, choices=[("", _("All")), *HistoryKind.choices]
    )
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> dict:
        """The valid filters; an invalid one is ignored, as on every list."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: self.cleaned_data[name] for name in ("kind", "since", "until") if name in self.cleaned_data}
