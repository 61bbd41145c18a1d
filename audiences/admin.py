from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from audiences.models import (
    BitmapIndex,
    Customer,
    CustomerTag,
    ImportBatch,
    Segment,
    SegmentSnapshot,
    Tag,
    TagCategory,
)


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["customer_ref", "name", "branch", "opened_on", "updated_at"]
    list_filter = ["branch"]
    search_fields = ["customer_ref", "name"]
    list_select_related = ["branch"]
    show_full_result_count = False


@admin.register(CustomerTag)
class CustomerTagAdmin(ReadOnlyAdmin):
    list_display = ["customer", "tag", "since", "source", "source_ref"]
    list_filter = ["source", "tag__category"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "tag"]
    show_full_result_count = False


@admin.register(TagCategory)
class TagCategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "order"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "category", "owner_branch", "is_active"]
    list_filter = ["category", "is_active", "owner_branch"]
    search_fields = ["code", "name_zh", "name_en"]
    list_select_related = ["category", "owner_branch"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner_branch", "created_by", "updated_at", "is_archived"]
    list_filter = ["owner_branch", "is_archived"]
    search_fields = ["name"]
    readonly_fields = ["rule"]


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["segment", "taken_at", "size", "reason", "taken_by"]
    exclude = ["members"]


@admin.register(BitmapIndex)
class BitmapIndexAdmin(ReadOnlyAdmin):
    list_display = ["key", "cardinality", "version", "updated_at"]
    search_fields = ["key"]
    exclude = ["data"]


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "kind", "status", "total_rows", "error_count", "uploaded_by", "created_at"]
    list_filter = ["kind", "status"]
