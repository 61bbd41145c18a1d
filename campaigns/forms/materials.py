"""Forms of the materials library: the list's filters, uploads and articles.

Choices are narrowed to the user's scope in ``__init__``, so a tampered
branch fails validation. The file itself is judged by the service (by its
content); the form only carries it.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.filters import OwnedArchivableFilter
from accounts.models import Branch
from campaigns.models import ChannelKind, Material, MaterialKind
from campaigns.services import materials

_UPLOAD_KIND_CHOICES = [(k.value, k.label) for k in materials.UPLOAD_KINDS]
# A hint for the browser's file picker only; the content decides.
_ACCEPT = "image/png,image/jpeg,image/webp,image/gif,video/mp4,video/webm"


class MaterialFilter(OwnedArchivableFilter):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=MaterialKind.choices)

    class Meta:
        model = Material
        fields = ["q", "kind", "owner_branch", "status"]


def _owner_branch_field(form: forms.Form, user) -> None:
    """Offer the owner branch only to someone whose scope holds more than their branch."""
    branches = Branch.objects.visible_to(user).order_by("path")
    if branches.count() > 1:
        form.fields["owner_branch"].queryset = branches
        form.fields["owner_branch"].initial = user.branch_id
    else:
        del form.fields["owner_branch"]


class MaterialUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=_UPLOAD_KIND_CHOICES, initial=MaterialKind.POSTER)
    name = forms.CharField(
        label=_("Name"), max_length=120, required=False,
        help_text=_("Left empty, the file's name is used."),
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_("Posters: PNG, JPEG or WebP. Animated images: GIF, animated PNG or animated WebP. Short videos: MP4 or WebM."),
        widget=forms.ClearableFileInput(attrs={"accept": _ACCEPT}),
    )
    owner_branch = forms.ModelChoiceField(
        label=_("Owner branch"), queryset=Branch.objects.none(), required=False,
        help_text=_("Left empty, your own branch."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        _owner_branch_field(self, user)

    def clean(self):
        data = super().clean()
        if not data.get("name") and data.get("file"):
            data["name"] = materials.default_name(data["file"])
        return data


class ArticleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    body = forms.CharField(
        label=_("Text (HTML)"),
        max_length=materials.ARTICLE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 16, "class": "font-monospace"}),
        help_text=_(
            "Allowed: paragraphs, line breaks, bold, italic, underline, headings (h2, h3), lists, "
            "quotes, links (http, https, mailto) and images (http, https or our materials). "
            "Anything else is removed when saved."
        ),
    )
    owner_branch = forms.ModelChoiceField(
        label=_("Owner branch"), queryset=Branch.objects.none(), required=False,
        help_text=_("Left empty, your own branch."),
    )

    def __init__(self, *args, user, with_owner_branch: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if with_owner_branch:
            _owner_branch_field(self, user)
        else:
            del self.fields["owner_branch"]


class MessageCounterForm(forms.Form):
    """The live counter's request: the template text, its channel and, for the
    example, the campaign's name. ``field_id`` names the textarea whose value
    htmx sent (its name is the id without Django's ``id_`` prefix)."""

    channel = forms.ChoiceField(choices=ChannelKind.choices)
    field_id = forms.CharField(max_length=200, required=False)
    campaign_name = forms.CharField(max_length=200, required=False)
    template = forms.CharField(max_length=10_000, required=False, strip=False)

    def __init__(self, data, *args, **kwargs):
        data = data.copy()
        field_id = data.get("field_id", "")
        source = field_id[3:] if field_id.startswith("id_") else field_id
        if source and source in data and "template" not in data:
            data["template"] = data[source]
        super().__init__(data, *args, **kwargs)
