"""Live campaigns and signed API calls for the runtime and channel API tests.

``go_live`` builds a campaign row by row (lifecycle_helpers), submits and
approves it through the services, then moves its approved window so that it
started a minute ago — as if approved earlier — and starts it with the
go-live job, so the runtime serves it from Redis like any live campaign.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.utils import timezone

from campaigns import jobs
from campaigns.models import ApiChannel, Campaign, CampaignRevision, Material, MaterialKind
from campaigns.runtime import state
from campaigns.services import lifecycle
from tests.campaigns import lifecycle_helpers as helpers

SECRET = "s3cret-" + "0" * 57


def make_channel(name="App", kind="app", *, key_id=None, secret=SECRET, **fields) -> ApiChannel:
    return ApiChannel.objects.create(
        name=name, kind=kind, key_id=key_id or f"cs_{name.lower()}", secret=secret, **fields
    )


def go_live(
    *, personas, kind: str, slots, code: str, kind_settings=None, channels=None, started_ago=dt.timedelta(minutes=1),
    days=7, **fields,
) -> Campaign:
    """A live campaign of ``kind`` for every customer of Beijing (no segments)."""
    fields.setdefault("limit_per_day", None)
    fields.setdefault("limit_total", None)
    fields.setdefault("budget_total", Decimal("100000.00"))
    fields.setdefault("budget_daily", None)
    settings = kind_settings if kind_settings is not None else helpers.kind_settings(kind)
    campaign = helpers.make_campaign(
        owner=personas.branch_admin.branch, created_by=personas.operator, code=code, kind=kind,
        starts_in=dt.timedelta(hours=1), days=days, slots=slots,
        channels=channels if channels is not None else _channels(personas),
        kind_settings=settings, **fields,
    )
    # On the minute (a flash sale needs it), an hour ahead: submittable as a draft.
    starts = (timezone.now() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=starts, ends_at=starts + dt.timedelta(days=days))
    campaign.refresh_from_db()
    lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)
    lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)
    start_now(campaign, started_ago=started_ago)
    campaign.refresh_from_db()
    return campaign


def _channels(personas) -> list[dict]:
    poster = Material.objects.create(
        owner_branch=personas.branch_admin.branch, kind=MaterialKind.POSTER, name="Poster", created_by=personas.operator
    )
    return [
        {"channel": "app", "template": helpers.SMS_TEMPLATE, "material": poster},
        {"channel": "sms", "template": helpers.SMS_TEMPLATE},
    ]


def start_now(campaign: Campaign, *, started_ago=dt.timedelta(minutes=1)) -> None:
    """Move the approved window to have started ``started_ago``, then run the go-live job."""
    campaign.refresh_from_db()
    revision = CampaignRevision.objects.get(pk=campaign.live_revision_id)
    starts = timezone.now() - started_ago
    length = dt.datetime.fromisoformat(revision.config["ends_at"]) - dt.datetime.fromisoformat(revision.config["starts_at"])
    revision.config = {**revision.config, "starts_at": starts.isoformat(), "ends_at": (starts + length).isoformat()}
    revision.save(update_fields=["config"])
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=starts, ends_at=starts + length)
    state.cache.clear()
    if started_ago > dt.timedelta(0):
        jobs.campaign_go_live(campaign.pk)
    state.runtime_load(campaign_id=campaign.pk)


def signed_headers(channel: ApiChannel, method: str, path: str, body: bytes, *, secret=None, timestamp=None, key=None):
    from campaigns.api import signing

    headers = signing.sign_headers(
        key_id=channel.key_id, secret=secret or channel.secret, method=method, path=path, body=body, timestamp=timestamp
    )
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items() if name != "Content-Type"}
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return extra


def api_post(client, channel, path: str, data=None, *, raw: bytes | None = None, key=None, grant=True, **sign):
    """A signed POST; then, with ``grant``, what the worker does next: the awards it made are granted."""
    body = raw if raw is not None else json.dumps(data or {}).encode()
    response = client.generic(
        "POST", path, body, content_type="application/json", **signed_headers(channel, "POST", path, body, key=key, **sign)
    )
    if grant:
        grant_awards()
    return response


def grant_awards() -> dict[str, int]:
    """Drain the award queue in this process, as the background worker would."""
    from campaigns.runtime import awards

    return awards.awards_drain_all()


def api_get(client, channel, path: str, **sign):
    return client.get(path, **signed_headers(channel, "GET", path, b"", **sign))
