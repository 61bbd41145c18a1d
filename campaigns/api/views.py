"""The channel API, ``/api/v1/`` (DESIGN.md §5): thin views over
``campaigns.runtime.engine``. One pipeline serves every endpoint: method,
signature, JSON body, one Redis round trip (rate limits, cached idempotent
answer, the campaign's state and — for flash sales — the stock left), then
the engine. Errors are ``{"error": {"code", "message"}}`` with the status of
the contract."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from campaigns.api import auth, signing
from campaigns.runtime import counters, engine
from campaigns.runtime import events as business_events
from campaigns.runtime.engine import Call, Refusal
from campaigns.runtime.state import cache

MAX_KEY = 120


def error(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _answer(status: int, data: dict[str, Any], *, replay: bool = False) -> JsonResponse:
    response = JsonResponse(data, status=status)
    if replay:
        response["Idempotent-Replay"] = "true"
    return response


class Request:
    """What the pipeline learnt about a call, handed to the endpoint's handler."""

    def __init__(self, http: HttpRequest, call: Call, body: dict[str, Any], front: counters.Front | None):
        self.http, self.call, self.body, self.front = http, call, body, front


def _body(request: HttpRequest) -> tuple[bytes, dict[str, Any]]:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise Refusal(400, "malformed", _("The request body is too large.")) from None
    if request.method != "POST":
        return raw, {}
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise Refusal(400, "malformed", _("The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise Refusal(400, "malformed", _("The body must be a JSON object."))
    return raw, data


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method != "POST":
        return None
    if not 0 < len(key) <= MAX_KEY or not key.isprintable():
        raise Refusal(400, "malformed", _("Idempotency-Key must be 1 to 120 printable characters."))
    return key


def _serve(
    request: HttpRequest, method: str, handler: Callable[[Request], tuple[int, dict[str, Any]]], *,
    customer_ref: str | None = None, code: str | None = None, sold_out_fast: bool = False,
) -> JsonResponse:
    if request.method != method:
        return error(405, "method_not_allowed", _("Use %(method)s.") % {"method": method}, Allow=method)
    try:
        raw, body = _body(request)
        channel = auth.authenticate(request, raw)
        if customer_ref is None and method == "POST":
            ref = body.get("customer")
            customer_ref = ref if isinstance(ref, str) and len(ref) <= 40 and ref.isprintable() else None  # part of a Redis key
        call = Call(
            # The endpoint is hashed with the body: a key reused on another endpoint is a conflict.
            channel=channel, idempotency_key=_idempotency_key(request),
            body_hash=signing.body_hash(request.path.encode() + b"\n" + raw),
            path=request.path,
        )
        campaign_id = slot_keys = runtime = None
        if code is not None:
            campaign_id = cache.campaign_id(code) if code.isprintable() else None
            if campaign_id is None:
                raise Refusal(404, "unknown_campaign", _("No campaign has this code."))
            if sold_out_fast:
                runtime = cache.get(code)
                slot_keys = tuple(s.key for s in runtime.slots_of("item")) if runtime else ()
        front = counters.front(
            channel_id=channel.pk, channel_limit=channel.rate_per_minute, customer_ref=customer_ref,
            customer_limit=channel.customer_rate_per_minute, idempotency_key=call.idempotency_key,
            campaign_id=campaign_id, slot_keys=slot_keys or (), minute=int(time.time() // 60),
        )
        # The front script marked a new idempotency key as in flight: free it whatever happens.
        # (Not for a sold-out sale: its answer changes nothing, so the script marks nothing.)
        call.holds_key = (
            call.idempotency_key is not None and front.idempotent in (None, "took") and front.stock != 0
        )
        try:
            return _after_front(request, raw, call, body, front, handler, runtime if sold_out_fast else None)
        finally:
            call.finish()
    except Refusal as refusal:
        headers = {"Retry_After": "1"} if refusal.status == 503 or refusal.code == "idempotency_in_progress" else {}
        return error(refusal.status, refusal.code, refusal.message, **headers)
    except redis.RedisError:
        return error(503, "unavailable", _("The service is briefly unavailable; try again."), Retry_After="1")


def _after_front(request, raw, call, body, front, handler, sale) -> JsonResponse:
    if auth.channels.seen_version(front.channels_version):
        call.channel = auth.authenticate(request, raw, fresh=True)
    if front.limited:
        retry = str(60 - int(time.time()) % 60)
        return error(429, "rate_limited", _("Too many requests; slow down."), Retry_After=retry)
    if front.idempotent == "inflight":
        raise Refusal(409, "idempotency_in_progress", _("A request with this Idempotency-Key is still being processed."))
    took = front.idempotent == "took"  # a take was made for this key: look for its answer first
    if front.idempotent and not took:
        cached = json.loads(front.idempotent)
        if cached["h"] != call.body_hash:
            raise Refusal(409, "idempotency_conflict", _("This Idempotency-Key was used with another request."))
        return _answer(cached["s"], cached["r"], replay=True)
    if call.idempotency_key and (sale is None or took):
        stored = engine.stored_answer(call)
        if stored is not None:
            return _answer(*stored, replay=True)
    try:
        if sale is not None and front.stock == 0 and front.revision_id == sale.revision_id:
            # Sold out: answered from Redis alone (a key that took something was looked up above).
            engine.check_live(sale, front.state or "")
            raise Refusal(409, "sold_out", sale.settings.get("sold_out_message") or _("Sold out."))
        return _answer(*handler(Request(request, call, body, front)), replay=call.replayed)
    except Refusal as refusal:
        # A claim skips the look-up above. If it succeeds, its key was new: a
        # used key's stored answer row fails the claim's transaction, which then
        # answers the first answer. Before it refuses, it looks here (not before
        # "sold out", which stays an answer from Redis alone).
        wanted = sale is not None and call.idempotency_key and refusal.code != "sold_out"
        stored = engine.stored_answer(call) if wanted else None
        if stored is None:
            raise
        return _answer(*stored, replay=True)


def _live(req: Request, code: str):
    runtime, epoch, state = engine.runtime_for(code, front=req.front)
    engine.check_live(runtime, state)
    return runtime, epoch


# --- endpoints ----------------------------------------------------------------------------


@csrf_exempt
def customer_campaigns(request: HttpRequest, ref: str) -> JsonResponse:
    def handle(req: Request):
        customer = engine.customer_get(ref)
        return 200, {"customer": ref, "campaigns": engine.customer_campaigns(customer, req.call)}

    return _serve(request, "GET", handle, customer_ref=ref)


@csrf_exempt
def customer_grants(request: HttpRequest, ref: str) -> JsonResponse:
    def handle(req: Request):
        customer = engine.customer_get(ref)
        return 200, {"customer": ref, "grants": engine.customer_grants(customer)}

    return _serve(request, "GET", handle, customer_ref=ref)


def _action(name: str):
    @csrf_exempt
    def view(request: HttpRequest, code: str) -> JsonResponse:
        def handle(req: Request):
            runtime, epoch = _live(req, code)
            customer = engine.customer_get(req.body.get("customer"))
            if name == "view":
                return engine.campaign_view(runtime, customer, req.call)
            if name == "join":
                return engine.campaign_join(runtime, customer, req.call)
            if name == "draw":
                return engine.campaign_draw(runtime, customer, req.call, epoch)
            if name == "invite":
                return engine.campaign_invite(runtime, customer, req.call)
            item = req.body.get("item")
            if item is not None and (isinstance(item, bool) or not isinstance(item, int)):
                raise Refusal(400, "malformed", _("item must be an item's key (an integer)."))
            return engine.campaign_claim(runtime, customer, req.call, epoch, item)

        return _serve(request, "POST", handle, code=code, sold_out_fast=name == "claim")

    view.__name__ = f"campaign_{name}"
    return view


campaign_view = _action("view")
campaign_join = _action("join")
campaign_draw = _action("draw")
campaign_claim = _action("claim")
campaign_invite = _action("invite")


@csrf_exempt
def referrals(request: HttpRequest) -> JsonResponse:
    def handle(req: Request):
        customer = engine.customer_get(req.body.get("customer"))
        return engine.referral_accept(customer, req.body.get("code"), req.call)

    return _serve(request, "POST", handle)


@csrf_exempt
def events(request: HttpRequest) -> JsonResponse:
    def handle(req: Request):
        event = business_events.event_parse(req.body)
        customer = engine.customer_get(req.body.get("customer"))
        if event.occurred_at > timezone.now() + dt.timedelta(minutes=5):
            raise Refusal(400, "malformed", _("occurred_at is in the future."))
        return business_events.event_record(customer, event, req.call)

    return _serve(request, "POST", handle)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return error(404, "not_found", _("No such endpoint."))
