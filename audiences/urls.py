from audiences.views import customers, imports, segments, tags

app_name = "audiences"

urlpatterns = customers.urlpatterns + tags.urlpatterns + segments.urlpatterns + imports.urlpatterns
