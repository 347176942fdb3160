"""Commissioned services directory and map (issue 3)."""
