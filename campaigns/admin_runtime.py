"""Read-only admin pages for the campaign runtime and the API channels.

Everything here is written by the runtime and the channel services, so the
admin (superusers only, see ``config.admin``) only reads. A channel's secret
and previous secret are never on any admin page: channels show their key id,
and secrets are shown once, by the channel pages that make them.
"""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from campaigns.models import (
    Activity,
    ApiChannel,
    ApiRequest,
    Award,
    BusinessEvent,
    Draw,
    Invite,
    Referral,
    TaskProgress,
)


@admin.register(ApiChannel)
class ApiChannelAdmin(ReadOnlyAdmin):
    # An explicit list, so a secret field can never appear on the page.
    list_display = ["name", "kind", "key_id", "is_active", "rate_per_minute", "customer_rate_per_minute", "rotated_at", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "key_id"]
    fields = [
        "name", "kind", "key_id", "is_active", "rate_per_minute", "customer_rate_per_minute",
        "previous_valid_until", "rotated_at", "created_by", "created_at",
    ]
    readonly_fields = ["created_at"]


@admin.register(ApiRequest)
class ApiRequestAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "key", "path", "status"]
    list_filter = ["status", "channel"]
    search_fields = ["key", "path"]
    list_select_related = ["channel"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["at", "campaign", "customer", "kind", "channel", "amount", "award"]
    list_filter = ["kind", "channel"]
    search_fields = ["campaign__code", "customer__customer_ref", "ref"]
    list_select_related = ["campaign", "customer"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(Award)
class AwardAdmin(ReadOnlyAdmin):
    list_display = [
        "at", "campaign", "customer", "slot_key", "unit", "action", "seq", "day", "day_seq", "cost", "status", "grant",
    ]
    list_filter = ["status", "action"]
    search_fields = ["campaign__code", "customer__customer_ref", "key"]
    list_select_related = ["campaign", "customer", "grant"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(Draw)
class DrawAdmin(ReadOnlyAdmin):
    list_display = ["at", "campaign", "customer", "number", "day", "day_number", "value", "landed_key", "outcome"]
    list_filter = ["outcome"]
    search_fields = ["campaign__code", "customer__customer_ref"]
    list_select_related = ["campaign", "customer"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(Invite)
class InviteAdmin(ReadOnlyAdmin):
    list_display = ["code", "campaign", "customer", "created_at"]
    search_fields = ["code", "campaign__code", "customer__customer_ref"]
    list_select_related = ["campaign", "customer"]
    show_full_result_count = False


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "referrer", "referee", "status", "accepted_at", "qualify_by", "qualified_at", "referrer_seq"]
    list_filter = ["status"]
    search_fields = ["campaign__code", "referrer__customer_ref", "referee__customer_ref", "invite__code"]
    list_select_related = ["campaign", "referrer", "referee"]
    show_full_result_count = False


@admin.register(TaskProgress)
class TaskProgressAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "customer", "done", "completed_at", "updated_at"]
    search_fields = ["campaign__code", "customer__customer_ref"]
    list_select_related = ["campaign", "customer"]
    show_full_result_count = False


@admin.register(BusinessEvent)
class BusinessEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "event_id", "type", "customer", "amount", "product", "channel", "received_at"]
    list_filter = ["type", "channel"]
    search_fields = ["event_id", "customer__customer_ref"]
    list_select_related = ["customer", "channel"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
