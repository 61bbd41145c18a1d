"""Test settings: the real settings, plus what only makes tests faster or possible."""

from .settings import *  # noqa: F403
from .settings import STORAGES

# live_server serves unhashed finder paths; the manifest storage would point at hashed ones.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Enqueue at once even inside the test's transaction.
RQ = {"COMMIT_MODE": "auto"}
# No collectstatic before tests: serve from the app directories, never from STATIC_ROOT.
WHITENOISE_AUTOREFRESH = True
# Assertions read English; the tests about Chinese switch to it themselves.
LANGUAGE_CODE = "en"
# Fencing a campaign before reloading its counters: long enough in production
# for in-flight requests to commit; the tests' requests are in-process.
CAMPAIGNS_REBUILD_SETTLE_SECONDS = 0.05
