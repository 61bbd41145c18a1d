from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from audiences.models import Tag, TagCategory


class TagForm(forms.ModelForm):
    """Fields only; the service decides and saves (it checks the owner's scope again)."""

    class Meta:
        model = Tag
        fields = ["code", "name_zh", "name_en", "category", "owner_branch", "description", "is_active"]
        help_texts = {
            "code": _("Stable identifier used in segments and import files; it cannot change later."),
            "owner_branch": _("Head office owns bank-wide tags; a branch's tags are seen in its subtree."),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_branch"].queryset = Branch.objects.visible_to(user)
        if self.instance.pk:
            self.fields["code"].disabled = True
        if not self.instance.pk and user.branch is not None:
            self.fields["owner_branch"].initial = user.branch.pk


class TagCategoryForm(forms.ModelForm):
    class Meta:
        model = TagCategory
        fields = ["code", "name_zh", "name_en", "order", "description"]
