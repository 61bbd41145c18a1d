from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from accounts import views as accounts_views
from config import views

urlpatterns = [
    path("", accounts_views.dashboard_view, name="dashboard"),
    path("accounts/", include("accounts.urls")),
    path("audiences/", include("audiences.urls")),
    path("rewards/", include("rewards.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("api/v1/", include("campaigns.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("admin/rq/", include("django_rq.urls")),
]

if settings.DEBUG:
    # Uploaded materials on a development machine; in production the web server serves MEDIA_ROOT.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
