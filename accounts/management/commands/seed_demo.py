"""Demo data for one machine: the branch tree and one user per role per branch,
then each app's own demo data.

Idempotent: run it as often as you like; what exists is left as it is. An app
adds demo data with a ``demo.py`` module that has ``seed(*, stdout, options)``
and, optionally, ``add_arguments(parser)``; accounts imports no other app.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import Branch, Role, User

# (code, name, parent code)
BRANCHES = [
    ("HO", "总行 Head Office", None),
    ("BJ", "北京分行 Beijing Branch", "HO"),
    ("SH", "上海分行 Shanghai Branch", "HO"),
    ("GZ", "广州分行 Guangzhou Branch", "HO"),
    ("BJ-HD", "北京海淀支行 Haidian Sub-branch", "BJ"),
    ("SH-PD", "上海浦东支行 Pudong Sub-branch", "SH"),
]

HEAD_OFFICE_ROLES = [Role.HEAD_OFFICE_ADMIN, Role.OPERATOR, Role.REVIEWER, Role.ANALYST]
BRANCH_ROLES = [Role.BRANCH_ADMIN, Role.OPERATOR, Role.REVIEWER, Role.ANALYST]
ROLE_SLUG = {
    Role.HEAD_OFFICE_ADMIN: "admin",
    Role.BRANCH_ADMIN: "admin",
    Role.OPERATOR: "operator",
    Role.REVIEWER: "reviewer",
    Role.ANALYST: "analyst",
}


def demo_username(branch_code: str, role: str) -> str:
    return f"{branch_code.lower()}.{ROLE_SLUG[role]}"


def _demo_modules():
    for config in apps.get_app_configs():
        if config.name != "accounts" and find_spec(f"{config.name}.demo") is not None:
            yield import_module(f"{config.name}.demo")


class Command(BaseCommand):
    help = "Create the demo branch tree, demo users and each app's demo data (idempotent)."

    def add_arguments(self, parser):
        for module in _demo_modules():
            if hasattr(module, "add_arguments"):
                module.add_arguments(parser)

    def handle(self, *args, **options):
        self._seed_accounts()
        for module in _demo_modules():
            module.seed(stdout=self.stdout, options=options)

    @transaction.atomic
    def _seed_accounts(self):
        password = settings.DEMO_PASSWORD
        branches: dict[str, Branch] = {}
        created = 0
        for code, name, parent_code in BRANCHES:
            branch = Branch.objects.filter(code=code).first()
            if branch is None:
                branch = services.branch_create(
                    actor=None, code=code, name=name, parent=branches.get(parent_code)
                )
                created += 1
            branches[code] = branch

        for code, branch in branches.items():
            roles = HEAD_OFFICE_ROLES if branch.is_head_office else BRANCH_ROLES
            for role in roles:
                username = demo_username(code, role)
                if User.objects.filter(username=username).exists():
                    continue
                user = User(username=username, branch=branch, role=role, first_name=username)
                user.set_password(password)
                user.full_clean()
                user.save()
                created += 1

        if not User.objects.filter(username="root").exists():
            root = User(username="root", is_superuser=True, is_staff=True, branch=branches["HO"],
                        role=Role.HEAD_OFFICE_ADMIN)
            root.set_password(password)
            root.save()
            created += 1
        self.stdout.write(f"seed_demo: {created} object(s) created")
