"""Pure edits of a segment rule tree (the format is documented in ``audiences.rules``).

Every function takes a rule and returns a new one; the argument is never
changed, so a failed edit leaves nothing half-done. They know the tree's shape
only (ids, groups, children) — whether tags, branches and segments exist and
are in scope is ``rules.validate``'s job, which the service runs before saving.

Errors are ``EditError`` (a ``rules.RuleError``) naming the node they are about,
so the builder shows them the same way as a validation error.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from audiences.rules import RuleError

Node = dict[str, Any]

# Keys that belong to the tree's structure, never to a node's parameters.
STRUCTURE_KEYS = frozenset({"id", "type", "children"})


class EditError(RuleError):
    """An edit that does not fit the tree (unknown node, wrong parent, a cycle)."""


def is_group(node: Node | None) -> bool:
    return isinstance(node, dict) and node.get("type") == "group"


def children(node: Node) -> list[Node]:
    found = node.get("children") if is_group(node) else None
    return found if isinstance(found, list) else []


def walk(rule: Node) -> Iterator[tuple[Node, Node | None, int, int]]:
    """Every node, depth first in order, with its parent, its index there and its depth (root 0)."""
    stack: list[tuple[Node, Node | None, int, int]] = [(rule, None, 0, 0)]
    while stack:
        node, parent, index, level = stack.pop()
        yield node, parent, index, level
        kids = children(node)
        stack.extend((kid, node, i, level + 1) for i, kid in reversed(list(enumerate(kids))))


def find(rule: Node, node_id: Any) -> Node | None:
    """The node with ``node_id``, or None."""
    if not isinstance(node_id, str) or not node_id:
        return None
    return next((node for node, *_rest in walk(rule) if node.get("id") == node_id), None)


def locate(rule: Node, node_id: Any) -> tuple[Node | None, int]:
    """``(parent, index)`` of the node; the root answers ``(None, 0)``."""
    if isinstance(node_id, str) and node_id:
        for node, parent, index, _depth in walk(rule):
            if node.get("id") == node_id:
                return parent, index
    raise EditError(_("This condition no longer exists; the page was out of date."), None)


def contains(node: Node, node_id: Any) -> bool:
    """True when the node ``node_id`` is ``node`` itself or lies anywhere under it."""
    return find(node, node_id) is not None


def _group(rule: Node, group_id: Any) -> Node:
    group = find(rule, group_id)
    if group is None:
        raise EditError(_("This group no longer exists; the page was out of date."), None)
    if not is_group(group):
        raise EditError(_("Conditions can only be placed in a group."), group.get("id"))
    group.setdefault("children", [])
    return group


def _position(index: Any, size: int) -> int:
    """A list position from user input; past the end means "last"."""
    if index is None:
        return size
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise EditError(_("That position is not valid."), None)
    return min(index, size)


def insert(rule: Node, parent_id: str, node: Node, index: int | None = None) -> Node:
    """Put ``node`` into the group ``parent_id`` at ``index`` (default: last)."""
    if not isinstance(node, dict) or not isinstance(node.get("id"), str):
        raise EditError(_("A condition is malformed."), None)
    rule = copy.deepcopy(rule)
    taken = {n.get("id") for n, *_rest in walk(rule)}
    if any(n.get("id") in taken for n, *_rest in walk(node)):
        raise EditError(_("A condition with this id already exists."), node["id"])
    group = _group(rule, parent_id)
    group["children"].insert(_position(index, len(group["children"])), copy.deepcopy(node))
    return rule


def remove(rule: Node, node_id: str) -> Node:
    """Take the node (and everything under it) out of the tree."""
    rule = copy.deepcopy(rule)
    parent, index = locate(rule, node_id)
    if parent is None:
        raise EditError(_("The top group cannot be removed."), node_id)
    del parent["children"][index]
    return rule


def update(rule: Node, node_id: str, params: dict[str, Any]) -> Node:
    """Replace the node's parameters (``op``, ``tag``, ``days``, …).

    The id, the type and a group's children stay; parameters not in ``params``
    are dropped, so an edit never leaves a stale one behind.
    """
    bad = STRUCTURE_KEYS & set(params)
    if bad:
        raise EditError(_("Only a condition's settings can be changed here."), node_id)
    rule = copy.deepcopy(rule)
    node = find(rule, node_id)
    if node is None:
        raise EditError(_("This condition no longer exists; the page was out of date."), None)
    kept = {key: node[key] for key in ("id", "type", "children") if key in node}
    node.clear()
    node.update(kept)
    node.update(copy.deepcopy(params))
    return rule


def move(rule: Node, node_id: str, parent_id: str, index: int | None = None) -> Node:
    """Move the node into the group ``parent_id`` so that it ends up at ``index``.

    ``index`` counts the group's children without the moved node, which is
    what a drag-and-drop list reports. A group cannot move into itself or
    into one of its own descendants.
    """
    rule = copy.deepcopy(rule)
    parent, old_index = locate(rule, node_id)
    if parent is None:
        raise EditError(_("The top group cannot be moved."), node_id)
    node = parent["children"][old_index]
    if contains(node, parent_id):
        raise EditError(_("A group cannot be moved into itself."), node_id)
    target = _group(rule, parent_id)
    position = _position(index, len(target["children"]) - (1 if target is parent else 0))
    del parent["children"][old_index]
    target["children"].insert(position, node)
    return rule


# --- one step at a time: the keyboard alternative to dragging ----------------


def move_up(rule: Node, node_id: str) -> Node:
    parent, index = locate(rule, node_id)
    if parent is None or index == 0:
        raise EditError(_("This is already the first item of its group."), node_id)
    return move(rule, node_id, parent["id"], index - 1)


def move_down(rule: Node, node_id: str) -> Node:
    parent, index = locate(rule, node_id)
    if parent is None or index == len(parent["children"]) - 1:
        raise EditError(_("This is already the last item of its group."), node_id)
    return move(rule, node_id, parent["id"], index + 1)


def move_out(rule: Node, node_id: str) -> Node:
    """Move the node out of its group, to just after that group."""
    parent, _index = locate(rule, node_id)
    if parent is None:
        raise EditError(_("The top group cannot be moved."), node_id)
    grandparent, parent_index = locate(rule, parent["id"])
    if grandparent is None:
        raise EditError(_("This is already in the top group."), node_id)
    return move(rule, node_id, grandparent["id"], parent_index + 1)


def move_into_previous(rule: Node, node_id: str) -> Node:
    """Move the node to the end of the group just before it."""
    parent, index = locate(rule, node_id)
    previous = parent["children"][index - 1] if parent is not None and index > 0 else None
    if not is_group(previous):
        raise EditError(_("There is no group just above this to move into."), node_id)
    return move(rule, node_id, previous["id"], None)


STEPS = {
    "up": move_up,
    "down": move_down,
    "out": move_out,
    "into": move_into_previous,
}


def step(rule: Node, node_id: str, direction: str) -> Node:
    """One keyboard move: ``up``, ``down``, ``out`` (of its group) or ``into`` (the group above)."""
    if direction not in STEPS:
        raise EditError(_("Unknown move."), node_id)
    return STEPS[direction](rule, node_id)
