from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class SuperuserAdminSite(admin.AdminSite):
    """The Django admin is for superusers only (DESIGN.md §1); staff flags alone do not open it."""

    site_header = _("Campaign Studio administration")
    site_title = _("Campaign Studio admin")
    index_title = _("Administration")

    def has_permission(self, request):
        return request.user.is_active and request.user.is_superuser


class CampaignStudioAdminConfig(AdminConfig):
    default_site = "config.admin.SuperuserAdminSite"
