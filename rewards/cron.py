"""Recurring jobs, run by ``manage.py rqcron rewards.cron`` (RQ's cron scheduler).

The sweeper is what turns "a worker died" or "Redis was down at commit" into
"delivered a little later" (rewards/services/delivery.py). It is safe to run
on several hosts at once: everything it does is a conditional UPDATE or an
idempotent ZADD.
"""

from rq import cron

from rewards import jobs

cron.register(jobs.grants_sweep, queue_name="default", cron="* * * * *", name="rewards-grants-sweep")
