"""Every app's recurring jobs, for one ``manage.py rqcron config.cron``.

An app's ``cron`` module registers its jobs when it runs. rq empties its
registry before loading this file, so a module imported earlier in the
process is run again (reloaded) rather than skipped.
"""

import importlib
import sys

APP_CRON_MODULES = ("rewards.cron", "campaigns.cron")

for name in APP_CRON_MODULES:
    if name in sys.modules:
        importlib.reload(sys.modules[name])
    else:
        importlib.import_module(name)
