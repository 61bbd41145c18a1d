import pytest
from django.urls import reverse

from accounts.models import AuditEntry, Branch, Role, User


@pytest.fixture
def superuser(tree):
    return User.objects.create_superuser("root", "root@example.com", "pw-root-2026", branch=tree.ho)


def test_admin_is_for_superusers_only(client, personas, superuser):
    personas.ho_admin.is_staff = True  # a staff flag alone must not open the admin
    personas.ho_admin.save()
    client.force_login(personas.ho_admin)
    assert client.get(reverse("admin:index")).status_code == 302
    client.force_login(superuser)
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["admin:accounts_branch_changelist", "admin:accounts_user_changelist", "admin:accounts_auditentry_changelist"],
)
def test_every_model_has_an_admin_page(client, personas, superuser, name):
    client.force_login(superuser)
    assert client.get(reverse(name)).status_code == 200


def test_admin_branch_creation_goes_through_the_tree_service(client, superuser, tree):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:accounts_branch_add"), {"code": "GZ", "name": "Guangzhou", "parent": tree.ho.pk}
    )
    assert response.status_code == 302
    gz = Branch.objects.get(code="GZ")
    assert gz.path == f"{tree.ho.path}{gz.pk}/"
    assert AuditEntry.objects.filter(action="branch.create", object_id=str(gz.pk), actor=superuser).exists()


def test_admin_refuses_to_move_a_branch_below_itself(client, superuser, tree):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:accounts_branch_change", args=[tree.bj.pk]), {"name": "Beijing", "parent": tree.hd.pk}
    )
    assert response.status_code == 200 and "parent" in response.context["adminform"].form.errors
    tree.bj.refresh_from_db()
    assert tree.bj.parent == tree.ho


def test_admin_edits_branch_and_role_with_an_audit_record(client, superuser, personas, tree):
    client.force_login(superuser)
    user = personas.analyst
    url = reverse("admin:accounts_user_change", args=[user.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in {"groups", "user_permissions", "password"}}
    data.update(
        {
            "branch": tree.hd.pk,
            "role": Role.REVIEWER,
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "last_login_0": "",
            "last_login_1": "",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.branch, user.role) == (tree.hd, Role.REVIEWER)
    entry = AuditEntry.objects.get(action="user.assign")
    assert entry.actor == superuser and entry.changes["role"] == ["analyst", "reviewer"]


def test_audit_entries_are_read_only_in_the_admin(client, superuser, tree):
    from accounts.services import audit_record

    entry = audit_record(actor=None, action="test", obj=tree.bj)
    client.force_login(superuser)
    response = client.post(reverse("admin:accounts_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
