"""Query-string rules for every page: a NUL character or a `_timelimit` that is not a whole number gets HTTP 400
with a message (issue 15), where Datasette 0.65 answered 500 ("the query contains a null character" from `_where`,
`_facet` and the like; `int()` of `_timelimit` on table and SQL pages).

The 400 looks like every other Datasette error (plugins/hardening/errors.py): Datasette's error page in HTML,
`{"ok": false, "error": ..., "status": 400}` for an address ending in .json. Table-specific parameters (`_sort`,
`_next`, `_through`) are checked in plugins/table_parameters.py.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from datasette import hookimpl

from plugins.hardening.errors import error_response

WHOLE_NUMBER = re.compile(r"\d{1,9}")


def problem(query_string: bytes) -> str | None:
    """The message for the first bad parameter, or None."""
    for name, value in parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"The parameter {name.replace(chr(0), '')!r} contains a NUL character (%00), which no page accepts."
        if name == "_timelimit" and value and not WHOLE_NUMBER.fullmatch(value):
            return f"_timelimit={value!r}: give a whole number of milliseconds."
    return None


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def checked(scope, receive, send):
            if scope["type"] == "http" and scope.get("query_string"):
                message = problem(scope["query_string"])
                if message:
                    await (await error_response(datasette, scope.get("path", ""), message)).asgi_send(send)
                    return
            await app(scope, receive, send)

        return checked

    return wrap
