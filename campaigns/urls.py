from campaigns.views import campaigns, channels, landing, materials, review, templates

app_name = "campaigns"

urlpatterns = campaigns.urlpatterns + materials.urlpatterns + review.urlpatterns + landing.urlpatterns + templates.urlpatterns + channels.urlpatterns
