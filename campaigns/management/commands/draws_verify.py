"""``manage.py draws_verify CODE``: replay every draw of a lottery from its seed."""

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from campaigns.runtime.verify import draws_verify


class Command(BaseCommand):
    help = "Replay every recorded draw of a lottery campaign from its committed seed; exit 1 on any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("code")

    def handle(self, *args, code, **options):
        campaign = Campaign.objects.filter(code=code).first()
        if campaign is None:
            raise CommandError(f"no campaign has the code {code!r}")
        result = draws_verify(campaign=campaign)
        self.stdout.write(f"revisions = {result.revisions}")
        self.stdout.write(f"draws checked = {result.checked}")
        self.stdout.write(f"mismatches = {len(result.problems)}")
        for problem in result.problems:
            self.stdout.write(f"  {problem}")
        if not result.ok:
            raise CommandError("some draws do not replay", returncode=1)
        self.stdout.write(self.style.SUCCESS("every draw replays to its recorded outcome"))
