from django import forms
from django.utils.translation import gettext_lazy as _

from audiences.models import ImportKind


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("The file contains"), choices=ImportKind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK, as Excel saves it) or an Excel workbook (.xlsx)."),
        widget=forms.FileInput(attrs={"accept": ".csv,.xlsx"}),
    )
