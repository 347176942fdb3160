"""Funding opportunities with derived status, calendar and feeds (issue 4)."""
