"""``manage.py runtime_rebuild``: restore every running campaign's live
counters in Redis from the database (after Redis was lost or flushed)."""

from django.core.management.base import BaseCommand

from campaigns.runtime import state


class Command(BaseCommand):
    help = (
        "Rebuild the runtime's Redis counters (stock, budget spent, per-customer limits, state) of every running "
        "campaign from the database. Campaigns are refused (503) while they are rebuilt."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--settle", type=float, default=None,
            help="seconds to wait between fencing and reading the database (default: CAMPAIGNS_REBUILD_SETTLE_SECONDS)",
        )

    def handle(self, *args, settle=None, **options):
        done = state.runtime_rebuild(settle=settle)
        self.stdout.write(f"campaigns = {done['campaigns']}")
        self.stdout.write(f"loaded = {done['loaded']}")
