"""Helpers shared by the hardening plugins (issue 15): plugins/client_errors.py, request_parameters.py,
response_limit.py and table_parameters.py. Not a plugin itself (Datasette loads only plugins/*.py)."""
