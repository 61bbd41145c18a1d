"""Segments: list, create, the rule builder, its live preview, archive and export.

The builder edits the saved rule one step at a time: every add, change,
delete and move is a POST that edits the rule (``audiences.rule_edit``), saves
it through ``services.segment_update`` — which validates it within the owner
branch's scope — and answers with the re-drawn tree. With htmx the tree
fragment is swapped in and an ``HX-Trigger: ruleChanged`` header makes the
preview refresh; without JavaScript the POST redirects back to the builder.
A refused edit changes nothing and answers 422 with the message beside the
node it is about.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, can, require
from audiences import exports, rule_edit, rules, selectors, services
from audiences.filters import SegmentFilter
from audiences.forms import segments as segment_forms
from audiences.models import Segment
from config.forms import add_service_error, is_fragment_request

PAGE_SIZE = 25
SNAPSHOT_LIMIT = 50
REFUSED = 422  # the request was understood, the edit refused; htmx is told to swap it in
TREE = "audiences/partials/segment_tree.html"
PREVIEW = "audiences/partials/segment_preview.html"


def _segment(request: HttpRequest, pk: int) -> Segment:
    """The segment if it is in the user's scope; 404 otherwise (one path: existence never leaks)."""
    return selectors.segment_get_for_user(user=request.user, pk=pk)


# --- list and create -----------------------------------------------------------


@require_GET
@login_required
def segment_list(request):
    segment_filter = SegmentFilter(
        request.GET, queryset=selectors.segment_list(user=request.user), user=request.user
    )
    paginator = Paginator(segment_filter.qs.order_by("-updated_at", "-pk"), PAGE_SIZE)
    context = {"filter": segment_filter, "page_obj": paginator.get_page(request.GET.get("page"))}
    template = (
        "audiences/partials/segment_table.html"
        if is_fragment_request(request)
        else "audiences/segment_list.html"
    )
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def segment_new(request):
    require(request.user, Verb.EDIT)
    form = segment_forms.SegmentCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            segment = services.segment_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(
                request,
                _("Segment “%(name)s” created. Now add its conditions.") % {"name": segment.name},
            )
            return redirect("audiences:segment_detail", pk=segment.pk)
    return render(request, "audiences/segment_form.html", {"form": form})


# --- the builder ----------------------------------------------------------------


def _builder_context(
    request: HttpRequest,
    segment: Segment,
    *,
    error: str | None = None,
    error_node: str | None = None,
    add_parent: str | None = None,
    add_kind: str | None = None,
    add_form: segment_forms.ConditionForm | None = None,
    edit_node: str | None = None,
    edit_form: segment_forms.ConditionForm | None = None,
) -> dict:
    rule = segment.rule
    root = segment_forms.display_tree(
        rule, names=segment_forms.RuleNames.for_rule(rule, user=request.user)
    )
    return {
        "segment": segment,
        "root": root,
        "editable": can(request.user, Verb.EDIT, segment) and not segment.is_archived,
        "add_choices": segment_forms.ADD_CHOICES,
        "group_ops": segment_forms.GROUP_OPS,
        "error": error,
        # Only a node that is on the page can be pointed at; one that failed to be
        # added is the open form itself.
        "error_node": error_node if rule_edit.find(rule, error_node) else None,
        "add_parent": add_parent if add_form is not None else None,
        "add_kind": add_kind,
        "add_form": add_form,
        "edit_node": edit_node if edit_form is not None else None,
        "edit_form": edit_form,
    }


def _builder(request: HttpRequest, segment: Segment, *, status: int = 200, **state) -> HttpResponse:
    """The tree fragment for htmx, the whole builder page otherwise."""
    context = _builder_context(request, segment, **state)
    if is_fragment_request(request):
        return render(request, TREE, context, status=status)
    context.update(_page_context(request, segment))
    return render(request, "audiences/segment_detail.html", context, status=status)


def _page_context(request: HttpRequest, segment: Segment) -> dict:
    return {
        "snapshots": segment.snapshots.select_related("taken_by")[:SNAPSHOT_LIMIT],
        "can_export": can(request.user, Verb.EXPORT, segment),
        "can_archive": can(request.user, Verb.EDIT, segment)
        and can(request.user, Verb.DELETE, segment),
        "preview_deferred": True,
    }


@require_GET
@login_required
def segment_detail(request, pk: int):
    """The builder. ``?add=<kind>&parent=<group>`` or ``?edit=<node>`` opens a form in the tree."""
    segment = _segment(request, pk)
    state: dict = {}
    if can(request.user, Verb.EDIT, segment) and not segment.is_archived:
        state = _open_form(request, segment)
    return _builder(request, segment, **state)


def _open_form(request: HttpRequest, segment: Segment) -> dict:
    rule = segment.rule
    kind, parent, edit = request.GET.get("add"), request.GET.get("parent"), request.GET.get("edit")
    if kind:
        if (
            kind not in segment_forms.FORMS
            or kind == "group"
            or not rule_edit.is_group(rule_edit.find(rule, parent))
        ):
            return {"error": _("That form cannot be opened here; the page was out of date.")}
        choices = segment_forms.BuilderChoices(user=request.user, segment=segment)
        return {
            "add_parent": parent,
            "add_kind": kind,
            "add_form": segment_forms.FORMS[kind](choices=choices),
        }
    if edit:
        node = rule_edit.find(rule, edit)
        if node is None or node.get("type") not in segment_forms.FORMS or rule_edit.is_group(node):
            return {"error": _("This condition no longer exists; the page was out of date.")}
        form_class = segment_forms.FORMS[node["type"]]
        choices = segment_forms.BuilderChoices(
            user=request.user, segment=segment, keep=form_class.codes_in(node)
        )
        return {
            "edit_node": edit,
            "edit_form": form_class(initial=form_class.initial_for(node), choices=choices),
        }
    return {}


def _editable_segment(request: HttpRequest, pk: int) -> Segment:
    segment = _segment(request, pk)
    require(request.user, Verb.EDIT, segment)
    return segment


def _rule_error(exc: ValidationError) -> tuple[str, str | None]:
    """The message and the offending node id of a refused ``segment_update``."""
    errors = getattr(exc, "error_dict", {}).get("rule", [])
    node_id = errors[0].code if errors else None
    return " ".join(exc.messages), node_id


def _apply(
    request: HttpRequest,
    segment: Segment,
    edit: Callable[[dict], dict],
    *,
    focus: str | None = None,
    **state,
) -> HttpResponse:
    """Save an edit of the rule and answer with the new tree; on refusal, the old tree and why."""
    try:
        segment = services.segment_rule_edit(actor=request.user, segment=segment, edit=edit)
    except rules.RuleError as exc:
        error, node_id = exc.message, exc.node_id
    except ValidationError as exc:
        error, node_id = _rule_error(exc)
    else:
        if is_fragment_request(request):
            response = render(request, TREE, _builder_context(request, segment))
            response["HX-Trigger"] = "ruleChanged"
            return response
        url = reverse("audiences:segment_detail", args=[segment.pk])
        return redirect(f"{url}#node-{focus}" if focus else url)
    segment.refresh_from_db()
    return _builder(request, segment, status=REFUSED, error=error, error_node=node_id, **state)


def _refuse(request: HttpRequest, segment: Segment, message: str, **state) -> HttpResponse:
    return _builder(request, segment, status=REFUSED, error=message, **state)


@require_POST
@login_required
def segment_node_add(request, pk: int):
    """Add a condition (or a group, ``kind=group``) at the end of the group ``parent``."""
    segment = _editable_segment(request, pk)
    kind, parent = request.POST.get("kind", ""), request.POST.get("parent", "")
    if kind not in segment_forms.FORMS:
        return _refuse(request, segment, _("Unknown condition type."))
    form = segment_forms.FORMS[kind](
        request.POST, choices=segment_forms.BuilderChoices(user=request.user, segment=segment)
    )
    state = {"add_parent": parent, "add_kind": kind, "add_form": form} if kind != "group" else {}
    if not form.is_valid():
        message = _("Correct the condition below.") if state else " ".join(_form_messages(form))
        return _refuse(request, segment, message, **state)
    node = {"id": rules.new_id(), "type": kind, **form.params()}
    if kind == "group":
        node["children"] = []
    return _apply(
        request,
        segment,
        lambda rule: rule_edit.insert(rule, parent, node),
        focus=node["id"],
        **state,
    )


def _form_messages(form) -> list[str]:
    return [str(message) for errors in form.errors.values() for message in errors]


@require_POST
@login_required
def segment_node_update(request, pk: int):
    """Change a node's settings (a group's "all of / any of / none of", a condition's parameters)."""
    segment = _editable_segment(request, pk)
    node_id = request.POST.get("node", "")
    node = rule_edit.find(segment.rule, node_id)
    if node is None or node.get("type") not in segment_forms.FORMS:
        return _refuse(
            request, segment, _("This condition no longer exists; the page was out of date.")
        )
    # The type comes from the saved node, never from the request.
    form_class = segment_forms.FORMS[node["type"]]
    choices = segment_forms.BuilderChoices(
        user=request.user, segment=segment, keep=form_class.codes_in(node)
    )
    form = form_class(request.POST, choices=choices)
    state = {} if rule_edit.is_group(node) else {"edit_node": node_id, "edit_form": form}
    if not form.is_valid():
        message = _("Correct the condition below.") if state else " ".join(_form_messages(form))
        return _refuse(request, segment, message, error_node=node_id, **state)
    params = form.params()
    return _apply(
        request,
        segment,
        lambda rule: rule_edit.update(rule, node_id, params),
        focus=node_id,
        **state,
    )


@require_POST
@login_required
def segment_node_delete(request, pk: int):
    segment = _editable_segment(request, pk)
    node_id = request.POST.get("node", "")
    return _apply(request, segment, lambda rule: rule_edit.remove(rule, node_id))


@require_POST
@login_required
def segment_node_move(request, pk: int):
    """A drop (``node``, ``parent``, ``index``) or a keyboard step (``node``, ``direction``)."""
    segment = _editable_segment(request, pk)
    form = segment_forms.MoveForm(request.POST)
    if not form.is_valid():
        return _refuse(request, segment, _("That move is not valid."))
    data = form.cleaned_data
    node_id = data["node"]
    if data["direction"]:
        return _apply(
            request,
            segment,
            lambda rule: rule_edit.step(rule, node_id, data["direction"]),
            focus=node_id,
        )
    return _apply(
        request,
        segment,
        lambda rule: rule_edit.move(rule, node_id, data["parent"], data["index"]),
        focus=node_id,
    )


@require_GET
@login_required
def segment_preview(request, pk: int):
    """Size, breakdown by branch and a sample of the saved rule, within the owner branch's scope."""
    segment = _segment(request, pk)
    context: dict = {
        "segment": segment,
        "preview": None,
        "preview_error": None,
        "preview_error_node": None,
    }
    try:
        preview = selectors.segment_preview(
            rule=segment.rule, owner_branch=segment.owner_branch, segment=segment
        )
    except rules.RuleError as exc:
        context.update(preview_error=exc.message, preview_error_node=exc.node_id)
    else:
        context["preview"] = preview
        context["sample"] = [
            (c, selectors.phone_for(request.user, c.phone)) for c in preview.sample
        ]
    template = PREVIEW if is_fragment_request(request) else "audiences/segment_preview.html"
    return render(request, template, context)


@require_POST
@login_required
def segment_archive(request, pk: int):
    segment = _editable_segment(request, pk)
    services.segment_archive(actor=request.user, segment=segment)
    messages.success(request, _("Segment “%(name)s” archived.") % {"name": segment.name})
    return redirect("audiences:segment_detail", pk=segment.pk)


@require_GET
@login_required
def segment_export(request, pk: str, fmt: str):
    """The members as CSV (streamed) or XLSX; phones masked unless the role sees them."""
    segment = _segment(request, int(pk))
    require(request.user, Verb.EXPORT, segment)
    try:
        members = selectors.segment_members(
            rule=segment.rule, owner_branch=segment.owner_branch, segment=segment
        )
    except rules.RuleError as exc:
        messages.error(
            request, _("The segment cannot be exported: %(error)s") % {"error": exc.message}
        )
        return redirect("audiences:segment_detail", pk=segment.pk)
    services.segment_export_log(
        actor=request.user,
        segment=segment,
        fmt=fmt,
        size=len(members),
        full_phone=selectors.sees_full_phone(request.user),
    )
    rows = exports.customer_rows(members, user=request.user)
    filename = f"segment-{segment.pk}-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "csv":
        return exports.csv_response(exports.CUSTOMER_HEADER, rows, filename=filename)
    return exports.xlsx_response(
        exports.CUSTOMER_HEADER, rows, filename=filename, title=_("Members")
    )


urlpatterns = [
    path("segments/", segment_list, name="segment_list"),
    path("segments/new/", segment_new, name="segment_new"),
    path("segments/<int:pk>/", segment_detail, name="segment_detail"),
    path("segments/<int:pk>/nodes/add/", segment_node_add, name="segment_node_add"),
    path("segments/<int:pk>/nodes/update/", segment_node_update, name="segment_node_update"),
    path("segments/<int:pk>/nodes/delete/", segment_node_delete, name="segment_node_delete"),
    path("segments/<int:pk>/nodes/move/", segment_node_move, name="segment_node_move"),
    path("segments/<int:pk>/preview/", segment_preview, name="segment_preview"),
    path("segments/<int:pk>/archive/", segment_archive, name="segment_archive"),
    re_path(
        r"^segments/(?P<pk>[0-9]+)/export\.(?P<fmt>csv|xlsx)$",
        segment_export,
        name="segment_export",
    ),
]
