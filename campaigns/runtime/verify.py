"""Replaying a lottery's draws from its seed (``manage.py draws_verify``).

Every recorded draw is recomputed from its revision's seed, the customer and
the draw number: the random value must be the one recorded, the slot it lands
on must be the one recorded, and the outcome must fit (a win pays that slot; a
landing on no prize pays nothing; a landing on a prize that was gone, over the
customer's limit or over the budget pays nothing). The seed itself must hash
to the commitment published at approval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from campaigns.models import Campaign, CampaignRevision, Draw, DrawOutcome
from campaigns.runtime.alias import Drawer, lottery_table, seed_hash

REFUSED = {DrawOutcome.SOLD_OUT, DrawOutcome.CAPPED, DrawOutcome.BUDGET}


@dataclass
class Verification:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    revisions: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def draws_verify(*, campaign: Campaign, limit_problems: int = 50) -> Verification:
    result = Verification()
    drawers: dict[int, Drawer] = {}
    for revision in CampaignRevision.objects.filter(pk__in=Draw.objects.filter(campaign=campaign).values("revision")):
        result.revisions += 1
        if not revision.draw_seed or seed_hash(revision.draw_seed) != revision.draw_seed_hash:
            result.problems.append(f"revision {revision.number}: the seed does not match its published hash")
            continue
        table, keys = lottery_table(revision.config["slots"])
        drawers[revision.pk] = Drawer(revision.draw_seed, campaign.code, table, keys)
    draws = (
        Draw.objects.filter(campaign=campaign)
        .select_related("award")
        .order_by("pk")
        .only("pk", "revision_id", "customer_id", "number", "value", "landed_key", "outcome", "award__slot_key")
    )
    for draw in draws.iterator(chunk_size=5000):
        result.checked += 1
        drawer = drawers.get(draw.revision_id)
        if drawer is None:
            continue  # its revision's problem is already listed
        value, landed = drawer.draw(draw.customer_id, draw.number)
        problem = None
        if f"{value:016x}" != draw.value:
            problem = f"random value {draw.value}, replayed {value:016x}"
        elif landed != draw.landed_key:
            problem = f"landed on slot {draw.landed_key}, replayed {landed}"
        elif draw.outcome == DrawOutcome.WON and (draw.award is None or draw.award.slot_key != landed):
            problem = "won without an award for the slot it landed on"
        elif draw.outcome == DrawOutcome.NO_PRIZE and (landed is not None or draw.award_id):
            problem = "no prize although it landed on a prize slot"
        elif draw.outcome in REFUSED and (landed is None or draw.award_id):
            problem = f"{draw.outcome} without landing on a prize, or with an award"
        if problem and len(result.problems) < limit_problems:
            result.problems.append(f"draw {draw.pk} (customer {draw.customer_id}, #{draw.number}): {problem}")
        elif problem:
            result.problems.append("…")
            break
    return result
