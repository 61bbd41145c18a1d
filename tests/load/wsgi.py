"""The load tests' WSGI entry: the project's application, with every URL's
view module imported up front. gunicorn runs with ``--preload``, so this
happens once in the master and every worker — a replaced one too — forks
ready to serve."""

from django.urls import get_resolver

from config.wsgi import application

get_resolver().url_patterns  # noqa: B018 (imports the URLconf and its views)

__all__ = ["application"]
