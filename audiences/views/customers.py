from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from audiences import selectors
from audiences.filters import CustomerFilter

PAGE_SIZE = 50


@require_GET
@login_required
def customer_list(request):
    customer_filter = CustomerFilter(
        request.GET or None, queryset=selectors.customer_list(user=request.user), user=request.user
    )
    paginator = Paginator(customer_filter.qs.order_by("customer_ref"), PAGE_SIZE)
    context = {"filter": customer_filter, "page_obj": paginator.get_page(request.GET.get("page"))}
    template = "audiences/partials/customer_table.html" if request.htmx else "audiences/customer_list.html"
    return render(request, template, context)


@require_GET
@login_required
def customer_detail(request, customer_ref):
    customer = selectors.customer_get_for_user(user=request.user, customer_ref=customer_ref)
    context = {
        "customer": customer,
        "tags_by_category": selectors.customer_tags_by_category(customer=customer, user=request.user),
    }
    return render(request, "audiences/customer_detail.html", context)


urlpatterns = [
    path("customers/", customer_list, name="customer_list"),
    path("customers/<str:customer_ref>/", customer_detail, name="customer_detail"),
]
