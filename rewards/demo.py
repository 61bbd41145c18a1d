"""Demo data for rewards: a head-office pool with budget and a prize of every
kind (a coffee coupon with 500 codes among them), allocated down to the
Beijing, Shanghai and Guangzhou pools and from Beijing to Haidian, plus an
expired pool; then two manual dispatches in Beijing — one run (its grants are
delivered by the worker ``make run`` starts) and one waiting for a second
person's approval. Called by ``manage.py seed_demo`` (see accounts).

Everything goes through the services, as a user would do it, so every counter
has its ledger and ``manage.py rewards_reconcile`` finds nothing to report.
Idempotent: when the head-office pool exists, nothing is done; otherwise all
of it is created in one transaction.

Names are data (bilingual, as the bank would type them), not interface text.
"""

# Chinese text takes full-width brackets.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import random
import string
from decimal import Decimal

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Branch, User
from audiences.models import Customer
from rewards import services
from rewards.models import BatchSelection, MovementKind, Prize, PrizeKind, PrizePool
from rewards.services import batches, codes

SEED = 20260401
HO_POOL = "HO-BENEFITS"
COUPON_CODES = 500

# (code, name, kind, unit cost in CNY, stock at head office)
PRIZES = [
    ("PTS-1000", "1000 积分 1,000 points", PrizeKind.POINTS, "10.00", 20_000),
    ("CPN-COFFEE", "咖啡券 Coffee coupon ¥20", PrizeKind.COUPON, "20.00", COUPON_CODES),
    ("CASH-5", "5 元微信立减金 ¥5 WeChat red packet", PrizeKind.CASH, "5.00", 10_000),
    ("RATE-05", "存款加息券 +0.5% deposit rate coupon", PrizeKind.RATE_COUPON, "50.00", 2_000),
    ("FEE-TRF", "跨行转账免手续费 Interbank transfer fee waiver", PrizeKind.FEE_WAIVER, "2.00", 5_000),
    ("GIFT-UMB", "定制雨伞 Branded umbrella", PrizeKind.GIFT, "35.00", 800),
]

# (pool code, name, branch code, budget from head office, units per prize code)
BRANCH_POOLS = [
    ("BJ-BENEFITS", "北京分行权益池 Beijing benefits", "BJ", "80000",
     {"PTS-1000": 3000, "CPN-COFFEE": 100, "CASH-5": 2000, "RATE-05": 300, "FEE-TRF": 1000, "GIFT-UMB": 150}),
    ("SH-BENEFITS", "上海分行权益池 Shanghai benefits", "SH", "60000",
     {"PTS-1000": 2000, "CPN-COFFEE": 80, "CASH-5": 1500, "RATE-05": 200, "FEE-TRF": 800, "GIFT-UMB": 100}),
    ("GZ-BENEFITS", "广州分行权益池 Guangzhou benefits", "GZ", "40000",
     {"PTS-1000": 1000, "CPN-COFFEE": 50, "CASH-5": 1000, "GIFT-UMB": 80}),
]
SUB_POOL = ("BJ-HD-BENEFITS", "海淀支行权益池 Haidian benefits", "BJ-HD", "10000", {"CASH-5": 300, "GIFT-UMB": 30})


def _admin(branch_code: str) -> User:
    return User.objects.get(username=f"{branch_code.lower()}.admin")


def _coupon_file() -> SimpleUploadedFile:
    rng = random.Random(SEED)  # noqa: S311 - made-up codes, reproducible on purpose
    alphabet = string.ascii_uppercase + string.digits
    codes_ = sorted({"CF" + "".join(rng.choices(alphabet, k=10)) for _ in range(COUPON_CODES * 2)})
    body = "code\r\n" + "".join(f"{code}\r\n" for code in codes_[:COUPON_CODES])
    return SimpleUploadedFile("coffee-coupons.csv", body.encode(), content_type="text/csv")


def seed(*, stdout, options) -> None:
    if PrizePool.objects.filter(code=HO_POOL).exists():
        stdout.write("rewards demo: pools already there, nothing changed")
        return
    with transaction.atomic():
        pools, prizes = _seed()
    # After the commit: the batch's grants queue their delivery when they commit.
    batches_ = _dispatch_demo()
    stdout.write(f"rewards demo: {pools} prize pools, {prizes} prizes, {batches_} manual dispatches created")


def _seed() -> tuple[int, int]:
    today = timezone.localdate()
    year_start, next_year_end = dt.date(today.year, 1, 1), dt.date(today.year + 1, 12, 31)
    ho_admin = _admin("HO")
    ho = services.pool_create(
        actor=ho_admin, code=HO_POOL, name="总行权益池 Head-office benefits", owner_branch=Branch.objects.get(code="HO"),
        valid_from=year_start, valid_until=next_year_end,
    )
    services.budget_add(actor=ho_admin, pool=ho, amount=Decimal("500000"), reason="年度营销预算 annual marketing budget")
    head_prizes: dict[str, Prize] = {}
    for code, name, kind, cost, stock in PRIZES:
        prize = services.prize_create(actor=ho_admin, pool=ho, code=code, name=name, kind=kind, unit_cost=Decimal(cost))
        if kind == PrizeKind.COUPON:
            result = codes.coupon_codes_add(actor=ho_admin, prize=prize, uploaded_file=_coupon_file())
            if not result.ok:
                raise RuntimeError(f"demo coupon codes refused: {result.errors[:3]}")
        else:
            services.stock_add(actor=ho_admin, prize=prize, quantity=stock, reason="年度采购 annual purchase")
        head_prizes[code] = prize
    services.stock_adjust(
        actor=ho_admin, prize=head_prizes["GIFT-UMB"], delta=-5, kind=MovementKind.ADJUSTED,
        reason="盘点破损 damaged in the stock count",
    )

    created = [ho]
    for pool_code, name, branch_code, budget, units in BRANCH_POOLS:
        pool = services.pool_create(
            actor=_admin(branch_code), code=pool_code, name=name, owner_branch=Branch.objects.get(code=branch_code),
            valid_from=year_start, valid_until=next_year_end,
        )
        _allocate(ho_admin, ho, head_prizes, pool, budget, units)
        created.append(pool)

    bj_admin = _admin("BJ")
    bj = PrizePool.objects.get(code="BJ-BENEFITS")
    code, name, branch_code, budget, units = SUB_POOL
    sub = services.pool_create(
        actor=bj_admin, code=code, name=name, owner_branch=Branch.objects.get(code=branch_code),
        valid_from=year_start, valid_until=next_year_end,
    )
    _allocate(bj_admin, bj, {p.code: p for p in bj.prizes.all()}, sub, budget, units)
    created.append(sub)

    spring = services.pool_create(
        actor=ho_admin, code="HO-SPRING", name="春节活动池（已结束） Spring festival (ended)",
        owner_branch=Branch.objects.get(code="HO"),
        valid_from=dt.date(today.year - 1, 1, 20), valid_until=dt.date(today.year - 1, 2, 28),
    )
    services.prize_create(
        actor=ho_admin, pool=spring, code="CASH-8", name="8.88 元红包 ¥8.88 red packet", kind=PrizeKind.CASH,
        unit_cost=Decimal("8.88"),
    )
    created.append(spring)
    return len(created), Prize.objects.filter(pool__in=created).count()


def _dispatch_demo() -> int:
    """A thank-you to 40 Beijing customers (run now), and a rate-coupon batch
    above the approval limit that waits for a reviewer."""
    operator = User.objects.get(username="bj.operator")
    bj_customers = list(
        Customer.objects.filter(branch__path__startswith=Branch.objects.get(code="BJ").path)
        .order_by("pk").values_list("pk", flat=True)[:300]
    )
    if not bj_customers:
        return 0
    bj_prizes = {p.code: p for p in Prize.objects.filter(pool__code="BJ-BENEFITS")}
    thanks = batches.batch_create(
        actor=operator, prize=bj_prizes["CASH-5"], customer_ids=bj_customers[:40], selection=BatchSelection.SEARCH,
        selection_label="新开户客户 new customers", reason="开户感谢 thank you for opening an account",
    )
    batches.batch_run(batch_id=thanks.pk)
    rate = bj_prizes["RATE-05"]
    wanted = int(settings.REWARDS_BATCH_APPROVAL_ABOVE / rate.unit_cost) + 1
    batches.batch_create(
        actor=operator, prize=rate, customer_ids=bj_customers[:wanted], selection=BatchSelection.SEARCH,
        selection_label="高净值客户 high-value customers", reason="存款回馈 deposit loyalty reward",
    )
    return 2


def _allocate(actor, source: PrizePool, source_prizes: dict[str, Prize], target: PrizePool, budget: str, units) -> None:
    reason = f"年度分配 annual allocation to {target.code}"
    services.budget_transfer(actor=actor, source=source, target=target, amount=Decimal(budget), reason=reason)
    for code, quantity in units.items():
        services.stock_transfer(actor=actor, prize=source_prizes[code], target_pool=target, quantity=quantity, reason=reason)
