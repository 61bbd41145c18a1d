from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.services import audit_record
from rewards import selectors
from rewards.models import Prize, PrizePool, Reservation

FIELDS = {"prize": (Prize, "stock_available"), "reservation": (Reservation, "remaining"), "pool": (PrizePool, "budget_available")}


class Command(BaseCommand):
    help = "Compare every stock and budget counter with its ledger; --fix sets counters to their ledger sums."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="repair the differences (audited)")

    def handle(self, *args, fix=False, **options):
        with transaction.atomic():
            diffs = selectors.reconcile()
            for diff in diffs:
                self.stdout.write(f"{diff.what} {diff.pk} {diff.label}: counter {diff.counter}, ledger {diff.ledger}")
                if fix:
                    model, field = FIELDS[diff.what]
                    obj = model.objects.select_for_update().get(pk=diff.pk)
                    model.objects.filter(pk=diff.pk).update(**{field: diff.ledger})
                    audit_record(
                        actor=None, action="reconcile.fix", obj=obj,
                        changes={field: [str(diff.counter), str(diff.ledger)]},
                        reason="rewards_reconcile --fix",
                    )
        verdict = "repaired" if fix and diffs else "found"
        self.stdout.write(f"rewards_reconcile: {len(diffs)} difference(s) {verdict}")
        if diffs and not fix:
            raise SystemExit(1)
