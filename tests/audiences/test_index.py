"""The bitmap index stays in step with the database through every write path."""

import datetime as dt

import pytest
from django.db import IntegrityError
from pyroaring import BitMap

from accounts.models import Branch
from audiences import bitmaps, services
from audiences.models import BitmapIndex, Customer, CustomerTag, TagSource


def index_of(key):
    return set(bitmaps.get_many([key])[key])


def tag_rows(tag):
    return set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))


def test_new_customers_are_indexed_by_branch_and_opening_date(tree, make_customers):
    customers = make_customers(3, tree.bj, opened_on=dt.date(2025, 3, 9))
    ids = {c.pk for c in customers}
    assert index_of(bitmaps.branch_key(tree.bj.pk)) == ids
    assert index_of("month:2025-03") == ids
    assert index_of("day:2025-03-09") == ids


def test_reimporting_the_same_rows_changes_nothing(tree, make_customers):
    make_customers(5, tree.bj)
    before = list(Customer.objects.values_list("pk", "updated_at").order_by("pk"))
    versions = dict(BitmapIndex.objects.values_list("key", "version"))
    rows = [
        services.CustomerRow(c.customer_ref, c.name, c.phone, c.branch_id, c.opened_on)
        for c in Customer.objects.all()
    ]
    result = services.customers_upsert(rows=rows, source_ref="again")
    assert (result.created, result.updated, result.unchanged) == (0, 0, 5)
    assert list(Customer.objects.values_list("pk", "updated_at").order_by("pk")) == before
    assert dict(BitmapIndex.objects.values_list("key", "version")) == versions


def test_moving_a_customer_to_another_branch_moves_it_in_the_index(tree, make_customers):
    (customer,) = make_customers(1, tree.bj)
    row = services.CustomerRow(customer.customer_ref, "New name", customer.phone, tree.sh.pk, dt.date(2023, 5, 1))
    result = services.customers_upsert(rows=[row], source_ref="move")
    assert result.updated == 1
    assert customer.pk not in index_of(bitmaps.branch_key(tree.bj.pk))
    assert customer.pk in index_of(bitmaps.branch_key(tree.sh.pk))
    assert customer.pk not in index_of("month:2024-01") and customer.pk in index_of("month:2023-05")


def test_tags_from_an_import_are_added_and_others_kept(tree, make_customers, make_tag):
    vip, payroll = make_tag("VIP"), make_tag("PAYROLL")
    (customer,) = make_customers(1, tree.bj, tags=[vip])
    row = services.CustomerRow(customer.customer_ref, customer.name, customer.phone, tree.bj.pk, customer.opened_on, (payroll.pk,))
    services.customers_upsert(rows=[row], source_ref="import:2")
    assert tag_rows(vip) == tag_rows(payroll) == {customer.pk}
    assert index_of(bitmaps.tag_key(vip.pk)) == index_of(bitmaps.tag_key(payroll.pk)) == {customer.pk}
    assert CustomerTag.objects.get(tag=payroll).source == TagSource.IMPORT


def test_adding_and_removing_tags_keeps_rows_and_bitmap_equal(tree, make_customers, make_tag, personas):
    tag = make_tag("FUND_BUYER")
    customers = make_customers(10, tree.bj)
    ids = [c.pk for c in customers]
    assert services.customer_tags_add(tag=tag, customer_ids=ids[:6], source=TagSource.CAMPAIGN, source_ref="campaign:X", actor=personas.operator) == 6
    assert services.customer_tags_add(tag=tag, customer_ids=ids[4:8], source=TagSource.CAMPAIGN) == 2
    assert tag_rows(tag) == index_of(bitmaps.tag_key(tag.pk)) == set(ids[:8])
    assert services.customer_tags_remove(tag=tag, customer_ids=ids[6:], actor=personas.operator) == 2
    assert services.customer_tags_remove(tag=tag, customer_ids=ids[6:]) == 0
    assert tag_rows(tag) == index_of(bitmaps.tag_key(tag.pk)) == set(ids[:6])


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_leaves_neither_rows_nor_bitmap_changed(tree, make_customers, make_tag):
    tag = make_tag("T")
    (customer,) = make_customers(1, tree.bj)
    # The foreign key refuses the unknown customer when the transaction commits.
    with pytest.raises(IntegrityError):
        services.customer_tags_add(tag=tag, customer_ids=[customer.pk, 999_999], source=TagSource.MANUAL)
    bitmaps.cache.clear()
    assert tag_rows(tag) == set() and index_of(bitmaps.tag_key(tag.pk)) == set()


def test_other_processes_see_changes_through_the_version(tree, make_customers, make_tag):
    tag = make_tag("T")
    customers = make_customers(3, tree.bj)
    assert index_of(bitmaps.tag_key(tag.pk)) == set()
    # Another process writes: here, the same code path with our cache still warm.
    services.customer_tags_add(tag=tag, customer_ids=[customers[0].pk], source=TagSource.RULE)
    assert index_of(bitmaps.tag_key(tag.pk)) == {customers[0].pk}


def test_rebuild_restores_a_lost_or_corrupt_index(tree, make_customers, make_tag):
    tag = make_tag("T")
    customers = make_customers(4, tree.hd, tags=[tag])
    expected = {k: set(v) for k, v in bitmaps.get_many(BitmapIndex.objects.values_list("key", flat=True)).items()}
    BitmapIndex.objects.filter(key=bitmaps.tag_key(tag.pk)).update(data=BitMap([1, 2, 3]).serialize(), version=99)
    BitmapIndex.objects.filter(key=bitmaps.branch_key(tree.hd.pk)).delete()
    counts = services.index_rebuild()
    assert counts[bitmaps.tag_key(tag.pk)] == 4
    rebuilt = {k: set(v) for k, v in bitmaps.get_many(expected).items()}
    assert rebuilt == expected
    assert index_of(bitmaps.branch_key(tree.hd.pk)) == {c.pk for c in customers}


def test_rebuild_command_reports_what_it_built(tree, make_customers, capsys):
    from django.core.management import call_command

    make_customers(2, tree.bj)
    call_command("audiences_rebuild_index")
    assert "customers" in capsys.readouterr().out
    assert Branch.objects.count() == 4


def test_counts_follow_new_customers_through_the_cached_scope(tree, make_customers):
    from accounts.scope import BranchScope
    from audiences import rules

    def everyone():
        normalised, ctx = rules.validate(rules.empty_rule(), user=BranchScope(tree.bj))
        return len(rules.evaluate(normalised, ctx))

    make_customers(3, tree.bj)
    assert everyone() == 3
    make_customers(2, tree.hd, start=10)
    assert everyone() == 5
    (moved,) = make_customers(1, tree.sh, start=20)
    assert everyone() == 5
    services.customers_upsert(
        rows=[services.CustomerRow(moved.customer_ref, moved.name, moved.phone, tree.bj.pk, moved.opened_on)],
        source_ref="move",
    )
    assert everyone() == 6
