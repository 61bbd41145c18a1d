"""API channels: the machine clients of the channel API (DESIGN.md §5).

A channel gets a public key id and a secret it signs requests with. The secret
is returned in clear once, by ``channel_create`` or ``channel_rotate``, and is
never written to the audit trail or shown again. After a rotation the previous
secret keeps verifying for ``CAMPAIGNS_SECRET_GRACE_HOURS``, long enough for
the channel to roll the new one out; rotating again within that time ends the
old secret's grace at once (only one previous secret is kept).

Only holders of MANAGE_CHANNELS (head-office admins, superusers) manage
channels. ``actor=None`` is the server's operator at the command line
(``manage.py channel_create``): no permission check, and the audit entry has
no actor. Every change tells the API processes to reload their channel caches
once it is committed.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Branch
from accounts.permissions import Verb, has_verb
from accounts.services import audit_record
from campaigns.models import ApiChannel
from campaigns.runtime import counters

KEY_ID_PREFIX = "cs_"


def new_key_id() -> str:
    return KEY_ID_PREFIX + secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_hex(32)


def _require(actor) -> None:
    if actor is not None and not has_verb(actor, Verb.MANAGE_CHANNELS):
        raise PermissionDenied


def _head_office() -> Branch:
    # Channels serve the whole bank, so their audit entries belong to head office.
    head_office = Branch.objects.filter(parent__isnull=True).first()
    if head_office is None:
        raise ValidationError(_("There is no head office branch yet; create the branch tree first."))
    return head_office


def _duplicate_name(name: str) -> ValidationError:
    return ValidationError(
        {"name": ValidationError(_("A channel named “%(name)s” already exists."), code="unique", params={"name": name})}
    )


def _check_rates(channel: ApiChannel) -> None:
    errors = {
        field: _("At least 1 request per minute; deactivate the channel to stop it.")
        for field in ("rate_per_minute", "customer_rate_per_minute")
        if getattr(channel, field) is not None and getattr(channel, field) < 1
    }
    if errors:
        raise ValidationError(errors)


def _announce() -> None:
    # After commit, so no API process reloads before the change is visible. Robust:
    # the change is made either way; without Redis the API refuses requests anyway.
    transaction.on_commit(counters.channels_changed, robust=True)


def _rates(channel: ApiChannel) -> dict[str, int]:
    return {"rate_per_minute": channel.rate_per_minute, "customer_rate_per_minute": channel.customer_rate_per_minute}


@transaction.atomic
def channel_create(
    *,
    actor,
    name: str,
    kind: str,
    rate_per_minute: int | None = None,
    customer_rate_per_minute: int | None = None,
) -> tuple[ApiChannel, str]:
    """Make a channel with a fresh key id and secret; returns the channel and
    its secret in clear (the only time it is available).

    ValidationError for a bad or duplicate name, an unknown kind or a rate
    below 1; PermissionDenied for an actor without MANAGE_CHANNELS.
    """
    _require(actor)
    head_office = _head_office()
    name = (name or "").strip()
    secret = new_secret()
    channel = ApiChannel(
        name=name,
        kind=kind,
        key_id=new_key_id(),
        secret=secret,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if rate_per_minute is not None:
        channel.rate_per_minute = rate_per_minute
    if customer_rate_per_minute is not None:
        channel.customer_rate_per_minute = customer_rate_per_minute
    if name and ApiChannel.objects.filter(name=name).exists():
        raise _duplicate_name(name)
    _check_rates(channel)
    channel.full_clean()
    try:
        # A savepoint, so a name taken between the check and the insert
        # (a concurrent create) is a form error, not a broken transaction.
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        if ApiChannel.objects.filter(name=name).exists():
            raise _duplicate_name(name) from None
        raise
    audit_record(
        actor=actor,
        action="channel.create",
        obj=channel,
        changes={"kind": channel.kind, "key_id": channel.key_id, **_rates(channel)},
        reason="" if actor is not None else "manage.py channel_create",
        branch=head_office,
    )
    _announce()
    return channel, secret


@transaction.atomic
def channel_rotate(*, actor, channel: ApiChannel) -> str:
    """Give the channel a new secret and return it in clear (the only time).

    The secret it replaces keeps verifying until ``previous_valid_until`` (now
    plus ``CAMPAIGNS_SECRET_GRACE_HOURS``); one rotated out before is dropped.
    """
    _require(actor)
    head_office = _head_office()
    # Locked, so two rotations at once cannot both keep the same "previous" secret.
    locked = ApiChannel.objects.select_for_update().get(pk=channel.pk)
    now = timezone.now()
    secret = new_secret()
    locked.previous_secret = locked.secret
    locked.previous_valid_until = now + dt.timedelta(hours=settings.CAMPAIGNS_SECRET_GRACE_HOURS)
    locked.secret = secret
    locked.rotated_at = now
    locked.save(update_fields=["secret", "previous_secret", "previous_valid_until", "rotated_at"])
    audit_record(
        actor=actor,
        action="channel.rotate",
        obj=locked,
        changes={"previous_valid_until": locked.previous_valid_until.isoformat()},
        branch=head_office,
    )
    _announce()
    channel.refresh_from_db()
    return secret


@transaction.atomic
def channel_update(
    *, actor, channel: ApiChannel, is_active: bool, rate_per_minute: int, customer_rate_per_minute: int
) -> ApiChannel:
    """Switch a channel on or off and set its rate limits; its name, kind and key id stay.

    Works on a locked copy, so a refused change leaves ``channel`` as it was.
    """
    _require(actor)
    head_office = _head_office()
    locked = ApiChannel.objects.select_for_update().get(pk=channel.pk)
    before = {"is_active": locked.is_active, **_rates(locked)}
    locked.is_active = is_active
    locked.rate_per_minute = rate_per_minute
    locked.customer_rate_per_minute = customer_rate_per_minute
    _check_rates(locked)
    locked.full_clean()
    after = {"is_active": locked.is_active, **_rates(locked)}
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        locked.save(update_fields=list(changes))
        audit_record(actor=actor, action="channel.update", obj=locked, changes=changes, branch=head_office)
        _announce()
        channel.refresh_from_db()
    return channel
