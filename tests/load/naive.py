"""A deliberately naive flash-sale claim, for the load tests only: it reads
what is left, decides in Python, then saves — in a transaction, which does not
help. Under the same load that the real endpoint survives, it oversells: that
is what proves the load harness can catch an oversell at all.

Unsigned and unauthenticated: it is mounted only by ``tests.load.urls``.
"""

from __future__ import annotations

import json
import time
import uuid

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from audiences.models import Customer
from campaigns.models import Award, Campaign
from campaigns.runtime.state import local_day
from rewards.models import Grant, Reservation

# Long enough for the other requests to read the same "remaining" meanwhile.
RACE_WINDOW_SECONDS = 0.005


@csrf_exempt
@require_POST
def claim(request: HttpRequest, code: str) -> JsonResponse:
    customer = Customer.objects.get(customer_ref=json.loads(request.body)["customer"])
    campaign = Campaign.objects.get(code=code)
    prefix = f"campaign:{code}:slot:"
    with transaction.atomic():
        reservation = Reservation.objects.select_related("prize").get(source_ref__startswith=prefix)
        taken = Award.objects.filter(campaign=campaign, customer=customer).count()
        if reservation.remaining <= 0:
            return JsonResponse({"error": {"code": "sold_out", "message": "Sold out."}}, status=409)
        if campaign.limit_total is not None and taken >= campaign.limit_total:
            return JsonResponse({"error": {"code": "limit_reached", "message": "Limit reached."}}, status=409)
        time.sleep(RACE_WINDOW_SECONDS)
        grant = Grant.objects.create(
            idempotency_key=f"naive:{code}:{uuid.uuid4().hex}", prize=reservation.prize, reservation=reservation,
            customer=customer, cost=reservation.prize.unit_cost, source=f"campaign:{code}",
            source_ref=reservation.source_ref,
        )
        Award.objects.create(
            campaign=campaign, customer=customer, slot_key=int(reservation.source_ref[len(prefix):]), grant=grant,
            prize=reservation.prize, reservation=reservation, key=grant.idempotency_key, status="granted",
            action="claim", seq=taken + 1, day=local_day(), day_seq=taken + 1, cost=grant.cost,
        )
        reservation.remaining -= 1
        reservation.save(update_fields=["remaining"])
    return JsonResponse({"result": "claimed", "grant": {"id": grant.pk}})
