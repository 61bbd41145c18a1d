from django.contrib import admin
from django.urls import include, path

from accounts import views as accounts_views
from config import views

urlpatterns = [
    path("", accounts_views.dashboard_view, name="dashboard"),
    path("accounts/", include("accounts.urls")),
    path("audiences/", include("audiences.urls")),
    path("rewards/", include("rewards.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("admin/rq/", include("django_rq.urls")),
]
