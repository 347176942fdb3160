"""Per-request speed (issue 9): remember which `allow` blocks apply to each table instead of recomputing them.

Datasette 0.65.5's `Datasette._table_permission_allows(database, table)` deep-copies the whole metadata (about 130 KB
of YAML here, most of it dashboard definitions) every time a page checks the `view-table` permission, which row and
table pages do several times per request (breadcrumbs, the page itself, links). Profiled on a service's row page
that was about 45% of the request's CPU. The answer depends only on the metadata, which this site loads once at start
and never changes, so it is computed once per (database, table) and reused while `datasette._metadata_local` is the
same object. When any plugin supplies metadata through the `get_metadata` hook (which may change per call), nothing is
remembered and Datasette's own method runs every time.
"""

from __future__ import annotations

import copy

from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm

_original = getattr(Datasette._table_permission_allows, "__wrapped__", Datasette._table_permission_allows)
_CACHE_ATTRIBUTE = "_table_permission_allows_cache"


def _table_permission_allows(self, database, table):
    if pm.hook.get_metadata.get_hookimpls():
        return _original(self, database, table)
    source, answers = getattr(self, _CACHE_ATTRIBUTE, (None, None))
    if source is not self._metadata_local:
        source, answers = self._metadata_local, {}
        setattr(self, _CACHE_ATTRIBUTE, (source, answers))
    key = (database, table)
    if key not in answers:
        answers[key] = _original(self, database, table)
    return copy.deepcopy(answers[key])  # callers get their own copy, as from the original


_table_permission_allows.__wrapped__ = _original
Datasette._table_permission_allows = _table_permission_allows


@hookimpl
def startup(datasette):
    # Nothing to set up: the method is replaced when the plugin is imported. The hook keeps this module a plugin.
    return None
