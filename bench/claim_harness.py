"""The app as ``bench/claim.py`` serves it: every URL of ``config.urls`` plus
two views that exist only for the comparison, behind the same middleware.

- ``bench/trivial``: ``{"ok": true}`` and nothing else — the floor of a request
  through gunicorn, Django and the middleware.
- ``bench/claim-locked/<code>``: a flash-sale claim as a straightforward design
  would make it — the database is the only counter. Signed, parsed and answered
  like the real endpoint (same authentication, body and idempotency handling,
  same rows written through ``rewards.services.grant_create``); only the
  concurrency design differs: one transaction locks the slot's reservation row
  (``select_for_update``), counts the customer's awards, checks stock and
  limits, writes the grant, award, activity and stored answer, and commits. So
  every claim of the sale waits for the one before it to commit. The campaign
  budget is left to the pool's conditional update in ``grant_create`` (summing
  the campaign's awards under the lock would only make it slower).

Gunicorn serves ``claim_harness:application``; the bench process imports the
module after ``django.setup()`` to count queries in-process.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import IntegrityError, transaction  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from campaigns.api import auth, signing  # noqa: E402
from campaigns.api import views as api_views  # noqa: E402
from campaigns.models import Activity, ActivityKind, Award, AwardStatus, Campaign  # noqa: E402
from campaigns.runtime import awards, engine  # noqa: E402
from campaigns.runtime.engine import Call, Refusal  # noqa: E402
from campaigns.runtime.state import STATES, cache, local_day  # noqa: E402
from campaigns.services.revisions import slot_source_ref  # noqa: E402
from config import urls as app_urls  # noqa: E402
from rewards import services as reward_services  # noqa: E402
from rewards.models import Prize, Reservation  # noqa: E402


@csrf_exempt
def trivial(request):
    return JsonResponse({"ok": True})


@csrf_exempt
def claim_locked(request, code: str):
    if request.method != "POST":
        return api_views.error(405, "method_not_allowed", _("Use %(method)s.") % {"method": "POST"}, Allow="POST")
    try:
        raw, body = api_views._body(request)
        channel = auth.authenticate(request, raw)
        call = Call(
            channel=channel, idempotency_key=api_views._idempotency_key(request), body_hash=signing.body_hash(raw),
            path=request.path,
        )
        if call.idempotency_key:
            stored = engine.stored_answer(call)
            if stored is not None:
                return api_views._answer(*stored, replay=True)
        runtime = cache.get(code)
        if runtime is None:
            raise Refusal(404, "unknown_campaign", _("No campaign has this code."))
        status = Campaign.objects.filter(pk=runtime.campaign_id).values_list("status", flat=True).get()
        engine.check_live(runtime, STATES.get(status, ""))
        customer = engine.customer_get(body.get("customer"))
        engine.check_eligible(runtime, customer, channel.kind, "claim")
        return api_views._answer(*_claim_locked(runtime, customer, call))
    except Refusal as refusal:
        return api_views.error(refusal.status, refusal.code, refusal.message)


def _claim_locked(runtime, customer, call: Call):
    slot = runtime.slots_of("item")[0]
    today = local_day()
    try:
        with transaction.atomic():
            # Every claim of this item queues here until the one holding the row commits.
            reservation = Reservation.objects.select_for_update().get(pk=slot.reservation_id)
            if reservation.remaining <= 0:
                raise Refusal(409, "sold_out", runtime.settings.get("sold_out_message") or _("Sold out."))
            counts = Award.objects.filter(campaign_id=runtime.campaign_id, customer=customer).aggregate(
                total=Count("id"), today=Count("id", filter=Q(day=today))
            )
            seq, day_seq = counts["total"] + 1, counts["today"] + 1
            if (runtime.limit_total is not None and seq > runtime.limit_total) or (
                runtime.limit_per_day is not None and day_seq > runtime.limit_per_day
            ):
                raise Refusal(409, "limit_reached", _("The customer has reached the campaign's limit."))
            prize = Prize.objects.select_related("pool").get(pk=slot.prize_id)
            grant = reward_services.grant_create(
                prize=prize, customer=customer, idempotency_key=f"campaign:{runtime.code}:c{customer.pk}:claim:{seq}",
                source=f"campaign:{runtime.code}", source_ref=slot_source_ref(runtime.code, slot.key),
                reservation=reservation,
            )
            award = Award.objects.create(
                campaign_id=runtime.campaign_id, customer=customer, slot_key=slot.key, prize=prize,
                reservation=reservation, key=grant.idempotency_key, grant=grant, status=AwardStatus.GRANTED,
                action="claim", seq=seq, day=today, day_seq=day_seq, cost=grant.cost,
            )
            Activity.objects.create(
                campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.CLAIM, channel=call.channel.kind,
                slot_key=slot.key, award=award,
            )
            answer = {
                "campaign": runtime.code, "result": "claimed",
                "item": {"key": slot.key, "label": slot.label, **slot.options},
                "grant": awards.reward_json(award, grant, prize=prize),
            }
            call.store(200, answer)
    except IntegrityError:
        stored = engine.stored_answer(call)
        if stored is not None:
            return stored
        raise Refusal(409, "limit_reached", _("The customer has reached the campaign's limit.")) from None
    except ValidationError as exc:
        if getattr(exc, "code", "") == "sold_out":
            raise Refusal(409, "sold_out", _("Sold out.")) from None
        raise Refusal(409, "budget_exhausted", _("The campaign's budget is used up.")) from None
    return 200, answer


urlpatterns = [
    path("bench/trivial", trivial),
    path("bench/claim-locked/<str:code>", claim_locked),
    *app_urls.urlpatterns,
]

settings.ROOT_URLCONF = __name__
application = WSGIHandler()
