"""Table and view pages: a bad `_sort`, `_sort_desc`, `_next` or `_through` gets HTTP 400 with a message (issue 15).

Datasette 0.65 answers 500 for `_sort` on an unknown column (and `_sort=rowid` on a table with a primary key or on a
view), for `_sort` with `_sort_desc`, for a `_next` on a view that is not a whole number and for a `_through` that is
not JSON naming a related table; a `_next` token of the wrong shape on a table is silently read as something else (a
page of other rows, or none). This checks them before
Datasette builds its SQL, through the `filters_from_request` hook that runs for every table and view page, and raises
BadParameter, which plugins/client_errors.py answers with HTTP 400: Datasette's error page (HTML) or
`{"ok": false, "error": ...}` (JSON).

A valid `_next` is what Datasette itself writes in its "next page" links:
- a view: the offset, a whole number;
- a table: its primary key values (tilde-encoded, joined by commas; `rowid`, a whole number, for a table without one),
  preceded by the sort value when the page is sorted (`_sort`, `_sort_desc`, or the table's `sort` in metadata).
"""

from __future__ import annotations

import json
import re

from datasette import hookimpl
from datasette.utils import tilde_decode

from plugins.hardening.errors import BadParameter

WHOLE_NUMBER = re.compile(r"\d{1,18}")  # within SQLite's 64-bit integers
CHECKED = ("_sort", "_sort_desc", "_next", "_through")
_shapes: dict[tuple, tuple] = {}  # (database, table) -> (is_view, pks, sortable), for immutable databases


async def table_shape(datasette, database: str, table: str) -> tuple[bool, list[str], set[str]]:
    """Whether it is a view, its primary keys, and the columns Datasette lets it be sorted by."""
    db = datasette.get_database(database)
    key = (id(datasette), database, table)
    if key in _shapes:
        return _shapes[key]
    is_view = table in await db.view_names()
    pks = [] if is_view else await db.primary_keys(table)
    table_metadata = datasette.table_metadata(database, table) or {}
    if "sortable_columns" in table_metadata:
        sortable = set(table_metadata["sortable_columns"])
    else:
        sortable = set(await db.table_columns(table))
    if not is_view and not pks:
        sortable.add("rowid")
    shape = (is_view, pks, sortable)
    if not db.is_mutable:
        _shapes[key] = shape
    return shape


def check_sort(table: str, args, sortable: set[str]) -> None:
    sort, sort_desc = args.get("_sort"), args.get("_sort_desc")
    if sort and sort_desc:
        raise BadParameter("Use _sort or _sort_desc, not both.")
    for name, value in (("_sort", sort), ("_sort_desc", sort_desc)):
        if value and value not in sortable:
            raise BadParameter(
                f"{name}={value!r}: {table} cannot be sorted by that. Sort by one of: {', '.join(sorted(sortable))}."
            )


def check_next(table: str, token: str, is_view: bool, pks: list[str], sorted_page: bool) -> None:
    if is_view:
        if not WHOLE_NUMBER.fullmatch(token):
            raise BadParameter(f"_next={token!r}: on a view, _next is the number of rows to skip (a whole number).")
        return
    expected = max(len(pks), 1) + (1 if sorted_page else 0)
    components = [tilde_decode(part) for part in token.split(",")]  # as Datasette reads it
    keys = " and ".join(pks) if pks else "rowid"
    what = f"the sort value, then {keys}" if sorted_page else keys
    if len(components) != expected:
        raise BadParameter(
            f"_next={token!r}: for this page of {table}, _next is {what} ({expected} value"
            f"{'s' if expected > 1 else ''} separated by commas), as in the page's own next link."
        )
    if not pks and not WHOLE_NUMBER.fullmatch(components[-1]):
        raise BadParameter(f"_next={token!r}: the last value, rowid, must be a whole number.")


async def check_through(datasette, database: str, table: str, values: list[str]) -> None:
    """`_through={"table": ..., "column": ..., "value": ...}` naming a table with a foreign key to this one."""
    for raw in values:
        try:
            through = json.loads(raw)
        except ValueError:
            through = None
        if not isinstance(through, dict) or not {"table", "column", "value"} <= through.keys() or not all(
                isinstance(through[k], str) for k in ("table", "column")):
            raise BadParameter(f'_through={raw!r}: give JSON such as {{"table": "...", "column": "...", "value": 1}}.')
        fks = await datasette.get_database(database).foreign_keys_for_table(through["table"])
        if not any(fk["other_table"] == table for fk in fks):
            raise BadParameter(f"_through: {through['table']!r} has no foreign key to {table}.")


@hookimpl
def filters_from_request(request, database, table, datasette):
    args = request.args
    if not any(name in args for name in CHECKED):
        return None

    async def check():
        is_view, pks, sortable = await table_shape(datasette, database, table)
        check_sort(table, args, sortable)
        token = args.get("_next")
        if token:
            metadata = datasette.table_metadata(database, table) or {}
            sorted_page = bool(args.get("_sort") or args.get("_sort_desc")
                               or metadata.get("sort") or metadata.get("sort_desc"))
            check_next(table, token, is_view, pks, sorted_page)
        if "_through" in args:
            await check_through(datasette, database, table, args.getlist("_through"))
        return None

    return check
