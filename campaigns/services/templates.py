"""Writes for campaign templates (活动模型): save a campaign as a template,
publish it to every branch, take it back, delete it.

A template is the campaign's configuration as ``revisions.campaign_config``
freezes it for a revision, so "Generate" from a template
(``campaigns.services.campaigns.campaign_generate``) reads the same shape a
revision has. It belongs to the campaign's owner branch: that branch's subtree
sees it; once head office publishes it (``Verb.PUBLISH_TEMPLATES``), every
branch does. Generating from it never reaches outside the generating user's
scope: ids they may not use are dropped there.

Deleting needs ``Verb.EDIT`` on the template's owner branch; a published
template is shared by the whole bank, so deleting it also needs
``Verb.PUBLISH_TEMPLATES``. Every change is audited.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from campaigns.models import Campaign, CampaignTemplate
from campaigns.services import revisions


def _require(actor, verb: str, obj) -> None:
    if not can(actor, verb, obj):
        raise PermissionDenied


@transaction.atomic
def template_create(*, actor, campaign: Campaign, name: str, description: str = "") -> CampaignTemplate:
    """Save the campaign's working copy as a template of its owner branch."""
    _require(actor, Verb.EDIT, campaign)
    # What is stored, not what the caller's copy says.
    campaign = Campaign.objects.select_related("owner_branch", "banner").get(pk=campaign.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the template a name.")})
    if CampaignTemplate.objects.filter(owner_branch=campaign.owner_branch, name__iexact=name).exists():
        raise ValidationError(
            {"name": _("%(branch)s already has a template called “%(name)s”.") % {"branch": campaign.owner_branch.name, "name": name}}
        )
    template = CampaignTemplate(
        kind=campaign.kind,
        name=name,
        description=(description or "").strip(),
        owner_branch=campaign.owner_branch,
        config=revisions.campaign_config(campaign),
        created_by=actor,
    )
    template.full_clean()
    template.save()
    audit_record(
        actor=actor, action="campaign_template.create", obj=template,
        changes={"name": template.name, "kind": template.kind, "from": campaign.code},
    )
    return template


def _set_published(actor, template: CampaignTemplate, *, published: bool, reason: str) -> CampaignTemplate:
    _require(actor, Verb.PUBLISH_TEMPLATES, template)
    # A conditional UPDATE: a second click (or a second admin) changes nothing and records nothing.
    changed = CampaignTemplate.objects.filter(pk=template.pk, published=not published).update(published=published)
    template.refresh_from_db()
    if changed:
        audit_record(
            actor=actor, action="campaign_template.publish" if published else "campaign_template.unpublish",
            obj=template, changes={"published": [not published, published]}, reason=reason,
        )
    return template


@transaction.atomic
def template_publish(*, actor, template: CampaignTemplate, reason: str = "") -> CampaignTemplate:
    """Head office shares the template with every branch."""
    return _set_published(actor, template, published=True, reason=reason)


@transaction.atomic
def template_unpublish(*, actor, template: CampaignTemplate, reason: str = "") -> CampaignTemplate:
    """Only the owner branch's subtree sees the template again."""
    return _set_published(actor, template, published=False, reason=reason)


def may_delete(user, template: CampaignTemplate) -> bool:
    """Its owner branch's editors may delete a template; a published one, which every
    branch uses, only someone who may also take it back from them (head office)."""
    return can(user, Verb.EDIT, template) and (not template.published or can(user, Verb.PUBLISH_TEMPLATES, template))


@transaction.atomic
def template_delete(*, actor, template: CampaignTemplate) -> None:
    """Delete a template; campaigns made from it keep their configuration (and lose the link)."""
    _require(actor, Verb.EDIT, template)
    template = CampaignTemplate.objects.select_for_update().select_related("owner_branch").get(pk=template.pk)
    if not may_delete(actor, template):
        raise PermissionDenied
    audit_record(
        actor=actor, action="campaign_template.delete", obj=template,
        changes={"name": template.name, "kind": template.kind, "published": template.published},
    )
    template.delete()
