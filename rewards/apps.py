from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = _("Rewards")

    def ready(self) -> None:
        from accounts import dashboard
        from rewards import selectors

        dashboard.register(selectors.dashboard_cards)
