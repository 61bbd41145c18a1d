"""Forms of the analysis pages: which group of a campaign's customers to tag."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import ParticipantGroup


class GroupForm(forms.Form):
    group = forms.ChoiceField(
        choices=ParticipantGroup.choices,
        error_messages={
            "required": _("Choose one of the groups listed."),
            "invalid_choice": _("Choose one of the groups listed."),
        },
    )
