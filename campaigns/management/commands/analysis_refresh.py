"""``manage.py analysis_refresh [--campaign CODE]``: bring the stored key
figures of campaigns (``CampaignResult``, the comparison list) up to date, as
the cron job ``campaigns.jobs.analysis_refresh`` does every 15 minutes."""

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from campaigns.selectors import results as result_selectors
from campaigns.services import results


class Command(BaseCommand):
    help = (
        "Recompute the stored key figures of campaigns whose records changed since they were stored: approved, "
        "live and paused campaigns, those ended within 60 days and any without figures (or just --campaign)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", metavar="CODE", help="only this campaign (approved, live, paused or ended)")

    def handle(self, *args, campaign=None, **options):
        chosen = None
        if campaign:
            found = Campaign.objects.filter(code=campaign).select_related("live_revision").first()
            if found is None:
                raise CommandError(f"No campaign has the code {campaign!r}.")
            if found.status not in result_selectors.ANALYSED:
                raise CommandError(f"{campaign} is {found.status}: only approved, live, paused or ended campaigns have an analysis.")
            chosen = [found]
        report = results.results_refresh(campaigns=chosen)
        self.stdout.write(f"checked = {report.checked}")
        self.stdout.write(f"refreshed = {report.refreshed}")
        self.stdout.write(f"failed = {report.failed}")
        for failure in report.failures:
            self.stderr.write(f"failed: {failure}")
        if report.failed:
            raise CommandError(f"{report.failed} campaign(s) could not be refreshed.")
