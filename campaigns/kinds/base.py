"""What a campaign kind declares: its settings form, its one-click default,
its validation, its forecast inputs and (for the runtime) its actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms

if TYPE_CHECKING:
    from campaigns.models import Campaign
    from rewards.models import Prize

LANDING_BLOCKS = ("banner", "rules", "prizes", "countdown", "cta")


@dataclass(frozen=True)
class SlotDefault:
    """A reward slot a generated draft starts with."""

    role: str
    label: str
    prize: Prize | None = None
    quantity: int = 0
    weight: int = 0
    options: dict[str, Any] = field(default_factory=dict)


class Kind:
    """One campaign kind. Subclass it in a module of this package and set ``KIND``."""

    name: str = ""  # stored in Campaign.kind
    label: str = ""  # lazy translated
    description: str = ""  # lazy translated, shown in the gallery
    code_prefix: str = ""  # campaign codes start with it, e.g. "LOT"
    order: int = 100
    # role → label (lazy) of the reward slots this kind uses.
    slot_roles: dict[str, str] = {}
    # The form editing Campaign.kind_settings (a plain Form; cleaned_data is stored).
    settings_form: type[forms.Form] = forms.Form
    # What the channel API may ask of a live campaign of this kind (issue 6).
    actions: tuple[str, ...] = ()
    # Slots carry a weight out of 10,000 (a lottery's chances).
    uses_weights: bool = False
    # Roles whose slot holds no prize (a lottery's "no prize").
    prizeless_roles: tuple[str, ...] = ()
    # The forecast's assumed share of the reach that takes part; None: the
    # CAMPAIGNS_PARTICIPATION_RATE setting (campaigns/selectors/forecast.py).
    participation_rate: Decimal | None = None

    def default_settings(self) -> dict[str, Any]:
        return {}

    def default_slots(self, prizes: list[Prize]) -> list[SlotDefault]:
        """Slots for a one-click draft, given prizes in scope with stock (may be empty)."""
        return []

    def default_rules(self) -> dict[str, Any]:
        """Defaults for Campaign's shared rule fields (limit_per_day, limit_total, …)."""
        return {"limit_per_day": 1, "limit_total": 5}

    def default_rules_text(self) -> str:
        return ""

    def validate(self, campaign: Campaign) -> list[str]:
        """What stops this campaign from being submitted, beyond the shared checks."""
        return []

    def slot_option_fields(self, campaign: Campaign) -> dict[str, forms.Field]:
        """Extra per-slot form fields (a flash-sale price, a task-chain step), stored in ``RewardSlot.options``."""
        return {}

    def slot_options(self, campaign: Campaign, role: str, data: dict[str, Any]) -> dict[str, Any]:
        """The ``options`` JSON of a slot of ``role`` from those fields' cleaned data."""
        return {}

    def settings_summary(self, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, value) lines describing ``kind_settings`` on the campaign page."""
        return []

    def no_prize_weight(self, campaign: Campaign) -> int | None:
        """The chance (of 10,000) left to "no prize", for kinds with weights."""
        return None

    def grants_per_participant(self, campaign: Campaign) -> tuple[Decimal, int]:
        """For the forecast: (expected grants, worst-case grants) per participating customer."""
        return Decimal("1"), 1
