from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import AuditEntry, Branch, User


class BranchAdminForm(forms.ModelForm):
    class Meta:
        model = Branch
        fields = ["code", "name", "parent"]

    def clean_parent(self):
        parent = self.cleaned_data["parent"]
        instance = self.instance
        if instance.pk is None:
            if parent is None and Branch.objects.filter(parent__isnull=True).exists():
                raise forms.ValidationError(_("There is already a head office; choose a parent branch."))
        elif (parent is None) != (instance.parent_id is None):
            raise forms.ValidationError(_("Head office stays the root of the tree."))
        elif parent is not None and parent.is_within(instance):
            raise forms.ValidationError(_("A branch cannot move below itself."))
        return parent


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    form = BranchAdminForm
    list_display = ["code", "name", "parent", "path"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]
    ordering = ["path"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "path"] if obj else ["path"]

    def save_model(self, request, obj, form, change):
        # The tree path and the audit trail are the service's job.
        if change:
            saved = services.branch_update(
                actor=request.user, branch=obj, name=obj.name, parent=obj.parent
            )
        else:
            saved = services.branch_create(
                actor=request.user, code=obj.code, name=obj.name, parent=obj.parent
            )
        obj.pk, obj.path = saved.pk, saved.path


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "branch", "role", "is_active", "is_superuser"]
    list_filter = ["role", "is_active", "is_superuser", "branch"]
    list_select_related = ["branch"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Branch and role"), {"fields": ("branch", "role", "time_zone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Branch and role"), {"fields": ("branch", "role")}),
    )

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            services.audit_record(
                actor=request.user,
                action="user.create",
                obj=obj,
                changes={"branch": obj.branch.code if obj.branch else None, "role": obj.role},
                branch=obj.branch or Branch.objects.get(parent__isnull=True),
            )
            return
        # Branch and role are permissions: they change through the audited service.
        branch, role = obj.branch, obj.role
        obj.branch_id, obj.role = form.initial.get("branch"), form.initial.get("role")
        super().save_model(request, obj, form, change)
        services.user_assign(actor=request.user, user=obj, branch=branch, role=role)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that change only through services (ledgers, audit trail, derived indexes)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "object_repr", "branch", "reason"]
    list_filter = ["action", "branch"]
    search_fields = ["object_repr", "object_id", "reason"]
    list_select_related = ["actor", "branch"]
    date_hierarchy = "at"
