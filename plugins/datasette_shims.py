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

## Patch 2: `Datasette.executor` releases a failed query's cursor in the thread that ran it
When a query fails (a size limit, the time limit, bad SQL), the exception carries the frames of Datasette's
`sql_operation_in_thread`, and with them its `cursor`. Datasette keeps the exception (the SQL page renders it), so
the cursor ends up in a reference cycle that Python's garbage collector frees later, in whichever thread it runs:
usually the event loop's. Freeing a cursor resets its SQLite statement, and `sqlite3_reset` waits for the
connection's mutex, which the SQL thread holds while it runs its next query on that connection. The event loop then
waits, holding the GIL, until that query ends: under the huge-value attack every page stalled for up to the whole
`sql_time_limit_ms` (py-spy: MainThread in `gc_collect_main` -> `cursor_clear` -> `sqlite3_reset` ->
`pthread_mutex_lock`), and normal p99 was 3.9-4.0x the same traffic without the attack (docs/benchmark.md).
QueryThreadExecutor is Datasette's thread pool with one change: when the function it runs raises, the finished
frames of the exception's tracebacks (and of the exceptions it chains or wraps) are cleared right there, so the
cursor is freed at once in the thread that owns its connection; the exception and its line numbers are unchanged.
The exception is also appended to the request's list in plugins/hardening/query_failures.py, if a plugin watches
(plugins/csv_query_errors.py answers a failed query's CSV with its message).
Why not a hook: no hook runs in the SQL thread after a failed query (`prepare_connection` runs once per
connection), and the cursor is a local of Datasette's own function.

## Patch 3: an immutable database's schema is read once
Datasette asks a database about its schema on every request (table names, hidden tables, primary keys, columns,
foreign keys, full-text tables), each question a trip to a SQL thread. On a service page that was 18 of its 37 trips,
12 of them datasette-search-all's `menu_links` looking for a searchable table on every HTML page. The databases
this site serves are immutable (`-i`): their schema cannot change while the process runs, and Datasette already
remembers their table counts (`cached_table_counts`) for that reason. So for a database opened immutable (not
mutable, not in memory), and for Datasette's `_internal` once its tables exist (its rows change, its schema does
not; search-all asks it on every page too), the answers of SCHEMA_METHODS are remembered per database and
arguments, and each caller gets its own copy; other mutable and in-memory databases are asked every time.
Why not a hook: these are Database methods Datasette and its plugins call directly; no hook sits in front of them.
"""

from __future__ import annotations

import copy
import traceback
import weakref
from concurrent import futures

import datasette as datasette_package
from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm

from plugins.hardening import query_failures

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
    "Database schema methods": "remember an immutable database's answers about its schema (see SCHEMA_METHODS)",
    "Datasette.executor": "a thread pool that frees a failed query's cursor in its own SQL thread, so that the "
                          "garbage collector never waits in the event loop for a busy connection's mutex",
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


# --- patch 2 ----------------------------------------------------------------------------------------------------


def clear_finished_frames(exception: BaseException | None, seen: set[int] | None = None) -> None:
    """Clear the locals of the finished frames in the tracebacks of `exception`, the exceptions it was raised from
    or during, and any exception among its arguments (Datasette's QueryInterrupted wraps SQLite's error)."""
    seen = set() if seen is None else seen
    while exception is not None and id(exception) not in seen:
        seen.add(id(exception))
        traceback.clear_frames(exception.__traceback__)  # a frame still running is skipped
        for argument in exception.args:
            if isinstance(argument, BaseException):
                clear_finished_frames(argument, seen)
        clear_finished_frames(exception.__cause__, seen)
        exception = exception.__context__


def releasing_failed_query(function, failures: list | None = None):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BaseException as exception:
            clear_finished_frames(exception)
            if failures is not None:
                failures.append(exception)
            raise

    return run


class QueryThreadExecutor(futures.ThreadPoolExecutor):
    """Datasette's SQL thread pool; a function that fails leaves no cursor for the garbage collector (patch 2)."""

    shim = "datasette_shims"

    def submit(self, fn, /, *args, **kwargs):
        # submit runs in the event loop, in the context of the request that runs the query.
        return super().submit(releasing_failed_query(fn, query_failures.current()), *args, **kwargs)


# --- patch 3 ----------------------------------------------------------------------------------------------------

SCHEMA_METHODS = ("table_names", "view_names", "hidden_table_names", "table_exists", "table_columns",
                  "table_column_details", "primary_keys", "fts_table", "label_column_for_table",
                  "foreign_keys_for_table", "get_all_foreign_keys", "get_table_definition", "get_view_definition")
_schema_answers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Database -> {(method, args): answer}


def copied(value):
    """A copy of an answer's lists and dicts (leaves, tuples and namedtuples are immutable and shared): what
    copy.deepcopy gives for these answers, in a fraction of its time."""
    if isinstance(value, list):
        return [copied(v) for v in value]
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    return value


def schema_immutable(database) -> bool:
    """True for a database opened immutable, and for Datasette's `_internal` once Datasette has made its tables (its
    rows change, its schema never does)."""
    if database.name == "_internal":
        return bool(getattr(database.ds, "internal_db_created", False))
    return not database.is_mutable and not database.is_memory


def remembering_schema_method(name: str, original):
    async def method(self, *args, **kwargs):
        if not schema_immutable(self):
            return await original(self, *args, **kwargs)
        answers = _schema_answers.setdefault(self, {})
        key = (name, args, tuple(sorted(kwargs.items())))
        if key not in answers:
            answers[key] = await original(self, *args, **kwargs)
        return copied(answers[key])  # callers get their own copy, as from the original

    method.__name__ = name
    method.__wrapped__ = original
    method.shim = "datasette_shims"
    return method


def install_patches(datasette=None) -> None:
    """Apply every patch once per process (this module may be loaded more than once: as Datasette's plugin and by
    tests), and patch 2 once per Datasette."""
    current = Datasette._table_permission_allows
    if getattr(current, "shim", None) != "datasette_shims":
        Datasette._table_permission_allows = remembering_table_permission_allows(current)
    for name in SCHEMA_METHODS:
        current = getattr(Database, name)
        if getattr(current, "shim", None) != "datasette_shims":
            setattr(Database, name, remembering_schema_method(name, current))
    executor = getattr(datasette, "executor", None)
    if executor is not None and getattr(executor, "shim", None) != "datasette_shims":
        datasette.executor = QueryThreadExecutor(max_workers=datasette.setting("num_sql_threads"))
        executor.shutdown(wait=False)  # its threads end once any work already queued on it has run


@hookimpl
def startup(datasette):
    check_version()
    install_patches(datasette)
