from campaigns.views import analysis, campaigns, channels, landing, materials, review, templates

app_name = "campaigns"

urlpatterns = campaigns.urlpatterns + analysis.urlpatterns + materials.urlpatterns + review.urlpatterns + landing.urlpatterns + templates.urlpatterns + channels.urlpatterns
