from campaigns.views import campaigns, landing, materials, review, templates

app_name = "campaigns"

urlpatterns = campaigns.urlpatterns + materials.urlpatterns + review.urlpatterns + landing.urlpatterns + templates.urlpatterns
