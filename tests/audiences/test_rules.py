import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from accounts.scope import BranchScope
from audiences import rules, services
from audiences.models import Segment


def group(op, *children, id=None):
    return {"id": id or rules.new_id(), "type": "group", "op": op, "children": list(children)}


def tag(code, op="has", id=None):
    return {"id": id or rules.new_id(), "type": "tag", "op": op, "tag": code}


def members(rule, branch):
    normalised, ctx = rules.validate(rule, user=BranchScope(branch))
    return set(rules.evaluate(normalised, ctx)), set(rules.members_sql(normalised, ctx).values_list("pk", flat=True))


@pytest.fixture
def world(tree, make_customers, make_tag):
    vip, fund, card = make_tag("VIP"), make_tag("FUND"), make_tag("CARD")
    bj = make_customers(4, tree.bj, tags=[vip], opened_on=dt.date(2024, 1, 31))
    hd = make_customers(3, tree.hd, start=100, tags=[vip, fund], opened_on=dt.date(2024, 2, 1))
    sh = make_customers(3, tree.sh, start=200, tags=[fund, card], opened_on=dt.date(2024, 3, 15))
    return {"bj": {c.pk for c in bj}, "hd": {c.pk for c in hd}, "sh": {c.pk for c in sh}}


def test_each_node_type_selects_what_it_says(tree, world):
    bj, hd, sh = world["bj"], world["hd"], world["sh"]
    everyone = bj | hd | sh
    cases = [
        (group("and"), everyone),
        (group("or"), set()),
        (group("and", tag("VIP")), bj | hd),
        (group("and", tag("VIP", "lacks")), sh),
        (group("and", {"type": "tags", "op": "all", "tags": ["VIP", "FUND"]}), hd),
        (group("and", {"type": "tags", "op": "any", "tags": ["VIP", "CARD"]}), everyone),
        (group("and", {"type": "branch", "branches": ["BJ"]}), bj | hd),
        (group("and", {"type": "opened", "from": "2024-01-31", "to": "2024-02-01"}), bj | hd),
        (group("and", {"type": "opened", "from": "2024-02-02", "to": None}), sh),
        (group("not", tag("FUND"), tag("CARD")), bj),
        (group("or", tag("CARD"), group("and", tag("VIP"), {"type": "branch", "branches": ["BJ-HD"]})), hd | sh),
    ]
    for rule, expected in cases:
        bitmap, sql = members(rule, tree.ho)
        assert bitmap == sql == expected, rule


def test_members_never_leave_the_owner_branch_subtree(tree, world):
    bitmap, sql = members(group("and", tag("FUND")), tree.bj)
    assert bitmap == sql == world["hd"]
    with pytest.raises(rules.RuleError):  # SH is not in BJ's scope at all
        members(group("and", {"type": "branch", "branches": ["SH"]}), tree.bj)


def test_opened_within_counts_back_from_today(tree, make_customers):
    today = dt.date.today()
    recent = make_customers(2, tree.bj, prefix="R", opened_on=today - dt.timedelta(days=3))
    make_customers(2, tree.bj, prefix="O", opened_on=today - dt.timedelta(days=40))
    bitmap, sql = members(group("and", {"type": "opened_within", "days": 7}), tree.bj)
    assert bitmap == sql == {c.pk for c in recent}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"type": "tag", "op": "has", "tag": "NOPE"}, "Unknown tag"),
        ({"type": "tag", "op": "maybe", "tag": "VIP"}, "has"),
        ({"type": "tags", "op": "any", "tags": []}, "at least one"),
        ({"type": "branch", "branches": ["SH"]}, "outside your scope"),
        ({"type": "opened", "from": "2024-13-01", "to": None}, "not a date"),
        ({"type": "opened", "from": "2024-05-01", "to": "2024-01-01"}, "after the end"),
        ({"type": "opened_within", "days": 0}, "between 1 and"),
        ({"type": "segment", "op": "include", "segment": 999999}, "Unknown segment"),
        ({"type": "mystery"}, "Unknown condition"),
    ],
)
def test_an_invalid_rule_points_at_the_bad_node(tree, world, bad, message):
    bad = {**bad, "id": "bad1"}
    with pytest.raises(rules.RuleError) as exc:
        rules.validate(group("and", tag("VIP"), group("or", bad)), user=BranchScope(tree.bj))
    assert exc.value.node_id == "bad1"
    assert message in exc.value.message


def test_a_branch_owned_tag_of_a_sibling_is_outside_scope(tree, world, make_tag):
    make_tag("SH_ONLY", owner=tree.sh)
    with pytest.raises(rules.RuleError):
        rules.validate(group("and", tag("SH_ONLY", id="x")), user=BranchScope(tree.bj))
    rules.validate(group("and", tag("SH_ONLY")), user=BranchScope(tree.sh))


def test_rules_that_are_too_big_or_too_deep_are_refused(tree, world):
    deep = group("and")
    node = deep
    for _ in range(rules.MAX_DEPTH + 1):
        child = group("and")
        node["children"].append(child)
        node = child
    with pytest.raises(rules.RuleError, match="nest"):
        rules.validate(deep, user=BranchScope(tree.ho))
    wide = group("or", *[tag("VIP") for _ in range(rules.MAX_NODES)])
    with pytest.raises(rules.RuleError, match="at most"):
        rules.validate(wide, user=BranchScope(tree.ho))


def test_segments_include_and_exclude_others_but_never_themselves(tree, world, personas):
    vip = services.segment_create(actor=personas.branch_admin, name="VIP", owner_branch=tree.bj, rule=group("and", tag("VIP")))
    fund = services.segment_create(
        actor=personas.branch_admin, name="VIP without fund", owner_branch=tree.bj,
        rule=group("and", {"type": "segment", "op": "include", "segment": vip.pk}, tag("FUND", "lacks")),
    )
    bitmap, sql = members(fund.rule, tree.bj)
    assert bitmap == sql == world["bj"]
    cycle = group("and", {"id": "loop", "type": "segment", "op": "exclude", "segment": fund.pk})
    with pytest.raises(ValidationError) as exc:
        services.segment_update(actor=personas.branch_admin, segment=vip, rule=cycle)
    assert "itself" in str(exc.value)
    vip.refresh_from_db()
    assert vip.rule["children"][0]["tag"] == "VIP"


def test_a_segment_of_a_sibling_branch_cannot_be_referenced(tree, world, personas):
    theirs = services.segment_create(actor=personas.outsider, name="SH", owner_branch=tree.sh)
    with pytest.raises(ValidationError):
        services.segment_create(
            actor=personas.branch_admin, name="mine", owner_branch=tree.bj,
            rule=group("and", {"type": "segment", "op": "include", "segment": theirs.pk}),
        )
    assert not Segment.objects.filter(name="mine").exists()


def test_operator_cannot_create_a_segment_for_a_branch_outside_scope(tree, personas):
    with pytest.raises(ValidationError):
        services.segment_create(actor=personas.operator, name="x", owner_branch=tree.sh)


def test_snapshot_freezes_members_and_is_audited(tree, world, personas, make_customers, make_tag):
    from accounts.models import AuditEntry
    from audiences import selectors
    from audiences.models import Tag

    segment = services.segment_create(actor=personas.operator, name="VIP", owner_branch=tree.bj, rule=group("and", tag("VIP")))
    snapshot = services.segment_snapshot_take(segment=segment, actor=personas.reviewer, reason="campaign:SPRING")
    assert snapshot.size == 7
    assert set(selectors.snapshot_members(snapshot)) == world["bj"] | world["hd"]
    make_customers(5, tree.bj, start=500, tags=[Tag.objects.get(code="VIP")])
    snapshot.refresh_from_db()
    assert snapshot.size == 7 and len(selectors.snapshot_members(snapshot)) == 7
    entry = AuditEntry.objects.get(action="segment.snapshot")
    assert entry.actor == personas.reviewer and entry.changes["size"] == 7
