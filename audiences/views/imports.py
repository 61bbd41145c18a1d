"""Customer and tag imports: upload, check, preview, confirm, progress, retry, report."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, can
from audiences import selectors
from audiences.filters import ImportFilter
from audiences.forms.imports import ImportUploadForm
from audiences.models import ImportKind, ImportStatus
from audiences.services import imports

PAGE_SIZE = 25


def _status_context(request, batch, **extra):
    stuck = selectors.import_batch_stuck(batch=batch)
    may_edit = can(request.user, Verb.EDIT, batch)
    return {
        "batch": batch,
        "progress": selectors.import_progress_get(batch=batch),
        "can_import": can(request.user, Verb.EDIT),
        "can_confirm": batch.status == ImportStatus.VALIDATED and may_edit,
        "stuck": stuck,
        "can_retry": stuck and may_edit,
        # A stuck batch will not move on by itself: stop asking until someone retries.
        "polling": batch.status in selectors.IMPORT_IN_FLIGHT and not stuck,
        **extra,
    }


@require_GET
@login_required
def import_list(request):
    import_filter = ImportFilter(request.GET or None, queryset=selectors.import_batch_list(user=request.user))
    paginator = Paginator(import_filter.qs, PAGE_SIZE)
    context = {
        "filter": import_filter,
        "page_obj": paginator.get_page(request.GET.get("page")),
        "can_import": can(request.user, Verb.EDIT),
    }
    template = "audiences/partials/import_table.html" if request.htmx else "audiences/import_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def import_new(request):
    if not can(request.user, Verb.EDIT):
        raise PermissionDenied
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                batch = imports.import_upload(
                    user=request.user,
                    uploaded_file=form.cleaned_data["file"],
                    kind=form.cleaned_data["kind"],
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return redirect("audiences:import_detail", pk=batch.pk)
    else:
        kind = request.GET.get("kind")
        form = ImportUploadForm(initial={"kind": kind if kind in ImportKind.values else ImportKind.CUSTOMERS})
    context = {"form": form, "max_bytes": settings.IMPORT_MAX_BYTES, "columns": imports.COLUMNS}
    return render(request, "audiences/import_new.html", context)


@require_GET
@login_required
def import_detail(request, pk):
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk)
    return render(request, "audiences/import_detail.html", _status_context(request, batch))


@require_GET
@login_required
def import_progress(request, pk):
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk)
    if not request.htmx:
        return redirect("audiences:import_detail", pk=batch.pk)
    return render(request, "audiences/partials/import_progress.html", _status_context(request, batch))


def _after_action(request, batch, error: str, success: str):
    if request.htmx:
        context = _status_context(request, batch, action_error=error)
        return render(request, "audiences/partials/import_progress.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, success)
    return redirect("audiences:import_detail", pk=batch.pk)


def _batch_action(request, pk, action, success):
    """Run a state change on a batch in scope (confirm, retry) and go back to it."""
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk)
    if not can(request.user, Verb.EDIT, batch):
        raise PermissionDenied
    error = ""
    try:
        batch = action(user=request.user, batch=batch)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        batch.refresh_from_db()
    return _after_action(request, batch, error, success)


@require_POST
@login_required
def import_confirm(request, pk):
    return _batch_action(request, pk, imports.import_confirm, _("The import has started."))


@require_POST
@login_required
def import_retry(request, pk):
    return _batch_action(request, pk, imports.import_retry, _("The work on this file has started again."))


@require_GET
@login_required
def import_report(request, pk):
    batch = selectors.import_batch_get_for_user(user=request.user, pk=pk)
    if not batch.report:
        raise Http404
    return FileResponse(
        batch.report.open("rb"),
        as_attachment=True,
        filename=f"import-{batch.pk}-report.csv",
        content_type="text/csv; charset=utf-8",
    )


@require_GET
@login_required
def import_sample(request, kind):
    if kind not in ImportKind.values:
        raise Http404
    branch_code = request.user.branch.code if request.user.branch else ""
    response = HttpResponse(
        imports.import_sample_csv(kind=kind, branch_code=branch_code),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{kind}-sample.csv"'
    return response


urlpatterns = [
    path("imports/", import_list, name="import_list"),
    path("imports/new/", import_new, name="import_new"),
    path("imports/sample/<slug:kind>.csv", import_sample, name="import_sample"),
    path("imports/<int:pk>/", import_detail, name="import_detail"),
    path("imports/<int:pk>/confirm/", import_confirm, name="import_confirm"),
    path("imports/<int:pk>/retry/", import_retry, name="import_retry"),
    path("imports/<int:pk>/progress/", import_progress, name="import_progress"),
    path("imports/<int:pk>/report/", import_report, name="import_report"),
]
