from rewards.views import batches, grants, pools

app_name = "rewards"

urlpatterns = pools.urlpatterns + grants.urlpatterns + batches.urlpatterns
