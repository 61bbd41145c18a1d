"""Settings of the gunicorn the load tests start: the test settings, served
with DEBUG off like production (no debug pages, no query log growing under
load) but over plain HTTP on loopback, with the harness's URLs (the real ones
plus the deliberately naive endpoint in ``tests.load.naive``)."""

from config.settings_test import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.load.urls"
