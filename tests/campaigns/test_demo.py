"""The campaigns demo: campaigns of every kind across the lifecycle — one of
every kind live, with simulated history — made through the services on top of
the audiences and rewards demos.

Transactional: the demo's simulated traffic goes over HTTP to a server thread,
which sees only what is committed."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from campaigns import kinds
from campaigns.demo import TEMPLATE_NAME
from campaigns.models import (
    Activity,
    ActivityKind,
    Award,
    BusinessEvent,
    Campaign,
    CampaignStatus,
    CampaignTemplate,
    Draw,
    Material,
    Referral,
    RevisionState,
    TaskProgress,
)
from campaigns.selectors import analysis
from rewards.models import Grant, Reservation
from tests.campaigns.lifecycle_helpers import forget_scheduled_jobs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media_and_schedule(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    forget_scheduled_jobs()
    yield
    forget_scheduled_jobs()


def seed(customers=300) -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=customers, stdout=out)
    return out.getvalue()


def counts():
    return (
        Campaign.objects.count(), CampaignTemplate.objects.count(), Material.objects.count(),
        Reservation.objects.count(), sorted(Campaign.objects.values_list("status", flat=True)),
        Activity.objects.count(), Award.objects.count(), BusinessEvent.objects.count(), Grant.objects.count(),
    )


def test_the_demo_has_every_kind_in_every_state_and_seeding_again_changes_nothing():
    output = seed()
    assert "campaigns demo: 12 campaigns" in output
    campaigns = list(Campaign.objects.select_related("owner_branch"))
    every_kind = {k.name for k in kinds.all_kinds()}
    assert {c.kind for c in campaigns} == every_kind
    assert {c.kind for c in campaigns if c.status == CampaignStatus.LIVE} == every_kind
    assert {c.status for c in campaigns} == {
        CampaignStatus.DRAFT, CampaignStatus.PENDING_REVIEW, CampaignStatus.APPROVED, CampaignStatus.LIVE,
        CampaignStatus.ENDED,
    }
    before = counts()
    assert "nothing changed" in seed()
    assert counts() == before


def test_the_demo_follows_maker_checker_and_its_stock_reservations_reconcile():
    seed()
    for campaign in Campaign.objects.exclude(live_revision=None).select_related("live_revision"):
        revision = campaign.live_revision
        assert revision.state == RevisionState.APPROVED
        assert revision.decided_by_id != revision.submitted_by_id, campaign.code
    for live in Campaign.objects.filter(status=CampaignStatus.LIVE):
        for slot in live.slots.exclude(prize=None).select_related("reservation"):
            granted = Grant.objects.filter(reservation=slot.reservation).count()
            assert slot.reservation.remaining == slot.quantity - granted, (live.code, slot.label)
    ended = Campaign.objects.get(status=CampaignStatus.ENDED)
    assert not Reservation.objects.filter(source_ref__startswith=f"campaign:{ended.code}:", released_at=None).exists()
    rejected = Campaign.objects.get(owner_branch__code="BJ-HD")
    assert rejected.status == CampaignStatus.DRAFT and rejected.revisions.get().state == RevisionState.REJECTED
    out = io.StringIO()
    call_command("rewards_reconcile", stdout=out)
    assert "0 difference(s) found" in out.getvalue()


def test_head_office_publishes_a_template_that_guangzhou_generated_from_with_its_own_prizes():
    seed()
    template = CampaignTemplate.objects.get(name=TEMPLATE_NAME)
    assert template.published and template.owner_branch.code == "HO" and template.kind == "lottery"
    made = Campaign.objects.get(template=template)
    assert made.owner_branch.code == "GZ" and made.status == CampaignStatus.DRAFT
    prizes = made.slots.exclude(role="none")
    assert prizes.exists() and not prizes.exclude(prize__pool__code="GZ-BENEFITS").exists()


def test_without_customers_the_demo_makes_drafts_only():
    output = seed(customers=0)
    assert "only drafts" in output
    assert set(Campaign.objects.values_list("status", flat=True)) == {CampaignStatus.DRAFT}
    assert CampaignTemplate.objects.filter(published=True).count() == 1


def test_the_live_demo_campaigns_have_simulated_history_of_every_kind():
    output = seed()
    assert "simulated traffic on 5 live campaigns" in output and "0 failure(s)" in output
    live = {c.kind: c for c in Campaign.objects.filter(status=CampaignStatus.LIVE)}

    def recorded(kind):
        return set(Activity.objects.filter(campaign=live[kind]).values_list("kind", flat=True))

    for kind, campaign in live.items():
        assert {ActivityKind.VIEW, ActivityKind.HELD_OUT} <= recorded(kind), kind
        assert Award.objects.filter(campaign=campaign).exists(), kind
    assert {ActivityKind.JOIN, ActivityKind.DRAW} <= recorded("lottery")
    assert Draw.objects.filter(campaign=live["lottery"]).exists()
    assert ActivityKind.CLAIM in recorded("flash_sale")
    assert {ActivityKind.JOIN, ActivityKind.EVENT} <= recorded("event")
    assert {ActivityKind.JOIN, ActivityKind.STEP} <= recorded("task_chain")
    assert TaskProgress.objects.filter(campaign=live["task_chain"]).exists()
    assert {ActivityKind.INVITE, ActivityKind.REFERRAL} <= recorded("referral")
    assert Referral.objects.filter(campaign=live["referral"]).exists()
    assert BusinessEvent.objects.filter(amount__gt=0).exists()


def test_every_demo_campaign_past_approval_has_an_analysis_page_with_its_history(client):
    seed()
    head_office = get_user_model().objects.get(username="ho.admin")
    client.force_login(head_office)
    shown = Campaign.objects.filter(
        status__in=[CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED, CampaignStatus.ENDED]
    )
    assert shown.count() >= 5
    for campaign in shown:
        response = client.get(reverse("campaigns:campaign_analysis", args=[campaign.code]))
        assert response.status_code == 200, campaign.code
        result = response.context["result"]
        if campaign.status == CampaignStatus.LIVE:
            # The simulator's traffic is in the figures: people took part and won.
            assert result.kpis.participants > 0 and result.kpis.winners > 0, campaign.code
            assert result.kpis.participants == Activity.objects.filter(
                campaign=campaign, kind__in=analysis.PARTICIPATION
            ).values("customer").distinct().count()
