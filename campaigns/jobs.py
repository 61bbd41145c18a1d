"""Background jobs for campaigns: thin, take ids, safe to run twice, early or late.

Scheduled with RQ's built-in scheduler (``rqworker --with-scheduler``) when a
campaign is approved (``services.lifecycle.campaign_schedule``). Each job looks
at the campaign's status and approved window when it runs, so a duplicate, a
late or an early run does nothing wrong.
"""

from __future__ import annotations

from campaigns.services import lifecycle


def campaign_go_live(campaign_id: int) -> str:
    """At ``starts_at``: an approved campaign goes live."""
    return lifecycle.campaign_start_due(campaign_id=campaign_id)


def campaign_end(campaign_id: int) -> str:
    """At ``ends_at``: the campaign ends and its reservations go back to stock."""
    return lifecycle.campaign_end_due(campaign_id=campaign_id)


def campaigns_due() -> dict[str, int]:
    """Every minute (rqcron): start and end what is due if its own job was lost."""
    return lifecycle.campaigns_due_sweep()

def runtime_sync() -> dict[str, int]:
    """Every minute (rqcron): Redis agrees with the database on what is live."""
    from campaigns.runtime import state

    return state.runtime_sync()


def awards_drain() -> dict[str, int]:
    """Grant the next batch of queued awards (``campaigns.runtime.awards``)."""
    from campaigns.runtime import awards

    return awards.awards_drain()


def awards_sweep() -> dict[str, int]:
    """Every minute (rqcron): re-queue awards whose queueing or drain was lost."""
    from campaigns.runtime import awards

    return awards.awards_sweep()


def participants_tagging(tagging_id: int) -> str:
    """Give a campaign group's customers their campaign history tag (``services.participant_tags``)."""
    from campaigns.services import participant_tags

    return participant_tags.tagging_run(tagging_id)


def analysis_refresh() -> dict[str, int]:
    """Every 15 minutes (rqcron): recompute the stored key figures of campaigns
    whose records changed since (``services.results.results_refresh``)."""
    from campaigns.services import results

    return results.results_refresh().as_dict()
