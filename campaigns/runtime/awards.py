"""Awards first, grants after: a request that wins a reward writes one
``Award`` row (its unit of the slot's stock, the customer's reward numbers,
the grant's idempotency key) and answers; the grant is made from the award in
the background, through ``rewards.services.grant_create`` with the award's
key, so the request holds no row lock and writes no ledger.

How an award travels
--------------------
1. The request's transaction commits the award; ``Call.finish`` adds its id
   to ``DRAIN`` (``config.drains``) in the same Redis round trip that settles
   the take, and a drain job is queued when none is.
2. A drain job pops a batch and grants its awards of one prize and
   reservation as one lot, in one transaction: the award rows locked (SKIP
   LOCKED: two drains never grant one award), the grants made with the
   awards' keys (``rewards.services.grants_create_many``: one conditional
   update of the reservation and of the pool's budget for the lot), the
   awards marked ``granted``. A lot that fails is granted award by award
   (``grant_create``; a second attempt finds the first grant), so only the
   awards really refused fail. The grant's ledger is the second cap:
   a reservation or pool budget that refuses (another campaign spent a shared
   pool, a coupon prize ran out of codes, the pool expired) marks the award
   ``failed`` with the reason, and the failure is logged for a person.
3. The sweeper (``awards_sweep``, every minute with ``runtime_sync``)
   re-queues awards still queued after ``GRACE_SECONDS``: a process died
   between its commit and the queueing, Redis was down, a drain died.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from campaigns.models import Award, AwardStatus
from campaigns.services.revisions import slot_source_ref
from config.drains import Drain
from rewards import services as reward_services
from rewards.models import CouponCode, Grant, Reservation

logger = logging.getLogger(__name__)

DRAIN = Drain("cs:awards", "campaigns.jobs.awards_drain", "campaigns: grant queued awards")
GRACE_SECONDS = 60
SWEEP_LIMIT = 10_000


def awards_enqueue(award_ids: Sequence[int]) -> None:
    """Queue committed awards (outside a request: a request's ``Call.finish``
    queues its own). Never raises: the sweeper catches what is lost."""
    if not award_ids:
        return
    try:
        DRAIN.add(list(award_ids), at=time.time())
        DRAIN.ensure()
    except Exception:
        logger.exception("awards: could not queue %d awards; the sweeper will", len(award_ids))


def awards_drain() -> dict[str, int]:
    """The drain job: grant the next batch of queued awards."""
    ids = DRAIN.pop(settings.CAMPAIGNS_AWARDS_BATCH_SIZE)
    return awards_grant(award_ids=ids) if ids else {"granted": 0, "failed": 0}


def awards_drain_all(batch: int = 1000) -> dict[str, int]:
    """Drain the whole queue in this process (where no worker runs: the
    simulator's in-process app, tests)."""
    done = {"granted": 0, "failed": 0}
    while ids := DRAIN.pop(batch):
        for outcome, count in awards_grant(award_ids=ids).items():
            done[outcome] += count
    return done


def awards_grant(*, award_ids: Sequence[int]) -> dict[str, int]:
    """Make the grants of these awards (those still queued). Safe to run twice
    and concurrently. Awards of one prize and reservation are granted as one
    lot (``rewards.services.grants_create_many``); a lot that fails is granted
    one by one, so that only the awards really refused fail, each with its reason."""
    counts = {"granted": 0, "failed": 0}
    lots: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    queued = Award.objects.filter(pk__in=award_ids, status=AwardStatus.QUEUED).order_by("pk")
    for pk, prize_id, reservation_id in queued.values_list("pk", "prize_id", "reservation_id"):
        lots[(prize_id, reservation_id)].append(pk)
    for ids in lots.values():
        granted = _grant_lot(ids) if len(ids) > 1 else None
        if granted is not None:
            counts["granted"] += granted
            continue
        for award_id in ids:
            outcome = _grant_one(award_id)
            if outcome:
                counts[outcome] += 1
    return counts


def _grant_lot(award_ids: list[int]) -> int | None:
    """Grant these awards (one prize, one reservation) together; None when the lot fails."""
    try:
        with transaction.atomic():
            awards = list(
                Award.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("campaign", "prize__pool")
                .filter(pk__in=award_ids, status=AwardStatus.QUEUED)
                .order_by("pk")
            )
            if not awards:
                return 0
            first = awards[0]

            def link(grants: list[Grant]) -> None:
                for award, grant in zip(awards, grants, strict=True):
                    award.grant, award.status, award.cost = grant, AwardStatus.GRANTED, grant.cost
                Award.objects.bulk_update(awards, ["grant", "status", "cost"])

            reward_services.grants_create_many(
                prize=first.prize,
                reservation=Reservation(pk=first.reservation_id, prize_id=first.prize_id) if first.reservation_id else None,
                wanted=[
                    reward_services.GrantWanted(
                        award.customer_id, award.key, f"campaign:{award.campaign.code}",
                        slot_source_ref(award.campaign.code, award.slot_key),
                    )
                    for award in awards
                ],
                then=link,
            )
            return len(awards)
    except (ValidationError, IntegrityError):
        return None
    except DatabaseError:
        logger.exception("awards: a lot of %d awards could not be granted now; one by one", len(award_ids))
        return None


def _grant_one(award_id: int) -> str | None:
    try:
        with transaction.atomic():
            award = (
                Award.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("campaign", "prize__pool", "customer")
                .filter(pk=award_id, status=AwardStatus.QUEUED)
                .first()
            )
            if award is None:
                return None  # granted already, or another drain has it
            code = award.campaign.code

            def link(grant: Grant) -> None:
                Award.objects.filter(pk=award.pk).update(grant=grant, status=AwardStatus.GRANTED, cost=grant.cost)

            grant = reward_services.grant_create(
                prize=award.prize, customer=award.customer, idempotency_key=award.key, source=f"campaign:{code}",
                source_ref=slot_source_ref(code, award.slot_key),
                reservation=Reservation(pk=award.reservation_id, prize_id=award.prize_id)
                if award.reservation_id else None,
                then=link,
            )
            if grant.pk and not Award.objects.filter(pk=award.pk, grant=grant).exists():
                link(grant)  # the grant was made before (a drain died after its commit): link it
            return "granted"
    except ValidationError as exc:
        reason = "; ".join(exc.messages)[:300]
        if Award.objects.filter(pk=award_id, status=AwardStatus.QUEUED).update(
            status=AwardStatus.FAILED, failure=reason
        ):
            logger.warning("awards: award %d could not be granted: %s", award_id, reason)
            return "failed"
        return None
    except DatabaseError:
        # Left queued: the sweeper tries again; the rest of the batch goes on.
        logger.exception("awards: award %d could not be granted now", award_id)
        return None


def queued_of(*, campaign_id: int) -> list[int]:
    return list(Award.objects.filter(campaign_id=campaign_id, status=AwardStatus.QUEUED).values_list("pk", flat=True))


def awards_sweep(*, grace_seconds: int = GRACE_SECONDS, limit: int = SWEEP_LIMIT) -> dict[str, int]:
    """Re-queue awards still queued after ``grace_seconds`` (lost on their way to Redis, or their drain died)."""
    before = timezone.now() - dt.timedelta(seconds=grace_seconds)
    lost = list(
        Award.objects.filter(status=AwardStatus.QUEUED, at__lt=before).order_by("at").values_list("pk", flat=True)[:limit]
    )
    if lost:
        DRAIN.add(lost, at=time.time())
        DRAIN.ensure(force=True)
        logger.warning("awards: %d queued awards re-queued by the sweep", len(lost))
    return {"requeued": len(lost)}


# --- what the API shows -------------------------------------------------------------------


def reward_json(
    award: Award | None, grant: Grant | None = None, *, prize=None, code: str | None = None
) -> dict[str, Any]:
    """A reward as the API shows it: the grant once made (``id``), the award it
    came from (``award``), the prize, and the status — ``queued`` until the
    grant is made, then the grant's (pending → delivered …), or ``failed``."""
    grant = grant if grant is not None else (award.grant if award is not None and award.grant_id else None)
    prize = prize or (grant.prize if grant is not None else award.prize)
    if grant is not None:
        status, source, created_at = grant.status, grant.source, grant.created_at
    else:
        status, source, created_at = award.status, f"campaign:{award.campaign.code}", award.at
    data = {
        "id": grant.pk if grant is not None else None,
        "award": award.pk if award is not None else None,
        "prize": {"code": prize.code, "name": prize.name, "kind": prize.kind},
        "status": status,
        "source": source,
        "created_at": created_at.isoformat(),
        "delivered_at": grant.delivered_at.isoformat() if grant is not None and grant.delivered_at else None,
    }
    if grant is not None and code is None and prize.kind == "coupon":
        code = CouponCode.objects.filter(grant=grant).values_list("code", flat=True).first()
    if code:
        data["coupon_code"] = code
    return data


def customer_rewards(customer, limit: int = 100) -> list[dict[str, Any]]:
    """The customer's rewards, newest first: their grants (from campaigns or
    dispatched by staff) and the campaign awards whose grant is not made yet
    (queued) or was refused (failed)."""
    grants = list(Grant.objects.filter(customer=customer).select_related("prize").order_by("-created_at", "-pk")[:limit])
    waiting = list(
        Award.objects.filter(customer=customer, grant__isnull=True)
        .select_related("prize", "campaign").order_by("-at", "-pk")[:limit]
    )
    awards = dict(Award.objects.filter(grant__in=grants).values_list("grant_id", "pk"))
    codes = dict(CouponCode.objects.filter(grant__in=grants).values_list("grant_id", "code"))
    rows = [(g.created_at, g.pk, None, g) for g in grants] + [(a.at, 0, a, None) for a in waiting]
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    found = []
    for _at, _pk, award, grant in rows[:limit]:
        if grant is not None:
            data = reward_json(None, grant, prize=grant.prize, code=codes.get(grant.pk, ""))
            data["award"] = awards.get(grant.pk)
        else:
            data = reward_json(award)
        found.append(data)
    return found
