"""A campaign's configuration as data: the snapshot a revision freezes
(``campaign_config``), the diff between two of them for the history page, and
the facts read from the approved one (its window, its reservations' names).
Used by the lifecycle, the review pages and templates (活动模型).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignChannel, ChannelKind, RewardSlot

# --- configuration -------------------------------------------------------------------


def _ref(obj) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "label": str(obj)}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def campaign_config(campaign: Campaign) -> dict[str, Any]:
    """The whole working copy as JSON: every field, by ids with readable labels.

    What a revision freezes and the runtime reads; what diffs compare; what a
    template starts from. Statuses and timestamps are not configuration.
    """
    slots = campaign.slots.select_related("prize__pool").order_by("position", "pk")
    channels = campaign.channels.select_related("material").order_by("channel")
    return {
        "code": campaign.code,
        "name": campaign.name,
        "kind": campaign.kind,
        "owner_branch": _ref(campaign.owner_branch),
        "target_branches": [_ref(b) for b in campaign.target_branches.order_by("path")],
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "segments_in": [_ref(s) for s in campaign.segments_in.order_by("pk")],
        "segments_out": [_ref(s) for s in campaign.segments_out.order_by("pk")],
        "control_percent": campaign.control_percent,
        "budget_total": _money(campaign.budget_total),
        "budget_daily": _money(campaign.budget_daily),
        "limit_per_day": campaign.limit_per_day,
        "limit_total": campaign.limit_total,
        "new_customers_only": campaign.new_customers_only,
        "new_customer_days": campaign.new_customer_days,
        "blacklist_tags": [{"id": t.pk, "label": t.code} for t in campaign.blacklist_tags.order_by("code")],
        "rules_text": campaign.rules_text,
        "kind_settings": campaign.kind_settings,
        "landing_blocks": campaign.landing_blocks,
        "banner": _ref(campaign.banner),
        "slots": [
            {
                "id": slot.pk,
                "position": slot.position,
                "role": slot.role,
                "label": slot.label,
                "prize": _ref(slot.prize),
                "quantity": slot.quantity,
                "weight": slot.weight,
                "options": slot.options,
            }
            for slot in slots
        ],
        "channels": [
            {
                "channel": channel.channel,
                "enabled": channel.enabled,
                "template": channel.template,
                "material": _ref(channel.material),
            }
            for channel in channels
        ],
    }


def config_essence(value: Any) -> Any:
    """A configuration without its labels: what decides whether two differ
    (renaming a prize or a segment elsewhere changes no campaign)."""
    if isinstance(value, dict):
        if set(value) == {"id", "label"}:
            return value["id"]
        return {key: config_essence(item) for key, item in value.items()}
    if isinstance(value, list):
        return [config_essence(item) for item in value]
    return value


def _field_names() -> dict[str, str]:
    names = {f.name: str(f.verbose_name) for f in Campaign._meta.get_fields() if hasattr(f, "verbose_name")}
    names["kind_settings"] = _("kind settings")
    return names


_SLOT_FIELDS = ("label", "prize", "quantity", "weight", "role", "position", "options")
_CHANNEL_FIELDS = ("enabled", "template", "material")


def field_label(row: dict[str, Any]) -> str:
    """A diff row's field in words, in the reader's language."""
    parts = row["field"].split(".")
    if parts[0] == "slots":
        slot = _("Reward slot “%(label)s”") % {"label": row.get("item", "")}
        if len(parts) == 2:
            return slot
        return f"{slot}: {RewardSlot._meta.get_field(parts[2]).verbose_name}"
    if parts[0] == "channels":

        channel = ChannelKind(parts[1]).label if parts[1] in ChannelKind.values else parts[1]
        if len(parts) == 2:
            return _("Channel %(channel)s") % {"channel": channel}
        return f"{_('Channel %(channel)s') % {'channel': channel}}: {CampaignChannel._meta.get_field(parts[2]).verbose_name}"
    if parts[0] == "kind_settings" and len(parts) == 2:
        return _("Kind setting “%(key)s”") % {"key": parts[1]}
    return _field_names().get(parts[0], parts[0])


def _show(key: str, value: Any) -> str:
    """A configuration value as a person reads it."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in ("starts_at", "ends_at"):
        return timezone.localtime(dt.datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
    if key in ("budget_total", "budget_daily"):
        return f"CNY {value}"
    if key == "landing_blocks":
        return " → ".join(map(str, value))
    if isinstance(value, dict) and set(value) == {"id", "label"}:
        return str(value["label"])
    if isinstance(value, list) and all(isinstance(v, dict) and set(v) == {"id", "label"} for v in value):
        return ", ".join(str(v["label"]) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _row(field: str, before: Any, after: Any, *, key: str = "", item: str = "") -> dict[str, Any]:
    row = {"field": field, "item": item, "before": _show(key or field, before), "after": _show(key or field, after)}
    row["label"] = field_label(row)
    return row


def _slot_summary(slot: dict[str, Any]) -> str:
    prize = slot["prize"]["label"] if slot.get("prize") else _("no prize")
    return _("%(prize)s, %(quantity)s reserved") % {"prize": prize, "quantity": slot["quantity"]}


def config_diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed from ``before`` to ``after``: rows of ``field`` (a key such
    as ``budget_total``, ``slots.12.quantity`` or ``channels.sms.template``),
    ``label`` (readable), ``item`` (the slot's label, for slot rows),
    ``before`` and ``after`` (readable values; "" for nothing)."""
    rows: list[dict[str, Any]] = []
    nested = {"slots", "channels", "kind_settings"}
    keys = [k for k in dict.fromkeys([*before, *after]) if k not in nested]
    for key in keys:
        if config_essence(before.get(key)) != config_essence(after.get(key)):
            rows.append(_row(key, before.get(key), after.get(key)))

    old_settings, new_settings = before.get("kind_settings") or {}, after.get("kind_settings") or {}
    for key in dict.fromkeys([*old_settings, *new_settings]):
        if old_settings.get(key) != new_settings.get(key):
            rows.append(_row(f"kind_settings.{key}", old_settings.get(key), new_settings.get(key), key="kind_setting"))

    old_slots = {s["id"]: s for s in before.get("slots") or []}
    new_slots = {s["id"]: s for s in after.get("slots") or []}
    for slot_id in dict.fromkeys([*old_slots, *new_slots]):
        old, new = old_slots.get(slot_id), new_slots.get(slot_id)
        if old is None or new is None:
            slot = new or old
            rows.append(
                _row(f"slots.{slot_id}", old and _slot_summary(old), new and _slot_summary(new), key="slot", item=slot["label"])
            )
            continue
        for name in _SLOT_FIELDS:
            if config_essence(old.get(name)) != config_essence(new.get(name)):
                rows.append(_row(f"slots.{slot_id}.{name}", old.get(name), new.get(name), key=name, item=new["label"]))

    old_channels = {c["channel"]: c for c in before.get("channels") or []}
    new_channels = {c["channel"]: c for c in after.get("channels") or []}
    for channel in dict.fromkeys([*old_channels, *new_channels]):
        old, new = old_channels.get(channel), new_channels.get(channel)
        if old is None or new is None:
            rows.append(_row(f"channels.{channel}", old and old["template"], new and new["template"], key="template"))
            continue
        for name in _CHANNEL_FIELDS:
            if config_essence(old.get(name)) != config_essence(new.get(name)):
                rows.append(_row(f"channels.{channel}.{name}", old.get(name), new.get(name), key=name))
    return rows


def approved_window(campaign: Campaign) -> tuple[dt.datetime, dt.datetime]:
    """When the approved configuration runs (the working copy may differ)."""
    if campaign.live_revision_id:
        config = campaign.live_revision.config
        return dt.datetime.fromisoformat(config["starts_at"]), dt.datetime.fromisoformat(config["ends_at"])
    return campaign.starts_at, campaign.ends_at


def slot_source_ref(code: str, slot_id: int) -> str:
    """What a slot's reservation is for (``Reservation.source_ref``)."""
    return f"campaign:{code}:slot:{slot_id}"
