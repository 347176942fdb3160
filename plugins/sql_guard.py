"""Ad-hoc SQL may occupy only one of Datasette's SQL threads at a time (issue 9).

A request carrying its own SQL (`?sql=` on a database page, `?_where=` on a table page) waits for a single slot
before Datasette runs it; table, row, canned-query and custom pages never wait. Without this, three clients sending
pathological SQL non-stop hold all `num_sql_threads` threads for `sql_time_limit_ms` each and every other page
queues behind them (docs/benchmark.md measures p99 with and without the attack). Ad-hoc SQL waits its turn (ten
times the SQL time limit at most, then 429 with Retry-After), so under attack it is slow but other pages are not.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from datasette import hookimpl

SLOTS = 1
AD_HOC_PARAMETERS = ("sql", "_where")
_semaphores: dict[int, asyncio.Semaphore] = {}  # one per event loop (tests run several Datasette instances)


def carries_sql(scope) -> bool:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return any(name in query for name in AD_HOC_PARAMETERS)


@hookimpl
def asgi_wrapper(datasette):
    wait_seconds = 10 * datasette.setting("sql_time_limit_ms") / 1000

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] != "http" or not carries_sql(scope):
                await app(scope, receive, send)
                return
            loop = asyncio.get_running_loop()
            semaphore = _semaphores.setdefault(id(loop), asyncio.Semaphore(SLOTS))
            try:
                await asyncio.wait_for(semaphore.acquire(), timeout=wait_seconds)
            except TimeoutError:
                body = b"Too many custom SQL queries are running; try again shortly.\n"
                await send({"type": "http.response.start", "status": 429, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"5"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            try:
                await app(scope, receive, send)
            finally:
                semaphore.release()

        return guarded

    return wrap
