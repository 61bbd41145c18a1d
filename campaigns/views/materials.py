"""Campaign pages: the materials library and the live message counter.

Every material is looked up in the user's scope first (404 outside it);
uploading, editing and archiving also need EDIT on it (403 otherwise) and go
through ``campaigns.services.materials``, whose ValidationError is shown on
the form. An article's HTML reaches a page only through ``sanitize`` (nh3),
on the way in and again on the way out.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, can, require
from campaigns.forms import materials as material_forms
from campaigns.models import Material, MaterialKind
from campaigns.selectors import materials as selectors
from campaigns.services import materials as services
from campaigns.services import messages as message_services
from config.forms import add_service_error, is_fragment_request

PAGE_SIZE = 24


def _editable(request: HttpRequest, pk: int) -> Material:
    material = selectors.material_get_for_user(user=request.user, pk=pk)
    require(request.user, Verb.EDIT, material)
    return material


@require_GET
@login_required
def material_list(request):
    material_filter = material_forms.MaterialFilter(
        request.GET, queryset=selectors.material_list(user=request.user), user=request.user
    )
    paginator = Paginator(material_filter.qs, PAGE_SIZE)
    context = {"filter": material_filter, "page_obj": paginator.get_page(request.GET.get("page"))}
    template = (
        "campaigns/partials/material_grid.html" if is_fragment_request(request) else "campaigns/material_list.html"
    )
    return render(request, template, context)


@require_GET
@login_required
def material_detail(request, pk: int):
    material = selectors.material_get_for_user(user=request.user, pk=pk)
    context = {
        "material": material,
        "article_html": services.sanitize(material.body) if material.kind == MaterialKind.ARTICLE else "",
        "can_edit": can(request.user, Verb.EDIT, material),
    }
    return render(request, "campaigns/material_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def material_upload(request):
    require(request.user, Verb.EDIT)
    form = material_forms.MaterialUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            material = services.material_upload(
                actor=request.user,
                kind=data["kind"],
                name=data["name"],
                uploaded_file=data["file"],
                owner_branch=data.get("owner_branch"),
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("“%(name)s” uploaded.") % {"name": material.name})
            return redirect("campaigns:material_detail", pk=material.pk)
    context = {
        "form": form,
        "image_max_bytes": settings.MATERIAL_IMAGE_MAX_BYTES,
        "video_max_bytes": settings.MATERIAL_VIDEO_MAX_BYTES,
        "max_pixels": settings.MATERIAL_MAX_PIXELS,
    }
    return render(request, "campaigns/material_upload.html", context)


def _article_page(request, form, material: Material | None) -> HttpResponse:
    body = form.data.get("body", "") if form.is_bound else form.initial.get("body", "")
    context = {"form": form, "material": material, "preview_html": services.sanitize(body)}
    return render(request, "campaigns/material_article_form.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def material_article_new(request):
    require(request.user, Verb.EDIT)
    form = material_forms.ArticleForm(request.POST or None, user=request.user)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        data = form.cleaned_data
        try:
            material = services.material_article_create(
                actor=request.user, name=data["name"], body=data["body"], owner_branch=data.get("owner_branch")
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Article “%(name)s” saved.") % {"name": material.name})
            return redirect("campaigns:material_detail", pk=material.pk)
    return _article_page(request, form, None)


@require_http_methods(["GET", "POST"])
@login_required
def material_article_edit(request, pk: int):
    material = _editable(request, pk)
    if material.kind != MaterialKind.ARTICLE:
        messages.info(request, _("Only articles are edited here; upload a new file to replace an image or video."))
        return redirect("campaigns:material_detail", pk=material.pk)
    initial = {"name": material.name, "body": material.body}
    form = material_forms.ArticleForm(request.POST or None, initial=initial, user=request.user, with_owner_branch=False)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            services.material_article_update(
                actor=request.user, material=material, name=form.cleaned_data["name"], body=form.cleaned_data["body"]
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Article “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
            return redirect("campaigns:material_detail", pk=material.pk)
    return _article_page(request, form, material)


@require_POST
@login_required
def material_article_preview(request):
    """The sanitised HTML of the text being typed, for the live preview."""
    context = {"preview_html": services.sanitize(request.POST.get("body", ""))}
    return render(request, "campaigns/partials/material_article_preview.html", context)


@require_POST
@login_required
def material_archive(request, pk: int):
    material = _editable(request, pk)
    services.material_archive(actor=request.user, material=material)
    messages.success(request, _("“%(name)s” archived: it is no longer offered for new campaigns.") % {"name": material.name})
    return redirect("campaigns:material_detail", pk=material.pk)


@require_POST
@login_required
def material_restore(request, pk: int):
    material = _editable(request, pk)
    services.material_restore(actor=request.user, material=material)
    messages.success(request, _("“%(name)s” restored.") % {"name": material.name})
    return redirect("campaigns:material_detail", pk=material.pk)


@require_http_methods(["GET", "POST"])
@login_required
def message_counter(request):
    """Length, SMS parts and encoding, an example and the problems of a channel's
    message template, as the partial beside its textarea (htmx swaps it)."""
    form = material_forms.MessageCounterForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Unknown channel."))
    data = form.cleaned_data
    context = {
        "channel": data["channel"],
        "field_id": data["field_id"],
        "campaign_name": data["campaign_name"],
        "message_count": message_services.counter(
            template=data["template"], channel=data["channel"], campaign=data["campaign_name"]
        ),
    }
    return render(request, "campaigns/partials/message_counter.html", context)


urlpatterns = [
    path("materials/", material_list, name="material_list"),
    path("materials/upload/", material_upload, name="material_upload"),
    path("materials/articles/new/", material_article_new, name="material_article_new"),
    path("materials/articles/preview/", material_article_preview, name="material_article_preview"),
    path("materials/<int:pk>/", material_detail, name="material_detail"),
    path("materials/<int:pk>/edit/", material_article_edit, name="material_article_edit"),
    path("materials/<int:pk>/archive/", material_archive, name="material_archive"),
    path("materials/<int:pk>/restore/", material_restore, name="material_restore"),
    path("messages/counter/", message_counter, name="message_counter"),
]
