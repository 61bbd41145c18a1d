"""Reads for campaigns, by area: campaigns, materials, review, forecast."""
