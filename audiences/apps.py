from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = _("Audiences")

    def ready(self) -> None:
        from accounts import dashboard
        from audiences import selectors

        dashboard.register(selectors.dashboard_cards)
