"""The queries that failed while the current request was served, for the plugins that answer for them.

Datasette's SQL page catches a failed query's exception itself (to render it), and its CSV view then sends an empty
CSV with HTTP 200, so a plugin outside Datasette cannot see why. A plugin that needs to know calls `watch()` at the
start of a request; plugins/datasette_shims.py's SQL thread pool reads `current()` when it is handed a query and
appends the exception if that query fails. Context variables follow the request's task and the tasks it starts,
not other requests.
"""

from __future__ import annotations

from contextvars import ContextVar

_failures: ContextVar[list[BaseException] | None] = ContextVar("query_failures", default=None)


def watch() -> list[BaseException]:
    """Start recording the current request's failed queries; the list fills as they fail."""
    failures: list[BaseException] = []
    _failures.set(failures)
    return failures


def current() -> list[BaseException] | None:
    """The list the current request records into (read where the query is handed to a thread), or None."""
    return _failures.get()
