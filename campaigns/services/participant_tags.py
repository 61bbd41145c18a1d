"""Tagging a campaign's customers for re-marketing (DESIGN.md §4 analysis).

One action per group of ``ParticipantGroup`` — all participants, winners,
participants who did not win, converted participants, the control group —
gives the customers of that group one tag of the "campaign history" category,
so a second round of marketing can target them in the segment builder.

- The tag is the campaign's and the group's: one stable code per pair
  (``tag_code``), owned by the campaign's owner branch, named in both
  languages. Tagging the same group again reuses it: the job adds the
  customers who joined the group since and removes nobody, so the tag's
  members are the union of every run.
- Each action is a ``ParticipantTagging`` row: the lineage (campaign, group,
  when, by whom) and the progress of the job (``total``, ``done``, ``added``),
  committed after each chunk so the page can show a live progress bar.
- The groups are computed as the analysis counts them
  (``campaigns.selectors.analysis.participant_groups``); the tag is given
  through ``audiences.services.tagging.customer_tags_add``, which keeps the
  bitmap index in step in the same transaction, so a segment on the tag
  counts the group as soon as the job is done.

Concurrency: the database allows one queued or running tagging per campaign
and group (a partial unique constraint), so a double click or two users at
once start one job and the second is told it is already running. The job
claims its row with a conditional UPDATE and moves its progress only while
the row is still its own, so a duplicate run does nothing and a run that was
given up for dead cannot overwrite its successor. Assigning a tag is
idempotent, so a failed or killed run is simply run again (a new tagging:
whoever was tagged before is not counted twice).
"""

# Chinese text takes full-width commas and semicolons.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import logging
import uuid

import django_rq
import redis
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from audiences.models import Customer, Tag, TagCategory, TagSource
from audiences.services.tagging import customer_tags_add
from campaigns.models import (
    Campaign,
    CampaignStatus,
    ParticipantGroup,
    ParticipantTagging,
    TaggingStatus,
)
from campaigns.selectors import analysis
from config import jobs

logger = logging.getLogger(__name__)

JOB = "campaigns.jobs.participants_tagging"
JOB_TIMEOUT = 2 * 3600
# Customers tagged per transaction: each chunk commits with its progress, so
# the page moves and a killed job keeps what it did.
CHUNK = 5000
# Campaigns with an analysis: those approved, running or over.
TAGGABLE = (CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED, CampaignStatus.ENDED)
IN_FLIGHT = (TaggingStatus.QUEUED, TaggingStatus.RUNNING)
# A job is enqueued just after its tagging commits: until then Redis does not
# know it. A queued tagging younger than this is never taken for dead, so a
# second click in that moment is refused instead of replacing the first.
QUEUE_GRACE = dt.timedelta(seconds=60)

CATEGORY_CODE = "campaign_history"
# The category and the tags are the bank's taxonomy, stored in both interface
# languages (``BilingualName``): data, like audiences/demo.py, not interface text.
CATEGORY = {
    "name_zh": "活动历史",
    "name_en": "Campaign history",
    "description": "参与营销活动的历史记录，由活动结束后打标生成",
}
# (Chinese, English) name of each group in a tag's name.
GROUP_NAMES = {
    ParticipantGroup.PARTICIPANTS: ("参与客户", "participants"),
    ParticipantGroup.WINNERS: ("中奖客户", "winners"),
    ParticipantGroup.NON_WINNERS: ("未中奖参与客户", "non-winners"),
    ParticipantGroup.CONVERTED: ("转化客户", "converted"),
    ParticipantGroup.CONTROL: ("对照组客户", "control group"),
}
# A tag's description: its lineage, in both languages.
DESCRIPTION_ZH = "活动 {code}「{name}」的{group}，由活动分析打标生成；再次打标只增加新客户，不移除任何客户。"
DESCRIPTION_EN = (
    "{group} of campaign {code} “{name}”, tagged from the campaign's analysis; "
    "tagging again adds newcomers and removes nobody."
)
NAME_MAX = Tag._meta.get_field("name_en").max_length
CODE_PREFIX = "CAMP."


def tag_code(campaign: Campaign, group: str) -> str:
    """``CAMP.<campaign code>.<group>``: at most 5 + 40 + 1 + 12 = 58 characters
    (Tag.code allows 60), and only characters CODE_VALIDATOR accepts, since
    campaign codes and group values use the same alphabet."""
    return f"{CODE_PREFIX}{campaign.code}.{group}"


def source_ref(campaign: Campaign, group: str) -> str:
    """What each CustomerTag row records as its origin (audiences never imports campaigns)."""
    return f"campaign:{campaign.code}:{group}"


def _name(campaign: Campaign, group_name: str) -> str:
    suffix = f" · {group_name}"
    return campaign.name[: NAME_MAX - len(suffix)] + suffix


def _campaign_tag(*, campaign: Campaign, group: str, actor) -> Tag:
    """The (campaign, group) tag, created with its category on first use."""
    category, created = TagCategory.objects.get_or_create(
        code=CATEGORY_CODE, defaults={**CATEGORY, "order": TagCategory.objects.count() + 1}
    )
    if created:
        audit_record(
            actor=actor, action="tag_category.create", obj=category, changes={"code": CATEGORY_CODE},
            branch=campaign.owner_branch,
        )
    zh, en = GROUP_NAMES[group]
    code = tag_code(campaign, group)
    tag = Tag.objects.filter(code=code).first()
    if tag is None:
        candidate = Tag(
            code=code, category=category, owner_branch=campaign.owner_branch,
            name_zh=_name(campaign, zh), name_en=_name(campaign, en),
            description="\n".join([
                DESCRIPTION_ZH.format(code=campaign.code, name=campaign.name, group=zh),
                DESCRIPTION_EN.format(code=campaign.code, name=campaign.name, group=en.capitalize()),
            ]),
        )
        # Unique code: left to get_or_create, which also settles two first clicks at once.
        candidate.full_clean(validate_unique=False)
        tag, created = Tag.objects.get_or_create(code=code, defaults={
            field: getattr(candidate, field)
            for field in ("category", "owner_branch", "name_zh", "name_en", "description")
        })
        if created:
            audit_record(
                actor=actor, action="tag.create", obj=tag,
                changes={"code": code, "category": CATEGORY_CODE, "campaign": campaign.code, "group": group},
            )
    if tag.category_id != category.pk:
        raise ValidationError(
            _("The tag %(code)s already exists outside the campaign history category; nothing was tagged.")
            % {"code": code},
            code="tag_taken",
        )
    return tag


def tagging_stuck(tagging: ParticipantTagging) -> bool:
    """Did the job this queued or running tagging waits for die (lost, failed,
    killed, or past its timeout)? When Redis cannot be asked: no. A worker
    killed outright leaves its job "started" until rq's registry cleanup
    fails it as abandoned, or until its timeout."""
    if tagging.status not in IN_FLIGHT or not tagging.job_id:
        return False
    if tagging.status == TaggingStatus.QUEUED and timezone.now() - tagging.created_at < QUEUE_GRACE:
        return False
    dead = jobs.job_dead(tagging.job_id, started_at=tagging.started_at)
    # The job commits its end before rq marks it finished: re-read the row.
    return dead and ParticipantTagging.objects.filter(
        pk=tagging.pk, status=tagging.status, job_id=tagging.job_id
    ).exists()


def _give_up_stuck(*, campaign: Campaign, group: str, actor) -> None:
    """Mark failed the in-flight tagging of this group whose job died, so the
    group can be tagged again. Asks Redis: called outside any transaction."""
    tagging = ParticipantTagging.objects.filter(campaign=campaign, group=group, status__in=IN_FLIGHT).first()
    if tagging is None or not tagging_stuck(tagging):
        return
    reason = _("The worker running this tagging was lost; it was run again.")
    with transaction.atomic():
        moved = ParticipantTagging.objects.filter(pk=tagging.pk, status=tagging.status, job_id=tagging.job_id).update(
            status=TaggingStatus.FAILED, finished_at=timezone.now(), failure=reason
        )
        if moved:
            audit_record(
                actor=actor, action="participant_tagging.failed", obj=tagging,
                changes={"status": [tagging.status, TaggingStatus.FAILED]}, reason=reason,
            )


def participants_tag(*, campaign: Campaign, group: str, actor) -> ParticipantTagging:
    """Tag the customers of ``group`` of ``campaign`` in the background.

    Needs ``Verb.EDIT`` on the campaign, which must be approved, live, paused
    or ended. Creates or reuses the group's campaign history tag, records the
    tagging (queued) and starts its job after commit. A re-run adds the
    customers who joined the group since and removes nobody. Raises
    ValidationError for an unknown group, a campaign without an analysis, or
    when the group is already being tagged.
    """
    if not can(actor, Verb.EDIT, campaign):
        raise PermissionDenied
    if group not in ParticipantGroup.values:
        raise ValidationError(_("Choose one of the groups listed."), code="group")
    if campaign.status not in TAGGABLE:
        raise ValidationError(
            _("Only an approved, live, paused or ended campaign has participants to tag."), code="status"
        )
    _give_up_stuck(campaign=campaign, group=group, actor=actor)
    with transaction.atomic():
        tag = _campaign_tag(campaign=campaign, group=group, actor=actor)
        try:
            with transaction.atomic():
                tagging = ParticipantTagging.objects.create(
                    campaign=campaign, group=group, tag=tag, requested_by=actor, status=TaggingStatus.QUEUED,
                    job_id=uuid.uuid4().hex,
                )
        except IntegrityError:
            raise ValidationError(
                _("This group is already being tagged; wait until that run has finished."), code="running"
            ) from None
        audit_record(
            actor=actor, action="participant_tagging.request", obj=tagging,
            changes={"campaign": campaign.code, "group": group, "tag": tag.code},
        )
        tagging_id, job_id = tagging.pk, tagging.job_id
        transaction.on_commit(lambda: _enqueue(tagging_id=tagging_id, job_id=job_id))
    return tagging


def _enqueue(*, tagging_id: int, job_id: str) -> None:
    try:
        django_rq.get_queue("default", commit_mode="auto").enqueue(
            JOB, tagging_id, job_id=job_id, job_timeout=JOB_TIMEOUT
        )
    except redis.RedisError:
        # The tagging stays queued with a job Redis does not know: the page
        # shows it as stopped, and tagging the group again runs it anew.
        logger.exception("participant tagging %s: could not enqueue its job", tagging_id)


# ------------------------------------------------------------------ the job


def tagging_run(tagging_id: int) -> str:
    """The job: give the tag to every customer of the group, chunk by chunk,
    recording the progress after each; then ``done``, or ``failed`` with the
    reason. Returns what it did."""
    claimed = ParticipantTagging.objects.filter(pk=tagging_id, status=TaggingStatus.QUEUED).update(
        status=TaggingStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.info("participant tagging %s: not queued, nothing to do", tagging_id)
        return "skipped"
    tagging = ParticipantTagging.objects.select_related("campaign", "tag").get(pk=tagging_id)
    try:
        done = _tag_all(tagging)
    except Exception as exc:
        logger.exception("participant tagging %s failed", tagging_id)
        _fail(tagging, f"{type(exc).__name__}: {exc}")
        return "failed"
    if not done:
        return "superseded"
    with transaction.atomic():
        finished = ParticipantTagging.objects.filter(
            pk=tagging.pk, status=TaggingStatus.RUNNING, job_id=tagging.job_id
        ).update(status=TaggingStatus.DONE, finished_at=timezone.now(), failure="")
        if finished:
            tagging.refresh_from_db()
            audit_record(
                actor=None, action="participant_tagging.done", obj=tagging,
                changes={"tag": tagging.tag.code, "total": tagging.total, "added": tagging.added},
            )
    return "done" if finished else "superseded"


def _tag_all(tagging: ParticipantTagging) -> bool:
    """Tag the group; False when the row stopped being this run's (given up for dead)."""
    campaign, tag = tagging.campaign, tagging.tag
    members = analysis.participant_groups(campaign)[tagging.group]
    mine = ParticipantTagging.objects.filter(pk=tagging.pk, status=TaggingStatus.RUNNING, job_id=tagging.job_id)
    if not mine.update(total=len(members), done=0, added=0):
        return False
    ref = source_ref(campaign, tagging.group)
    ids = members.to_array()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK].tolist()
        with transaction.atomic():
            # A customer deleted since the campaign ran has no row to tag.
            existing = list(Customer.objects.filter(pk__in=chunk).values_list("pk", flat=True))
            added = customer_tags_add(tag=tag, customer_ids=existing, source=TagSource.CAMPAIGN, source_ref=ref)
            if not mine.update(done=F("done") + len(chunk), added=F("added") + added):
                # Rolled back: the run that replaced this one tags these customers itself.
                transaction.set_rollback(True)
                return False
    return True


def _fail(tagging: ParticipantTagging, reason: str) -> None:
    with transaction.atomic():
        failed = ParticipantTagging.objects.filter(
            pk=tagging.pk, status=TaggingStatus.RUNNING, job_id=tagging.job_id
        ).update(status=TaggingStatus.FAILED, finished_at=timezone.now(), failure=reason[:2000])
        if failed:
            audit_record(actor=None, action="participant_tagging.failed", obj=tagging, reason=reason[:2000])

