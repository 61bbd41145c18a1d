"""A logging backend for tests/rewards/test_dispatch_kill.py, loaded in a real
worker process by ``REWARDS_DISPATCH_BACKEND=tests.rewards.slow_backend.SlowLoggingBackend``.

It writes its records like the real one, then, still inside the transaction
that will mark the batch delivered:

- waits ``DISPATCH_DELAY_PER_GRANT`` seconds per grant (a slow core system);
- once ``DISPATCH_STALL_AFTER`` grants are delivered (committed), writes its
  pid to the file ``DISPATCH_STALLED`` and hangs, so the test can SIGKILL the
  worker at exactly the worst moment: records written, status not committed.
"""

import os
import time
from pathlib import Path

from rewards.backends.logging import LoggingBackend
from rewards.models import Grant, GrantStatus


class SlowLoggingBackend(LoggingBackend):
    def deliver(self, grants):
        results = super().deliver(grants)
        stall_after = int(os.environ.get("DISPATCH_STALL_AFTER") or 0)
        if stall_after and Grant.objects.filter(status=GrantStatus.DELIVERED).count() >= stall_after:
            stalled = Path(os.environ["DISPATCH_STALLED"])
            stalled.with_suffix(".tmp").write_text(str(os.getpid()))
            stalled.with_suffix(".tmp").rename(stalled)  # the test never reads half a pid
            time.sleep(300)
        time.sleep(float(os.environ.get("DISPATCH_DELAY_PER_GRANT") or 0) * len(grants))
        return results
