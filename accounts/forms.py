from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "time_zone"]
        help_texts = {"time_zone": _("Times are shown to you in this time zone.")}
