"""A query that fails has no CSV: its `.csv` answers HTTP 400 with SQLite's message, not 200 with an empty body.

Datasette 0.65's SQL page catches a failed query (`?sql=select * from no_such_table`, a value over the length
limit of plugins/sql_limits.py, a result over its budget) and renders the error in HTML and JSON with status 400,
but its CSV view ignores that status and sends an empty header row with 200, so a script saving the CSV saw an
empty table, not an error (issue 15). For an address ending in `.csv`, this wrapper records the request's failed
queries (plugins/hardening/query_failures.py) and holds back the start of the response until the first non-blank
bytes of the body: a CSV with content goes out as it came, streamed; a blank 200 body after a failed query becomes
400 `text/plain` with the message, as the `.json` of the same address says it. A query that succeeds with no rows
and `_header=off` still answers 200 with an empty body. Errors that reach Datasette's exception hook (a table's
`.csv` with a bad `_where`, the time limit) are answered by plugins/client_errors.py.
"""

from __future__ import annotations

from datasette import hookimpl

from plugins.client_errors import client_error_message
from plugins.hardening import query_failures


def failure_message(exception: BaseException, time_limit_ms: int) -> str:
    return client_error_message(exception, time_limit_ms) or f"The query failed: {str(exception).rstrip('.')}."


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def answered(scope, receive, send):
            if scope["type"] != "http" or not scope.get("path", "").endswith(".csv"):
                await app(scope, receive, send)
                return
            failures = query_failures.watch()
            held = {"start": None, "body": b""}

            async def holding(message):
                if message["type"] == "http.response.start" and message.get("status") == 200:
                    held["start"] = message
                    return
                if message["type"] == "http.response.body" and held["start"] is not None:
                    held["body"] += message.get("body", b"")
                    more = message.get("more_body", False)
                    if not held["body"].strip() and more:
                        return  # nothing but a blank line yet
                    if not held["body"].strip() and failures:
                        await send_failure(send, failure_message(failures[-1], datasette.setting("sql_time_limit_ms")))
                    else:
                        await send(held["start"])
                        await send({"type": "http.response.body", "body": held["body"], "more_body": more})
                    held["start"] = None
                    return
                await send(message)

            await app(scope, receive, holding)
            if held["start"] is not None:  # the app ended without a last body message: send what it gave
                await send(held["start"])
                await send({"type": "http.response.body", "body": held["body"]})

        async def send_failure(send, message: str) -> None:
            body = (message + "\n").encode("utf-8")
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            if datasette.cors:
                headers.append((b"access-control-allow-origin", b"*"))
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return answered

    return wrap
