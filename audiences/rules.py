"""Segment rules: a JSON tree, validated, evaluated by bitmap algebra or by SQL.

A rule is a tree of nodes, each a dict with a stable ``id`` (for the builder
and for error messages) and a ``type``:

    group           {"op": "and" | "or" | "not", "children": [...]}
                    and = all of, or = any of, not = none of
    tag             {"op": "has" | "lacks", "tag": CODE}
    tags            {"op": "any" | "all", "tags": [CODE, ...]}
    branch          {"branches": [CODE, ...]}            the branches' subtrees
    opened          {"from": "YYYY-MM-DD" | null, "to": "YYYY-MM-DD" | null}
    opened_within   {"days": N}                          opened in the last N days
    segment         {"op": "include" | "exclude", "segment": ID}

The root is always a group. Members are always limited to the evaluating
user's scope. ``evaluate`` answers with the bitmap index; ``to_q`` builds the
same set as an ORM filter — the database is the truth, and a property test
keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from pyroaring import BitMap, FrozenBitMap

from accounts.models import Branch
from audiences import bitmaps
from audiences.models import Customer, CustomerTag, Segment, Tag

MAX_NODES = 200
MAX_DEPTH = 8
MAX_LIST = 100
GROUP_OPS = ("and", "or", "not")
NODE_TYPES = ("group", "tag", "tags", "branch", "opened", "opened_within", "segment")


class RuleError(ValueError):
    """An invalid rule; ``node_id`` names the offending node for the builder."""

    def __init__(self, message: str, node_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.node_id = node_id


def new_id() -> str:
    return "n" + secrets.token_hex(4)


def empty_rule() -> dict[str, Any]:
    return {"id": new_id(), "type": "group", "op": "and", "children": []}


def iter_nodes(node: dict[str, Any]):
    yield node
    for child in node.get("children", []) if node.get("type") == "group" else []:
        yield from iter_nodes(child)


@dataclass
class Context:
    """What a rule refers to, resolved once, for one user."""

    user: Any
    tags: dict[str, int] = field(default_factory=dict)  # code -> id, resolved so far
    looked_up: set[str] = field(default_factory=set)  # tag codes already asked for
    scope_branches: list[tuple[int, str, str]] = field(default_factory=list)  # (id, path, code)
    segments: dict[int, dict] = field(default_factory=dict)  # id -> validated rule
    today: dt.date = field(default_factory=timezone.localdate)
    branch_paths: dict[str, str] = field(default_factory=dict)  # code -> path, in scope


# --- validation -------------------------------------------------------------


def _parse_date(value: Any, node_id: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RuleError(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}, node_id) from None


def _codes(value: Any, node_id: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleError(_("Choose at least one."), node_id)
    if len(value) > MAX_LIST:
        raise RuleError(_("At most %(n)d items.") % {"n": MAX_LIST}, node_id)
    if not all(isinstance(v, str) and v for v in value):
        raise RuleError(_("The list contains an invalid entry."), node_id)
    return list(dict.fromkeys(value))


def validate(rule: Any, *, user, segment: Segment | None = None) -> tuple[dict, Context]:
    """Check a rule against the user's scope; return it normalised and resolved.

    Raises RuleError naming the first bad node. ``segment`` is the segment the
    rule belongs to, so a reference back to it (a cycle) is refused.
    """
    ctx = Context(user=user)
    # A count must stay within a few milliseconds: the scope (with branch codes)
    # is one query, and every tag code in the rule is looked up in one more.
    ctx.scope_branches = list(Branch.objects.visible_to(user).values_list("pk", "path", "code"))
    ctx.branch_paths = {code: path for _pk, path, code in ctx.scope_branches}
    _prefetch_tags(rule, ctx)
    seen_ids: set[str] = set()
    count = [0]
    stack = [segment.pk] if segment and segment.pk else []
    normalised = _validate_node(rule, ctx, depth=0, seen=seen_ids, count=count, stack=stack)
    if normalised["type"] != "group":
        raise RuleError(_("The rule must start with a group."), normalised["id"])
    return normalised, ctx


def _validate_node(node, ctx, *, depth, seen, count, stack) -> dict:
    if not isinstance(node, dict):
        raise RuleError(_("A condition is malformed."))
    node_id = node.get("id")
    if not isinstance(node_id, str) or not node_id or len(node_id) > 32 or node_id in seen:
        node_id = new_id()
    seen.add(node_id)
    count[0] += 1
    if count[0] > MAX_NODES:
        raise RuleError(_("A rule has at most %(n)d conditions.") % {"n": MAX_NODES}, node_id)
    kind = node.get("type")
    if kind not in NODE_TYPES:
        raise RuleError(_("Unknown condition type."), node_id)
    out: dict[str, Any] = {"id": node_id, "type": kind}

    if kind == "group":
        if depth >= MAX_DEPTH:
            raise RuleError(_("Groups nest at most %(n)d deep.") % {"n": MAX_DEPTH}, node_id)
        if node.get("op") not in GROUP_OPS:
            raise RuleError(_("A group is “all of”, “any of” or “none of”."), node_id)
        children = node.get("children", [])
        if not isinstance(children, list):
            raise RuleError(_("A condition is malformed."), node_id)
        out["op"] = node["op"]
        out["children"] = [
            _validate_node(c, ctx, depth=depth + 1, seen=seen, count=count, stack=stack) for c in children
        ]
    elif kind == "tag":
        if node.get("op") not in ("has", "lacks"):
            raise RuleError(_("Choose “has” or “lacks”."), node_id)
        out["op"] = node["op"]
        out["tag"] = _resolve_tags([node.get("tag")], ctx, node_id)[0]
    elif kind == "tags":
        if node.get("op") not in ("any", "all"):
            raise RuleError(_("Choose “any of” or “all of”."), node_id)
        out["op"] = node["op"]
        out["tags"] = _resolve_tags(_codes(node.get("tags"), node_id), ctx, node_id)
    elif kind == "branch":
        codes = _codes(node.get("branches"), node_id)
        known = ctx.branch_paths
        missing = [c for c in codes if c not in known]
        if missing:
            raise RuleError(_("Unknown branch or outside your scope: %(codes)s") % {"codes": ", ".join(missing)}, node_id)
        out["branches"] = codes
    elif kind == "opened":
        start = _parse_date(node.get("from"), node_id)
        end = _parse_date(node.get("to"), node_id)
        if start is None and end is None:
            raise RuleError(_("Give a start date, an end date or both."), node_id)
        if start and end and start > end:
            raise RuleError(_("The start date is after the end date."), node_id)
        out["from"] = start.isoformat() if start else None
        out["to"] = end.isoformat() if end else None
    elif kind == "opened_within":
        days = node.get("days")
        if isinstance(days, str) and days.isdigit():
            days = int(days)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 36500:
            raise RuleError(_("The number of days must be between 1 and 36500."), node_id)
        out["days"] = days
    elif kind == "segment":
        if node.get("op") not in ("include", "exclude"):
            raise RuleError(_("Choose “in” or “not in”."), node_id)
        out["op"] = node["op"]
        out["segment"] = _resolve_segment(node.get("segment"), ctx, node_id, stack, seen, count)
    return out


def _prefetch_tags(rule: Any, ctx: Context) -> None:
    """Look up every tag code the (not yet validated) rule names, in one query."""
    codes: set[str] = set()
    stack = [rule]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("type") == "group" and isinstance(node.get("children"), list):
            stack.extend(node["children"][: MAX_NODES + 1])
        elif node.get("type") == "tag":
            codes.add(node.get("tag"))
        elif node.get("type") == "tags" and isinstance(node.get("tags"), list):
            codes.update(node["tags"][: MAX_LIST + 1])
    wanted = {c for c in codes if isinstance(c, str) and c} - ctx.looked_up
    if wanted:
        ctx.tags.update(Tag.objects.visible_to(ctx.user).filter(code__in=wanted).values_list("code", "pk"))
        ctx.looked_up |= wanted


def _resolve_tags(codes: list, ctx: Context, node_id: str) -> list[str]:
    if any(not isinstance(c, str) or not c for c in codes):
        raise RuleError(_("Choose a tag."), node_id)
    if any(c not in ctx.looked_up for c in codes):
        _prefetch_tags({"type": "tags", "tags": codes}, ctx)
    missing = [c for c in codes if c not in ctx.tags]
    if missing:
        raise RuleError(_("Unknown tag or outside your scope: %(codes)s") % {"codes": ", ".join(missing)}, node_id)
    return codes


def _resolve_segment(value, ctx: Context, node_id: str, stack: list[int], seen, count) -> int:
    try:
        segment_id = int(value)
    except (TypeError, ValueError):
        raise RuleError(_("Choose a segment."), node_id) from None
    if segment_id in stack:
        raise RuleError(_("A segment cannot include itself, directly or through others."), node_id)
    if segment_id not in ctx.segments:
        other = Segment.objects.visible_to(ctx.user).filter(pk=segment_id, is_archived=False).first()
        if other is None:
            raise RuleError(_("Unknown segment or outside your scope."), node_id)
        _prefetch_tags(other.rule, ctx)
        try:
            ctx.segments[segment_id] = _validate_node(
                other.rule, ctx, depth=0, seen=set(), count=count, stack=[*stack, segment_id]
            )
        except RuleError as exc:
            raise RuleError(
                _("Segment “%(name)s” has an invalid rule: %(error)s") % {"name": other.name, "error": exc.message},
                node_id,
            ) from None
    return segment_id


# --- evaluation with bitmaps --------------------------------------------------


def _date_ranges(ctx: Context, node: dict) -> list[tuple[str, str]]:
    start, end = _date_range(node, ctx)
    return bitmaps.opened_ranges(start, end or ctx.today)


def _needed_keys(node: dict, ctx: Context, acc: set[str], ranges: list, done: set[int]) -> None:
    kind = node["type"]
    if kind == "group":
        for child in node["children"]:
            _needed_keys(child, ctx, acc, ranges, done)
    elif kind == "tag":
        acc.add(bitmaps.tag_key(ctx.tags[node["tag"]]))
    elif kind == "tags":
        acc.update(bitmaps.tag_key(ctx.tags[c]) for c in node["tags"])
    elif kind == "branch":
        for code in node["branches"]:
            acc.update(bitmaps.branch_key(pk) for pk in _subtree(ctx, ctx.branch_paths[code]))
    elif kind in ("opened", "opened_within"):
        ranges.extend(_date_ranges(ctx, node))
    elif kind == "segment" and node["segment"] not in done:
        done.add(node["segment"])
        _needed_keys(ctx.segments[node["segment"]], ctx, acc, ranges, done)


def _subtree(ctx: Context, prefix: str) -> list[int]:
    return [pk for pk, path, _code in ctx.scope_branches if path.startswith(prefix)]


def _date_range(node: dict, ctx: Context) -> tuple[dt.date | None, dt.date | None]:
    if node["type"] == "opened_within":
        return ctx.today - dt.timedelta(days=node["days"]), ctx.today
    start = dt.date.fromisoformat(node["from"]) if node["from"] else None
    end = dt.date.fromisoformat(node["to"]) if node["to"] else None
    return start, end


def evaluate(rule: dict, ctx: Context) -> FrozenBitMap:
    """Members of a validated rule, as a bitmap of customer ids, within scope."""
    scope_keys = [bitmaps.branch_key(pk) for pk, _path, _code in ctx.scope_branches]
    keys, ranges = set(scope_keys), []
    _needed_keys(rule, ctx, keys, ranges, set())
    maps = bitmaps.get_many(keys, ranges)
    universe = bitmaps.cache.union({k: maps[k] for k in scope_keys})
    memo: dict[int, BitMap] = {}
    return FrozenBitMap(_eval(rule, ctx, maps, universe, memo) & universe)


def _eval(node: dict, ctx: Context, maps, universe: BitMap, memo: dict[int, BitMap]) -> BitMap:
    kind = node["type"]
    if kind == "group":
        parts = [_eval(c, ctx, maps, universe, memo) for c in node["children"]]
        if node["op"] == "and":
            return BitMap.intersection(universe, *parts) if parts else BitMap(universe)
        union = BitMap.union(*parts) if parts else BitMap()
        return union if node["op"] == "or" else universe - union
    if kind == "tag":
        bitmap = maps[bitmaps.tag_key(ctx.tags[node["tag"]])]
        return BitMap(bitmap) if node["op"] == "has" else universe - bitmap
    if kind == "tags":
        parts = [maps[bitmaps.tag_key(ctx.tags[c])] for c in node["tags"]]
        return BitMap.union(*parts) if node["op"] == "any" else BitMap.intersection(*parts)
    if kind == "branch":
        keys = {bitmaps.branch_key(pk) for code in node["branches"] for pk in _subtree(ctx, ctx.branch_paths[code])}
        return BitMap.union(*[maps[k] for k in keys]) if keys else BitMap()
    if kind in ("opened", "opened_within"):
        ranges = _date_ranges(ctx, node)
        parts = [bitmap for key, bitmap in maps.items() if bitmaps.in_ranges(key, ranges)]
        return BitMap.union(*parts) if parts else BitMap()
    if kind == "segment":
        seg_id = node["segment"]
        if seg_id not in memo:
            memo[seg_id] = _eval(ctx.segments[seg_id], ctx, maps, universe, memo) & universe
        return BitMap(memo[seg_id]) if node["op"] == "include" else universe - memo[seg_id]
    raise RuleError(_("Unknown condition type."), node.get("id"))


# --- evaluation with SQL (the truth) -----------------------------------------

_NOTHING = Q(pk__in=[])
# Not Q(): Django drops an empty Q when it is combined, so "all of (nothing)"
# inside an "any of" would silently mean nothing instead of everyone.
_EVERYONE = Q(pk__isnull=False)


def to_q(node: dict, ctx: Context) -> Q:
    kind = node["type"]
    if kind == "group":
        parts = [to_q(c, ctx) for c in node["children"]]
        if node["op"] == "and":
            return reduce(lambda a, b: a & b, parts) if parts else _EVERYONE
        union = reduce(lambda a, b: a | b, parts) if parts else _NOTHING
        return ~union if node["op"] == "not" else union
    if kind == "tag":
        has = Q(Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id=ctx.tags[node["tag"]])))
        return has if node["op"] == "has" else ~has
    if kind == "tags":
        ids = [ctx.tags[c] for c in node["tags"]]
        if node["op"] == "any":
            return Q(Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id__in=ids)))
        return reduce(
            lambda a, b: a & b,
            [Q(Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id=i))) for i in ids],
        )
    if kind == "branch":
        paths = ctx.branch_paths
        return reduce(lambda a, b: a | b, [Q(branch__path__startswith=paths[c]) for c in node["branches"]])
    if kind in ("opened", "opened_within"):
        start, end = _date_range(node, ctx)
        q = _EVERYONE
        if start:
            q &= Q(opened_on__gte=start)
        if end:
            q &= Q(opened_on__lte=end)
        return q
    if kind == "segment":
        inner = to_q(ctx.segments[node["segment"]], ctx)
        return inner if node["op"] == "include" else ~inner
    raise RuleError(_("Unknown condition type."), node.get("id"))


def members_sql(rule: dict, ctx: Context):
    """The same members as ``evaluate``, as a queryset (for tests and benchmarks)."""
    return Customer.objects.visible_to(ctx.user).filter(to_q(rule, ctx))
