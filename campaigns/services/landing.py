"""Orders a maker sets by drag and drop or with the up/down buttons: the reward
slots (a lottery's wheel or grid), the task chain's tasks, and the blocks of
the landing page (which may also be hidden and shown again).

Each service takes the whole new order as the page showed it and refuses one
that is not exactly a reordering of what is stored now, changing nothing: a
page left open while someone else added a slot, removed a task or hid a block
gets an error and the stored order, never a mix of the two. Every change goes
through the editing gate of ``campaigns.services.campaigns`` (``_editing``), so
the editing rules hold here too: pending review refused, approved/live/paused
marked as changed since approval, ended or archived refused; it also audits.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.kinds.base import LANDING_BLOCKS
from campaigns.models import Campaign, RewardSlot
from campaigns.selectors import landing as selectors
from campaigns.services import campaigns as campaign_services

# The one gate every edit of a campaign's working copy passes (see the module docstring).
_editing = campaign_services._editing


def _stale(what: str) -> ValidationError:
    return ValidationError(
        _("The %(what)s changed since this page was loaded, so the new order was not saved. Here is the order as it is now.")
        % {"what": what},
        code="stale_order",
    )


@transaction.atomic
def slot_order_set(*, actor, campaign: Campaign, slot_ids: Sequence[int]) -> list[RewardSlot]:
    """Put the campaign's slots in the order of ``slot_ids``, which must name each of
    its slots exactly once. Returns the slots in their new order."""
    with _editing(actor=actor, campaign=campaign, action="campaign.slot_order") as (campaign, changes):
        ordered = list(campaign.slots.order_by("position", "pk"))
        by_id = {slot.pk: slot for slot in ordered}
        ids = list(slot_ids)
        if len(ids) != len(set(ids)) or set(ids) != set(by_id):
            raise _stale(_("reward slots"))
        wanted = [by_id[pk] for pk in ids]
        if wanted != ordered:
            changes["slot order"] = [" · ".join(s.label for s in ordered), " · ".join(s.label for s in wanted)]
        campaign_services._renumber(campaign, wanted)
    return wanted


@transaction.atomic
def task_order_set(*, actor, campaign: Campaign, order: Sequence[int]) -> Campaign:
    """Reorder the task chain's tasks: ``order`` lists the current tasks' indexes
    (0-based) in their new order, each exactly once.

    Step rewards keep their step numbers: a step reward is for the n-th task of the
    chain, whichever task is now n-th (as their labels, "Step 1 reward", say).
    """
    with _editing(actor=actor, campaign=campaign, action="campaign.task_order") as (campaign, changes):
        settings = dict(campaign.kind_settings or {})
        tasks = settings.get("tasks")
        if not isinstance(tasks, list):
            raise ValidationError(_("This campaign has no tasks to put in order."), code="no_tasks")
        indexes = list(order)
        if sorted(indexes) != list(range(len(tasks))):
            raise _stale(_("tasks"))
        reordered = [tasks[i] for i in indexes]
        if reordered != tasks:
            settings["tasks"] = reordered
            changes["kind_settings"] = [campaign.kind_settings, settings]
            campaign.kind_settings = settings
    return campaign


def _blocks_save(campaign: Campaign, changes: dict, wanted: list[str]) -> None:
    if not wanted:
        raise ValidationError(_("The landing page needs at least one block."), code="no_blocks")
    if wanted != campaign.landing_blocks:
        changes["landing_blocks"] = [list(campaign.landing_blocks or []), wanted]
        campaign.landing_blocks = wanted


@transaction.atomic
def landing_blocks_set(*, actor, campaign: Campaign, blocks: Sequence[str], reorder_only: bool = False) -> Campaign:
    """Show ``blocks`` on the landing page, in this order; the others are hidden.

    Each must be a known block (``LANDING_BLOCKS``), once; at least one is shown.
    With ``reorder_only`` (a drop) they must be exactly the blocks shown now.
    """
    with _editing(actor=actor, campaign=campaign, action="campaign.landing_blocks") as (campaign, changes):
        wanted = list(blocks)
        if any(name not in LANDING_BLOCKS for name in wanted) or len(wanted) != len(set(wanted)):
            raise ValidationError(_("That is not a list of the landing page's blocks."), code="unknown_block")
        if reorder_only and set(wanted) != set(selectors.visible_blocks(campaign)):
            raise _stale(_("landing page blocks"))
        _blocks_save(campaign, changes, wanted)
    return campaign


@transaction.atomic
def landing_block_move(*, actor, campaign: Campaign, block: str, direction: str) -> Campaign:
    """Move a shown block one place ``up`` or ``down`` (no change at either end)."""
    with _editing(actor=actor, campaign=campaign, action="campaign.landing_blocks") as (campaign, changes):
        shown = selectors.visible_blocks(campaign)
        if block not in shown or direction not in ("up", "down"):
            raise _stale(_("landing page blocks"))
        i = shown.index(block)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(shown):
            shown[i], shown[j] = shown[j], shown[i]
        _blocks_save(campaign, changes, shown)
    return campaign


@transaction.atomic
def landing_block_show(*, actor, campaign: Campaign, block: str, visible: bool) -> Campaign:
    """Hide a block, or show a hidden one again (at the end of the page)."""
    if block not in LANDING_BLOCKS:
        raise ValidationError(_("That is not a block of the landing page."), code="unknown_block")
    with _editing(actor=actor, campaign=campaign, action="campaign.landing_blocks") as (campaign, changes):
        shown = selectors.visible_blocks(campaign)
        if visible and block not in shown:
            shown.append(block)
        elif not visible:
            shown = [name for name in shown if name != block]
        _blocks_save(campaign, changes, shown)
    return campaign
