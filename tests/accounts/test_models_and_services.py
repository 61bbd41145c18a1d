import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import services
from accounts.models import AuditEntry, Branch, Role, User


def test_branch_paths_form_a_tree_and_subtrees_are_prefix_queries(tree):
    assert tree.ho.path == f"/{tree.ho.pk}/"
    assert tree.hd.path == f"/{tree.ho.pk}/{tree.bj.pk}/{tree.hd.pk}/"
    assert tree.hd.depth == 2 and tree.ho.depth == 0
    subtree = set(Branch.objects.filter(path__startswith=tree.bj.path).values_list("code", flat=True))
    assert subtree == {"BJ", "BJ-HD"}


def test_there_is_only_one_head_office(tree):
    with pytest.raises(ValidationError):
        services.branch_create(actor=None, code="HO2", name="Second root", parent=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Branch.objects.create(code="HO3", name="Raw second root", path="/999/")


def test_moving_a_branch_moves_its_subtree_and_is_audited(tree, personas):
    services.branch_update(actor=personas.ho_admin, branch=tree.bj, name="Beijing", parent=tree.sh)
    tree.hd.refresh_from_db()
    assert tree.hd.path == f"{tree.sh.path}{tree.bj.pk}/{tree.hd.pk}/"
    assert tree.hd.is_within(tree.sh)
    entry = AuditEntry.objects.get(action="branch.update")
    assert entry.actor == personas.ho_admin
    assert entry.changes["parent"] == ["HO", "SH"]


def test_a_branch_cannot_move_below_itself_or_leave_the_root(tree):
    with pytest.raises(ValidationError):
        services.branch_update(actor=None, branch=tree.bj, name="Beijing", parent=tree.hd)
    with pytest.raises(ValidationError):
        services.branch_update(actor=None, branch=tree.ho, name="HO", parent=tree.sh)
    tree.hd.refresh_from_db()
    assert tree.hd.path.startswith(tree.bj.path)


def test_every_user_but_a_superuser_needs_a_branch(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="nobranch", role=Role.OPERATOR)
    User.objects.create(username="super", is_superuser=True)


def test_head_office_admin_must_sit_in_head_office(tree):
    user = User(username="x", branch=tree.bj, role=Role.HEAD_OFFICE_ADMIN)
    with pytest.raises(ValidationError) as exc:
        user.full_clean()
    assert "role" in exc.value.message_dict


def test_changing_a_users_role_or_branch_leaves_an_audit_record(personas, tree):
    services.user_assign(
        actor=personas.ho_admin, user=personas.analyst, branch=tree.hd, role=Role.OPERATOR
    )
    entry = AuditEntry.objects.get(action="user.assign")
    assert entry.changes == {"branch": ["BJ", "BJ-HD"], "role": ["analyst", "operator"]}
    assert entry.branch == tree.hd
    assert entry.actor == personas.ho_admin


def test_assigning_the_same_branch_and_role_writes_no_audit_record(personas, tree):
    services.user_assign(actor=None, user=personas.analyst, branch=tree.bj, role=Role.ANALYST)
    assert not AuditEntry.objects.filter(action="user.assign").exists()
