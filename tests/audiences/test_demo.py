"""The audiences demo data: a bank-like taxonomy and customers whose tags hang together."""

import datetime as dt
import io
import re
from collections import Counter, defaultdict

import pytest
from django.core.management import call_command

from accounts.models import Branch
from accounts.scope import BranchScope
from audiences import demo, rules
from audiences.models import BitmapIndex, Customer, CustomerTag, Segment, Tag, TagCategory

PRIVATE_BANKING = [code for code, _zh, _en, value in demo.AUM_TIERS if value == "VALUE_PRIVATE"]
MASS = [code for code, _zh, _en, value in demo.AUM_TIERS if value == "VALUE_MASS"]
EXCLUSIVE = {
    "AUM tier": {code for code, *_ in demo.AUM_TIERS},
    "risk level": {code for code, *_ in demo.RISK_LEVELS},
    "value tier": {code for code, *_ in demo.VALUE_TIERS},
    "life stage": {code for code, *_ in demo.LIFE_STAGES},
}


def seed(customers):
    call_command("seed_demo", customers=customers, stdout=io.StringIO())


def tags_by_customer() -> dict[int, set[str]]:
    held = defaultdict(set)
    for customer_id, code in CustomerTag.objects.values_list("customer_id", "tag__code"):
        held[customer_id].add(code)
    return held


def rate(customers: list[set[str]], code: str) -> float:
    return sum(code in tags for tags in customers) / len(customers)


def members(rule, branch_code="HO"):
    normalised, ctx = rules.validate(rule, user=BranchScope(Branch.objects.get(code=branch_code)))
    return set(rules.evaluate(normalised, ctx)), set(rules.members_sql(normalised, ctx).values_list("pk", flat=True))


def group(op, *children):
    return {"type": "group", "op": op, "children": list(children)}


def test_demo_taxonomy_has_ten_categories_and_about_three_hundred_bilingual_tags(db):
    seed(0)
    assert list(TagCategory.objects.values_list("code", flat=True)) == [code for code, *_ in demo.CATEGORIES]
    assert TagCategory.objects.get(code="campaign_history").tags.count() >= 3
    tags = list(Tag.objects.select_related("owner_branch", "category"))
    assert len(tags) >= 290
    for tag in tags:
        assert re.fullmatch(r"[A-Z0-9_]+", tag.code), tag.code
        assert tag.name_zh and tag.name_en and tag.description, tag.code
        assert re.search(r"[\u4e00-\u9fff]", tag.name_zh), tag.code
        assert tag.name_zh != tag.name_en, tag.code
    owners = Counter(tag.owner_branch.code for tag in tags)
    assert owners["HO"] >= 290
    assert {code for code in owners if code != "HO"} >= {"BJ"}


def test_every_customer_has_exactly_one_aum_tier_risk_level_value_tier_and_life_stage(db):
    seed(300)
    held = tags_by_customer()
    assert len(held) == Customer.objects.count() == 300
    for customer_id, codes in held.items():
        for what, options in EXCLUSIVE.items():
            assert len(codes & options) == 1, (customer_id, what, codes & options)
        (aum,) = codes & EXCLUSIVE["AUM tier"]
        value = next(v for code, _zh, _en, v in demo.AUM_TIERS if code == aum)
        assert codes & EXCLUSIVE["value tier"] == {value}
    assert 10 <= sum(map(len, held.values())) / len(held) <= 20


def test_demo_customers_look_like_a_chinese_banks_customers(db):
    seed(300)
    today = dt.date.today()
    customers = list(Customer.objects.select_related("branch"))
    for customer in customers:
        assert re.fullmatch(r"C\d{8}", customer.customer_ref)
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", customer.name), customer.name
        assert re.fullmatch(r"1[3-9]\d{9}", customer.phone), customer.phone
        assert today - dt.timedelta(days=15 * 366) <= customer.opened_on <= today
    branches = Counter(c.branch.code for c in customers)
    assert set(branches) <= {"HO", "BJ", "SH", "GZ", "BJ-HD", "SH-PD"}
    assert len(branches) >= 5 and branches["HO"] < 0.05 * len(customers)
    recent = sum(c.opened_on >= today - dt.timedelta(days=5 * 365) for c in customers)
    assert recent > len(customers) / 2  # skewed towards recent years


def test_tags_are_correlated_the_way_a_banks_are(db):
    seed(2000)
    held = list(tags_by_customer().values())

    def having(*codes):
        return [tags for tags in held if any(code in tags for code in codes)]

    private = having(*PRIVATE_BANKING)
    mass = having(*MASS)
    assert len(private) >= 30 and len(mass) >= 500
    assert rate(private, "HOLD_WMP") > 4 * rate(mass, "HOLD_WMP")
    assert rate(private, "HOLD_LARGE_CD") > 0.3 and rate(mass, "HOLD_LARGE_CD") == 0
    assert rate(private, "RM_ASSIGNED") > 0.6 > rate(mass, "RM_ASSIGNED")

    retirees, young = having("LIFE_RETIREE", "LIFE_SENIOR"), having("AGE_18_24", "AGE_25_34")
    assert rate(retirees, "HOLD_TIME_DEPOSIT") > 3 * rate(young, "HOLD_TIME_DEPOSIT")
    assert rate(young, "MOBILE_BANK_USER") > 0.9 > 0.6 > rate(retirees, "MOBILE_BANK_USER")
    assert rate(retirees, "COUNTER_ONLY") > 3 * rate(young, "COUNTER_ONLY")
    assert rate(retirees, "RISK_C1") + rate(retirees, "RISK_C2") > 0.7
    assert rate(young, "HOLD_CREDIT_CARD") > 2 * rate(retirees, "HOLD_CREDIT_CARD")

    bold, cautious = having("RISK_C4", "RISK_C5"), having("RISK_C1")
    assert rate(bold, "HOLD_FUND") > 4 * rate(cautious, "HOLD_FUND")
    assert not any("HOLD_FUND_EQUITY" in tags for tags in cautious)


def test_demo_branch_tags_stay_in_their_branch(db):
    seed(2000)
    for tag in Tag.objects.exclude(owner_branch__code="HO"):
        branches = set(
            CustomerTag.objects.filter(tag=tag).values_list("customer__branch__path", flat=True)
        )
        assert branches, tag.code
        assert all(path.startswith(tag.owner_branch.path) for path in branches), tag.code


def test_seeding_again_adds_nothing(db):
    seed(300)
    counts = [m.objects.count() for m in (TagCategory, Tag, Customer, CustomerTag, Segment)]
    versions = dict(BitmapIndex.objects.values_list("key", "version"))
    seed(300)
    seed(1000)
    assert [m.objects.count() for m in (TagCategory, Tag, Customer, CustomerTag, Segment)] == counts
    assert dict(BitmapIndex.objects.values_list("key", "version")) == versions


@pytest.mark.parametrize("branch_code", ["HO", "BJ"])
def test_the_bitmap_index_agrees_with_the_database(db, branch_code):
    seed(2000)
    for rule in [
        group("and", {"type": "tag", "op": "has", "tag": "HOLD_FUND"}),
        group("and", {"type": "tags", "op": "any", "tags": PRIVATE_BANKING}),
        group("or", {"type": "tag", "op": "has", "tag": "MOBILE_BANK_MAU"},
              group("not", {"type": "tag", "op": "has", "tag": "HOLD_CREDIT_CARD"})),
        group("and", {"type": "opened_within", "days": 365}, {"type": "tag", "op": "has", "tag": "RISK_C3"}),
    ]:
        bitmap, sql = members(rule, branch_code)
        assert bitmap == sql
        assert bitmap or branch_code != "HO"


def test_demo_segments_are_valid_and_find_customers(db):
    seed(2000)
    segments = list(Segment.objects.select_related("owner_branch", "created_by"))
    assert len(segments) == 3
    for segment in segments:
        assert segment.created_by.branch == segment.owner_branch
        normalised, ctx = rules.validate(segment.rule, user=BranchScope(segment.owner_branch), segment=segment)
        found = rules.evaluate(normalised, ctx)
        assert len(found) > 0, segment.name
        assert set(found) == set(rules.members_sql(normalised, ctx).values_list("pk", flat=True))
