"""``/api/v1/``: the channel API (DESIGN.md §5)."""

from django.urls import path, re_path

from campaigns.api import openapi, views

app_name = "api"

_CODE = "<str:code>"

urlpatterns = [
    path("openapi.json", openapi.document_view, name="openapi"),
    path("customers/<str:ref>/campaigns", views.customer_campaigns, name="customer_campaigns"),
    path("customers/<str:ref>/grants", views.customer_grants, name="customer_grants"),
    path(f"campaigns/{_CODE}/view", views.campaign_view, name="campaign_view"),
    path(f"campaigns/{_CODE}/join", views.campaign_join, name="campaign_join"),
    path(f"campaigns/{_CODE}/draw", views.campaign_draw, name="campaign_draw"),
    path(f"campaigns/{_CODE}/claim", views.campaign_claim, name="campaign_claim"),
    path(f"campaigns/{_CODE}/invite", views.campaign_invite, name="campaign_invite"),
    path("referrals", views.referrals, name="referrals"),
    path("events", views.events, name="events"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
