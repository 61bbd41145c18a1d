"""Campaign templates (活动模型): saving a campaign as a template, publishing it
to every branch, the Generate gallery with its filters, and deleting — per
role and scope."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEntry
from campaigns.models import Campaign, CampaignTemplate
from campaigns.selectors import templates as selectors
from campaigns.services import campaigns as campaign_services
from campaigns.services import revisions
from campaigns.services import templates as services

pytestmark = pytest.mark.django_db

GALLERY = "campaigns:campaign_generate"


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def make_template(personas):
    def make(name, owner, *, kind="event", published=False, actor=None, description="", config=None):
        return CampaignTemplate.objects.create(
            kind=kind, name=name, description=description, owner_branch=owner, published=published,
            created_by=actor or personas.ho_admin, config=config or {},
        )

    return make


def audit(action):
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def ids(queryset):
    return sorted(t.pk for t in queryset)


# --- services ------------------------------------------------------------------------------------


def test_saving_a_campaign_as_a_template_freezes_its_whole_configuration(campaign, personas, tree):
    campaign_services.campaign_update_budget(
        actor=personas.operator, campaign=campaign, budget_total=Decimal("12345.00"), budget_daily=Decimal("2000.00")
    )
    template = services.template_create(
        actor=personas.operator, campaign=campaign, name="  Autumn wheel  ", description="For the mid-autumn festival."
    )
    assert (template.name, template.kind, template.owner_branch, template.published) == (
        "Autumn wheel", "lottery", tree.bj, False
    )
    assert template.created_by == personas.operator
    assert template.config == revisions.campaign_config(Campaign.objects.get(pk=campaign.pk))
    assert template.config["budget_total"] == "12345.00" and len(template.config["slots"]) == 4
    (entry,) = audit("campaign_template.create")
    assert entry.actor == personas.operator and entry.branch == tree.bj
    assert entry.changes == {"name": "Autumn wheel", "kind": "lottery", "from": campaign.code}


def test_a_template_name_is_used_once_per_branch(campaign, personas, make_campaign, tree):
    services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    with pytest.raises(ValidationError) as refused:
        services.template_create(actor=personas.operator, campaign=campaign, name="autumn WHEEL")
    assert "name" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.template_create(actor=personas.operator, campaign=campaign, name="   ")
    # Another branch may use the same name.
    hd_campaign = make_campaign("event", actor=personas.sub_admin)
    services.template_create(actor=personas.sub_admin, campaign=hd_campaign, name="Autumn wheel")
    assert CampaignTemplate.objects.filter(name="Autumn wheel").count() == 2


def test_only_editors_of_the_campaigns_branch_save_templates(campaign, personas):
    for actor in (personas.analyst, personas.reviewer, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.template_create(actor=actor, campaign=campaign, name="Mine now")
    assert not CampaignTemplate.objects.exists()


def test_generating_from_a_saved_template_reproduces_the_campaign_next_week(campaign, personas, prizes):
    slot = campaign.slots.order_by("position").first()
    campaign_services.slot_update(
        actor=personas.operator, slot=slot, role="prize", label="Golden umbrella", prize=prizes[0], quantity=7,
        weight=250,
    )
    campaign_services.campaign_update_rules(
        actor=personas.operator, campaign=campaign, limit_per_day=2, limit_total=4, new_customers_only=True,
        new_customer_days=60, blacklist_tags=[], target_branches=[], rules_text="Two draws a day.",
    )
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")

    made = campaign_services.campaign_generate(actor=personas.branch_admin, template=template)
    assert made.code != campaign.code and made.template == template and made.name == "Autumn wheel"
    assert (made.limit_per_day, made.limit_total, made.new_customers_only, made.rules_text) == (2, 4, True, "Two draws a day.")
    assert made.kind_settings == campaign.kind_settings and made.budget_total == campaign.budget_total
    columns = ("role", "label", "prize", "quantity", "weight")
    assert list(made.slots.order_by("position").values_list(*columns)) == list(
        campaign.slots.order_by("position").values_list(*columns)
    )
    assert made.starts_at == campaign_services.next_week(personas.branch_admin)[0]


def test_head_office_publishes_and_unpublishes_and_each_change_is_recorded_once(campaign, personas, tree):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    services.template_publish(actor=personas.ho_admin, template=template)
    services.template_publish(actor=personas.ho_admin, template=template)  # a second click changes nothing
    template.refresh_from_db()
    assert template.published
    assert [e.changes for e in audit("campaign_template.publish")] == [{"published": [False, True]}]
    services.template_unpublish(actor=personas.ho_admin, template=template)
    template.refresh_from_db()
    assert not template.published and len(audit("campaign_template.unpublish")) == 1


def test_branch_users_cannot_publish_even_their_own_templates(campaign, personas):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    for actor in (personas.branch_admin, personas.operator, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.template_publish(actor=actor, template=template)
    template.refresh_from_db()
    assert not template.published and not audit("campaign_template.publish")


def test_a_branch_sees_its_subtrees_templates_and_the_published_ones(make_template, personas, tree):
    ho_draft = make_template("HO draft", tree.ho)
    ho_published = make_template("HO published", tree.ho, published=True)
    bj = make_template("BJ own", tree.bj)
    hd = make_template("HD own", tree.hd)
    sh = make_template("SH own", tree.sh)
    sh_published = make_template("SH published", tree.sh, published=True)
    assert ids(selectors.template_list(user=personas.operator)) == ids([ho_published, bj, hd, sh_published])
    assert ids(selectors.template_list(user=personas.sub_admin)) == ids([ho_published, hd, sh_published])
    assert ids(selectors.template_list(user=personas.outsider)) == ids([ho_published, sh, sh_published])
    assert ids(selectors.template_list(user=personas.ho_admin)) == ids([ho_draft, ho_published, bj, hd, sh, sh_published])


def test_generating_from_a_published_template_leaves_out_another_branchs_prizes(campaign, personas, sh_prize, tree):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    services.template_publish(actor=personas.ho_admin, template=template)
    made = campaign_services.campaign_generate(actor=personas.outsider, template=template)
    assert made.owner_branch == tree.sh
    assert campaign.slots.exclude(prize=None).exists()
    assert not made.slots.exclude(prize=None).exists()


def test_deleting_a_template_keeps_the_campaigns_made_from_it(campaign, personas, tree):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    made = campaign_services.campaign_generate(actor=personas.operator, template=template)
    services.template_delete(actor=personas.operator, template=template)
    assert not CampaignTemplate.objects.exists()
    made.refresh_from_db()
    assert made.template is None and made.name == "Autumn wheel"
    (entry,) = audit("campaign_template.delete")
    assert entry.actor == personas.operator and entry.changes["name"] == "Autumn wheel"


def test_a_published_template_is_deleted_only_by_head_office(campaign, personas):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    services.template_publish(actor=personas.ho_admin, template=template)
    for actor in (personas.operator, personas.branch_admin, personas.analyst, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.template_delete(actor=actor, template=template)
    assert CampaignTemplate.objects.filter(pk=template.pk).exists() and not audit("campaign_template.delete")
    services.template_delete(actor=personas.ho_admin, template=template)
    assert not CampaignTemplate.objects.exists()


# --- the gallery -----------------------------------------------------------------------------------


def test_the_gallery_shows_every_kinds_default_and_the_templates_in_scope(login, personas, make_template, tree):
    make_template("Payday bonus", tree.bj, description="Salary credited")
    make_template("Bank-wide wheel", tree.ho, kind="lottery", published=True)
    make_template("Shanghai secret", tree.sh)
    page = login(personas.operator).get(reverse(GALLERY))
    assert page.status_code == 200
    html = page.content.decode()
    assert [k.name for k in page.context["kinds"]] == ["event", "lottery", "flash_sale", "referral", "task_chain"]
    assert "Payday bonus" in html and "Bank-wide wheel" in html and "Shanghai secret" not in html
    assert html.count("data-generate-template=") == 2
    assert "published by head office" in html


def test_the_gallery_filters_by_kind_search_and_source(login, personas, make_template, tree):
    payday = make_template("Payday bonus", tree.bj, description="When the salary is credited")
    wheel = make_template("Bank-wide wheel", tree.ho, kind="lottery", published=True)
    client = login(personas.operator)

    def shown(**query):
        page = client.get(reverse(GALLERY), query)
        assert page.status_code == 200
        return [k.name for k in page.context["kinds"]], [t.pk for t in page.context["page_obj"]]

    assert shown(kind="lottery") == (["lottery"], [wheel.pk])
    assert shown(q="salary") == ([], [payday.pk])
    assert shown(q="wheel") == (["lottery"], [wheel.pk])  # the lottery's description mentions its wheel
    assert shown(source="published") == ([], [wheel.pk])
    assert shown(source="own") == ([], [payday.pk])
    assert shown(source="builtin")[1] == []
    # An invalid filter is ignored (and said so), like every list's.
    assert shown(kind="bingo") == (["event", "lottery", "flash_sale", "referral", "task_chain"], [payday.pk, wheel.pk])


def test_the_gallery_pages_its_templates_in_constant_queries_and_answers_htmx_with_the_results(
    login, personas, make_template, tree
):
    for n in range(3):
        make_template(f"Template {n:02d}", tree.bj)
    client = login(personas.operator)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(GALLERY))
    for n in range(3, 14):
        make_template(f"Template {n:02d}", tree.bj, kind="referral", actor=personas.operator)
    with CaptureQueriesContext(connection) as many:
        first = client.get(reverse(GALLERY))
    assert len(many) == len(few)
    assert len(first.context["page_obj"]) == 12 and "Page 1 of 2" in first.content.decode()
    fragment = client.get(reverse(GALLERY), {"page": 2}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.startswith('<div id="template-gallery">') and "<html" not in html
    assert len(fragment.context["page_obj"]) == 2


def test_generate_from_a_template_in_the_gallery_makes_a_draft_of_it(login, personas, campaign):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    response = login(personas.operator).post(reverse(GALLERY), {"template": template.pk})
    made = Campaign.objects.get(template=template)
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:campaign_detail", args=[made.code])


# --- save as template --------------------------------------------------------------------------------


def test_the_campaign_page_offers_save_as_template_to_editors_only(login, personas, campaign):
    url = reverse("campaigns:campaign_detail", args=[campaign.code])
    assert 'id="campaign-save-template"' in login(personas.operator).get(url).content.decode()
    assert 'id="campaign-save-template"' not in login(personas.analyst).get(url).content.decode()


def test_save_as_template_asks_a_name_and_goes_to_the_template(login, personas, campaign, tree):
    client = login(personas.operator)
    url = reverse("campaigns:template_create", args=[campaign.code])
    form = client.get(url)
    assert form.status_code == 200 and f'value="{campaign.name}"' in form.content.decode()
    response = client.post(url, {"name": "Autumn wheel", "description": "Mid-autumn"})
    template = CampaignTemplate.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:template_detail", args=[template.pk])
    assert (template.owner_branch, template.description) == (tree.bj, "Mid-autumn")
    again = client.post(url, {"name": "Autumn wheel"})
    assert again.status_code == 400 and "already has a template called" in again.content.decode()
    assert client.post(url, {"name": ""}).status_code == 400
    assert CampaignTemplate.objects.count() == 1


def test_save_as_template_is_404_out_of_scope_403_for_readers_and_405_otherwise(login, personas, campaign):
    url = reverse("campaigns:template_create", args=[campaign.code])
    assert login(personas.outsider).post(url, {"name": "Stolen"}).status_code == 404
    assert login(personas.analyst).get(url).status_code == 403
    assert login(personas.reviewer).post(url, {"name": "Mine"}).status_code == 403
    assert login(personas.operator).put(url).status_code == 405
    assert not CampaignTemplate.objects.exists()


# --- one template --------------------------------------------------------------------------------------


def test_the_template_page_shows_its_configuration_and_the_actions_the_user_may_take(login, personas, campaign):
    template = services.template_create(actor=personas.operator, campaign=campaign, name="Autumn wheel")
    url = reverse("campaigns:template_detail", args=[template.pk])
    page = login(personas.operator).get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Autumn wheel" in html and campaign.code in html
    for slot in campaign.slots.all():
        assert slot.label in html
    assert 'id="template-generate"' in html and 'id="template-delete"' in html and 'id="template-publish"' not in html
    html = login(personas.ho_admin).get(url).content.decode()
    assert 'id="template-publish"' in html and 'id="template-delete"' in html
    html = login(personas.analyst).get(url).content.decode()
    assert 'id="template-generate"' not in html and 'id="template-delete"' not in html


def test_the_template_page_is_404_out_of_scope_unless_published_and_answers_get_only(login, personas, make_template, tree):
    bj = make_template("BJ own", tree.bj)
    shared = make_template("Shared", tree.ho, published=True)
    assert login(personas.outsider).get(reverse("campaigns:template_detail", args=[bj.pk])).status_code == 404
    page = login(personas.outsider).get(reverse("campaigns:template_detail", args=[shared.pk]))
    assert page.status_code == 200 and 'id="template-delete"' not in page.content.decode()
    assert login(personas.operator).post(reverse("campaigns:template_detail", args=[bj.pk])).status_code == 405


def test_head_office_publishes_and_unpublishes_from_the_template_page(login, personas, make_template, tree):
    template = make_template("BJ own", tree.bj, actor=personas.operator)
    client = login(personas.ho_admin)
    detail = reverse("campaigns:template_detail", args=[template.pk])
    response = client.post(reverse("campaigns:template_publish", args=[template.pk]))
    assert response.status_code == 302 and response["Location"] == detail
    template.refresh_from_db()
    assert template.published
    assert "every branch can generate" in client.get(detail).content.decode()
    client.post(reverse("campaigns:template_unpublish", args=[template.pk]))
    template.refresh_from_db()
    assert not template.published


def test_publishing_is_403_for_branch_users_404_out_of_scope_and_post_only(login, personas, make_template, tree):
    bj = make_template("BJ own", tree.bj)
    shared = make_template("Shared", tree.ho, published=True)
    assert login(personas.branch_admin).post(reverse("campaigns:template_publish", args=[bj.pk])).status_code == 403
    assert login(personas.operator).post(reverse("campaigns:template_unpublish", args=[shared.pk])).status_code == 403
    assert login(personas.outsider).post(reverse("campaigns:template_publish", args=[bj.pk])).status_code == 404
    assert login(personas.ho_admin).get(reverse("campaigns:template_publish", args=[bj.pk])).status_code == 405
    assert login(personas.ho_admin).get(reverse("campaigns:template_unpublish", args=[shared.pk])).status_code == 405
    bj.refresh_from_db()
    shared.refresh_from_db()
    assert (bj.published, shared.published) == (False, True)


def test_deleting_from_the_template_page_returns_to_the_gallery(login, personas, make_template, tree):
    template = make_template("BJ own", tree.bj, actor=personas.operator)
    response = login(personas.operator).post(reverse("campaigns:template_delete", args=[template.pk]))
    assert response.status_code == 302 and response["Location"] == reverse(GALLERY)
    assert not CampaignTemplate.objects.exists() and len(audit("campaign_template.delete")) == 1


def test_deleting_is_404_out_of_scope_403_for_readers_and_published_templates_and_post_only(
    login, personas, make_template, tree
):
    bj = make_template("BJ own", tree.bj)
    shared = make_template("Shared", tree.bj, published=True)
    assert login(personas.outsider).post(reverse("campaigns:template_delete", args=[bj.pk])).status_code == 404
    assert login(personas.analyst).post(reverse("campaigns:template_delete", args=[bj.pk])).status_code == 403
    assert login(personas.operator).post(reverse("campaigns:template_delete", args=[shared.pk])).status_code == 403
    assert login(personas.operator).get(reverse("campaigns:template_delete", args=[bj.pk])).status_code == 405
    assert CampaignTemplate.objects.count() == 2 and not audit("campaign_template.delete")
