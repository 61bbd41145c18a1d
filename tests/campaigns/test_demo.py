"""The campaigns demo: one campaign of every kind across the lifecycle, made
through the services on top of the audiences and rewards demos."""

import io

import pytest
from django.core.management import call_command

from campaigns import kinds
from campaigns.demo import TEMPLATE_NAME
from campaigns.models import Campaign, CampaignStatus, CampaignTemplate, Material, RevisionState
from rewards.models import Reservation
from tests.campaigns.lifecycle_helpers import forget_scheduled_jobs

pytestmark = pytest.mark.django_db


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
    )


def test_the_demo_has_every_kind_in_every_state_and_seeding_again_changes_nothing():
    output = seed()
    assert "campaigns demo: 8 campaigns" in output
    campaigns = list(Campaign.objects.select_related("owner_branch"))
    assert {c.kind for c in campaigns} == {k.name for k in kinds.all_kinds()}
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
    live = Campaign.objects.get(status=CampaignStatus.LIVE, kind="lottery")
    held = {s.reservation.remaining for s in live.slots.exclude(prize=None).select_related("reservation")}
    assert held == set(live.slots.exclude(prize=None).values_list("quantity", flat=True)) and 0 not in held
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
