"""Pure edits of the rule tree: find, insert, remove, update, move and the keyboard steps."""

import copy

import pytest

from audiences import rule_edit
from audiences.rule_edit import EditError


def group(id, op="and", *children):
    return {"id": id, "type": "group", "op": op, "children": list(children)}


def tag(id, code="VIP", op="has"):
    return {"id": id, "type": "tag", "op": op, "tag": code}


@pytest.fixture
def rule():
    #  root (and)
    #  ├── a  tag
    #  ├── g1 (or)
    #  │   ├── b  tag
    #  │   └── g2 (not)
    #  │       └── c  tag
    #  └── d  tag
    return group(
        "root", "and", tag("a"), group("g1", "or", tag("b"), group("g2", "not", tag("c"))), tag("d")
    )


def ids(node):
    """The tree as nested ids, easy to compare."""
    if node["type"] != "group":
        return node["id"]
    return {node["id"]: [ids(child) for child in node["children"]]}


def test_find_returns_the_node_or_none(rule):
    assert rule_edit.find(rule, "c")["tag"] == "VIP"
    assert rule_edit.find(rule, "root") is rule
    assert rule_edit.find(rule, "nope") is None
    assert rule_edit.find(rule, None) is None
    assert rule_edit.find(rule, 42) is None


def test_locate_gives_parent_and_index(rule):
    parent, index = rule_edit.locate(rule, "g2")
    assert parent["id"] == "g1" and index == 1
    assert rule_edit.locate(rule, "root") == (None, 0)
    with pytest.raises(EditError):
        rule_edit.locate(rule, "missing")


def test_walk_visits_every_node_in_order_with_depth(rule):
    assert [(n["id"], depth) for n, _parent, _index, depth in rule_edit.walk(rule)] == [
        ("root", 0),
        ("a", 1),
        ("g1", 1),
        ("b", 2),
        ("g2", 2),
        ("c", 3),
        ("d", 1),
    ]


def test_contains_sees_the_node_itself_and_its_descendants(rule):
    g1 = rule_edit.find(rule, "g1")
    assert rule_edit.contains(g1, "g1") and rule_edit.contains(g1, "c")
    assert not rule_edit.contains(g1, "a")


def test_insert_appends_by_default_and_never_changes_its_argument(rule):
    before = copy.deepcopy(rule)
    new = rule_edit.insert(rule, "g2", tag("e"))
    assert ids(new) == {"root": ["a", {"g1": ["b", {"g2": ["c", "e"]}]}, "d"]}
    assert rule == before


def test_insert_at_an_index_and_past_the_end(rule):
    assert ids(rule_edit.insert(rule, "root", tag("e"), 0))["root"][0] == "e"
    assert ids(rule_edit.insert(rule, "root", tag("e"), 99))["root"][-1] == "e"


def test_insert_refuses_a_non_group_parent_an_unknown_parent_and_a_taken_id(rule):
    with pytest.raises(EditError) as not_group:
        rule_edit.insert(rule, "a", tag("e"))
    assert not_group.value.node_id == "a"
    with pytest.raises(EditError):
        rule_edit.insert(rule, "ghost", tag("e"))
    with pytest.raises(EditError):
        rule_edit.insert(rule, "root", tag("b"))
    with pytest.raises(EditError):
        rule_edit.insert(rule, "root", group("x", "and", tag("c")))
    with pytest.raises(EditError):
        rule_edit.insert(rule, "root", tag("e"), -1)


def test_insert_into_a_group_without_children_key():
    rule = {"id": "root", "type": "group", "op": "and"}
    assert ids(rule_edit.insert(rule, "root", tag("a"))) == {"root": ["a"]}


def test_remove_takes_the_whole_subtree(rule):
    before = copy.deepcopy(rule)
    assert ids(rule_edit.remove(rule, "g1")) == {"root": ["a", "d"]}
    assert rule == before


def test_remove_refuses_the_root_and_unknown_nodes(rule):
    with pytest.raises(EditError):
        rule_edit.remove(rule, "root")
    with pytest.raises(EditError):
        rule_edit.remove(rule, "zzz")


def test_update_replaces_the_parameters_but_keeps_id_type_and_children(rule):
    new = rule_edit.update(rule, "g1", {"op": "and"})
    assert rule_edit.find(new, "g1")["op"] == "and"
    assert ids(new) == ids(rule)
    changed = rule_edit.update(rule, "a", {"op": "lacks", "tag": "FUND"})
    assert rule_edit.find(changed, "a") == {"id": "a", "type": "tag", "op": "lacks", "tag": "FUND"}
    assert rule_edit.find(rule, "a")["tag"] == "VIP"


def test_update_drops_parameters_not_given():
    rule = group(
        "root", "and", {"id": "o", "type": "opened", "from": "2024-01-01", "to": "2024-02-01"}
    )
    new = rule_edit.update(rule, "o", {"from": None, "to": "2024-03-01"})
    assert rule_edit.find(new, "o") == {
        "id": "o",
        "type": "opened",
        "from": None,
        "to": "2024-03-01",
    }


def test_update_refuses_structure_keys_and_unknown_nodes(rule):
    for bad in ({"id": "x"}, {"type": "tags"}, {"children": []}):
        with pytest.raises(EditError):
            rule_edit.update(rule, "a", bad)
    with pytest.raises(EditError):
        rule_edit.update(rule, "zzz", {"op": "has"})


def test_move_within_the_same_group_uses_the_final_position(rule):
    # Like a drag-and-drop list: "a" dropped at index 2 ends up third.
    assert ids(rule_edit.move(rule, "a", "root", 2))["root"] == [
        {"g1": ["b", {"g2": ["c"]}]},
        "d",
        "a",
    ]
    assert ids(rule_edit.move(rule, "d", "root", 0))["root"][0] == "d"


def test_move_between_groups(rule):
    new = rule_edit.move(rule, "d", "g2", 0)
    assert ids(new) == {"root": ["a", {"g1": ["b", {"g2": ["d", "c"]}]}]}
    deep = rule_edit.move(rule, "c", "root", None)
    assert ids(deep) == {"root": ["a", {"g1": ["b", {"g2": []}]}, "d", "c"]}


def test_a_group_moves_with_its_children(rule):
    new = rule_edit.move(rule, "g2", "root", 0)
    assert ids(new) == {"root": [{"g2": ["c"]}, "a", {"g1": ["b"]}, "d"]}


def test_a_group_cannot_move_into_itself_or_its_descendants(rule):
    for target in ("g1", "g2"):
        with pytest.raises(EditError) as cycle:
            rule_edit.move(rule, "g1", target, 0)
        assert cycle.value.node_id == "g1"


def test_move_refuses_the_root_unknown_ids_and_conditions_as_parents(rule):
    with pytest.raises(EditError):
        rule_edit.move(rule, "root", "g1", 0)
    with pytest.raises(EditError):
        rule_edit.move(rule, "ghost", "root", 0)
    with pytest.raises(EditError):
        rule_edit.move(rule, "a", "ghost", 0)
    with pytest.raises(EditError):
        rule_edit.move(rule, "a", "d", 0)
    with pytest.raises(EditError):
        rule_edit.move(rule, "a", "root", -3)


def test_move_never_changes_its_argument(rule):
    before = copy.deepcopy(rule)
    rule_edit.move(rule, "c", "root", 0)
    with pytest.raises(EditError):
        rule_edit.move(rule, "g1", "g2", 0)
    assert rule == before


def test_keyboard_up_and_down(rule):
    assert ids(rule_edit.step(rule, "d", "up"))["root"] == ["a", "d", {"g1": ["b", {"g2": ["c"]}]}]
    assert ids(rule_edit.step(rule, "a", "down"))["root"][1] == "a"
    with pytest.raises(EditError):
        rule_edit.step(rule, "a", "up")
    with pytest.raises(EditError):
        rule_edit.step(rule, "d", "down")


def test_keyboard_out_places_the_node_just_after_its_group(rule):
    assert ids(rule_edit.step(rule, "c", "out")) == {
        "root": ["a", {"g1": ["b", {"g2": []}, "c"]}, "d"]
    }
    assert ids(rule_edit.step(rule, "b", "out"))["root"] == ["a", {"g1": [{"g2": ["c"]}]}, "b", "d"]
    with pytest.raises(EditError):
        rule_edit.step(rule, "a", "out")


def test_keyboard_into_appends_to_the_group_just_above(rule):
    assert ids(rule_edit.step(rule, "d", "into")) == {
        "root": ["a", {"g1": ["b", {"g2": ["c"]}, "d"]}]
    }
    with pytest.raises(EditError):
        rule_edit.step(rule, "g1", "into")  # "a" above it is not a group
    with pytest.raises(EditError):
        rule_edit.step(rule, "a", "into")  # nothing above


def test_keyboard_refuses_unknown_directions_and_the_root(rule):
    with pytest.raises(EditError):
        rule_edit.step(rule, "a", "sideways")
    for direction in rule_edit.STEPS:
        with pytest.raises(EditError):
            rule_edit.step(rule, "root", direction)
