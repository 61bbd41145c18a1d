"""Writes for campaigns, by area: campaigns (drafts and edits), materials and
messages, lifecycle (submit, approval, revisions, go-live and end)."""
