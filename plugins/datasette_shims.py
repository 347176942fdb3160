"""The one place that patches Datasette's private internals, checked against the exact Datasette version at start-up.

Datasette is pinned to 0.65.5 (pyproject.toml). Every other module in plugins/ and plugins/view_models/ uses only
Datasette's plugin hooks and the names in PUBLIC_API below; tests/test_datasette_shims.py scans them to keep it so.
At start-up (the `startup` hook) this module refuses to run on any other Datasette version with a RuntimeError that
says what to do, then applies its patches. Each patch is listed in PATCHES with why it exists and why no hook can do
the same; when Datasette is upgraded, read each one against the new source, then change EXPECTED_DATASETTE_VERSION.

## Patch 1: `Datasette._table_permission_allows` answers from a per-table memo
Datasette 0.65.5's default `view-table` permission check calls `_table_permission_allows(database, table)`, which
deep-copies the whole metadata (about 130 KB here, mostly dashboard definitions) on every call; row and table pages
check `view-table` several times per request (breadcrumbs, the page, links), which was about 45% of a row page's CPU
(docs/benchmark.md). The answer depends only on the metadata, which this site loads once and never changes, so it is
remembered per (database, table) while `datasette._metadata_local` is the same object, and each caller gets its own
copy of the remembered answer, as from the original. When any plugin supplies metadata through the `get_metadata`
hook (which may answer differently per call), nothing is remembered and Datasette's own method runs every time.
Why not a hook: the `permission_allowed` hook cannot stop Datasette's default implementation from running (pluggy
calls every implementation), and that implementation is what deep-copies.
"""

from __future__ import annotations

import copy
import weakref

import datasette as datasette_package
from datasette import hookimpl
from datasette.app import Datasette
from datasette.plugins import pm

EXPECTED_DATASETTE_VERSION = "0.65.5"

# Names of Datasette that the other modules in plugins/ may import: the plugin hooks and documented classes, and a
# few public (not underscore) helpers Datasette's own plugins use. They are read against each new Datasette version
# together with the patches below.
PUBLIC_API = {
    "datasette": {"hookimpl", "__version__"},
    "datasette.utils.asgi": {"Response"},
    "datasette.utils": {"tilde_encode", "tilde_decode", "add_cors_headers", "path_with_added_args",
                        "path_with_removed_args", "sqlite_timelimit"},
    "datasette.database": {"QueryInterrupted"},
    "datasette.facets": {"Facet", "ColumnFacet", "ArrayFacet"},  # for the register_facet_classes hook
}

PATCHES = {
    "Datasette._table_permission_allows": "remember each table's allow blocks instead of deep-copying the whole "
                                          "metadata on every view-table check (see the module docstring)",
}


class DatasetteVersionError(RuntimeError):
    pass


def check_version(version: str | None = None) -> None:
    version = datasette_package.__version__ if version is None else version
    if version != EXPECTED_DATASETTE_VERSION:
        raise DatasetteVersionError(
            f"plugins/datasette_shims.py patches private internals of Datasette {EXPECTED_DATASETTE_VERSION} "
            f"({', '.join(PATCHES)}), but Datasette {version} is installed. Install the pinned version "
            f"(pip install datasette=={EXPECTED_DATASETTE_VERSION}, as pyproject.toml says), or read each patch in "
            f"plugins/datasette_shims.py against Datasette {version}'s source and update EXPECTED_DATASETTE_VERSION."
        )


# --- patch 1 ----------------------------------------------------------------------------------------------------

_remembered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Datasette -> (metadata object, {key: allows})


def remembering_table_permission_allows(original):
    def _table_permission_allows(self, database, table):
        if pm.hook.get_metadata.get_hookimpls():
            return _table_permission_allows.__wrapped__(self, database, table)
        source, answers = _remembered.get(self, (None, None))
        if source is not self._metadata_local:
            source, answers = self._metadata_local, {}
            _remembered[self] = (source, answers)
        key = (database, table)
        if key not in answers:
            answers[key] = _table_permission_allows.__wrapped__(self, database, table)
        return copy.deepcopy(answers[key])  # callers get their own copy, as from the original

    _table_permission_allows.__wrapped__ = original
    _table_permission_allows.shim = "datasette_shims"
    return _table_permission_allows


def install_patches() -> None:
    """Apply every patch once per process (this module may be loaded more than once: as Datasette's plugin and by
    tests)."""
    current = Datasette._table_permission_allows
    if getattr(current, "shim", None) != "datasette_shims":
        Datasette._table_permission_allows = remembering_table_permission_allows(current)


@hookimpl
def startup(datasette):
    check_version()
    install_patches()
