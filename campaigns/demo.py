"""Demo data for campaigns: a poster per branch, campaigns of every kind in
every state of the lifecycle — one of every kind live — and a template head
office published to all branches. Called by ``manage.py seed_demo`` (see
accounts) after the audiences and rewards demos, whose customers, pools and
prizes it uses.

    HO     lottery     draft             the source of the published template
    BJ     lottery     live              approved by bj.reviewer, started three days ago
    BJ     flash sale  live              opened five minutes ago: the rush for ten rate coupons
    BJ     flash sale  approved          scheduled for next week, stock reserved
    BJ     task chain  pending review    in bj.reviewer's queue
    BJ     event       ended             ran, then ended early; what was left went back to stock
    BJ-HD  event       draft             rejected by bj.reviewer with a reason
    SH     event       live              a fund purchase of ¥1,000 or more earns a red packet
    SH     task chain  live              log in, buy a fund, use the card
    SH     referral    draft
    GZ     referral    live              a friend who opens an account and deposits rewards both
    GZ     lottery     draft             generated from the published template

Everything goes through the services a user's clicks call — generate, edit,
submit, approve by a second person, go live, end — so every reservation has
its stock movements and ``manage.py rewards_reconcile`` finds nothing to
report. The one shortcut: no service lets a campaign start in the past, so
the live and ended campaigns are moved back in time after their approval (as
if approved last week), before they go live.

The live campaigns hold out a control group. Once they are committed, the
traffic simulator (``campaigns.simulator``) sends them a few hundred signed
requests from simulated customers, over HTTP to the app served in-process,
so every kind has history: views, joins, draws and wins, claims, business
events, referrals and task progress. Inside a transaction (a test's), a
server thread could not see the uncommitted demo, so no traffic is sent.

Idempotent: when the published template exists, nothing is done (nor
simulated again); otherwise all of it is created in one transaction. Without
customers an audience would be empty and nothing could be submitted, so only
the drafts are made.

Names are data (bilingual, as the bank would type them), not interface text.
"""

# Chinese text takes full-width brackets and punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import io
import time
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import Branch, User
from audiences.models import Customer
from campaigns import kinds, simulator
from campaigns.models import (
    Campaign,
    CampaignRevision,
    CampaignStatus,
    CampaignTemplate,
    ChannelKind,
    Material,
    MaterialKind,
    RewardSlot,
)
from campaigns.services import campaigns as campaign_services
from campaigns.services import lifecycle, materials, templates
from rewards.models import Prize

TEMPLATE_NAME = "周年庆幸运大转盘 Anniversary lucky wheel"
TEMPLATE_DESCRIPTION = (
    "全行统一的周年庆抽奖：四档奖品，概率由低到高，每人每天三次。复制后请换成本行奖池的奖品。\n"
    "The bank-wide anniversary draw: four prize tiers from rare to common, three draws a day. "
    "Swap in your own pool's prizes after generating."
)

# The live campaigns' control group (%), and the simulated traffic after seeding:
# participants per live campaign, requests per second, threads, seed.
CONTROL_PERCENT = 10
SIMULATED_CUSTOMERS = 10
SIMULATED_RATE = 150.0
SIMULATED_THREADS = 4
SIMULATION_SEED = 20260501

# (branch code, poster name, background colour)
POSTERS = [
    ("HO", "周年庆主视觉 Anniversary key visual", (178, 34, 34)),
    ("BJ", "北京分行中秋海报 Beijing mid-autumn poster", (25, 70, 140)),
    ("SH", "上海分行推荐有礼海报 Shanghai refer-a-friend poster", (0, 120, 110)),
    ("GZ", "广州分行周年庆海报 Guangzhou anniversary poster", (200, 90, 20)),
]


def _user(username: str) -> User:
    return User.objects.select_related("branch").get(username=username)


def _poster_file(name: str, colour: tuple[int, int, int]) -> SimpleUploadedFile:
    """A plain 750 by 1000 poster: a coloured field, a gold sun and a white card."""
    image = Image.new("RGB", (750, 1000), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((225, 140, 525, 440), fill=(255, 200, 40))
    draw.rounded_rectangle((60, 600, 690, 900), radius=32, fill=(255, 255, 255))
    draw.rectangle((120, 660, 630, 700), fill=colour)
    draw.rectangle((120, 740, 480, 770), fill=(200, 200, 200))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return SimpleUploadedFile(f"{name}.png", buffer.getvalue(), content_type="image/png")


def _posters() -> dict[str, Material]:
    made = {}
    for code, name, colour in POSTERS:
        owner = Branch.objects.get(code=code)
        poster = Material.objects.filter(owner_branch=owner, name=name, kind=MaterialKind.POSTER).first()
        if poster is None:
            poster = materials.material_upload(
                actor=_user(f"{code.lower()}.operator"), kind=MaterialKind.POSTER, name=name,
                uploaded_file=_poster_file(name.split()[-1].lower(), colour), owner_branch=owner,
            )
        made[code] = poster
    return made


# --- steps a maker and a checker take ------------------------------------------------------


def _generate(actor: User, kind: str, name: str, *, poster: Material | None = None, owner=None, template=None) -> Campaign:
    campaign = campaign_services.campaign_generate(actor=actor, kind=kind, owner_branch=owner, template=template)
    return campaign_services.campaign_update_basics(
        actor=actor, campaign=campaign, name=name, starts_at=campaign.starts_at, ends_at=campaign.ends_at,
        banner=poster,
    )


def _settings(actor: User, campaign: Campaign, **changes: Any) -> None:
    """Change kind settings the way the settings tab does: through the kind's own form."""
    form = kinds.get(campaign.kind).settings_form({**campaign.kind_settings, **changes})
    if not form.is_valid():
        raise RuntimeError(f"demo settings refused for {campaign.code}: {form.errors.as_json()}")
    campaign_services.campaign_update_kind_settings(actor=actor, campaign=campaign, kind_settings=form.cleaned_data)


def _slot(actor: User, slot: RewardSlot, **changes: Any) -> None:
    fields = {name: getattr(slot, name) for name in ("role", "label", "prize", "quantity", "weight", "options")}
    campaign_services.slot_update(actor=actor, slot=slot, **{**fields, **changes})


def _slots(campaign: Campaign) -> list[RewardSlot]:
    return list(campaign.slots.select_related("prize", "reservation").order_by("position", "pk"))


def _prize(pool_code: str, code: str) -> Prize:
    return Prize.objects.get(pool__code=pool_code, code=code)


def _approve(campaign: Campaign, *, maker: User, checker: User, note: str = "") -> None:
    lifecycle.campaign_submit(actor=maker, campaign=campaign)
    lifecycle.campaign_approve(actor=checker, campaign=campaign, reason=note)


def _hold_out(actor: User, campaign: Campaign) -> None:
    """Every customer in scope, with a control group for the analysis."""
    campaign_services.campaign_update_audience(
        actor=actor, campaign=campaign, segments_in=[], segments_out=[], control_percent=CONTROL_PERCENT
    )


def _start(campaign: Campaign, *, maker: User, checker: User, starts: dt.datetime, ends: dt.datetime) -> Campaign:
    """Approve, move the window back (see the module docstring), go live."""
    _approve(campaign, maker=maker, checker=checker, note="奖品与预算已核对 prizes and budget checked")
    _move_window(campaign, starts=starts, ends=ends)
    lifecycle.campaign_go_live(actor=maker, campaign=campaign, reason="按计划上线 started as planned")
    return campaign


def _move_window(campaign: Campaign, *, starts: dt.datetime, ends: dt.datetime) -> None:
    """Move an approved campaign's window, in the working copy and in its approved
    revision alike (the demo's one write past the services: see the module docstring)."""
    campaign.refresh_from_db()
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=starts, ends_at=ends)
    revision = CampaignRevision.objects.get(pk=campaign.live_revision_id)
    revision.config = {**revision.config, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    revision.save(update_fields=["config"])
    campaign.refresh_from_db()


# --- the campaigns -------------------------------------------------------------------------


def _head_office_template(posters: dict[str, Material]) -> CampaignTemplate:
    operator, admin = _user("ho.operator"), _user("ho.admin")
    wheel = _generate(operator, "lottery", "全行周年庆幸运大转盘 Bank anniversary lucky wheel", poster=posters["HO"])
    campaign_services.campaign_update_rules(
        actor=operator, campaign=wheel, limit_per_day=1, limit_total=3, new_customers_only=False,
        new_customer_days=30, blacklist_tags=[], target_branches=[],
        rules_text="活动期间每位客户每天可抽奖三次。奖品数量有限，先到先得。\n"
        "Three draws a day per customer during the campaign. Prizes are limited: first come, first served.",
    )
    template = templates.template_create(
        actor=operator, campaign=wheel, name=TEMPLATE_NAME, description=TEMPLATE_DESCRIPTION
    )
    return templates.template_publish(actor=admin, template=template, reason="全行推广 for every branch")


def _beijing_live_lottery(posters, now: dt.datetime) -> Campaign:
    operator, reviewer = _user("bj.operator"), _user("bj.reviewer")
    wheel = _generate(operator, "lottery", "北京分行中秋幸运转盘 Beijing mid-autumn lucky wheel", poster=posters["BJ"])
    first, second, third, fourth, _none = _slots(wheel)
    _slot(operator, first, label="存款加息券 Rate coupon", quantity=8)
    _slot(operator, second, label="定制雨伞 Umbrella", quantity=30)
    _slot(operator, third, label="咖啡券 Coffee", quantity=40)
    _slot(operator, fourth, label="1000 积分 Points", quantity=400)
    # The wheel shows the common prize first.
    campaign_services.slot_move(actor=operator, slot=fourth, position=0)
    _settings(operator, wheel, draws_per_day=2, draws_total=20)
    _hold_out(operator, wheel)
    return _start(
        wheel, maker=operator, checker=reviewer, starts=now - dt.timedelta(days=3), ends=now + dt.timedelta(days=11)
    )


def _beijing_live_flash_sale(posters, now: dt.datetime) -> Campaign:
    operator, reviewer = _user("bj.operator"), _user("bj.reviewer")
    sale = _generate(operator, "flash_sale", "北京分行午间秒杀 Lunchtime flash sale: rate coupons", poster=posters["BJ"])
    (item,) = _slots(sale)
    _slot(
        operator, item, label="存款加息券 500 积分秒杀 Rate coupon for 500 points", prize=_prize("BJ-BENEFITS", "RATE-05"),
        quantity=10, options={"price_points": 500},
    )
    _hold_out(operator, sale)
    return _start(
        sale, maker=operator, checker=reviewer, starts=now - dt.timedelta(minutes=5), ends=now + dt.timedelta(days=2)
    )


def _beijing_scheduled_flash_sale(posters) -> Campaign:
    operator, reviewer = _user("bj.operator"), _user("bj.reviewer")
    sale = _generate(operator, "flash_sale", "北京分行周五秒杀 Friday flash sale: umbrellas", poster=posters["BJ"])
    (item,) = _slots(sale)
    _slot(
        operator, item, label="定制雨伞 2000 积分秒杀 Umbrella for 2,000 points", prize=_prize("BJ-BENEFITS", "GIFT-UMB"),
        quantity=40, options={"price_points": 2000},
    )
    _approve(sale, maker=operator, checker=reviewer)
    return sale


def _beijing_pending_task_chain(posters) -> Campaign:
    operator = _user("bj.operator")
    chain = _generate(operator, "task_chain", "新客成长任务链 New customer growth chain", poster=posters["BJ"])
    *_steps, whole = _slots(chain)
    _slot(operator, whole, quantity=20)
    lifecycle.campaign_submit(actor=operator, campaign=chain)
    return chain


def _beijing_ended_event(posters, now: dt.datetime) -> Campaign:
    operator, reviewer = _user("bj.operator"), _user("bj.reviewer")
    event = _generate(operator, "event", "手机银行首登礼 First mobile-banking login gift", poster=posters["BJ"])
    _settings(operator, event, event_type="login", min_amount=None, product="")
    (reward,) = _slots(event)
    _slot(operator, reward, label="5 元立减金 ¥5 red packet", quantity=200)
    _approve(event, maker=operator, checker=reviewer)
    _move_window(event, starts=now - dt.timedelta(days=20), ends=now + dt.timedelta(days=1))
    lifecycle.campaign_go_live(actor=operator, campaign=event, reason="按计划上线 started as planned")
    lifecycle.campaign_end(actor=operator, campaign=event, reason="目标已达成，提前结束 target reached, ended early")
    return event


def _haidian_rejected_event() -> Campaign:
    operator, reviewer = _user("bj-hd.operator"), _user("bj.reviewer")
    event = _generate(operator, "event", "海淀支行首次存款礼 Haidian first deposit gift")
    _settings(operator, event, event_type="first_deposit", min_amount="5000.00", product="")
    # A sub-branch without posters of its own reaches its customers by SMS only.
    for channel in event.channels.exclude(channel=ChannelKind.SMS):
        campaign_services.channel_update(actor=operator, channel=channel, enabled=False, template=channel.template)
    lifecycle.campaign_submit(actor=operator, campaign=event)
    lifecycle.campaign_reject(
        actor=reviewer, campaign=event,
        reason="奖励成本偏高，请改用积分 / the reward costs too much: use points instead",
    )
    return event


def _shanghai_live_event(posters, now: dt.datetime) -> Campaign:
    operator, reviewer = _user("sh.operator"), _user("sh.reviewer")
    event = _generate(operator, "event", "上海分行基金申购礼 Fund purchase gift", poster=posters["SH"])
    _settings(operator, event, event_type="fund_purchase", min_amount="1000.00", product="")
    (reward,) = _slots(event)
    _slot(operator, reward, label="5 元立减金 ¥5 red packet", prize=_prize("SH-BENEFITS", "CASH-5"), quantity=300)
    _hold_out(operator, event)
    return _start(
        event, maker=operator, checker=reviewer, starts=now - dt.timedelta(days=5), ends=now + dt.timedelta(days=25)
    )


def _shanghai_live_task_chain(posters, now: dt.datetime) -> Campaign:
    """The kind's own chain: log in three times, buy a fund of ¥1,000, use the card five times."""
    operator, reviewer = _user("sh.operator"), _user("sh.reviewer")
    chain = _generate(operator, "task_chain", "上海分行理财新手任务链 Wealth starter chain", poster=posters["SH"])
    _hold_out(operator, chain)
    return _start(
        chain, maker=operator, checker=reviewer, starts=now - dt.timedelta(days=7), ends=now + dt.timedelta(days=23)
    )


def _guangzhou_live_referral(posters, now: dt.datetime) -> Campaign:
    operator, reviewer = _user("gz.operator"), _user("gz.reviewer")
    referral = _generate(operator, "referral", "广州分行推荐有礼 Guangzhou refer-a-friend", poster=posters["GZ"])
    _settings(operator, referral, qualifying_event="first_deposit", window_days=30, cap_per_referrer=5)
    referrer, referee = _slots(referral)
    _slot(operator, referrer, label="推荐人 5 元立减金 ¥5 for the referrer", prize=_prize("GZ-BENEFITS", "CASH-5"), quantity=100)
    _slot(operator, referee, label="新客 1000 积分 1,000 points for the friend", prize=_prize("GZ-BENEFITS", "PTS-1000"), quantity=100)
    _hold_out(operator, referral)
    return _start(
        referral, maker=operator, checker=reviewer, starts=now - dt.timedelta(days=10), ends=now + dt.timedelta(days=20)
    )


def _shanghai_referral_draft(posters) -> Campaign:
    operator = _user("sh.operator")
    referral = _generate(operator, "referral", "上海分行推荐有礼 Shanghai refer-a-friend", poster=posters["SH"])
    campaign_services.campaign_update_budget(
        actor=operator, campaign=referral, budget_total=Decimal("20000.00"), budget_daily=Decimal("2000.00")
    )
    return referral


def _guangzhou_from_template(posters, template: CampaignTemplate) -> Campaign:
    """Head office's prizes are not Guangzhou's, so the draft's slots come without
    them: the operator picks the same prizes (by code) from the Guangzhou pool,
    and a cash red packet where Guangzhou has no such prize."""
    operator = _user("gz.operator")
    wheel = campaign_services.campaign_generate(actor=operator, template=template)
    own = {p.code: p for p in Prize.objects.filter(pool__code="GZ-BENEFITS")}
    template_prizes = Prize.objects.in_bulk([(row.get("prize") or {}).get("id") for row in template.config["slots"]])
    for slot, row in zip(_slots(wheel), template.config["slots"], strict=True):
        source = template_prizes.get((row.get("prize") or {}).get("id"))
        if slot.prize_id or source is None:
            continue
        prize = own.get(source.code) or own["CASH-5"]
        _slot(operator, slot, prize=prize, quantity=min(slot.quantity, prize.stock_available // 4))
    return campaign_services.campaign_update_basics(
        actor=operator, campaign=wheel, name="广州分行周年庆幸运大转盘 Guangzhou anniversary lucky wheel",
        starts_at=wheel.starts_at, ends_at=wheel.ends_at, banner=posters["GZ"],
    )


def seed(*, stdout, options) -> None:
    if CampaignTemplate.objects.filter(name=TEMPLATE_NAME, published=True).exists():
        stdout.write("campaigns demo: campaigns already there, nothing changed")
        return
    started = time.perf_counter()
    now = timezone.now().replace(second=0, microsecond=0)
    with transaction.atomic():
        posters = _posters()
        template = _head_office_template(posters)
        made = [_guangzhou_from_template(posters, template), _shanghai_referral_draft(posters)]
        if Customer.objects.exists():
            made += [
                _beijing_live_lottery(posters, now),
                _beijing_live_flash_sale(posters, now),
                _beijing_scheduled_flash_sale(posters),
                _beijing_pending_task_chain(posters),
                _beijing_ended_event(posters, now),
                _haidian_rejected_event(),
                _shanghai_live_event(posters, now),
                _shanghai_live_task_chain(posters, now),
                _guangzhou_live_referral(posters, now),
            ]
        else:
            stdout.write("campaigns demo: no customers, so only drafts (an empty audience cannot be submitted)")
    states = sorted({c.status for c in Campaign.objects.filter(pk__in=[c.pk for c in made])})
    stdout.write(
        f"campaigns demo: {len(made) + 1} campaigns ({', '.join(states)}), {len(posters)} posters and "
        f"1 published template created in {time.perf_counter() - started:.1f}s"
    )
    live = list(
        Campaign.objects.filter(pk__in=[c.pk for c in made], status=CampaignStatus.LIVE)
        .select_related("live_revision__audience").order_by("code")
    )
    if live:
        _simulate(stdout, live)
    _refresh_results(stdout)


def _simulate(stdout, live: list[Campaign]) -> None:
    """A few seconds of customers on every live campaign, so each kind has history."""
    if connection.in_atomic_block:
        stdout.write("campaigns demo: inside a transaction, so no simulated traffic (a server could not see the demo)")
        return
    started = time.perf_counter()
    report = simulator.simulate(
        campaigns=live, customers=SIMULATED_CUSTOMERS, rate=SIMULATED_RATE, threads=SIMULATED_THREADS,
        seed=SIMULATION_SEED,
    )
    stdout.write(
        f"campaigns demo: simulated traffic on {len(live)} live campaigns in {time.perf_counter() - started:.1f}s: "
        f"{report.headline()}"
    )
    for message in report.failures:
        stdout.write(f"campaigns demo: simulated request failed: {message}")


def _refresh_results(stdout) -> None:
    """The key figures of every campaign past approval, so the results list starts filled."""
    from campaigns.services import results

    started = time.perf_counter()
    report = results.results_refresh()
    stdout.write(
        f"campaigns demo: key figures of {report.refreshed} campaigns computed in {time.perf_counter() - started:.1f}s"
        + (f", {report.failed} failed" if report.failed else "")
    )
