from campaigns.views import (
    analysis,
    campaigns,
    channels,
    compare,
    landing,
    materials,
    participant_tags,
    review,
    templates,
)

app_name = "campaigns"

urlpatterns = compare.urlpatterns + campaigns.urlpatterns + analysis.urlpatterns + participant_tags.urlpatterns + materials.urlpatterns + review.urlpatterns + landing.urlpatterns + templates.urlpatterns + channels.urlpatterns
