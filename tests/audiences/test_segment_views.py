"""Segment pages: list, create, the builder's edits, the live preview, archive and export."""

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts import permissions
from accounts.models import AuditEntry, Role
from audiences import rule_edit, rules, services
from audiences.models import Segment

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(client):
    # Messages are asserted in English; the default interface language is Chinese.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def world(tree, personas, make_tag, make_customers):
    vip, fund = make_tag("VIP"), make_tag("FUND")
    bj_tag, sh_tag = make_tag("BJ-ONLY", owner=tree.bj), make_tag("SH-ONLY", owner=tree.sh)
    make_tag("OLD", is_active=False)
    bj = make_customers(4, tree.bj, tags=[vip])
    hd = make_customers(3, tree.hd, start=100, tags=[vip, fund])
    sh = make_customers(5, tree.sh, start=200, tags=[vip, fund])
    segment = services.segment_create(actor=personas.operator, name="BJ VIPs", owner_branch=tree.bj)
    return {
        "vip": vip,
        "fund": fund,
        "bj_tag": bj_tag,
        "sh_tag": sh_tag,
        "bj": bj,
        "hd": hd,
        "sh": sh,
        "segment": segment,
    }


def url(name, segment, **kwargs):
    return reverse(f"audiences:{name}", kwargs={"pk": segment.pk, **kwargs})


def set_rule(segment, rule, actor):
    return services.segment_update(actor=actor, segment=segment, rule=rule)


def tag_node(code, op="has", id=None):
    return {"id": id or rules.new_id(), "type": "tag", "op": op, "tag": code}


def group_node(op="and", *children, id=None):
    return {"id": id or rules.new_id(), "type": "group", "op": op, "children": list(children)}


def stored(segment):
    return Segment.objects.get(pk=segment.pk).rule


def shape(node):
    """The rule as nested ids."""
    if node["type"] != "group":
        return node["id"]
    return {node["id"]: [shape(child) for child in node["children"]]}


@pytest.fixture
def two_groups(world, personas):
    """root(and) [ g1(or)[ a: has VIP ], g2(and)[], b: has FUND ]"""
    rule = group_node(
        "and",
        group_node("or", tag_node("VIP", id="a"), id="g1"),
        group_node("and", id="g2"),
        tag_node("FUND", id="b"),
        id="root",
    )
    return set_rule(world["segment"], rule, personas.operator)


# --- list and create ---------------------------------------------------------------


def test_list_shows_only_segments_in_scope(login, personas, tree, world):
    services.segment_create(actor=personas.sub_admin, name="Haidian movers", owner_branch=tree.hd)
    services.segment_create(actor=personas.outsider, name="Shanghai savers", owner_branch=tree.sh)
    page = login(personas.branch_admin).get(reverse("audiences:segment_list"))
    assert page.status_code == 200
    assert {s.name for s in page.context["page_obj"]} == {"BJ VIPs", "Haidian movers"}
    assert "Shanghai savers" not in page.content.decode()


def test_list_filters_by_name_owner_branch_and_archived(login, personas, tree, world):
    services.segment_create(actor=personas.sub_admin, name="Haidian movers", owner_branch=tree.hd)
    old = services.segment_create(actor=personas.operator, name="Old BJ list", owner_branch=tree.bj)
    services.segment_archive(actor=personas.operator, segment=old)
    client = login(personas.branch_admin)
    list_url = reverse("audiences:segment_list")

    def names(**params):
        return {s.name for s in client.get(list_url, params).context["page_obj"]}

    assert names() == {"BJ VIPs", "Haidian movers"}  # archived ones are out of the way by default
    assert names(q="movers") == {"Haidian movers"}
    assert names(owner_branch="BJ-HD") == {"Haidian movers"}
    assert names(owner_branch="BJ") == {
        "BJ VIPs",
        "Haidian movers",
    }  # a branch includes its sub-branches
    assert names(status="archived") == {"Old BJ list"}
    assert names(status="all") == {"BJ VIPs", "Haidian movers", "Old BJ list"}
    tampered = client.get(list_url, {"owner_branch": "SH"})
    assert (
        tampered.context["filter"].errors
        and "Some filters are not valid" in tampered.content.decode()
    )


def test_list_filter_answers_the_table_fragment_to_htmx(login, personas, world):
    response = login(personas.analyst).get(reverse("audiences:segment_list"), {"q": "VIP"}, **HTMX)
    body = response.content.decode()
    assert body.startswith('<div id="segment-table">') and "BJ VIPs" in body and "<html" not in body


def test_list_query_count_does_not_grow_with_rows(
    login, personas, tree, world, django_assert_max_num_queries
):
    for i in range(12):
        services.segment_create(actor=personas.operator, name=f"Segment {i}", owner_branch=tree.bj)
    client = login(personas.branch_admin)
    with django_assert_max_num_queries(12):
        client.get(reverse("audiences:segment_list"))


def test_new_segment_button_only_for_roles_that_edit(login, personas, world):
    new_url = reverse("audiences:segment_new")
    assert (
        new_url in login(personas.operator).get(reverse("audiences:segment_list")).content.decode()
    )
    assert (
        new_url
        not in login(personas.analyst).get(reverse("audiences:segment_list")).content.decode()
    )


def test_operator_creates_a_segment_and_lands_in_the_builder(login, personas, tree, world):
    client = login(personas.operator)
    form = client.get(reverse("audiences:segment_new")).context["form"]
    assert set(form.fields["owner_branch"].queryset) == {tree.bj, tree.hd}
    assert form.initial["owner_branch"] == tree.bj.pk
    response = client.post(
        reverse("audiences:segment_new"),
        {"name": "Haidian VIP", "description": "d", "owner_branch": tree.hd.pk},
    )
    segment = Segment.objects.get(name="Haidian VIP")
    assert response.status_code == 302 and response.url == url("segment_detail", segment)
    assert segment.owner_branch == tree.hd and segment.created_by == personas.operator
    assert segment.rule["type"] == "group" and segment.rule["children"] == []


def test_create_refuses_an_owner_branch_outside_the_scope(login, personas, tree, world):
    response = login(personas.operator).post(
        reverse("audiences:segment_new"), {"name": "Sneaky", "owner_branch": tree.sh.pk}
    )
    assert response.status_code == 200 and "owner_branch" in response.context["form"].errors
    assert not Segment.objects.filter(name="Sneaky").exists()


def test_create_needs_the_edit_verb(login, personas, tree, world):
    for persona in (personas.analyst, personas.reviewer):
        client = login(persona)
        assert client.get(reverse("audiences:segment_new")).status_code == 403
        assert (
            client.post(
                reverse("audiences:segment_new"), {"name": "x", "owner_branch": tree.bj.pk}
            ).status_code
            == 403
        )
    assert not Segment.objects.filter(name="x").exists()


def test_create_answers_405_to_other_methods(login, personas, world):
    assert login(personas.operator).put(reverse("audiences:segment_new")).status_code == 405


def test_pages_need_a_login(client, world):
    segment = world["segment"]
    for target in (
        reverse("audiences:segment_list"),
        url("segment_detail", segment),
        url("segment_preview", segment),
    ):
        response = client.get(target)
        assert response.status_code == 302 and reverse("accounts:login") in response.url


# --- the builder page ------------------------------------------------------------------


def test_builder_shows_the_tree_the_preview_placeholder_and_snapshots(
    login, personas, world, two_groups
):
    services.segment_snapshot_take(
        segment=two_groups, actor=personas.reviewer, reason="campaign SPRING approved"
    )
    response = login(personas.operator).get(url("segment_detail", two_groups))
    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["root"].id == "root" and response.context["editable"]
    for node_id in ("root", "g1", "g2", "a", "b"):
        assert f'id="node-{node_id}"' in body
    assert "has tag “VIP”" in body and "any of" in body
    assert 'hx-trigger="load, ruleChanged from:body delay:300ms"' in body
    assert "campaign SPRING approved" in body
    assert (
        'id="segment-move-form"' in body and "segment_builder.js" in body and "segments.css" in body
    )


def test_every_hx_get_has_an_href_and_every_hx_post_form_a_method_and_action(
    login, personas, world, two_groups
):
    body = (
        login(personas.operator).get(url("segment_detail", two_groups) + "?edit=a").content.decode()
    )
    tags = re.findall(r"<(a|form|div)\b([^>]*)>", body)
    hx_posts = [attrs for name, attrs in tags if "hx-post=" in attrs]
    assert len(hx_posts) > 10
    for name, attrs in tags:
        if "hx-post=" in attrs:
            assert name == "form" and 'method="post"' in attrs and "action=" in attrs, attrs
        if "hx-get=" in attrs and name == "a":
            assert "href=" in attrs, attrs
        if "hx-get=" in attrs and name == "form":
            assert 'method="get"' in attrs and "action=" in attrs, attrs


def test_analyst_and_reviewer_see_the_builder_read_only(login, personas, world, two_groups):
    for persona in (personas.analyst, personas.reviewer):
        response = login(persona).get(url("segment_detail", two_groups))
        body = response.content.decode()
        assert response.status_code == 200 and not response.context["editable"]
        assert "has tag “VIP”" in body
        assert (
            "segment-move-form" not in body
            and "rule-handle" not in body
            and "rule-delete" not in body
        )
        assert url("segment_export", two_groups, fmt="csv") in body


def test_segment_outside_scope_is_404_on_every_endpoint(login, personas, world, two_groups):
    client = login(personas.outsider)
    segment = two_groups
    for name in ("segment_detail", "segment_preview"):
        assert client.get(url(name, segment)).status_code == 404
    for fmt in ("csv", "xlsx"):
        assert client.get(url("segment_export", segment, fmt=fmt)).status_code == 404
    posts = {
        "segment_node_add": {"parent": "root", "kind": "tag", "op": "has", "tag": "VIP"},
        "segment_node_update": {"node": "a", "op": "lacks", "tag": "VIP"},
        "segment_node_delete": {"node": "a"},
        "segment_node_move": {"node": "a", "direction": "down"},
        "segment_archive": {},
    }
    for name, data in posts.items():
        assert client.post(url(name, segment), data).status_code == 404, name
    assert client.get(reverse("audiences:segment_detail", kwargs={"pk": 99999})).status_code == 404
    assert stored(segment) == two_groups.rule and not Segment.objects.get(pk=segment.pk).is_archived


def test_roles_without_edit_get_403_on_every_write(login, personas, world, two_groups):
    posts = {
        "segment_node_add": {"parent": "root", "kind": "tag", "op": "has", "tag": "VIP"},
        "segment_node_update": {"node": "a", "op": "lacks", "tag": "VIP"},
        "segment_node_delete": {"node": "a"},
        "segment_node_move": {"node": "a", "direction": "down"},
        "segment_archive": {},
    }
    for persona in (personas.analyst, personas.reviewer):
        client = login(persona)
        for name, data in posts.items():
            assert client.post(url(name, two_groups), data).status_code == 403, (persona.role, name)
    assert stored(two_groups) == two_groups.rule


def test_writes_answer_405_to_get_and_reads_to_post(login, personas, world, two_groups):
    client = login(personas.operator)
    for name in (
        "segment_node_add",
        "segment_node_update",
        "segment_node_delete",
        "segment_node_move",
        "segment_archive",
    ):
        assert client.get(url(name, two_groups)).status_code == 405, name
    for name in ("segment_detail", "segment_preview"):
        assert client.post(url(name, two_groups)).status_code == 405, name
    assert client.post(url("segment_export", two_groups, fmt="csv")).status_code == 405
    assert client.post(reverse("audiences:segment_list")).status_code == 405


# --- opening forms -----------------------------------------------------------------------


def test_add_form_opens_in_its_group_with_tags_grouped_by_category(
    login, personas, world, two_groups, category
):
    response = login(personas.operator).get(
        url("segment_detail", two_groups), {"add": "tag", "parent": "g2"}, **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.startswith('<div id="segment-tree"')
    assert response.context["add_parent"] == "g2"
    choices = response.context["add_form"].fields["tag"].choices
    assert choices[1][0] == "Assets"
    codes = {code for code, _label in choices[1][1]}
    # Bank-wide and the owner's own tags; never a sibling's, never an inactive one.
    assert codes == {"VIP", "FUND", "BJ-ONLY"}
    assert '<optgroup label="Assets">' in body


def test_condition_choices_follow_the_owner_branch_scope(login, personas, tree, world):
    haidian = services.segment_create(actor=personas.operator, name="Haidian", owner_branch=tree.hd)
    client = login(personas.ho_admin)
    form = client.get(
        url("segment_detail", haidian), {"add": "branch", "parent": haidian.rule["id"]}
    ).context["add_form"]
    assert [code for code, _label in form.fields["branches"].choices] == ["BJ-HD"]
    form = client.get(
        url("segment_detail", world["segment"]),
        {"add": "segment", "parent": world["segment"].rule["id"]},
    ).context["add_form"]
    # Segments of the owner's subtree, not itself.
    assert [label for _pk, label in form.fields["segment"].choices[1:]] == ["Haidian"]


def test_edit_form_opens_with_the_node_values(login, personas, world, two_groups):
    response = login(personas.operator).get(url("segment_detail", two_groups), {"edit": "a"})
    assert response.context["edit_node"] == "a"
    assert response.context["edit_form"].initial == {"op": "has", "tag": "VIP"}
    assert 'id="rule-form"' in response.content.decode()


def test_stale_form_links_explain_instead_of_failing(login, personas, world, two_groups):
    client = login(personas.operator)
    for params in (
        {"edit": "ghost"},
        {"add": "tag", "parent": "ghost"},
        {"add": "nonsense", "parent": "root"},
        {"add": "tag", "parent": "a"},
    ):
        response = client.get(url("segment_detail", two_groups), params)
        assert response.status_code == 200 and response.context["error"], params


# --- editing ---------------------------------------------------------------------------


def test_adding_a_condition_saves_it_and_tells_the_preview(login, personas, world, two_groups):
    response = login(personas.operator).post(
        url("segment_node_add", two_groups),
        {"parent": "g2", "kind": "tag", "op": "lacks", "tag": "FUND"},
        **HTMX,
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "ruleChanged"
    g2 = rule_edit.find(stored(two_groups), "g2")
    assert len(g2["children"]) == 1 and g2["children"][0] | {"id": None} == {
        "id": None,
        "type": "tag",
        "op": "lacks",
        "tag": "FUND",
    }
    assert response.content.decode().startswith('<div id="segment-tree"')


def test_every_kind_of_condition_can_be_added(login, personas, tree, world, two_groups):
    other = services.segment_create(actor=personas.operator, name="Other", owner_branch=tree.hd)
    client = login(personas.operator)
    posts = [
        {"kind": "tags", "op": "all", "tags": ["VIP", "BJ-ONLY"]},
        {"kind": "branch", "branches": ["BJ-HD"]},
        {"kind": "opened", "opened_from": "2024-01-01", "opened_to": ""},
        {"kind": "opened_within", "days": "90"},
        {"kind": "segment", "op": "exclude", "segment": str(other.pk)},
        {"kind": "group", "op": "not"},
    ]
    for data in posts:
        response = client.post(url("segment_node_add", two_groups), {"parent": "root", **data})
        assert response.status_code == 302, (data, response.content.decode()[:2000])
    added = stored(two_groups)["children"][3:]
    assert [{k: v for k, v in n.items() if k != "id"} for n in added] == [
        {"type": "tags", "op": "all", "tags": ["VIP", "BJ-ONLY"]},
        {"type": "branch", "branches": ["BJ-HD"]},
        {"type": "opened", "from": "2024-01-01", "to": None},
        {"type": "opened_within", "days": 90},
        {"type": "segment", "op": "exclude", "segment": other.pk},
        {"type": "group", "op": "not", "children": []},
    ]


def test_without_javascript_an_edit_redirects_back_to_the_node(login, personas, world, two_groups):
    response = login(personas.operator).post(
        url("segment_node_move", two_groups), {"node": "b", "direction": "up"}
    )
    assert (
        response.status_code == 302
        and response.url == url("segment_detail", two_groups) + "#node-b"
    )


def test_tampered_tag_codes_are_refused_and_nothing_changes(login, personas, world, two_groups):
    client = login(personas.operator)
    for code in ("SH-ONLY", "NO-SUCH-TAG", "OLD"):
        response = client.post(
            url("segment_node_add", two_groups),
            {"parent": "root", "kind": "tag", "op": "has", "tag": code},
            **HTMX,
        )
        assert response.status_code == 422 and "HX-Trigger" not in response
        assert "is not one of the available choices" in response.content.decode()
        assert response.context["add_form"].errors
    response = client.post(
        url("segment_node_add", two_groups),
        {"parent": "root", "kind": "tags", "op": "any", "tags": ["VIP", "SH-ONLY"]},
    )
    assert response.status_code == 422
    assert stored(two_groups) == two_groups.rule


def test_tampered_segment_and_branch_ids_are_refused(login, personas, tree, world, two_groups):
    shanghai = services.segment_create(actor=personas.outsider, name="SH", owner_branch=tree.sh)
    client = login(personas.operator)
    for data in (
        {"kind": "segment", "op": "include", "segment": str(shanghai.pk)},
        {"kind": "segment", "op": "include", "segment": str(two_groups.pk)},  # itself
        {"kind": "segment", "op": "include", "segment": "abc"},
        {"kind": "branch", "branches": ["SH"]},
        {"kind": "opened_within", "days": "0"},
        {"kind": "opened", "opened_from": "2024-02-01", "opened_to": "2024-01-01"},
        {"kind": "nonsense"},
    ):
        response = client.post(url("segment_node_add", two_groups), {"parent": "root", **data})
        assert response.status_code == 422, data
        assert response.context["error"], data
    assert stored(two_groups) == two_groups.rule


def test_tampered_parent_and_node_ids_get_a_clear_message(login, personas, world, two_groups):
    client = login(personas.operator)
    cases = [
        (
            "segment_node_add",
            {"parent": "ghost", "kind": "tag", "op": "has", "tag": "VIP"},
            "no longer exists",
        ),
        (
            "segment_node_add",
            {"parent": "a", "kind": "tag", "op": "has", "tag": "VIP"},
            "only be placed in a group",
        ),
        ("segment_node_update", {"node": "ghost", "op": "has", "tag": "VIP"}, "no longer exists"),
        ("segment_node_delete", {"node": "ghost"}, "no longer exists"),
        ("segment_node_delete", {"node": "root"}, "top group cannot be removed"),
        (
            "segment_node_move",
            {"node": "ghost", "parent": "root", "index": "0"},
            "no longer exists",
        ),
        ("segment_node_move", {"node": "a", "parent": "ghost", "index": "0"}, "no longer exists"),
        (
            "segment_node_move",
            {"node": "a", "parent": "b", "index": "0"},
            "only be placed in a group",
        ),
        ("segment_node_move", {"node": "a", "parent": "root", "index": "-1"}, "move is not valid"),
        ("segment_node_move", {"node": "a"}, "move is not valid"),
        ("segment_node_move", {"node": "a", "direction": "sideways"}, "move is not valid"),
        (
            "segment_node_move",
            {"node": "root", "parent": "g1", "index": "0"},
            "top group cannot be moved",
        ),
    ]
    for name, data, message in cases:
        response = client.post(url(name, two_groups), data, **HTMX)
        assert response.status_code == 422, (name, data)
        assert message in response.content.decode(), (name, data)
    assert stored(two_groups) == two_groups.rule


def test_updating_a_condition_replaces_its_parameters(login, personas, world, two_groups):
    response = login(personas.operator).post(
        url("segment_node_update", two_groups),
        {"node": "a", "op": "lacks", "tag": "BJ-ONLY", "kind": "group"},
        **HTMX,
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "ruleChanged"
    # The type is the saved node's, whatever the request says.
    assert rule_edit.find(stored(two_groups), "a") == {
        "id": "a",
        "type": "tag",
        "op": "lacks",
        "tag": "BJ-ONLY",
    }


def test_an_invalid_update_keeps_the_form_open_with_its_errors(login, personas, world, two_groups):
    response = login(personas.operator).post(
        url("segment_node_update", two_groups), {"node": "a", "op": "maybe", "tag": "VIP"}
    )
    assert response.status_code == 422
    assert response.context["edit_node"] == "a" and "op" in response.context["edit_form"].errors
    assert response.context["error_node"] == "a"
    assert stored(two_groups) == two_groups.rule


def test_changing_a_group_op(login, personas, world, two_groups):
    client = login(personas.operator)
    assert (
        client.post(
            url("segment_node_update", two_groups), {"node": "g1", "op": "not"}, **HTMX
        ).status_code
        == 200
    )
    assert rule_edit.find(stored(two_groups), "g1")["op"] == "not"
    assert shape(stored(two_groups)) == shape(two_groups.rule)
    bad = client.post(url("segment_node_update", two_groups), {"node": "g1", "op": "xor"}, **HTMX)
    assert bad.status_code == 422 and rule_edit.find(stored(two_groups), "g1")["op"] == "not"


def test_deleting_a_condition_and_a_group(login, personas, world, two_groups):
    client = login(personas.operator)
    assert (
        client.post(url("segment_node_delete", two_groups), {"node": "b"}, **HTMX)["HX-Trigger"]
        == "ruleChanged"
    )
    assert client.post(url("segment_node_delete", two_groups), {"node": "g1"}).status_code == 302
    assert shape(stored(two_groups)) == {"root": [{"g2": []}]}


def test_drop_moves_a_node_into_another_group_at_the_index(login, personas, world, two_groups):
    client = login(personas.operator)
    response = client.post(
        url("segment_node_move", two_groups), {"node": "b", "parent": "g1", "index": "0"}, **HTMX
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "ruleChanged"
    assert shape(stored(two_groups)) == {"root": [{"g1": ["b", "a"]}, {"g2": []}]}
    client.post(
        url("segment_node_move", two_groups), {"node": "g1", "parent": "g2", "index": "0"}, **HTMX
    )
    assert shape(stored(two_groups)) == {"root": [{"g2": [{"g1": ["b", "a"]}]}]}


def test_a_group_cannot_be_dropped_into_itself_or_its_children(login, personas, world, two_groups):
    client = login(personas.operator)
    client.post(url("segment_node_move", two_groups), {"node": "g2", "parent": "g1", "index": "1"})
    before = stored(two_groups)
    for target in ("g1", "g2"):
        response = client.post(
            url("segment_node_move", two_groups),
            {"node": "g1", "parent": target, "index": "0"},
            **HTMX,
        )
        assert (
            response.status_code == 422
            and "cannot be moved into itself" in response.content.decode()
        )
        assert response.context["error_node"] == "g1"
        assert (
            'class="rule-node rule-group rule-node-error" id="node-g1"' in response.content.decode()
        )
    assert stored(two_groups) == before


def test_keyboard_moves_up_down_out_and_into(login, personas, world, two_groups):
    client = login(personas.operator)

    def step(node, direction):
        return client.post(
            url("segment_node_move", two_groups), {"node": node, "direction": direction}
        )

    assert step("b", "into").status_code == 302  # into g2, the group just above
    assert shape(stored(two_groups)) == {"root": [{"g1": ["a"]}, {"g2": ["b"]}]}
    assert step("g2", "up").status_code == 302
    assert shape(stored(two_groups)) == {"root": [{"g2": ["b"]}, {"g1": ["a"]}]}
    assert step("a", "out").status_code == 302
    assert shape(stored(two_groups)) == {"root": [{"g2": ["b"]}, {"g1": []}, "a"]}
    assert step("g2", "down").status_code == 302
    assert shape(stored(two_groups)) == {"root": [{"g1": []}, {"g2": ["b"]}, "a"]}
    refused = step("a", "down")
    assert refused.status_code == 422 and "already the last" in refused.content.decode()
    assert refused.context["error_node"] == "a"


def test_keyboard_buttons_are_disabled_where_they_cannot_move(login, personas, world, two_groups):
    root = login(personas.operator).get(url("segment_detail", two_groups)).context["root"]
    g1, g2, b = root.children
    a = g1.children[0]
    assert (g1.is_first, g1.can_move_out, g1.can_move_into) == (True, False, False)
    assert (b.is_last, b.can_move_into) == (True, True)
    assert (a.is_first, a.is_last, a.can_move_out) == (True, True, True)
    assert not g2.children


def test_an_invalid_rule_points_at_the_bad_node_and_saves_nothing(login, personas, tree, world):
    other = services.segment_create(actor=personas.operator, name="Other", owner_branch=tree.bj)
    segment = set_rule(
        world["segment"],
        group_node(
            "and", {"id": "ref", "type": "segment", "op": "include", "segment": other.pk}, id="root"
        ),
        personas.operator,
    )
    services.segment_archive(actor=personas.operator, segment=other)
    client = login(personas.operator)
    response = client.post(
        url("segment_node_add", segment),
        {"parent": "root", "kind": "tag", "op": "has", "tag": "VIP"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 422 and "HX-Trigger" not in response
    assert response.context["error_node"] == "ref"
    assert (
        'id="node-ref"' in body
        and "rule-node-error" in body
        and "Unknown segment or outside your scope" in body
    )
    assert stored(segment) == segment.rule
    # Removing the bad condition is what fixes it.
    assert client.post(url("segment_node_delete", segment), {"node": "ref"}).status_code == 302
    assert stored(segment)["children"] == []


def test_a_cycle_between_segments_is_refused_on_the_add_form(login, personas, tree, world):
    first = world["segment"]
    second = services.segment_create(actor=personas.operator, name="Second", owner_branch=tree.bj)
    set_rule(
        second,
        group_node("and", {"id": "s", "type": "segment", "op": "include", "segment": first.pk}),
        personas.operator,
    )
    response = login(personas.operator).post(
        url("segment_node_add", first),
        {"parent": first.rule["id"], "kind": "segment", "op": "include", "segment": str(second.pk)},
    )
    assert response.status_code == 422 and "cannot include itself" in response.content.decode()
    assert response.context["add_form"] is not None and response.context["error_node"] is None
    assert stored(first) == first.rule


def test_nesting_too_deep_is_refused_at_the_moved_group(login, personas, world):
    deep = group_node("and", id="d0")
    current = deep
    for level in range(1, rules.MAX_DEPTH - 1):  # the deepest group a rule may have
        child = group_node("and", id=f"d{level}")
        current["children"].append(child)
        current = child
    rule = group_node("and", deep, group_node("or", id="side"), id="root")
    segment = set_rule(world["segment"], rule, personas.operator)
    response = login(personas.operator).post(
        url("segment_node_move", segment),
        {"node": "side", "parent": f"d{rules.MAX_DEPTH - 2}", "index": "0"},
    )
    assert response.status_code == 422 and response.context["error_node"] == "side"
    assert stored(segment) == segment.rule


def test_an_archived_segment_cannot_change(login, personas, world, two_groups):
    services.segment_archive(actor=personas.operator, segment=two_groups)
    client = login(personas.operator)
    page = client.get(url("segment_detail", two_groups))
    assert not page.context["editable"] and "segment-move-form" not in page.content.decode()
    response = client.post(url("segment_node_delete", two_groups), {"node": "a"}, **HTMX)
    assert (
        response.status_code == 422
        and "archived segment cannot change" in response.content.decode()
    )
    assert stored(two_groups) == two_groups.rule


def test_archive(login, personas, world):
    segment = world["segment"]
    response = login(personas.operator).post(url("segment_archive", segment), follow=True)
    assert response.redirect_chain[-1][0] == url("segment_detail", segment)
    assert Segment.objects.get(pk=segment.pk).is_archived
    assert "archived" in response.content.decode()


# --- preview ---------------------------------------------------------------------------------


def test_preview_counts_within_the_owner_branch_with_masked_phones(
    login, personas, world, two_groups
):
    response = login(personas.operator).get(url("segment_preview", two_groups), **HTMX)
    body = response.content.decode()
    # (VIP) and FUND, within BJ's subtree: the three Haidian customers, not Shanghai's five.
    assert response.context["preview"].size == 3
    assert 'data-size="3"' in body and body.startswith('<div id="segment-preview"')
    assert "hx-trigger" not in body  # the page's wrapper, which stays, decides when to refresh
    assert [(b.code, n) for b, n in response.context["preview"].by_branch] == [("BJ-HD", 3)]
    phones = [phone for _c, phone in response.context["sample"]]
    assert phones and all("****" in phone for phone in phones)
    assert world["hd"][0].phone not in body


def test_head_office_sees_full_phones_but_the_same_owner_scope(login, personas, world, two_groups):
    response = login(personas.ho_admin).get(url("segment_preview", two_groups), **HTMX)
    assert response.context["preview"].size == 3
    assert {phone for _c, phone in response.context["sample"]} == {c.phone for c in world["hd"]}


def test_preview_sample_is_at_most_twenty(login, personas, tree, world, make_customers):
    make_customers(30, tree.bj, start=500)
    response = login(personas.analyst).get(url("segment_preview", world["segment"]), **HTMX)
    assert response.context["preview"].size == 37 and len(response.context["sample"]) == 20


def test_preview_without_htmx_is_a_page(login, personas, world, two_groups):
    response = login(personas.analyst).get(url("segment_preview", two_groups))
    assert (
        response.status_code == 200
        and "<html" in response.content.decode()
        and 'data-size="3"' in response.content.decode()
    )


def test_preview_of_an_invalid_saved_rule_names_the_node(login, personas, tree, world):
    other = services.segment_create(actor=personas.operator, name="Other", owner_branch=tree.bj)
    segment = set_rule(
        world["segment"],
        group_node("and", {"id": "ref", "type": "segment", "op": "include", "segment": other.pk}),
        personas.operator,
    )
    services.segment_archive(actor=personas.operator, segment=other)
    response = login(personas.operator).get(url("segment_preview", segment), **HTMX)
    assert response.status_code == 200 and response.context["preview"] is None
    assert 'data-error-node="ref"' in response.content.decode()


# --- export ------------------------------------------------------------------------------------


@pytest.fixture
def tricky(tree, world):
    rows = [
        services.CustomerRow(
            "T1",
            '=HYPERLINK("http://evil")',
            "13900000001",
            tree.bj.pk,
            dt.date(2024, 5, 1),
            (world["vip"].pk, world["fund"].pk),
        ),
        services.CustomerRow(
            "T2",
            "@SUM(A1)",
            "13900000002",
            tree.bj.pk,
            dt.date(2024, 5, 2),
            (world["vip"].pk, world["fund"].pk),
        ),
    ]
    services.customers_upsert(rows=rows, source_ref="test")


def test_csv_export_streams_members_with_masked_phones_and_inert_formulas(
    login, personas, world, two_groups, tricky
):
    response = login(personas.analyst).get(url("segment_export", two_groups, fmt="csv"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="segment-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["customer_ref", "name", "phone", "branch", "opened_on"]
    by_ref = {row[0]: row for row in rows[1:]}
    assert set(by_ref) == {c.customer_ref for c in world["hd"]} | {"T1", "T2"}
    assert by_ref["T1"][1] == '\'=HYPERLINK("http://evil")' and by_ref["T2"][1] == "'@SUM(A1)"
    assert by_ref["T1"][2:] == ["139****0001", "BJ", "2024-05-01"]
    assert by_ref["C000100"][3] == "BJ-HD"
    entry = AuditEntry.objects.get(action="segment.export")
    assert (
        entry.actor == personas.analyst
        and entry.changes["size"] == 5
        and entry.changes["format"] == "csv"
    )


def test_xlsx_export_has_the_same_rows(login, personas, world, two_groups, tricky):
    response = login(personas.reviewer).get(url("segment_export", two_groups, fmt="xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("customer_ref", "name", "phone", "branch", "opened_on")
    by_ref = {row[0]: row for row in rows[1:]}
    assert len(by_ref) == 5
    assert by_ref["T1"][1] == '\'=HYPERLINK("http://evil")' and by_ref["T1"][2] == "139****0001"
    assert by_ref["T1"][4].date() == dt.date(2024, 5, 1)


def test_head_office_exports_full_phones(login, personas, world, two_groups, tricky):
    response = login(personas.ho_admin).get(url("segment_export", two_groups, fmt="csv"))
    assert "13900000001" in b"".join(response.streaming_content).decode()


def test_export_needs_the_export_verb(login, personas, world, two_groups, monkeypatch):
    monkeypatch.setitem(permissions.ROLE_VERBS, Role.ANALYST, frozenset({permissions.Verb.VIEW}))
    client = login(personas.analyst)
    assert client.get(url("segment_detail", two_groups)).status_code == 200
    assert client.get(url("segment_export", two_groups, fmt="csv")).status_code == 403
    assert client.get(url("segment_export", two_groups, fmt="xlsx")).status_code == 403
    assert not AuditEntry.objects.filter(action="segment.export").exists()


def test_export_of_an_unknown_format_is_404(login, personas, world, two_groups):
    response = login(personas.analyst).get(f"/audiences/segments/{two_groups.pk}/export.pdf")
    assert response.status_code == 404
