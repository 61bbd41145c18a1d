"""One rqcron process runs every app's recurring jobs."""

import importlib

from rq.cron import CronScheduler

import rewards.cron  # noqa: F401 - imported before, as in a process that already loaded it
from campaigns import jobs as campaign_jobs
from rewards import jobs as reward_jobs


def test_config_cron_registers_each_apps_jobs_once_even_when_loaded_twice(settings):
    import redis

    connection = redis.Redis.from_url(settings.REDIS_URL)
    for _ in range(2):
        scheduler = CronScheduler(connection=connection)
        scheduler.load_config_from_file("config.cron")
        jobs = sorted((job.func.__module__, job.func.__name__, job.cron) for job in scheduler.get_jobs())
        assert jobs == [
            ("campaigns.jobs", campaign_jobs.analysis_refresh.__name__, "*/15 * * * *"),
            ("campaigns.jobs", campaign_jobs.awards_sweep.__name__, "* * * * *"),
            ("campaigns.jobs", campaign_jobs.campaigns_due.__name__, "* * * * *"),
            ("campaigns.jobs", campaign_jobs.runtime_sync.__name__, "* * * * *"),
            ("rewards.jobs", reward_jobs.grants_sweep.__name__, "* * * * *"),
        ]
    importlib.import_module("config.cron")
