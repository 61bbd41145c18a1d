"""Writes for campaigns: the one-click draft, edits by area, reward slots and
channels, clone, archive and delete.

Every edit goes through ``_editing``, the one place that applies the editing
rules (CAMPAIGNS.md): a draft is edited freely; a campaign pending review is
refused until it is withdrawn; an approved, live or paused campaign may be
changed, which marks ``has_unapproved_changes`` (the runtime keeps reading the
approved revision until a new one is approved); an ended or archived campaign
is refused. It also checks the verb, locks the row for the length of the
change and writes the audit record with what changed.

Choices (prizes, segments, tags, branches, materials) are checked here as well
as in the forms, against the same selectors, so a caller that is not a form
cannot reach outside the scope either.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import string
import zoneinfo
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from campaigns import kinds
from campaigns.kinds.base import LANDING_BLOCKS, Kind, SlotDefault
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignStatus,
    CampaignTemplate,
    ChannelKind,
    MaterialKind,
    RewardSlot,
)
from campaigns.selectors import campaigns as selectors
from campaigns.services import messages

WEIGHT_TOTAL = 10_000
DEFAULT_BUDGET_TOTAL = Decimal("10000.00")
DEFAULT_BUDGET_DAILY = Decimal("1000.00")
CHANGED_AFTER_APPROVAL = (CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED)
RULE_FIELDS = ("limit_per_day", "limit_total", "new_customers_only", "new_customer_days")
_CODE_LETTERS = string.ascii_uppercase
_COLUMNS = frozenset(f.name for f in Campaign._meta.concrete_fields)


def _require(actor, verb: str, obj) -> None:
    if not can(actor, verb, obj):
        raise PermissionDenied


def edit_refusal(campaign: Campaign) -> str | None:
    """Why the campaign's working copy cannot be changed now; None when it can."""
    if campaign.is_archived:
        return _("This campaign is archived. Restore it to change it.")
    if campaign.status == CampaignStatus.PENDING_REVIEW:
        return _("This campaign is waiting for review. Withdraw it from review to change it.")
    if campaign.status == CampaignStatus.ENDED:
        return _("This campaign has ended and can no longer be changed. Clone it to run it again.")
    return None


@contextmanager
def _editing(*, actor, campaign: Campaign, action: str) -> Iterator[tuple[Campaign, dict[str, Any]]]:
    """The gate of every edit (see the module docstring). Call inside the service's transaction.

    Yields the locked campaign and a dict the edit fills with ``field: [before, after]``;
    nothing is marked or audited when the dict stays empty.
    """
    _require(actor, Verb.EDIT, campaign)
    locked = Campaign.objects.select_for_update().select_related("owner_branch").get(pk=campaign.pk)
    refusal = edit_refusal(locked)
    if refusal:
        raise ValidationError(refusal, code="not_editable")
    changes: dict[str, Any] = {}
    yield locked, changes
    if not changes:
        return
    # Fields an edit assigned; slot, channel and many-to-many changes are saved where they happen.
    fields = [name for name in changes if name in _COLUMNS] + ["updated_at"]
    if locked.status in CHANGED_AFTER_APPROVAL and not locked.has_unapproved_changes:
        locked.has_unapproved_changes = True
        fields.append("has_unapproved_changes")
    locked.save(update_fields=fields)
    audit_record(actor=actor, action=action, obj=locked, changes=changes)


def _shown(value: Any) -> Any:
    """A value as the audit trail stores it (JSON-safe)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="minutes")
    if hasattr(value, "pk"):
        return str(value)
    return value


def _assign(obj, changes: dict[str, Any], **values: Any) -> None:
    """Set fields on ``obj``, noting each that really changes."""
    for field, value in values.items():
        before = getattr(obj, field)
        if before != value:
            changes[field] = [_shown(before), _shown(value)]
            setattr(obj, field, value)


def _assign_many(campaign: Campaign, changes: dict[str, Any], field: str, chosen: Iterable) -> None:
    manager = getattr(campaign, field)
    before = list(manager.all())
    chosen = list(chosen)
    if {o.pk for o in before} != {o.pk for o in chosen}:
        changes[field] = [", ".join(sorted(map(str, before))), ", ".join(sorted(map(str, chosen)))]
        manager.set(chosen)


def _only_from(chosen: Iterable, allowed, message: str) -> list:
    """``chosen`` if every item is in the ``allowed`` queryset; ValidationError otherwise."""
    chosen = list(chosen)
    ids = {o.pk for o in chosen}
    if ids and allowed.filter(pk__in=ids).count() != len(ids):
        raise ValidationError(message)
    return chosen


def _kind(name: str) -> Kind:
    try:
        return kinds.get(name)
    except KeyError:
        raise ValidationError(_("Unknown campaign kind “%(kind)s”.") % {"kind": name}) from None


# --- generating a draft ----------------------------------------------------------


def next_week(user) -> tuple[dt.datetime, dt.datetime]:
    """Next Monday 00:00 to the Sunday after, 23:59, in the user's time zone."""
    try:
        zone = zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    today = timezone.now().astimezone(zone).date()
    monday = today + dt.timedelta(days=7 - today.weekday())
    starts = dt.datetime.combine(monday, dt.time.min, tzinfo=zone)
    ends = dt.datetime.combine(monday + dt.timedelta(days=6), dt.time(23, 59), tzinfo=zone)
    return starts, ends


def _new_code(kind: Kind) -> str:
    day = timezone.localdate().strftime("%Y%m%d")
    while True:
        code = f"{kind.code_prefix}-{day}-{''.join(secrets.choice(_CODE_LETTERS) for _i in range(4))}"
        if not Campaign.objects.filter(code=code).exists():
            return code


def _draft_prizes(actor, owner, starts: dt.datetime) -> list:
    """Prizes with stock from one pool the owner branch may use, valid when the campaign starts:
    the owner's own pool first, then its sub-branches' pools."""
    prizes = list(
        selectors.prize_choices(user=actor, owner_branch=owner)
        .filter(stock_available__gt=0)
        .filter(Q(pool__valid_until__isnull=True) | Q(pool__valid_until__gte=starts.date()))
    )
    if not prizes:
        return []
    first_pool = prizes[0].pool_id
    return [prize for prize in prizes if prize.pool_id == first_pool]


def _within_stock(defaults: list[SlotDefault]) -> list[SlotDefault]:
    """The kind's default slots with quantities the prizes' stock can cover, shared
    evenly between slots that use the same prize."""
    users: dict[int, int] = {}
    for slot in defaults:
        if slot.prize is not None:
            users[slot.prize.pk] = users.get(slot.prize.pk, 0) + 1
    left = {pk: next(s.prize.stock_available for s in defaults if s.prize and s.prize.pk == pk) for pk in users}
    fitted = []
    for slot in defaults:
        quantity = slot.quantity
        if slot.prize is not None:
            share = max(1, slot.prize.stock_available // users[slot.prize.pk])
            quantity = min(quantity, share, left[slot.prize.pk])
            left[slot.prize.pk] -= quantity
        fitted.append(SlotDefault(slot.role, slot.label, slot.prize, quantity, slot.weight, dict(slot.options)))
    return fitted


def _budget_for(slots: list[SlotDefault]) -> tuple[Decimal, Decimal]:
    """The default budget, raised to cover the reserved prizes' cost when that is more."""
    cost = sum((s.prize.unit_cost * s.quantity for s in slots if s.prize is not None), Decimal("0"))
    total = max(DEFAULT_BUDGET_TOTAL, Decimal(math.ceil(cost / 1000) * 1000))
    daily = max(DEFAULT_BUDGET_DAILY, Decimal(math.ceil(total / 10 / 100) * 100))
    return total.quantize(Decimal("0.01")), daily.quantize(Decimal("0.01"))


def default_channel_templates() -> dict[str, str]:
    return {
        ChannelKind.APP: _("{name}, {campaign} is on now. Tap to take part: {link}"),
        ChannelKind.SMS: _("{name}, {campaign} is on: {link}"),
        ChannelKind.WECHAT: _("{name}, you are invited to {campaign}. Open: {link}"),
    }


def _default_poster(actor, owner):
    return selectors.material_choices(user=actor, owner_branch=owner).filter(kind=MaterialKind.POSTER).first()


@transaction.atomic
def campaign_generate(
    *, actor, kind: str | None = None, owner_branch=None, template: CampaignTemplate | None = None
) -> Campaign:
    """A complete draft in one click: named, next week, for every customer in the owner's
    scope, with a budget, default rules and channels, and prize slots from a pool in scope
    when there is one. From a template, its configuration replaces the kind's defaults."""
    if template is not None:
        kind = template.kind
    kind_obj = _kind(kind or "")
    owner = owner_branch or actor.branch
    if owner is None:
        raise ValidationError(_("Choose the branch that owns the campaign."))
    _require(actor, Verb.EDIT, owner)
    starts, ends = next_week(actor)
    slots = _within_stock(kind_obj.default_slots(_draft_prizes(actor, owner, starts)))
    budget_total, budget_daily = _budget_for(slots)
    name = _("%(kind)s — %(date)s") % {"kind": kind_obj.label, "date": starts.date().isoformat()}
    campaign = Campaign(
        code=_new_code(kind_obj),
        name=name[:120],
        kind=kind_obj.name,
        owner_branch=owner,
        starts_at=starts,
        ends_at=ends,
        budget_total=budget_total,
        budget_daily=budget_daily,
        kind_settings=kind_obj.default_settings(),
        landing_blocks=list(LANDING_BLOCKS),
        rules_text=kind_obj.default_rules_text(),
        template=template,
        created_by=actor,
        **{field: value for field, value in kind_obj.default_rules().items() if field in RULE_FIELDS},
    )
    campaign.full_clean()
    campaign.save()
    RewardSlot.objects.bulk_create(
        RewardSlot(
            campaign=campaign, position=position, role=slot.role, label=slot.label[:80], prize=slot.prize,
            quantity=slot.quantity, weight=slot.weight, options=slot.options,
        )
        for position, slot in enumerate(slots)
    )
    poster = _default_poster(actor, owner)
    CampaignChannel.objects.bulk_create(
        CampaignChannel(
            campaign=campaign, channel=channel, enabled=True, template=text,
            material=None if channel == ChannelKind.SMS else poster,
        )
        for channel, text in default_channel_templates().items()
    )
    if template is not None:
        _apply_template(actor, campaign, template)
    audit_record(
        actor=actor, action="campaign.generate", obj=campaign,
        changes={"kind": kind_obj.name, "template": template.name if template else None},
    )
    return campaign


def _ref_id(value: Any) -> int | None:
    """An id from a configuration reference: ``{"id": 3, "label": …}`` or a bare 3."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _apply_template(actor, campaign: Campaign, template: CampaignTemplate) -> None:
    """Copy a template's configuration (the shape of ``revisions.campaign_config``) into a
    fresh draft. The window stays next week; ids the actor or the owner branch may not
    use are dropped, so a template never reaches outside the scope."""
    config = template.config or {}
    owner = campaign.owner_branch
    campaign.name = template.name[:120]
    for field in (*RULE_FIELDS, "control_percent", "rules_text", "kind_settings", "landing_blocks"):
        if field in config:
            setattr(campaign, field, config[field])
    for field in ("budget_total", "budget_daily"):
        if field in config:
            setattr(campaign, field, None if config[field] is None else Decimal(str(config[field])))
    campaign.full_clean()
    campaign.save()
    if "slots" in config:
        prizes = {p.pk: p for p in selectors.prize_choices(user=actor, owner_branch=owner)}
        campaign.slots.all().delete()
        RewardSlot.objects.bulk_create(
            RewardSlot(
                campaign=campaign, position=position, role=str(row.get("role", "")), label=str(row.get("label", ""))[:80],
                prize=prizes.get(_ref_id(row.get("prize"))), quantity=int(row.get("quantity") or 0),
                weight=int(row.get("weight") or 0), options=row.get("options") or {},
            )
            for position, row in enumerate(config["slots"])
        )
    materials = {m.pk: m for m in selectors.material_choices(user=actor, owner_branch=owner)}
    for row in config.get("channels", []):
        campaign.channels.filter(channel=row.get("channel")).update(
            enabled=bool(row.get("enabled", True)), template=str(row.get("template", "")),
            material=materials.get(_ref_id(row.get("material"))),
        )
    for field, allowed in (
        ("segments_in", selectors.segment_choices(user=actor, owner_branch=owner)),
        ("segments_out", selectors.segment_choices(user=actor, owner_branch=owner)),
        ("blacklist_tags", selectors.tag_choices(user=actor, owner_branch=owner)),
        ("target_branches", selectors.branch_choices(user=actor, owner_branch=owner)),
    ):
        ids = [pk for pk in map(_ref_id, config.get(field) or []) if pk is not None]
        if ids:
            getattr(campaign, field).set(allowed.filter(pk__in=ids))


# --- editing by area ---------------------------------------------------------------


@transaction.atomic
def campaign_update_basics(*, actor, campaign: Campaign, name: str, starts_at, ends_at, banner=None) -> Campaign:
    with _editing(actor=actor, campaign=campaign, action="campaign.update_basics") as (campaign, changes):
        if ends_at <= starts_at:
            raise ValidationError({"ends_at": _("The campaign must end after it starts.")})
        if banner is not None:
            _only_from(
                [banner], selectors.material_choices(user=actor, owner_branch=campaign.owner_branch),
                _("That banner is not available to this campaign."),
            )
        _assign(campaign, changes, name=name.strip(), starts_at=starts_at, ends_at=ends_at, banner=banner)
        campaign.full_clean()
    return campaign


@transaction.atomic
def campaign_update_audience(
    *, actor, campaign: Campaign, segments_in: Iterable, segments_out: Iterable, control_percent: int
) -> Campaign:
    with _editing(actor=actor, campaign=campaign, action="campaign.update_audience") as (campaign, changes):
        current = list(campaign.segments_in.values_list("pk", flat=True)) + list(
            campaign.segments_out.values_list("pk", flat=True)
        )
        allowed = selectors.segment_choices(user=actor, owner_branch=campaign.owner_branch, keep=current)
        message = _("A segment is not available to this campaign.")
        segments_in = _only_from(segments_in, allowed, message)
        segments_out = _only_from(segments_out, allowed, message)
        both = {s.pk for s in segments_in} & {s.pk for s in segments_out}
        if both:
            raise ValidationError({"segments_out": _("A segment cannot be both included and excluded.")})
        if not 0 <= control_percent <= 50:
            raise ValidationError({"control_percent": _("The control group is between 0 and 50 %.")})
        _assign(campaign, changes, control_percent=control_percent)
        _assign_many(campaign, changes, "segments_in", segments_in)
        _assign_many(campaign, changes, "segments_out", segments_out)
    return campaign


@transaction.atomic
def campaign_update_rules(
    *, actor, campaign: Campaign, limit_per_day: int | None, limit_total: int | None, new_customers_only: bool,
    new_customer_days: int, blacklist_tags: Iterable, target_branches: Iterable, rules_text: str,
) -> Campaign:
    with _editing(actor=actor, campaign=campaign, action="campaign.update_rules") as (campaign, changes):
        if limit_per_day and limit_total and limit_per_day > limit_total:
            raise ValidationError({"limit_total": _("The limit in total cannot be less than the limit per day.")})
        owner = campaign.owner_branch
        keep = campaign.blacklist_tags.values_list("pk", flat=True)
        tags = _only_from(
            blacklist_tags, selectors.tag_choices(user=actor, owner_branch=owner, keep=list(keep)),
            _("A tag is not available to this campaign."),
        )
        branches = _only_from(
            target_branches, selectors.branch_choices(user=actor, owner_branch=owner),
            _("Target branches must be the owner branch or below it, within your scope."),
        )
        _assign(
            campaign, changes, limit_per_day=limit_per_day, limit_total=limit_total,
            new_customers_only=new_customers_only, new_customer_days=new_customer_days, rules_text=rules_text.strip(),
        )
        campaign.full_clean()
        _assign_many(campaign, changes, "blacklist_tags", tags)
        _assign_many(campaign, changes, "target_branches", branches)
    return campaign


@transaction.atomic
def campaign_update_budget(*, actor, campaign: Campaign, budget_total: Decimal, budget_daily: Decimal | None) -> Campaign:
    with _editing(actor=actor, campaign=campaign, action="campaign.update_budget") as (campaign, changes):
        if budget_total < 0 or (budget_daily is not None and budget_daily < 0):
            raise ValidationError(_("A budget cannot be negative."))
        if budget_daily is not None and budget_daily > budget_total:
            raise ValidationError({"budget_daily": _("The daily budget cannot be more than the total budget.")})
        _assign(campaign, changes, budget_total=budget_total, budget_daily=budget_daily)
        campaign.full_clean()
    return campaign


@transaction.atomic
def campaign_update_kind_settings(*, actor, campaign: Campaign, kind_settings: dict[str, Any]) -> Campaign:
    """Store what the kind's settings form cleaned (it must be JSON as it is)."""
    try:
        json.dumps(kind_settings)
    except (TypeError, ValueError):
        raise ValidationError(_("These settings cannot be stored.")) from None
    with _editing(actor=actor, campaign=campaign, action="campaign.update_settings") as (campaign, changes):
        if campaign.kind_settings != kind_settings:
            changes["kind_settings"] = [campaign.kind_settings, kind_settings]
            campaign.kind_settings = kind_settings
    return campaign


# --- reward slots --------------------------------------------------------------------


def _check_slot(actor, campaign: Campaign, *, role: str, prize, quantity: int, weight: int, slot=None) -> None:
    kind = _kind(campaign.kind)
    if role not in kind.slot_roles:
        raise ValidationError({"role": _("This kind of campaign has no such slot.")})
    if role in kind.prizeless_roles:
        if prize is not None or quantity or weight:
            raise ValidationError({"prize": _("This slot gives nothing: leave the prize, quantity and weight empty.")})
        return
    if quantity < 0 or not 0 <= weight <= WEIGHT_TOTAL:
        raise ValidationError(_("Quantity and weight cannot be negative; a weight is at most 10,000."))
    if weight and not kind.uses_weights:
        raise ValidationError({"weight": _("Only lottery slots have weights.")})
    others = campaign.slots.exclude(pk=slot.pk if slot else None).aggregate(weights=Sum("weight"))["weights"] or 0
    if others + weight > WEIGHT_TOTAL:
        raise ValidationError(
            {"weight": _("The chances would add up to %(total)s of 10,000 (more than 100 %%).")
             % {"total": f"{others + weight:,}"}}
        )
    if prize is None:
        return
    if not selectors.prize_choices(user=actor, owner_branch=campaign.owner_branch).filter(pk=prize.pk).exists():
        raise ValidationError({"prize": _("That prize is not available to this campaign.")})
    # An approved slot's own reservation counts as available to it.
    reserved = slot.reservation.remaining if slot and slot.reservation_id and slot.prize_id == prize.pk else 0
    if quantity > prize.stock_available + reserved:
        raise ValidationError(
            {"quantity": _("Only %(stock)s of “%(prize)s” are in stock.")
             % {"stock": prize.stock_available + reserved, "prize": prize.name}}
        )


def _slot_row(slot: RewardSlot) -> dict[str, Any]:
    return {
        "role": slot.role, "label": slot.label, "prize": str(slot.prize) if slot.prize_id else None,
        "quantity": slot.quantity, "weight": slot.weight, "options": slot.options,
    }


def _renumber(campaign: Campaign, ordered: list[RewardSlot]) -> None:
    for position, slot in enumerate(ordered):
        if slot.position != position:
            slot.position = position
            RewardSlot.objects.filter(pk=slot.pk).update(position=position)


@transaction.atomic
def slot_add(
    *, actor, campaign: Campaign, role: str, label: str, prize=None, quantity: int = 0, weight: int = 0,
    options: dict[str, Any] | None = None,
) -> RewardSlot:
    with _editing(actor=actor, campaign=campaign, action="campaign.slot_add") as (campaign, changes):
        _check_slot(actor, campaign, role=role, prize=prize, quantity=quantity, weight=weight)
        last = campaign.slots.aggregate(last=Max("position"))["last"]
        slot = RewardSlot(
            campaign=campaign, position=0 if last is None else last + 1, role=role, label=label.strip(), prize=prize,
            quantity=quantity, weight=weight, options=options or {},
        )
        slot.full_clean()
        slot.save()
        changes["slot"] = [None, _slot_row(slot)]
    return slot


@transaction.atomic
def slot_update(
    *, actor, slot: RewardSlot, role: str, label: str, prize=None, quantity: int = 0, weight: int = 0,
    options: dict[str, Any] | None = None,
) -> RewardSlot:
    with _editing(actor=actor, campaign=slot.campaign, action="campaign.slot_update") as (campaign, changes):
        slot = RewardSlot.objects.select_related("reservation").get(pk=slot.pk, campaign=campaign)
        _check_slot(actor, campaign, role=role, prize=prize, quantity=quantity, weight=weight, slot=slot)
        before = _slot_row(slot)
        slot.role, slot.label, slot.prize, slot.quantity, slot.weight = role, label.strip(), prize, quantity, weight
        slot.options = options or {}
        slot.full_clean()
        after = _slot_row(slot)
        if before != after:
            slot.save()
            changes[f"slot {slot.position + 1}"] = [before, after]
    return slot


@transaction.atomic
def slot_remove(*, actor, slot: RewardSlot) -> None:
    with _editing(actor=actor, campaign=slot.campaign, action="campaign.slot_remove") as (campaign, changes):
        slot = RewardSlot.objects.get(pk=slot.pk, campaign=campaign)
        changes["slot"] = [_slot_row(slot), None]
        slot.delete()
        _renumber(campaign, list(campaign.slots.order_by("position", "pk")))


@transaction.atomic
def slot_move(*, actor, slot: RewardSlot, position: int) -> RewardSlot:
    """Move a slot to ``position`` (0-based, clamped); the others close up around it."""
    with _editing(actor=actor, campaign=slot.campaign, action="campaign.slot_move") as (campaign, changes):
        ordered = list(campaign.slots.order_by("position", "pk"))
        moving = next((s for s in ordered if s.pk == slot.pk), None)
        if moving is None:
            raise ValidationError(_("That slot is not part of this campaign."))
        before = [s.label for s in ordered]
        ordered.remove(moving)
        ordered.insert(max(0, min(position, len(ordered))), moving)
        _renumber(campaign, ordered)
        after = [s.label for s in ordered]
        if before != after:
            changes["slot order"] = [" · ".join(before), " · ".join(after)]
    return moving


# --- channels --------------------------------------------------------------------------


@transaction.atomic
def channel_update(*, actor, channel: CampaignChannel, enabled: bool, template: str, material=None) -> CampaignChannel:
    with _editing(actor=actor, campaign=channel.campaign, action="campaign.channel_update") as (campaign, changes):
        channel = CampaignChannel.objects.get(pk=channel.pk, campaign=campaign)
        try:
            messages.validate_template(template)
        except ValidationError as exc:
            raise ValidationError({"template": exc.messages}) from None
        if material is not None:
            _only_from(
                [material],
                selectors.material_choices(user=actor, owner_branch=campaign.owner_branch, keep=[channel.material_id]),
                _("That material is not available to this campaign."),
            )
        inner: dict[str, Any] = {}
        _assign(channel, inner, enabled=enabled, template=template.strip(), material=material)
        if inner:
            channel.full_clean()
            channel.save()
            changes.update({f"{channel.channel} {field}": value for field, value in inner.items()})
    return channel


# --- clone, archive, delete ---------------------------------------------------------------


@transaction.atomic
def campaign_clone(*, actor, campaign: Campaign) -> Campaign:
    """A new draft with the same configuration, a new code and "(copy)" in its name.
    A window that has already begun moves to next week."""
    _require(actor, Verb.EDIT, campaign)
    source = selectors.campaign_with_parts(campaign)
    kind = _kind(source.kind)
    starts, ends = source.starts_at, source.ends_at
    if starts <= timezone.now():
        starts, ends = next_week(actor)
    copy = Campaign.objects.create(
        code=_new_code(kind),
        name=(_("%(name)s (copy)") % {"name": source.name})[:120],
        kind=source.kind, owner_branch=source.owner_branch, starts_at=starts, ends_at=ends,
        control_percent=source.control_percent, budget_total=source.budget_total, budget_daily=source.budget_daily,
        limit_per_day=source.limit_per_day, limit_total=source.limit_total,
        new_customers_only=source.new_customers_only, new_customer_days=source.new_customer_days,
        rules_text=source.rules_text, kind_settings=source.kind_settings, landing_blocks=source.landing_blocks,
        banner=source.banner, template=source.template, created_by=actor,
    )
    for field in ("segments_in", "segments_out", "blacklist_tags", "target_branches"):
        getattr(copy, field).set(getattr(source, field).all())
    RewardSlot.objects.bulk_create(
        RewardSlot(
            campaign=copy, position=s.position, role=s.role, label=s.label, prize=s.prize, quantity=s.quantity,
            weight=s.weight, options=s.options,
        )
        for s in source.slots.all()
    )
    CampaignChannel.objects.bulk_create(
        CampaignChannel(campaign=copy, channel=c.channel, enabled=c.enabled, template=c.template, material=c.material)
        for c in source.channels.all()
    )
    audit_record(actor=actor, action="campaign.clone", obj=copy, changes={"from": source.code})
    return copy


@transaction.atomic
def campaign_archive(*, actor, campaign: Campaign) -> Campaign:
    """Hide a draft or an ended campaign from the list (a running one must end first)."""
    _require(actor, Verb.EDIT, campaign)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.is_archived:
        return campaign
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.ENDED):
        raise ValidationError(_("Only a draft or an ended campaign can be archived."))
    campaign.is_archived = True
    campaign.save(update_fields=["is_archived", "updated_at"])
    audit_record(actor=actor, action="campaign.archive", obj=campaign, changes={"archived": [False, True]})
    return campaign


@transaction.atomic
def campaign_restore(*, actor, campaign: Campaign) -> Campaign:
    _require(actor, Verb.EDIT, campaign)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.is_archived:
        campaign.is_archived = False
        campaign.save(update_fields=["is_archived", "updated_at"])
        audit_record(actor=actor, action="campaign.restore", obj=campaign, changes={"archived": [True, False]})
    return campaign


@transaction.atomic
def campaign_delete(*, actor, campaign: Campaign) -> None:
    """Delete a draft that was never approved (its rejected revisions go with it)."""
    _require(actor, Verb.DELETE, campaign)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.DRAFT or campaign.live_revision_id is not None:
        raise ValidationError(_("Only a draft that was never approved can be deleted; archive it instead."))
    audit_record(actor=actor, action="campaign.delete", obj=campaign, changes={"code": campaign.code, "name": campaign.name})
    campaign.delete()
