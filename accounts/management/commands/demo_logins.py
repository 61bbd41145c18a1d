from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User


class Command(BaseCommand):
    help = "Print the demo logins created by seed_demo."

    def handle(self, *args, **options):
        users = (
            User.objects.filter(is_active=True)
            .select_related("branch")
            .order_by("branch__path", "role", "username")
        )
        self.stdout.write(f"\nDemo logins (password for all: {settings.DEMO_PASSWORD})")
        self.stdout.write(f"  {'username':<16} {'role':<20} branch")
        for user in users:
            role = "superuser" if user.is_superuser else user.role
            branch = user.branch.name if user.branch else "-"
            self.stdout.write(f"  {user.username:<16} {role:<20} {branch}")
        self.stdout.write("")
