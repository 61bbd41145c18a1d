import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from audiences.models import Tag, TagCategory
from audiences.selectors import mask_phone


@pytest.fixture
def data(tree, make_customers, make_tag):
    vip = make_tag("VIP")
    sh_tag = make_tag("SH_LOCAL", owner=tree.sh)
    bj = make_customers(3, tree.bj, tags=[vip], opened_on=dt.date(2024, 5, 1))
    hd = make_customers(2, tree.hd, start=100, opened_on=dt.date(2020, 1, 1))
    sh = make_customers(2, tree.sh, start=200, tags=[vip, sh_tag])
    return {"vip": vip, "sh_tag": sh_tag, "bj": bj, "hd": hd, "sh": sh}


def refs(response):
    return {c.customer_ref for c in response.context["page_obj"]}


def test_mask_phone_hides_the_middle_digits():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("12") == "12" and mask_phone("") == ""


def test_customer_list_shows_the_subtree_only(login, personas, data):
    response = login(personas.branch_admin).get(reverse("audiences:customer_list"))
    assert response.status_code == 200
    assert refs(response) == {c.customer_ref for c in data["bj"] + data["hd"]}


def test_customer_list_filters_by_branch_tag_category_dates_and_search(login, personas, data, category):
    client = login(personas.ho_admin)
    url = reverse("audiences:customer_list")
    assert refs(client.get(url, {"branch": personas.sub_admin.branch.pk})) == {c.customer_ref for c in data["hd"]}
    assert refs(client.get(url, {"tag": "VIP"})) == {c.customer_ref for c in data["bj"] + data["sh"]}
    assert refs(client.get(url, {"category": category.code})) == {c.customer_ref for c in data["bj"] + data["sh"]}
    assert refs(client.get(url, {"opened_before": "2021-01-01"})) == {c.customer_ref for c in data["hd"]}
    assert refs(client.get(url, {"q": data["sh"][0].customer_ref})) == {data["sh"][0].customer_ref}


def test_customer_list_refuses_tampered_branch_and_tag_outside_scope(login, personas, data, tree):
    client = login(personas.branch_admin)
    url = reverse("audiences:customer_list")
    for params in ({"branch": tree.sh.pk}, {"tag": "SH_LOCAL"}):
        response = client.get(url, params)
        assert response.context["filter"].errors
        assert not refs(response) & {c.customer_ref for c in data["sh"]}


def test_phones_are_masked_for_everyone_but_head_office(login, personas, data):
    customer = data["bj"][0]
    url = reverse("audiences:customer_detail", args=[customer.customer_ref])
    masked = login(personas.branch_admin).get(url).content.decode()
    assert mask_phone(customer.phone) in masked and customer.phone not in masked
    assert customer.phone in login(personas.ho_admin).get(url).content.decode()
    listing = login(personas.operator).get(reverse("audiences:customer_list")).content.decode()
    assert customer.phone not in listing


def test_customer_detail_groups_tags_and_is_404_outside_scope(login, personas, data):
    client = login(personas.branch_admin)
    response = client.get(reverse("audiences:customer_detail", args=[data["bj"][0].customer_ref]))
    assert [(cat.code, [r.tag.code for r in rows]) for cat, rows in response.context["tags_by_category"]] == [("assets", ["VIP"])]
    assert client.get(reverse("audiences:customer_detail", args=[data["sh"][0].customer_ref])).status_code == 404
    assert client.get(reverse("audiences:customer_detail", args=["NOPE"])).status_code == 404


def test_customer_pages_refuse_post(login, personas, data):
    assert login(personas.ho_admin).post(reverse("audiences:customer_list")).status_code == 405


def test_tag_list_counts_members_within_the_viewers_scope(login, personas, data):
    counts = {row[0].code: row[1] for row in login(personas.branch_admin).get(reverse("audiences:tag_list")).context["rows"]}
    assert counts == {"VIP": 3}  # SH_LOCAL is a sibling's tag; SH customers are not counted
    counts = {row[0].code: row[1] for row in login(personas.ho_admin).get(reverse("audiences:tag_list")).context["rows"]}
    assert counts == {"VIP": 5, "SH_LOCAL": 2}


def test_branch_admin_adds_a_branch_owned_tag(login, personas, data, category, tree):
    client = login(personas.branch_admin)
    form = {"code": "BJ_PAYROLL", "name_zh": "北京代发", "name_en": "BJ payroll", "category": category.pk,
            "owner_branch": tree.bj.pk, "description": "", "is_active": "on"}
    assert client.post(reverse("audiences:tag_new"), form).status_code == 302
    tag = Tag.objects.get(code="BJ_PAYROLL")
    assert tag.owner_branch == tree.bj
    assert AuditEntry.objects.filter(action="tag.create", object_id=str(tag.pk), actor=personas.branch_admin).exists()


def test_a_tag_cannot_be_given_to_a_branch_outside_scope(login, personas, data, category, tree):
    form = {"code": "X", "name_zh": "x", "name_en": "x", "category": category.pk, "owner_branch": tree.sh.pk}
    response = login(personas.branch_admin).post(reverse("audiences:tag_new"), form)
    assert response.status_code == 200 and "owner_branch" in response.context["form"].errors
    assert not Tag.objects.filter(code="X").exists()


def test_branch_admin_cannot_edit_head_office_tags_and_operators_cannot_add(login, personas, data):
    assert login(personas.branch_admin).get(reverse("audiences:tag_edit", args=["VIP"])).status_code == 403
    assert login(personas.operator).get(reverse("audiences:tag_new")).status_code == 403
    assert login(personas.branch_admin).get(reverse("audiences:tag_edit", args=["SH_LOCAL"])).status_code == 404


def test_editing_a_tag_keeps_its_code_and_audits_the_change(login, personas, data):
    client = login(personas.ho_admin)
    tag = data["vip"]
    form = {"code": "HACKED", "name_zh": "贵宾", "name_en": "VIP customers", "category": tag.category_id,
            "owner_branch": tag.owner_branch_id, "description": "", "is_active": "on"}
    assert client.post(reverse("audiences:tag_edit", args=["VIP"]), form).status_code == 302
    tag.refresh_from_db()
    assert tag.code == "VIP" and tag.name_en == "VIP customers"
    entry = AuditEntry.objects.get(action="tag.update")
    assert entry.changes["name_en"] == ["VIP", "VIP customers"]


def test_only_head_office_manages_categories(login, personas, db, tree):
    form = {"code": "life", "name_zh": "人生阶段", "name_en": "Life stage", "order": 7, "description": ""}
    assert login(personas.branch_admin).post(reverse("audiences:category_new"), form).status_code == 403
    assert login(personas.ho_admin).post(reverse("audiences:category_new"), form).status_code == 302
    assert TagCategory.objects.filter(code="life").exists()


def test_dashboard_counts_customers_in_scope(login, personas, data):
    cards = {c.key: c.count for c in login(personas.branch_admin).get(reverse("dashboard")).context["cards"]}
    assert cards["customers"] == 5
