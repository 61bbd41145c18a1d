from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import dashboard, selectors
from accounts.filters import UserFilter
from accounts.forms import PreferencesForm
from accounts.permissions import Verb, can

PAGE_SIZE = 25


@require_GET
@login_required
def dashboard_view(request):
    return render(
        request, "accounts/dashboard.html", {"cards": dashboard.cards_for(request.user)}
    )


@require_GET
@login_required
def branch_list(request):
    paginator = Paginator(selectors.branch_list(user=request.user), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "accounts/branch_list.html", {"page_obj": page})


@require_GET
@login_required
def branch_detail(request, code):
    branch = selectors.branch_get_for_user(user=request.user, code=code)
    context = {
        "branch": branch,
        "children": selectors.branch_list(user=request.user).filter(parent=branch),
        "users": selectors.user_list(user=request.user).filter(branch=branch, is_active=True)
        if can(request.user, Verb.MANAGE_USERS, branch)
        else None,
    }
    return render(request, "accounts/branch_detail.html", context)


@require_GET
@login_required
def user_list(request):
    if not can(request.user, Verb.MANAGE_USERS):
        raise PermissionDenied
    user_filter = UserFilter(
        request.GET or None, queryset=selectors.user_list(user=request.user), user=request.user
    )
    paginator = Paginator(user_filter.qs, PAGE_SIZE)
    context = {"filter": user_filter, "page_obj": paginator.get_page(request.GET.get("page"))}
    template = (
        "accounts/partials/user_table.html" if request.htmx else "accounts/user_list.html"
    )
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your preferences were saved."))
        return redirect("accounts:preferences")
    return render(request, "accounts/preferences.html", {"form": form})
