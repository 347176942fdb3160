"""Serving: the data behind each custom page, read from the built databases only (never data/).

One module per page family; plugins/ hooks call these and templates only display what they return. Nothing here
imports the build package (scripts/publication); shared pure helpers come from scripts/common.
"""
