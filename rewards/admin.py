from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from rewards.models import (
    BudgetMovement,
    CouponCode,
    DeliveryRecord,
    DispatchBatch,
    Grant,
    Prize,
    PrizePool,
    Reservation,
    StockMovement,
)


@admin.register(PrizePool)
class PrizePoolAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "owner_branch", "budget_available", "valid_from", "valid_until"]
    list_filter = ["owner_branch"]
    search_fields = ["code", "name"]


@admin.register(Prize)
class PrizeAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "pool", "kind", "unit_cost", "stock_available"]
    list_filter = ["kind", "pool"]
    search_fields = ["code", "name"]
    list_select_related = ["pool"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["prize", "source_ref", "remaining", "released_at"]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ["at", "prize", "kind", "delta", "reserved_delta", "actor", "reason"]
    list_filter = ["kind"]
    list_select_related = ["prize", "actor"]
    date_hierarchy = "at"


@admin.register(BudgetMovement)
class BudgetMovementAdmin(ReadOnlyAdmin):
    list_display = ["at", "pool", "kind", "amount", "actor", "reason"]
    list_filter = ["kind"]
    list_select_related = ["pool", "actor"]
    date_hierarchy = "at"


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ["idempotency_key", "prize", "customer", "cost", "status", "attempts", "fulfilment", "created_at"]
    list_filter = ["status", "failure_kind", "fulfilment"]
    search_fields = ["idempotency_key", "customer__customer_ref"]
    list_select_related = ["prize", "customer"]
    show_full_result_count = False


@admin.register(CouponCode)
class CouponCodeAdmin(ReadOnlyAdmin):
    list_display = ["code", "prize", "grant"]
    search_fields = ["code"]


@admin.register(DeliveryRecord)
class DeliveryRecordAdmin(ReadOnlyAdmin):
    list_display = ["at", "idempotency_key", "grant", "backend"]
    search_fields = ["idempotency_key"]
    list_select_related = ["grant"]
    show_full_result_count = False


@admin.register(DispatchBatch)
class DispatchBatchAdmin(ReadOnlyAdmin):
    list_display = ["pk", "prize", "customer_count", "total_cost", "status", "created_by", "decided_by", "created_at"]
    list_filter = ["status", "selection"]
    list_select_related = ["prize", "created_by", "decided_by"]
