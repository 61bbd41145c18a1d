"""Task-chain campaigns (任务链): ordered tasks, each a business event with a
target count or amount; a reward per step and for the whole chain.

kind_settings: ``{"order": "in_order" | "any_order", "tasks": [{"event":
"login", "target_count": 3, "target_amount": None}, …]}`` — ``tasks`` is a list
in the order the customer sees (and, in order, must do) them. Slots: "step"
slots with ``options = {"step": n}`` (1-based task number) and one "chain"
slot for completing every task.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.kinds import _common as common
from campaigns.kinds.base import Kind, SlotDefault

MAX_TASKS = 8
MIN_TASKS = 2
ORDERS = [("in_order", _("in order, one after another")), ("any_order", _("in any order"))]
# For the forecast: the share of customers at one step who go on to the next.
STEP_RETENTION = Decimal("0.6")


def task_text(task: dict[str, Any]) -> str:
    parts = [common.event_label(task.get("event", ""))]
    if task.get("target_count"):
        parts.append(gettext("%(count)s times") % {"count": task["target_count"]})
    if task.get("target_amount"):
        parts.append(gettext("totalling ¥%(amount)s") % {"amount": task["target_amount"]})
    return " ".join(parts)


class TaskChainSettingsForm(forms.Form):
    """The order mode and up to eight task rows (empty rows are dropped).

    ``cleaned_data`` is ``{"order": …, "tasks": [ … ]}``, the stored shape; the
    initial ``tasks`` list is spread over the rows.
    """

    template_name = "campaigns/partials/campaign_settings_tasks.html"

    order = forms.ChoiceField(label=_("Tasks are done"), choices=ORDERS, widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial = dict(self.initial)  # never write into the campaign's settings passed as initial
        tasks = self.initial.get("tasks") or []
        for i in range(MAX_TASKS):
            task = tasks[i] if i < len(tasks) else {}
            self.fields[f"task_{i}_event"] = forms.ChoiceField(
                label=_("Event"), required=False, choices=[("", "—"), *common.EventType.choices]
            )
            self.fields[f"task_{i}_count"] = forms.IntegerField(
                label=_("Target count"), required=False, min_value=1, max_value=10_000
            )
            self.fields[f"task_{i}_amount"] = forms.DecimalField(
                label=_("Target amount (CNY)"), required=False, min_value=Decimal("0.01"), max_digits=14, decimal_places=2
            )
            self.initial.setdefault(f"task_{i}_event", task.get("event", ""))
            self.initial.setdefault(f"task_{i}_count", task.get("target_count"))
            self.initial.setdefault(f"task_{i}_amount", task.get("target_amount"))

    def task_rows(self):
        """(number, event, count, amount) bound fields per row, for the template."""
        return [
            (i + 1, self[f"task_{i}_event"], self[f"task_{i}_count"], self[f"task_{i}_amount"]) for i in range(MAX_TASKS)
        ]

    def clean(self):
        data = super().clean()
        tasks = []
        for i in range(MAX_TASKS):
            event, count, amount = (data.get(f"task_{i}_{part}") for part in ("event", "count", "amount"))
            if not event and count is None and amount is None:
                continue
            if not event:
                self.add_error(f"task_{i}_event", _("Choose the event of this task."))
                continue
            if count is None and amount is None:
                self.add_error(f"task_{i}_count", _("Give the task a target count or amount."))
                continue
            if amount is not None and event not in common.EVENTS_WITH_AMOUNT:
                self.add_error(f"task_{i}_amount", _("This event has no amount; use a target count."))
                continue
            tasks.append({"event": event, "target_count": count, "target_amount": common.money_text(amount)})
        if len(tasks) < MIN_TASKS and not self.errors:
            raise ValidationError(_("A task chain needs at least two tasks."))
        return {"order": data.get("order"), "tasks": tasks}


class TaskChainKind(Kind):
    name = "task_chain"
    label = _("Task chain")
    description = _(
        "A chain of tasks — log in three times, buy a fund, spend with the card — each a business event with "
        "a target count or amount, done in order or in any order; a reward per step and for the whole chain."
    )
    code_prefix = "TSK"
    order = 50
    slot_roles = {"step": _("step reward"), "chain": _("whole-chain reward")}
    settings_form = TaskChainSettingsForm
    actions = ("view", "join", "event")

    def default_settings(self) -> dict[str, Any]:
        return {
            "order": "in_order",
            "tasks": [
                {"event": common.EventType.LOGIN, "target_count": 3, "target_amount": None},
                {"event": common.EventType.FUND_PURCHASE, "target_count": 1, "target_amount": "1000.00"},
                {"event": common.EventType.CARD_SPEND, "target_count": 5, "target_amount": None},
            ],
        }

    def default_slots(self, prizes) -> list[SlotDefault]:
        ranked = sorted(prizes, key=lambda p: (p.unit_cost, p.pk))
        step_prize, chain_prize = common.take(ranked, 0), (ranked[-1] if ranked else None)
        slots = [
            SlotDefault(
                role="step", label=gettext("Step %(n)s reward") % {"n": n}, prize=step_prize, quantity=quantity,
                options={"step": n},
            )
            for n, quantity in ((1, 300), (2, 200))
        ]
        slots.append(SlotDefault(role="chain", label=gettext("Chain complete"), prize=chain_prize, quantity=100))
        return slots

    def default_rules(self) -> dict[str, Any]:
        return {"limit_per_day": None, "limit_total": None}

    def default_rules_text(self) -> str:
        return gettext(
            "Complete the tasks during the campaign to earn a reward for each rewarded step and a bonus for "
            "finishing the whole chain. Each reward is given once per customer while stock lasts."
        )

    # --- the step a step slot rewards ----------------------------------------

    def slot_option_fields(self, campaign) -> dict[str, forms.Field]:
        return {
            "step": forms.IntegerField(
                label=_("Step"), required=False, min_value=1, max_value=MAX_TASKS,
                help_text=_("For a step reward: the number of the task it rewards."),
            )
        }

    def slot_options(self, campaign, role: str, data: dict[str, Any]) -> dict[str, Any]:
        if role != "step":
            return {}
        step, count = data.get("step"), len((campaign.kind_settings or {}).get("tasks") or [])
        if step is None:
            raise ValidationError({"step": gettext("Choose the task this reward is for.")})
        if step > count:
            raise ValidationError({"step": gettext("The chain has %(count)s tasks.") % {"count": count}})
        return {"step": step}

    # --- checks ----------------------------------------------------------------

    def validate(self, campaign) -> list[str]:
        errors: list[str] = []
        settings = campaign.kind_settings or {}
        if settings.get("order") not in dict(ORDERS):
            errors.append(gettext("Choose whether tasks are done in order or in any order."))
        tasks = settings.get("tasks")
        tasks = tasks if isinstance(tasks, list) else []
        if len(tasks) < MIN_TASKS:
            errors.append(gettext("A task chain needs at least two tasks."))
        if len(tasks) > MAX_TASKS:
            errors.append(gettext("A task chain has at most %(max)s tasks.") % {"max": MAX_TASKS})
        for number, task in enumerate(tasks, start=1):
            errors.extend(self._task_errors(number, task))
        found = common.slots(campaign)
        chain = [slot for slot in found if slot.role == "chain"]
        steps = [slot for slot in found if slot.role == "step"]
        if len(chain) != 1:
            errors.append(gettext("A task chain needs exactly one whole-chain reward."))
        seen: set[int] = set()
        for slot in steps:
            step = (slot.options or {}).get("step")
            if not isinstance(step, int) or not 1 <= step <= len(tasks):
                errors.append(
                    gettext("Step reward “%(label)s” is for no task of the chain.") % {"label": slot.label}
                )
            elif step in seen:
                errors.append(gettext("Step %(step)s has two rewards.") % {"step": step})
            else:
                seen.add(step)
        common.check_prize_slots(chain + steps, errors)
        return errors

    @staticmethod
    def _task_errors(number: int, task: Any) -> list[str]:
        if not isinstance(task, dict) or task.get("event") not in common.EventType.values:
            return [gettext("Task %(n)s has no valid event.") % {"n": number}]
        count, amount = task.get("target_count"), task.get("target_amount")
        if count is not None and (not isinstance(count, int) or count < 1):
            return [gettext("Task %(n)s: the target count must be at least 1.") % {"n": number}]
        if amount is not None:
            value = common.money_value(amount)
            if value is None or value <= 0:
                return [gettext("Task %(n)s: the target amount must be a positive number of CNY.") % {"n": number}]
            if task["event"] not in common.EVENTS_WITH_AMOUNT:
                return [gettext("Task %(n)s: this event has no amount.") % {"n": number}]
        if count is None and amount is None:
            return [gettext("Task %(n)s needs a target count or amount.") % {"n": number}]
        return []

    def grants_per_participant(self, campaign) -> tuple[Decimal, int]:
        # Each rewarded step pays once; fewer customers reach each later step.
        tasks = len((campaign.kind_settings or {}).get("tasks") or []) or 1
        expected, worst = Decimal("0"), 0
        for slot in common.slots(campaign):
            if slot.role == "step":
                reach = (slot.options or {}).get("step") or 1
            elif slot.role == "chain":
                reach = tasks
            else:
                continue
            expected += STEP_RETENTION ** (reach - 1)
            worst += 1
        return expected.quantize(Decimal("0.0001")), worst

    def settings_summary(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        rows = [(gettext("Tasks are done"), str(dict(ORDERS).get(settings.get("order"), "—")))]
        rows.extend(
            (gettext("Task %(n)s") % {"n": n}, task_text(task))
            for n, task in enumerate(settings.get("tasks") or [], start=1)
        )
        return rows


KIND = TaskChainKind()
