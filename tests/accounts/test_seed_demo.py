from django.core.management import call_command

from accounts.models import Branch, Role, User


def test_seed_demo_builds_the_demo_tree_and_a_user_per_role_per_branch(db, settings):
    call_command("seed_demo", customers=300)
    assert Branch.objects.count() == 6
    assert Branch.objects.get(code="BJ-HD").parent.code == "BJ"
    for branch in Branch.objects.all():
        roles = set(User.objects.filter(branch=branch, is_superuser=False).values_list("role", flat=True))
        expected = {Role.OPERATOR, Role.REVIEWER, Role.ANALYST}
        expected.add(Role.HEAD_OFFICE_ADMIN if branch.is_head_office else Role.BRANCH_ADMIN)
        assert roles == expected, branch.code
    assert User.objects.get(username="bj.admin").check_password(settings.DEMO_PASSWORD)


def test_seed_demo_is_idempotent(db):
    call_command("seed_demo", customers=300)
    counts = (Branch.objects.count(), User.objects.count())
    call_command("seed_demo", customers=300)
    assert (Branch.objects.count(), User.objects.count()) == counts


def test_seed_demo_leaves_changed_passwords_alone(db):
    call_command("seed_demo", customers=300)
    user = User.objects.get(username="sh.operator")
    user.set_password("changed-by-the-user-2026")
    user.save()
    call_command("seed_demo", customers=300)
    user.refresh_from_db()
    assert user.check_password("changed-by-the-user-2026")
