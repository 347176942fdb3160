"""Change log between published builds (issue 8)."""
