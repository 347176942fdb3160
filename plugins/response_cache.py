"""An in-process cache of whole responses for the immutable databases (issue 9: throughput of the main pages).

The databases are opened immutable and only change when the site is rebuilt and restarted, so the same address
always gives the same page. This remembers complete `200` responses to anonymous `GET`/`HEAD` requests, in memory,
least recently used first out, bounded by total bytes; each response says `x-response-cache: hit` or `miss`.

The one setting is in metadata.yml, `plugins: response-cache: max_mb` (0 turns the cache off).

What is never cached (and gets no `x-response-cache` header):
- methods other than GET and HEAD; requests carrying a cookie or an Authorization header (the page could depend on
  who asks); requests made through `datasette.client` (Host `localhost` without a port: plugins' internal calls and
  the tests, which patch the code behind a page and must see it rendered afresh);
- `/-/` pages (versions, threads, actor, messages, plugin assets: live state or files), the `--static` mounts
  (files, served from disk as they are now), `?_trace=`, and streamed
  CSV (`_stream=`), which is passed through chunk by chunk and never buffered;
- pages of a database that is not immutable, and pages outside any database (`/`, custom pages) unless every
  database is immutable;
- any response other than 200, one that sets a cookie, or one larger than a quarter of the cache (such a body is
  passed through as it comes; at most that much is held while deciding);
- a page during which any SQL failed or hit a time limit (a facet or count that timed out under load, a summary that
  could not be computed): Datasette still answers 200 with less on the page, and that must not be kept. Plugins can
  also call `do_not_cache()` while handling a request.

The key is the method, scheme, Host, path, query string and whether the client accepts gzip (datasette-gzip
compresses inside this wrapper, so a gzipped and a plain body are stored separately). A request with
`Cache-Control: no-cache` is answered fresh (`miss`) and the fresh response replaces the stored one; the benchmark
uses that to report uncached figures beside cached ones.
"""

from __future__ import annotations

import contextvars
from collections import OrderedDict
from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.database import Database

PLUGIN = "response-cache"
DEFAULT_MAX_MB = 64
HEADER = b"x-response-cache"
NEVER_PARAMETERS = ("_trace", "_stream")
INTERNAL_HOST = b"localhost"  # datasette.client's requests
_request: contextvars.ContextVar[dict | None] = contextvars.ContextVar("response_cache_request", default=None)


def do_not_cache() -> None:
    """Keep the response to the request being handled out of the cache."""
    state = _request.get()
    if state is not None:
        state["keep"] = False


def _marking_failures(method):
    if getattr(method, "_marks_failures", False):
        return method  # the plugin module is loaded once per Datasette instance

    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except BaseException:
            do_not_cache()
            raise

    wrapper._marks_failures = True
    wrapper.__wrapped__ = method
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


# Every query of a page goes through these two; an exception (QueryInterrupted at a time limit, a database error)
# is caught by Datasette or a plugin and the page still answers 200 with less on it.
Database.execute = _marking_failures(Database.execute)
Database.execute_fn = _marking_failures(Database.execute_fn)


class ResponseCache:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 4
        self.entries: OrderedDict[tuple, tuple[int, list, bytes, int]] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key):
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key, status: int, headers: list, body: bytes) -> None:
        size = len(body) + sum(len(k) + len(v) for k, v in headers) + sum(len(str(part)) for part in key)
        if size > self.max_entry_bytes:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old[3]
        self.entries[key] = (status, headers, body, size)
        self.bytes += size
        while self.bytes > self.max_bytes and self.entries:
            _, evicted = self.entries.popitem(last=False)
            self.bytes -= evicted[3]


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value
    return None


def _database_for(datasette, path: str):
    """The database a path belongs to, None for pages outside any database."""
    first = path.lstrip("/").split("/", 1)[0]
    for db in datasette.databases.values():
        route = getattr(db, "route", None) or db.name
        if first == route or first.startswith(route + "."):
            return db
    return None


def cache_key(datasette, scope):
    """The key for a cacheable request, or None when this request must not use the cache."""
    if scope["type"] != "http" or scope.get("method", "GET") not in ("GET", "HEAD"):
        return None
    if _header(scope, b"cookie") is not None or _header(scope, b"authorization") is not None:
        return None
    if _header(scope, b"host") == INTERNAL_HOST:
        return None
    path = scope.get("path", "")
    if path.startswith("/-/") or any(path.startswith(f"/{mount}/") for mount, _ in datasette.static_mounts or ()):
        return None
    query = scope.get("query_string", b"")
    if query and any(name in NEVER_PARAMETERS for name, _ in parse_qsl(query.decode("latin-1"),
                                                                        keep_blank_values=True)):
        return None
    db = _database_for(datasette, path)
    if db is not None:
        if db.is_mutable:
            return None
    elif any(d.is_mutable for name, d in datasette.databases.items() if name != "_internal"):
        return None
    gzip = b"gzip" in (_header(scope, b"accept-encoding") or b"").lower()
    return (scope["method"], scope.get("scheme", "http"), _header(scope, b"host") or b"", scope.get("raw_path")
            or path.encode("utf-8"), query, gzip)


def _no_cache(scope) -> bool:
    return b"no-cache" in (_header(scope, b"cache-control") or b"").lower()


@hookimpl(trylast=True)  # registered after datasette-gzip, so applied after it: the outermost wrapper
def asgi_wrapper(datasette):
    config = datasette.plugin_config(PLUGIN) or {}
    max_bytes = int(float(config.get("max_mb", DEFAULT_MAX_MB)) * 2**20)

    def wrap(app):
        if max_bytes <= 0:
            return app
        cache = ResponseCache(max_bytes)

        async def cached(scope, receive, send):
            key = cache_key(datasette, scope)
            if key is None:
                await app(scope, receive, send)
                return
            entry = None if _no_cache(scope) else cache.get(key)
            if entry is not None:
                cache.hits += 1
                status, headers, body, _ = entry
                await send({"type": "http.response.start", "status": status, "headers": [*headers, (HEADER, b"hit")]})
                await send({"type": "http.response.body", "body": body})
                return
            cache.misses += 1
            state = {"status": None, "headers": None, "chunks": [], "size": 0, "keep": True}

            async def capture(message):
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers") or [])
                    state["status"] = message["status"]
                    state["headers"] = headers
                    state["keep"] = state["keep"] and message["status"] == 200 and not any(
                        k.lower() == b"set-cookie" for k, _ in headers)
                    message = {**message, "headers": [*headers, (HEADER, b"miss")]}
                elif message["type"] == "http.response.body" and state["keep"]:
                    chunk = message.get("body", b"")
                    state["size"] += len(chunk)
                    if state["size"] > cache.max_entry_bytes:
                        state["keep"] = False
                        state["chunks"] = []
                    else:
                        state["chunks"].append(chunk)
                        if not message.get("more_body", False):
                            cache.put(key, state["status"], state["headers"], b"".join(state["chunks"]))
                            state["keep"] = False
                            state["chunks"] = []
                await send(message)

            token = _request.set(state)
            try:
                await app(scope, receive, capture)
            finally:
                _request.reset(token)

        cached.response_cache = cache  # for tests and the benchmark
        return cached

    return wrap
