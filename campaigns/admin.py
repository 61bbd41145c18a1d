from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from campaigns.models import (
    Campaign,
    CampaignAudience,
    CampaignChannel,
    CampaignRevision,
    CampaignTemplate,
    Material,
    RewardSlot,
)


class SlotInline(admin.TabularInline):
    model = RewardSlot
    extra = 0
    can_delete = False
    readonly_fields = ["position", "role", "label", "prize", "quantity", "weight", "options", "reservation"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "owner_branch", "status", "starts_at", "ends_at", "is_archived"]
    list_filter = ["kind", "status", "is_archived"]
    search_fields = ["code", "name"]
    list_select_related = ["owner_branch"]
    inlines = [SlotInline]


@admin.register(CampaignRevision)
class CampaignRevisionAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "number", "state", "submitted_by", "submitted_at", "decided_by", "decided_at"]
    list_filter = ["state"]
    list_select_related = ["campaign", "submitted_by", "decided_by"]


@admin.register(CampaignAudience)
class CampaignAudienceAdmin(ReadOnlyAdmin):
    list_display = ["revision", "size", "control_size", "taken_at"]
    exclude = ["members", "control"]


@admin.register(CampaignChannel)
class CampaignChannelAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "channel", "enabled", "material"]
    list_filter = ["channel", "enabled"]


@admin.register(Material)
class MaterialAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "owner_branch", "content_type", "size", "width", "height", "created_at"]
    list_filter = ["kind", "is_archived"]
    search_fields = ["name"]


@admin.register(CampaignTemplate)
class CampaignTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "owner_branch", "published", "created_at"]
    list_filter = ["kind", "published"]
from campaigns import admin_runtime  # noqa: E402,F401
