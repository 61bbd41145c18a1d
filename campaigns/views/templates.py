"""Campaign templates (活动模型): the gallery to start from, "Save as
template", a template's page, publishing to every branch and deleting.

The gallery is the Generate page (``campaigns:campaign_generate``): its view
generates on POST and asks ``gallery`` here to draw the page — the built-in
default of every kind and the templates the user may start from, filtered,
searched and paginated — so there is one place to start a campaign from.
"Generate from this" posts the template to that same view.

Templates are looked up in the user's scope first (their subtree's and the
published ones; 404 otherwise); a change needs the verb on the template's
owner branch (403 otherwise).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, can, require
from campaigns.forms import templates as forms
from campaigns.models import CampaignTemplate
from campaigns.selectors import campaigns as campaign_selectors
from campaigns.selectors import templates as selectors
from campaigns.services import templates as services
from config.forms import is_fragment_request, submit

GALLERY_PAGE_SIZE = 12


def _template(request: HttpRequest, pk: int, verb: str = Verb.VIEW) -> CampaignTemplate:
    template = selectors.template_get_for_user(user=request.user, pk=pk)
    # Reading follows the look-up (a published template is read outside its owner's
    # scope); a change needs the verb on the template's owner branch.
    require(request.user, verb, None if verb == Verb.VIEW else template)
    return template


def _owner_choices(request: HttpRequest) -> list:
    """Branches a new draft may belong to, when the user has a choice (more than one)."""
    branches = list(campaign_selectors.owner_branch_choices(user=request.user))
    return branches if len(branches) > 1 else []


# --- the gallery ------------------------------------------------------------------------------


def gallery(request: HttpRequest, form) -> HttpResponse:
    """The Generate page: built-in defaults and templates, filtered by ``request.GET``.

    ``form`` is the Generate form (bound after a refused POST: its errors are shown
    and the answer is 400). An htmx filter or page request gets the results only.
    """
    user = request.user
    template_filter = forms.TemplateFilter(
        request.GET or None, queryset=selectors.template_list(user=user), user=user
    )
    source = template_filter.cleaned("source")
    builtin = (
        []
        if source in (forms.TemplateFilter.PUBLISHED, forms.TemplateFilter.OWN)
        else selectors.builtin_kinds(kind=template_filter.cleaned("kind"), q=template_filter.cleaned("q"))
    )
    paginator = Paginator(template_filter.qs.order_by("kind", "name", "pk"), GALLERY_PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    for template in page_obj:
        template.kind_label = selectors.kind_label(template.kind)
    context = {
        "form": form,
        "filter": template_filter,
        "kinds": builtin,
        "page_obj": page_obj,
        "owner_choices": _owner_choices(request),
    }
    page = "campaigns/partials/template_gallery.html" if is_fragment_request(request) else "campaigns/template_gallery.html"
    return render(request, page, context, status=400 if form.errors else 200)


# --- save as template -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def template_create(request, code: str):
    campaign = campaign_selectors.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.EDIT, campaign)
    form = forms.TemplateForm(request.POST or None, campaign=campaign)
    done, template = submit(
        request, form, lambda data: services.template_create(actor=request.user, campaign=campaign, **data)
    )
    if done:
        messages.success(
            request, _("Template “%(name)s” saved. Your branch can now generate campaigns from it.") % {"name": template.name}
        )
        return redirect("campaigns:template_detail", pk=template.pk)
    context = {"campaign": campaign, "kind_label": selectors.kind_label(campaign.kind), "form": form}
    return render(request, "campaigns/template_form.html", context, status=400 if form.errors else 200)


# --- one template -----------------------------------------------------------------------------


@require_GET
@login_required
def template_detail(request, pk: int):
    template = _template(request, pk)
    user = request.user
    context = {
        "template": template,
        "overview": selectors.template_overview(template),
        "can_generate": can(user, Verb.EDIT),
        "can_publish": can(user, Verb.PUBLISH_TEMPLATES, template),
        "can_delete": services.may_delete(user, template),
        "owner_choices": _owner_choices(request),
    }
    return render(request, "campaigns/template_detail.html", context)


def _act(request, template: CampaignTemplate, action, done: str) -> bool:
    """Run a service on the template; its refusal becomes an error message."""
    try:
        action(actor=request.user, template=template)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.success(request, done % {"name": template.name})
    return True


@require_POST
@login_required
def template_publish(request, pk: int):
    template = _template(request, pk, Verb.PUBLISH_TEMPLATES)
    _act(
        request, template, services.template_publish,
        _("“%(name)s” is published: every branch can generate campaigns from it."),
    )
    return redirect("campaigns:template_detail", pk=template.pk)


@require_POST
@login_required
def template_unpublish(request, pk: int):
    template = _template(request, pk, Verb.PUBLISH_TEMPLATES)
    _act(
        request, template, services.template_unpublish,
        _("“%(name)s” is no longer published: only its own branch sees it."),
    )
    return redirect("campaigns:template_detail", pk=template.pk)


@require_POST
@login_required
def template_delete(request, pk: int):
    template = _template(request, pk, Verb.EDIT)
    if not services.may_delete(request.user, template):
        raise PermissionDenied
    if _act(request, template, services.template_delete, _("Template “%(name)s” deleted.")):
        return redirect("campaigns:campaign_generate")
    return redirect("campaigns:template_detail", pk=template.pk)


urlpatterns = [
    path("<str:code>/save-as-template/", template_create, name="template_create"),
    path("templates/<int:pk>/", template_detail, name="template_detail"),
    path("templates/<int:pk>/publish/", template_publish, name="template_publish"),
    path("templates/<int:pk>/unpublish/", template_unpublish, name="template_unpublish"),
    path("templates/<int:pk>/delete/", template_delete, name="template_delete"),
]
