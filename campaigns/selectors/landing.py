"""Reads for a campaign's landing page: the blocks it shows, in order, and what
each shows a customer — prizes (a lottery's wheel or grid in slot order), the
countdown, the call to action — and the message that brings the customer there
on each channel.

The preview renders the working copy (what the maker is editing), not the
approved revision: it is where a change is checked before it is submitted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns import kinds
from campaigns.kinds.base import LANDING_BLOCKS, Kind
from campaigns.kinds.task_chain import task_text
from campaigns.models import Campaign, CampaignChannel, ChannelKind, MaterialKind
from campaigns.services import messages

BLOCK_LABELS = {
    "banner": _("Banner"),
    "rules": _("Rules"),
    "prizes": _("Prizes"),
    "countdown": _("Countdown"),
    "cta": _("Call to action"),
}
# What the button at the bottom of the page says; a kind may declare ``cta_label`` instead.
CTA_LABELS = {
    "event": _("Take part"),
    "lottery": _("Draw now"),
    "flash_sale": _("Grab it"),
    "referral": _("Invite friends"),
    "task_chain": _("Start the tasks"),
}
CHANNEL_TABS = [
    (ChannelKind.APP, _("App")),
    (ChannelKind.SMS, _("SMS link")),
    (ChannelKind.WECHAT, _("WeChat")),
]
IMAGE_KINDS = (MaterialKind.POSTER, MaterialKind.ANIMATED)
WEIGHT_TOTAL = 10_000
# The wheel's sectors alternate two colours; "no prize" sectors are grey.
_WHEEL_COLOURS = ("#ffd54f", "#fff3c4")
_WHEEL_NONE = "#e9ecef"
# A 3-by-3 grid's outer cells, clockwise from the top left, as (row, column).
_GRID_RING = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0))


def visible_blocks(campaign: Campaign) -> list[str]:
    """The blocks the landing page shows, in order: known names, each once.

    A campaign that never set its blocks (an empty list) shows every block in
    the default order; hiding is done by leaving a block out of a set list.
    """
    stored = campaign.landing_blocks if isinstance(campaign.landing_blocks, list) else []
    if not stored:
        return list(LANDING_BLOCKS)
    shown: list[str] = []
    for name in stored:
        if name in LANDING_BLOCKS and name not in shown:
            shown.append(name)
    return shown


def hidden_blocks(campaign: Campaign) -> list[str]:
    shown = visible_blocks(campaign)
    return [name for name in LANDING_BLOCKS if name not in shown]


# --- countdown -----------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """Where the campaign stands now and the time left to its next boundary."""

    phase: str  # "before" (counting to the start), "running" (to the end) or "ended"
    starts_at: dt.datetime
    ends_at: dt.datetime
    now: dt.datetime
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0


def countdown(campaign: Campaign, now: dt.datetime | None = None) -> Countdown:
    now = now or timezone.now()
    if now < campaign.starts_at:
        phase, target = "before", campaign.starts_at
    elif now < campaign.ends_at:
        phase, target = "running", campaign.ends_at
    else:
        phase, target = "ended", now
    left = max(0, int((target - now).total_seconds()))
    days, rest = divmod(left, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    return Countdown(phase, campaign.starts_at, campaign.ends_at, now, days, hours, minutes, seconds)


# --- prizes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PrizeRow:
    """One reward slot as the customer reads it."""

    pk: int
    label: str
    role: str
    role_label: str
    prize: str  # the prize's name; "" for a slot that gives nothing
    detail: str  # a kind-specific line: a price, the task a step rewards, a chance
    gives_nothing: bool


def _chance(weight: int) -> str:
    return gettext("%(percent)s %% chance") % {"percent": f"{Decimal(weight) / 100:.2f}"}


def _detail(kind: Kind, campaign: Campaign, slot, no_prize_weight: int | None) -> str:
    options = slot.options if isinstance(slot.options, dict) else {}
    if kind.uses_weights:
        weight = no_prize_weight if slot.role in kind.prizeless_roles else slot.weight
        return _chance(weight or 0)
    if "price_points" in options:
        return gettext("%(points)s points") % {"points": options["price_points"]}
    if "price_cash" in options:
        return gettext("¥%(amount)s") % {"amount": options["price_cash"]}
    if "step" in options:
        tasks = (campaign.kind_settings or {}).get("tasks") or []
        step = options["step"]
        if isinstance(step, int) and 1 <= step <= len(tasks):
            return gettext("For step %(n)s: %(task)s") % {"n": step, "task": task_text(tasks[step - 1])}
        return gettext("For step %(n)s") % {"n": step}
    if slot.role == "chain":
        return gettext("For completing every task")
    return ""


def prize_rows(campaign: Campaign, kind: Kind) -> list[PrizeRow]:
    """The campaign's slots in their order (uses the ``slots`` prefetch when there is one)."""
    slots = sorted(campaign.slots.all(), key=lambda s: (s.position, s.pk))
    no_prize_weight = kind.no_prize_weight(campaign) if kind.uses_weights else None
    empty = sum(1 for slot in slots if slot.role in kind.prizeless_roles)
    if no_prize_weight is not None and empty > 1:
        no_prize_weight //= empty  # several "no prize" sectors share what the prizes leave
    return [
        PrizeRow(
            pk=slot.pk,
            label=slot.label,
            role=slot.role,
            role_label=str(kind.slot_roles.get(slot.role, slot.role)),
            prize=slot.prize.name if slot.prize_id else "",
            detail=_detail(kind, campaign, slot, no_prize_weight),
            gives_nothing=slot.role in kind.prizeless_roles or slot.prize_id is None,
        )
        for slot in slots
    ]


@dataclass(frozen=True)
class WheelSector:
    row: PrizeRow
    angle: float  # the middle of the sector, in degrees clockwise from the top


def wheel(rows: list[PrizeRow]) -> dict[str, Any]:
    """Equal sectors in slot order, clockwise from the top, as a CSS conic gradient."""
    if not rows:
        return {"sectors": [], "gradient": _WHEEL_NONE}
    step = 360 / len(rows)
    stops, sectors = [], []
    for i, row in enumerate(rows):
        colour = _WHEEL_NONE if row.gives_nothing else _WHEEL_COLOURS[i % 2]
        stops.append(f"{colour} {i * step:.2f}deg {(i + 1) * step:.2f}deg")
        sectors.append(WheelSector(row, round((i + 0.5) * step, 2)))
    return {"sectors": sectors, "gradient": f"conic-gradient({', '.join(stops)})"}


@dataclass(frozen=True)
class GridCell:
    row: PrizeRow | None  # None: the draw button in the middle
    ring: int | None  # the cell's place clockwise round the grid


def grid(rows: list[PrizeRow]) -> list[GridCell]:
    """The 3-by-3 grid in reading order: slots clockwise from the top left (repeated
    to fill the eight cells when there are fewer), the draw button in the middle."""
    if not rows:
        return []
    cells = []
    for r in range(3):
        for c in range(3):
            if (r, c) == (1, 1):
                cells.append(GridCell(None, None))
            else:
                ring = _GRID_RING.index((r, c))
                cells.append(GridCell(rows[ring % len(rows)], ring))
    return cells


# --- the channel's message ---------------------------------------------------------------


@dataclass
class ChannelMessage:
    """The message that brings a customer to the page on one channel, with sample values."""

    channel: str
    configured: bool  # the campaign has this channel at all
    enabled: bool
    text: str = ""
    problems: list[str] = field(default_factory=list)
    characters: int = 0
    segments: int = 0
    encoding: str = ""
    material: Any = None
    image_url: str = ""


def sample_link(campaign: Campaign) -> str:
    """The landing page's address in the examples: the sample host, this campaign's code."""
    return f"{messages.SAMPLE_LINK.rsplit('/', 1)[0]}/{campaign.code}"


def _image_url(material) -> str:
    if material is None or material.kind not in IMAGE_KINDS:
        return ""
    if material.file:
        return material.file.url
    return material.thumbnail.url if material.thumbnail else ""


def channel_message(campaign: Campaign, channel: str) -> ChannelMessage:
    row: CampaignChannel | None = next((c for c in campaign.channels.all() if c.channel == channel), None)
    if row is None:
        return ChannelMessage(channel=channel, configured=False, enabled=False)
    message = ChannelMessage(
        channel=channel, configured=True, enabled=row.enabled, material=row.material,
        image_url=_image_url(row.material),
    )
    try:
        message.text = messages.render(
            row.template, name=messages.SAMPLE_NAME, campaign=campaign.name, link=sample_link(campaign)
        )
    except ValidationError as exc:
        message.problems = exc.messages
        return message
    if channel == ChannelKind.SMS:
        message.characters, message.segments, message.encoding = messages.sms_segments(message.text)
    else:
        message.characters = len(message.text)
    return message


# --- the whole preview -------------------------------------------------------------------------


def cta_label(kind: Kind) -> str:
    return str(getattr(kind, "cta_label", None) or CTA_LABELS.get(kind.name) or _("Take part"))


def landing_preview(campaign: Campaign, channel: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the phone-sized preview shows. ``campaign`` should come with its
    parts (``campaigns.selectors.campaigns.campaign_with_parts``)."""
    kind = kinds.get(campaign.kind)
    rows = prize_rows(campaign, kind)
    display = (campaign.kind_settings or {}).get("display") if kind.uses_weights else None
    return {
        "kind": kind,
        "channel": channel,
        "blocks": visible_blocks(campaign),
        "banner_url": _image_url(campaign.banner),
        "banner_video": campaign.banner.file.url
        if campaign.banner and campaign.banner.kind == MaterialKind.VIDEO and campaign.banner.file
        else "",
        "prize_rows": rows,
        "lottery_display": (display if display in ("wheel", "grid") else "wheel") if kind.uses_weights else "",
        "wheel": wheel(rows) if kind.uses_weights else None,
        "grid": grid(rows) if kind.uses_weights else None,
        "countdown": countdown(campaign, now),
        "settings_rows": kind.settings_summary(campaign.kind_settings or {}),
        "cta_label": cta_label(kind),
        "message": channel_message(campaign, channel),
        "link": sample_link(campaign),
    }
