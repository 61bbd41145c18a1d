"""Reads for campaign templates (活动模型): the templates a user may start
from, one looked up in scope, and the built-in kind defaults of the gallery.

A user sees the templates of their own subtree and every template head office
published to all branches; the same set ``campaigns.selectors.campaigns.
template_choices`` offers the Generate form, so the gallery never lists a
template the form would refuse.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from campaigns import kinds
from campaigns.kinds.base import Kind
from campaigns.models import CampaignTemplate, ChannelKind
from campaigns.selectors import campaigns as campaign_selectors


def template_list(*, user) -> QuerySet[CampaignTemplate]:
    """Templates of the user's subtree and published ones, with what a list shows."""
    return campaign_selectors.template_choices(user=user).select_related("owner_branch", "created_by")


def template_get_for_user(*, user, pk: int) -> CampaignTemplate:
    """The template if the user may see it; 404 otherwise (existence never leaks)."""
    return get_object_or_404(template_list(user=user), pk=pk)


def builtin_kinds(*, kind: str = "", q: str = "") -> list[Kind]:
    """The kinds whose one-click default the gallery offers, narrowed like its templates:
    by kind name and by words in the kind's name or description."""
    words = (q or "").strip().casefold()
    return [
        k
        for k in kinds.all_kinds()
        if (not kind or k.name == kind) and (not words or words in f"{k.label} {k.description}".casefold())
    ]


def kind_label(name: str) -> str:
    try:
        return str(kinds.get(name).label)
    except KeyError:
        return name


def template_overview(template: CampaignTemplate) -> dict[str, Any]:
    """What the template's page shows of its configuration, in words.

    The configuration is ``revisions.campaign_config``'s shape; a key an older
    template lacks shows as nothing.
    """
    config = template.config or {}
    try:
        kind: Kind | None = kinds.get(template.kind)
    except KeyError:
        kind = None
    roles = dict(kind.slot_roles) if kind else {}
    channels = dict(ChannelKind.choices)
    return {
        "kind_label": kind.label if kind else template.kind,
        "uses_weights": bool(kind and kind.uses_weights),
        "settings_rows": kind.settings_summary(config.get("kind_settings") or {}) if kind else [],
        "slots": [
            {
                "role": roles.get(row.get("role"), row.get("role", "")),
                "label": row.get("label", ""),
                "prize": (row.get("prize") or {}).get("label", ""),
                "quantity": row.get("quantity", 0),
                "weight": row.get("weight", 0),
            }
            for row in config.get("slots") or []
        ],
        "channels": [
            {
                "channel": channels.get(row.get("channel"), row.get("channel", "")),
                "enabled": bool(row.get("enabled")),
                "template": row.get("template", ""),
            }
            for row in config.get("channels") or []
        ],
        "budget_total": config.get("budget_total"),
        "budget_daily": config.get("budget_daily"),
        "limit_per_day": config.get("limit_per_day"),
        "limit_total": config.get("limit_total"),
        "new_customers_only": bool(config.get("new_customers_only")),
        "new_customer_days": config.get("new_customer_days"),
        "control_percent": config.get("control_percent", 0),
        "rules_text": config.get("rules_text", ""),
        "source_code": config.get("code", ""),
    }
