"""API channels pages: the list, a new channel, a channel's page (switch and
rate limits) and the rotation of its secret.

Channels belong to the whole bank, so there is no branch scope: every page
needs MANAGE_CHANNELS (head-office admins and superusers; 403 otherwise),
checked before the channel is looked up. A secret is shown on exactly two
responses, the one that made it (``channel_create``, ``channel_rotate``),
answered from the POST itself with ``Cache-Control: no-store`` so that neither
the browser nor a proxy keeps a copy; the channel's page never shows it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, require
from campaigns.forms import channels as channel_forms
from campaigns.models import ApiChannel
from campaigns.services import channels as services
from config.forms import is_fragment_request, submit

PAGE_SIZE = 25


def _channel(request: HttpRequest, pk: int) -> ApiChannel:
    require(request.user, Verb.MANAGE_CHANNELS)
    return get_object_or_404(ApiChannel.objects.select_related("created_by"), pk=pk)


def _secret_page(request: HttpRequest, channel: ApiChannel, secret: str, *, rotated: bool) -> HttpResponse:
    context = {"channel": channel, "secret": secret, "rotated": rotated}
    response = render(request, "campaigns/channel_secret.html", context)
    add_never_cache_headers(response)
    return response


def _detail_page(request: HttpRequest, channel: ApiChannel, *, form=None, rotate_form=None) -> HttpResponse:
    initial = {
        "is_active": channel.is_active,
        "rate_per_minute": channel.rate_per_minute,
        "customer_rate_per_minute": channel.customer_rate_per_minute,
    }
    context = {
        "channel": channel,
        "form": form or channel_forms.ChannelUpdateForm(initial=initial),
        "rotate_form": rotate_form or channel_forms.ChannelRotateForm(),
        "previous_in_grace": bool(channel.previous_valid_until and channel.previous_valid_until > timezone.now()),
        "grace_hours": settings.CAMPAIGNS_SECRET_GRACE_HOURS,
        "max_skew": settings.CAMPAIGNS_API_MAX_SKEW,
    }
    return render(request, "campaigns/channel_detail.html", context)


@require_GET
@login_required
def channel_list(request):
    require(request.user, Verb.MANAGE_CHANNELS)
    channel_filter = channel_forms.ChannelFilter(request.GET, queryset=ApiChannel.objects.order_by("name", "pk"))
    paginator = Paginator(channel_filter.qs, PAGE_SIZE)
    context = {"filter": channel_filter, "page_obj": paginator.get_page(request.GET.get("page"))}
    template = "campaigns/partials/channel_table.html" if is_fragment_request(request) else "campaigns/channel_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def channel_create(request):
    require(request.user, Verb.MANAGE_CHANNELS)
    form = channel_forms.ChannelCreateForm(request.POST or None)
    done, made = submit(request, form, lambda data: services.channel_create(actor=request.user, **data))
    if done:
        channel, secret = made
        return _secret_page(request, channel, secret, rotated=False)
    return render(request, "campaigns/channel_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
def channel_detail(request, pk: int):
    channel = _channel(request, pk)
    if request.method == "GET":
        return _detail_page(request, channel)
    form = channel_forms.ChannelUpdateForm(request.POST)
    done, _channel_saved = submit(
        request, form, lambda data: services.channel_update(actor=request.user, channel=channel, **data)
    )
    if done:
        messages.success(request, _("Channel “%(name)s” saved.") % {"name": channel.name})
        return redirect("campaigns:channel_detail", pk=channel.pk)
    return _detail_page(request, channel, form=form)


@require_POST
@login_required
def channel_rotate(request, pk: int):
    channel = _channel(request, pk)
    rotate_form = channel_forms.ChannelRotateForm(request.POST)
    if not rotate_form.is_valid():
        return _detail_page(request, channel, rotate_form=rotate_form)
    secret = services.channel_rotate(actor=request.user, channel=channel)
    return _secret_page(request, channel, secret, rotated=True)


urlpatterns = [
    path("channels/", channel_list, name="channel_list"),
    path("channels/new/", channel_create, name="channel_create"),
    path("channels/<int:pk>/", channel_detail, name="channel_detail"),
    path("channels/<int:pk>/rotate/", channel_rotate, name="channel_rotate"),
]
