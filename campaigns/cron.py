"""Recurring jobs of campaigns, loaded by ``manage.py rqcron config.cron``.

The start and end of each campaign are scheduled jobs; this net catches the
ones lost with Redis. Safe on several hosts: each start or end is a
conditional status change.
"""

from rq import cron

from campaigns import jobs

cron.register(jobs.campaigns_due, queue_name="default", cron="* * * * *", name="campaigns-due")
cron.register(jobs.runtime_sync, queue_name="default", cron="* * * * *", name="campaigns-runtime-sync")
cron.register(jobs.awards_sweep, queue_name="default", cron="* * * * *", name="campaigns-awards-sweep")
# A run is stopped before the next is due; what it did not reach, the next run does.
cron.register(jobs.analysis_refresh, queue_name="default", cron="*/15 * * * *", job_timeout=14 * 60, name="campaigns-analysis-refresh")
