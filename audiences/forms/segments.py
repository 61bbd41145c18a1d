"""Segment forms: the list filter, the create form and the builder's condition forms.

Every choice (tag, branch, segment) is narrowed to what the user sees *and*
what the segment's owner branch may use — the rule is evaluated within the
owner branch's scope — so a tampered code fails validation with the usual
"not one of the available choices" before any service runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Branch
from accounts.scope import BranchScope
from audiences import rule_edit, selectors
from audiences.models import Segment, Tag

GROUP_OPS = [("and", _("all of")), ("or", _("any of")), ("not", _("none of"))]
GROUP_EMPTY_HINTS = {
    "and": _("Empty: every customer in scope matches. Add or drop conditions here."),
    "or": _("Empty: no customer matches. Add or drop conditions here."),
    "not": _("Empty: excludes nobody. Add or drop conditions here."),
}


# --- the list and the create form -------------------------------------------


class SegmentCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner_branch = forms.ModelChoiceField(
        label=_("Owner branch"),
        queryset=Branch.objects.none(),
        help_text=_("Members are always customers of this branch and its sub-branches."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_branch"].queryset = Branch.objects.visible_to(user)
        if user.branch_id and not self.is_bound:
            self.initial.setdefault("owner_branch", user.branch_id)


# --- the builder's choices ---------------------------------------------------


class BuilderChoices:
    """What the condition forms of one segment may offer, for one user.

    ``keep`` names codes the condition being edited already uses, so an
    inactive tag it refers to stays selectable instead of vanishing silently.
    """

    def __init__(self, *, user, segment: Segment, keep: tuple[str, ...] = ()):
        self.user = user
        self.segment = segment
        self.owner_scope = BranchScope(segment.owner_branch)
        self.keep = keep

    @cached_property
    def tag_choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Tags by category (``<optgroup>`` per category)."""
        usable = Tag.objects.visible_to(self.owner_scope).values("pk")
        tags = (
            Tag.objects.visible_to(self.user)
            .filter(pk__in=usable)
            .filter(Q(is_active=True) | Q(code__in=self.keep))
            .select_related("category")
            .order_by("category__order", "category__code", "code")
        )
        grouped: dict[Any, list[tuple[str, str]]] = {}
        for tag in tags:
            grouped.setdefault(tag.category, []).append((tag.code, tag.name))
        return [(category.name, options) for category, options in grouped.items()]

    @cached_property
    def branch_choices(self) -> list[tuple[str, str]]:
        base = self.segment.owner_branch.depth
        branches = Branch.objects.visible_to(self.user).filter(
            pk__in=Branch.objects.visible_to(self.owner_scope).values("pk")
        )
        return [(b.code, "\u2003" * (b.depth - base) + b.name) for b in branches.order_by("path")]

    @cached_property
    def segment_choices(self) -> list[tuple[str, str]]:
        others = (
            selectors.segment_list(user=self.user)
            .filter(
                is_archived=False, pk__in=Segment.objects.visible_to(self.owner_scope).values("pk")
            )
            .exclude(pk=self.segment.pk)
            .order_by("name")
        )
        return [(str(s.pk), s.name) for s in others]


# --- one form per condition type ---------------------------------------------


class ConditionForm(forms.Form):
    """A node's parameters. ``params()`` gives them in the rule's format."""

    kind: str = ""
    title = _("Condition")

    def __init__(self, *args, choices: BuilderChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = choices
        # The form opens in the middle of the tree: the keyboard starts there too.
        first = next(iter(self.fields.values()), None)
        if first is not None:
            first.widget.attrs["autofocus"] = True

    @classmethod
    def initial_for(cls, node: dict) -> dict:
        return {key: value for key, value in node.items() if key not in rule_edit.STRUCTURE_KEYS}

    @staticmethod
    def codes_in(node: dict) -> tuple[str, ...]:
        """Codes the node refers to (kept selectable while it is edited)."""
        found = [node.get("tag"), *(node.get("tags") or [])]
        return tuple(c for c in found if isinstance(c, str))

    def params(self) -> dict:
        return dict(self.cleaned_data)


class GroupForm(ConditionForm):
    kind = "group"
    title = _("Group")
    op = forms.ChoiceField(label=_("Match"), choices=GROUP_OPS, initial="and")


class TagForm(ConditionForm):
    kind = "tag"
    title = _("Tag")
    op = forms.ChoiceField(
        label=_("Customer"),
        choices=[("has", _("has the tag")), ("lacks", _("lacks the tag"))],
        initial="has",
    )
    tag = forms.ChoiceField(label=_("Tag"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [("", "---------"), *self.choices.tag_choices]


class TagsForm(ConditionForm):
    kind = "tags"
    title = _("Several tags")
    op = forms.ChoiceField(
        label=_("Customer"),
        choices=[("any", _("has any of")), ("all", _("has all of"))],
        initial="any",
    )
    tags = forms.MultipleChoiceField(
        label=_("Tags"),
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text=_("Hold Ctrl (or ⌘) to choose several."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].choices = self.choices.tag_choices


class BranchForm(ConditionForm):
    kind = "branch"
    title = _("Branch")
    branches = forms.MultipleChoiceField(
        label=_("Customers of"),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("A branch includes its sub-branches."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branches"].choices = self.choices.branch_choices


class OpenedForm(ConditionForm):
    kind = "opened"
    title = _("Customer since")
    opened_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    opened_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    @classmethod
    def initial_for(cls, node: dict) -> dict:
        return {"opened_from": node.get("from"), "opened_to": node.get("to")}

    def clean(self):
        data = super().clean()
        start, end = data.get("opened_from"), data.get("opened_to")
        if not self.errors and start is None and end is None:
            raise forms.ValidationError(_("Give a start date, an end date or both."))
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def params(self) -> dict:
        def iso(day: dt.date | None) -> str | None:
            return day.isoformat() if day else None

        return {
            "from": iso(self.cleaned_data["opened_from"]),
            "to": iso(self.cleaned_data["opened_to"]),
        }


class OpenedWithinForm(ConditionForm):
    kind = "opened_within"
    title = _("New customers")
    days = forms.IntegerField(
        label=_("Became a customer in the last … days"), min_value=1, max_value=36500, initial=30
    )


class SegmentRefForm(ConditionForm):
    kind = "segment"
    title = _("Other segment")
    op = forms.ChoiceField(
        label=_("Customer"),
        choices=[("include", _("is in")), ("exclude", _("is not in"))],
        initial="include",
    )
    segment = forms.TypedChoiceField(label=_("Segment"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", "---------"), *self.choices.segment_choices]


FORMS: dict[str, type[ConditionForm]] = {
    form.kind: form
    for form in (
        TagForm,
        TagsForm,
        BranchForm,
        OpenedForm,
        OpenedWithinForm,
        SegmentRefForm,
        GroupForm,
    )
}
# What "add a condition" offers; groups have their own button.
ADD_CHOICES = [
    (kind, FORMS[kind].title)
    for kind in ("tag", "tags", "branch", "opened", "opened_within", "segment")
]


class MoveForm(forms.Form):
    """A drop (``parent`` and ``index``) or a keyboard step (``direction``)."""

    node = forms.CharField(max_length=32)
    parent = forms.CharField(max_length=32, required=False)
    index = forms.IntegerField(min_value=0, max_value=10_000, required=False)
    direction = forms.ChoiceField(choices=[(d, d) for d in rule_edit.STEPS], required=False)

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("direction") and not data.get("parent"):
            raise forms.ValidationError(_("Say where to move the condition."))
        return data


# --- presentation of the tree -------------------------------------------------


@dataclass
class RuleNames:
    """Display names of what a rule refers to, looked up once per page."""

    tags: dict[str, str] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)

    @classmethod
    def for_rule(cls, rule: dict, *, user) -> RuleNames:
        tags, branches, segments = set(), set(), set()
        for node, *_rest in rule_edit.walk(rule):
            tags.update(ConditionForm.codes_in(node))
            branches.update(c for c in node.get("branches") or [] if isinstance(c, str))
            if isinstance(node.get("segment"), int):
                segments.add(node["segment"])
        names = cls()
        if tags:
            names.tags = {
                t.code: t.name for t in Tag.objects.visible_to(user).filter(code__in=tags)
            }
        if branches:
            names.branches = dict(
                Branch.objects.visible_to(user)
                .filter(code__in=branches)
                .values_list("code", "name")
            )
        if segments:
            names.segments = dict(
                selectors.segment_list(user=user).filter(pk__in=segments).values_list("pk", "name")
            )
        return names


def describe(node: dict, names: RuleNames) -> str:
    """One line a marketing user reads: what this condition selects."""
    kind, op = node.get("type"), node.get("op")
    if kind == "group":
        return str(dict(GROUP_OPS).get(op, op))
    if kind == "tag":
        tag = names.tags.get(node.get("tag"), node.get("tag"))
        return (_("has tag “%(tag)s”") if op == "has" else _("lacks tag “%(tag)s”")) % {"tag": tag}
    if kind == "tags":
        tags = ", ".join(names.tags.get(c, c) for c in node.get("tags") or [])
        return (_("has any of: %(tags)s") if op == "any" else _("has all of: %(tags)s")) % {
            "tags": tags
        }
    if kind == "branch":
        branches = ", ".join(names.branches.get(c, c) for c in node.get("branches") or [])
        return _("customer of %(branches)s (with sub-branches)") % {"branches": branches}
    if kind == "opened":
        start, end = node.get("from"), node.get("to")
        if start and end:
            return _("customer since between %(from)s and %(to)s") % {"from": start, "to": end}
        if start:
            return _("customer since %(from)s or later") % {"from": start}
        return _("customer since %(to)s or earlier") % {"to": end}
    if kind == "opened_within":
        days = node.get("days") or 0
        return ngettext(
            "became a customer in the last %(days)d day",
            "became a customer in the last %(days)d days",
            days,
        ) % {"days": days}
    if kind == "segment":
        segment = names.segments.get(node.get("segment"), _("(unavailable segment)"))
        return (
            _("in segment “%(segment)s”") if op == "include" else _("not in segment “%(segment)s”")
        ) % {"segment": segment}
    return str(_("Unknown condition"))


@dataclass
class DisplayNode:
    """A rule node as the builder draws it."""

    id: str
    type: str
    op: str | None
    summary: str
    depth: int
    is_root: bool = False
    is_first: bool = False
    is_last: bool = False
    can_move_out: bool = False
    can_move_into: bool = False
    children: list[DisplayNode] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return self.type == "group"

    @property
    def empty_hint(self) -> str:
        return str(GROUP_EMPTY_HINTS.get(self.op or "", ""))


def display_tree(rule: dict, *, names: RuleNames) -> DisplayNode:
    def build(node: dict, depth: int, siblings: list | None, index: int) -> DisplayNode:
        previous = siblings[index - 1] if siblings and index > 0 else None
        shown = DisplayNode(
            id=node.get("id", ""),
            type=node.get("type", ""),
            op=node.get("op"),
            summary=describe(node, names),
            depth=depth,
            is_root=siblings is None,
            is_first=index == 0,
            is_last=siblings is None or index == len(siblings) - 1,
            can_move_out=depth >= 2,
            can_move_into=rule_edit.is_group(previous),
        )
        kids = rule_edit.children(node)
        shown.children = [build(kid, depth + 1, kids, i) for i, kid in enumerate(kids)]
        return shown

    return build(rule, 0, None, 0)
