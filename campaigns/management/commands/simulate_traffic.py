import argparse

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from campaigns import simulator
from campaigns.models import Campaign, CampaignStatus


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number above 0")
    return number


class Command(BaseCommand):
    help = (
        "Simulate customers taking part in live campaigns: signed requests to the channel API over HTTP, "
        "at a target rate, with the control group and business events the analysis needs. Without --url "
        "the app is served in-process for the run. Exits non-zero when any request failed (a server error)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--campaign", action="append", dest="codes", default=[], metavar="CODE",
            help="a live campaign's code (repeat for several)",
        )
        parser.add_argument("--all-live", action="store_true", help="every live campaign")
        parser.add_argument(
            "--customers", type=_positive,
            help=f"participants per campaign, plus control-group customers (default {simulator.DEFAULT_CUSTOMERS})",
        )
        parser.add_argument("--duration", type=_positive_float, help="run for this many seconds instead")
        parser.add_argument("--rate", type=_positive_float, default=50.0, help="requests per second (default 50)")
        parser.add_argument("--threads", type=_positive, default=4, help="concurrent customers (default 4)")
        parser.add_argument("--seed", type=int, help="the random seed, to replay the same customers' choices")
        parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000 (default: in-process)")
        parser.add_argument(
            "--channel", help=f"the API channel customers act through (default: {simulator.APP_CHANNEL!r}, made if missing)"
        )
        parser.add_argument(
            "--events-channel",
            help=f"the API channel business events come from (default: {simulator.CORE_CHANNEL!r}, made if missing)",
        )

    def handle(self, *args, codes, all_live, **options):
        if not codes and not all_live:
            raise CommandError("name a campaign with --campaign CODE, or use --all-live")
        campaigns = Campaign.objects.select_related("live_revision__audience").order_by("code")
        if all_live:
            found = list(campaigns.filter(Q(status=CampaignStatus.LIVE) | Q(code__in=codes)))
        else:
            found = list(campaigns.filter(code__in=codes))
        missing = sorted(set(codes) - {c.code for c in found})
        if missing:
            raise CommandError(f"no campaign has the code {', '.join(missing)}")
        if not found:
            raise CommandError("no campaign is live")
        try:
            report = simulator.simulate(
                campaigns=found, customers=options["customers"], duration=options["duration"],
                rate=options["rate"], threads=options["threads"], seed=options["seed"], url=options["url"],
                channel=options["channel"], events_channel=options["events_channel"],
            )
        except simulator.SimulationError as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(
                f"{report.failure_count} request(s) failed: a server error, no answer, or a replay answered differently"
            )
