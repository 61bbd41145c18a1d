import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import AuditEntry, Branch, User
from accounts.permissions import ROLE_VERBS, Verb, can
from accounts.services import audit_record


def codes(queryset):
    return set(queryset.values_list("code", flat=True))


def test_branch_admin_sees_own_subtree_only(personas):
    assert codes(Branch.objects.visible_to(personas.branch_admin)) == {"BJ", "BJ-HD"}


def test_sub_branch_admin_does_not_see_its_parent(personas):
    assert codes(Branch.objects.visible_to(personas.sub_admin)) == {"BJ-HD"}


def test_head_office_admin_sees_the_whole_bank(personas):
    assert codes(Branch.objects.visible_to(personas.ho_admin)) == {"HO", "BJ", "BJ-HD", "SH"}


def test_branch_admin_cannot_see_sibling_branch_users(personas):
    visible = set(User.objects.visible_to(personas.branch_admin).values_list("username", flat=True))
    assert "sh_admin" not in visible and "ho_admin" not in visible
    assert {"bj_admin", "bj_operator", "hd_admin"} <= visible


def test_scoped_rows_of_other_models_follow_their_scope_field(personas, tree):
    audit_record(actor=None, action="test", obj=tree.sh)
    audit_record(actor=None, action="test", obj=tree.hd)
    entries = AuditEntry.objects.filter(action="test")
    assert codes_of(entries.visible_to(personas.branch_admin)) == {"BJ-HD"}
    assert codes_of(entries.visible_to(personas.outsider)) == {"SH"}
    assert codes_of(entries.visible_to(personas.ho_admin)) == {"BJ-HD", "SH"}


def codes_of(entries):
    return {entry.branch.code for entry in entries}


def test_anonymous_and_inactive_users_see_nothing(personas):
    assert not Branch.objects.visible_to(AnonymousUser()).exists()
    personas.branch_admin.is_active = False
    assert not Branch.objects.visible_to(personas.branch_admin).exists()
    assert not can(personas.branch_admin, Verb.VIEW)


def test_superuser_sees_and_may_do_everything(db):
    root = User.objects.create(username="root", is_superuser=True)
    assert can(root, Verb.MANAGE_BRANCHES)
    assert Branch.objects.visible_to(root).count() == Branch.objects.count()


@pytest.mark.parametrize(
    ("persona", "verb", "allowed"),
    [
        ("ho_admin", Verb.PUBLISH_TEMPLATES, True),
        ("branch_admin", Verb.PUBLISH_TEMPLATES, False),
        ("branch_admin", Verb.MANAGE_POOLS, True),
        ("operator", Verb.MANAGE_POOLS, False),
        ("operator", Verb.EDIT, True),
        ("operator", Verb.DISPATCH, True),
        ("operator", Verb.APPROVE, False),
        ("reviewer", Verb.APPROVE, True),
        ("reviewer", Verb.EDIT, False),
        ("analyst", Verb.VIEW, True),
        ("analyst", Verb.EXPORT, True),
        ("analyst", Verb.EDIT, False),
        ("analyst", Verb.DISPATCH, False),
    ],
)
def test_role_decides_the_verbs(personas, persona, verb, allowed):
    assert can(getattr(personas, persona), verb) is allowed


def test_branch_decides_where_a_verb_applies(personas, tree):
    admin = personas.branch_admin
    assert can(admin, Verb.MANAGE_USERS, tree.hd)
    assert can(admin, Verb.MANAGE_USERS, personas.operator)
    assert not can(admin, Verb.MANAGE_USERS, tree.sh)
    assert not can(admin, Verb.MANAGE_USERS, personas.outsider)
    assert not can(admin, Verb.VIEW, tree.ho)


def test_every_role_has_a_verb_set_and_unknown_verbs_are_an_error(personas):
    assert set(ROLE_VERBS) == {choice for choice, _ in User._meta.get_field("role").choices}
    with pytest.raises(ValueError):
        can(personas.operator, "teleport")
