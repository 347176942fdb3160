"""Errors the request caused are 4xx, not 500 (issue 15).

Datasette 0.65's table page catches only `sqlite3.OperationalError` from its queries, so a `?_where=` that builds a
value over SQLite's length limit (plugins/sql_limits.py: "string or blob too big", a `sqlite3.DataError`), that
names a parameter (`?_where=$x`: a `sqlite3.ProgrammingError`), or a filter on a number beyond SQLite's 64-bit
integers (`?rowid__gt=<20 digits>`: OverflowError when binding) reached the visitor as HTTP 500, and so did a CSV
export (`.csv?sql=`) of a query stopped at `sql_time_limit_ms` (QueryInterrupted; the HTML and JSON say 400).
This hook answers those, and the BadParameter that plugins/table_parameters.py raises for a bad `_sort`, `_next`
or `_through`, with HTTP 400 and the message: Datasette's error page, or `{"ok": false, "error": ..., "status":
400}` for .json.
"""

from __future__ import annotations

import sqlite3

from datasette import hookimpl
from datasette.database import QueryInterrupted

from plugins.hardening.errors import error_response

# sqlite3.ProgrammingError raised for SQL the request wrote (`?_where=:x` names a parameter nobody supplies).
CLIENT_PROGRAMMING_ERRORS = ("You did not supply a value for binding parameter", "the query contains a null character",
                             "You can only execute one statement at a time", "Incorrect number of bindings supplied")


def client_error_message(exception: BaseException, time_limit_ms: int = 0) -> str | None:
    """The message to answer with HTTP 400, or None when the exception is not the request's fault."""
    if isinstance(exception, QueryInterrupted):
        return f"SQL query took too long: the time limit is {time_limit_ms} ms. Make the query do less."
    if getattr(exception, "client_error_status", None) == 400:  # plugins.hardening.errors.BadParameter
        return str(exception)
    if isinstance(exception, sqlite3.DataError):
        return f"The query failed: {exception}. Make the values or the result smaller."
    if isinstance(exception, OverflowError) and "too large to convert to SQLite" in str(exception):
        return f"The query failed: a number in the address is too large ({exception})."
    if isinstance(exception, sqlite3.ProgrammingError) and str(exception).startswith(CLIENT_PROGRAMMING_ERRORS):
        return f"The query failed: {str(exception).rstrip('.')}."
    return None


@hookimpl(tryfirst=True)
def handle_exception(datasette, request, exception):
    message = client_error_message(exception, datasette.setting("sql_time_limit_ms"))
    if message is None:
        return None
    return error_response(datasette, request.path, message, 400, request)
