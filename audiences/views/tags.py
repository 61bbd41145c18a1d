from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import Verb, can
from audiences import selectors, services
from audiences.filters import TagFilter
from audiences.forms.tags import TagCategoryForm, TagForm
from audiences.models import Tag, TagCategory

PAGE_SIZE = 50


@require_GET
@login_required
def tag_list(request):
    tag_filter = TagFilter(request.GET or None, queryset=selectors.tag_list(user=request.user), user=request.user)
    page = Paginator(tag_filter.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = selectors.tag_member_counts(user=request.user, tags=list(page))
    rows = [(tag, counts[tag.pk], can(request.user, Verb.MANAGE_TAGS, tag)) for tag in page]
    context = {
        "filter": tag_filter,
        "page_obj": page,
        "rows": rows,
        "categories": TagCategory.objects.all(),
        "can_add": can(request.user, Verb.MANAGE_TAGS),
        "can_manage_categories": can(request.user, Verb.MANAGE_BRANCHES),
    }
    template = "audiences/partials/tag_table.html" if request.htmx else "audiences/tag_list.html"
    return render(request, template, context)


def _save_form(request, form, *, save, success):
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, success)
            return True
    return False


@require_http_methods(["GET", "POST"])
@login_required
def tag_edit(request, code=None):
    if code is None:
        if not can(request.user, Verb.MANAGE_TAGS):
            raise PermissionDenied
        tag = None
    else:
        tag = get_object_or_404(selectors.tag_list(user=request.user), code=code)
        if not can(request.user, Verb.MANAGE_TAGS, tag):
            raise PermissionDenied
    # The form works on its own copy: ModelForm validation writes into its instance,
    # and the service must still see the tag as it was to audit the change.
    instance = Tag.objects.get(pk=tag.pk) if tag else None
    form = TagForm(request.POST or None, instance=instance, user=request.user)

    def save(data):
        data = {k: v for k, v in data.items() if not (tag and k == "code")}
        services.tag_save(actor=request.user, tag=tag, **data)

    if _save_form(request, form, save=save, success=_("The tag was saved.")):
        return redirect("audiences:tag_list")
    heading = _("Edit tag %(code)s") % {"code": tag.code} if tag else _("New tag")
    return render(
        request,
        "form_page.html",
        {"form": form, "heading": heading, "back_url": reverse("audiences:tag_list")},
    )


@require_http_methods(["GET", "POST"])
@login_required
def category_edit(request, code=None):
    if not can(request.user, Verb.MANAGE_BRANCHES):
        raise PermissionDenied
    category = get_object_or_404(TagCategory, code=code) if code else None
    instance = TagCategory.objects.get(pk=category.pk) if category else None
    form = TagCategoryForm(request.POST or None, instance=instance)

    def save(data):
        services.tag_category_save(actor=request.user, category=category, **data)

    if _save_form(request, form, save=save, success=_("The category was saved.")):
        return redirect("audiences:tag_list")
    heading = _("Edit category") if category else _("New category")
    return render(
        request,
        "form_page.html",
        {"form": form, "heading": heading, "back_url": reverse("audiences:tag_list")},
    )


urlpatterns = [
    path("tags/", tag_list, name="tag_list"),
    path("tags/new/", tag_edit, name="tag_new"),
    path("tags/<str:code>/edit/", tag_edit, name="tag_edit"),
    path("tag-categories/new/", category_edit, name="category_new"),
    path("tag-categories/<str:code>/edit/", category_edit, name="category_edit"),
]
