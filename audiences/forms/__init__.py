"""Audience forms, one module per area."""
