"""The project's URLs plus the naive claim the load tests race against the real one."""

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from tests.load import naive

urlpatterns = [
    path("naive/campaigns/<str:code>/claim", naive.claim, name="naive_claim"),
    *project_urlpatterns,
]
