"""HTTP caching of the immutable publication (issue 16): validators and freshness for any cache in front.

The databases are opened immutable and change only with a new build, and the code, templates and metadata only with
a new deployment, so a URL gives the same page until one of those changes. This ASGI wrapper (Datasette's public
`asgi_wrapper` hook) says so in HTTP, and leaves storing responses to caches built for it: nginx `proxy_cache` in the
shipped deployment (scripts/scale_out.py, docs/deployment.md), a CDN, or the browser.

- **ETag** (strong): the build version, a SHA-256 over every served database's hash (build/inspect-data.json, or the
  file's own hash when there is none), the metadata Datasette serves, the settings, the installed Python packages
  and the files of plugins/, templates/ and static/, so a new build or a new deployment changes it. Requests that
  accept gzip get `"<version>-gzip"` (datasette-gzip may compress them), others `"<version>"`: two encodings never
  share a tag. `If-None-Match` with the current tag is answered `304 Not Modified` without running the page (a
  client holds the tag only for an address that answered 200 with it, and under one build an address always answers
  the same).
  (Datasette's JSON reports its own query time, `query_ms`, which varies between otherwise identical answers.)
- **Cache-Control** on 200 answers: `public, max-age=<default_cache_ttl>` (or the max-age the page set itself), and
  `public, max-age=31536000, immutable` when the URL carries the current version (`?_build=<version>`, which pages
  may add to links to make them permanent). Always `Vary: Accept-Encoding`.
- **Never cacheable**: errors and any status other than 200, 304 and redirects carry no Cache-Control at all (the
  page's own one is removed); a page during which a plugin saw SQL fail or time out (it calls `do_not_store`, e.g.
  the services coverage summary or a services facet that hit facet_time_limit_ms) gets `no-store` and no ETag.
  Datasette 0.65.5 itself marks every answer to a request with a cookie or an Authorization header, and every
  answer that sets a cookie, `private, no-store` with `Vary: Cookie, Authorization`; that is kept as it is, and
  such requests are never answered 304 here. Known gap: Datasette's own facets on other tables tell no plugin when
  they hit facet_time_limit_ms, so such a page (without that facet) can be cached for its max-age.
- **Left alone**: methods other than GET and HEAD, `/-/` pages (versions, threads, actor, messages: live state)
  except Datasette's and plugins' static files, `?_trace=`, streamed CSV (`_stream=`), and everything when any
  served database is mutable.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from urllib.parse import parse_qsl

from datasette import __version__, hookimpl

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = ("plugins", "templates", "static")
SCOPE_KEY = "publication.http_caching"  # the ASGI scope extension plugins use, through do_not_store()
VERSION_PARAMETER = "_build"
IMMUTABLE_MAX_AGE = 31_536_000
LEFT_ALONE_PARAMETERS = ("_trace", "_stream")
STATIC_PREFIXES = ("/-/static/", "/-/static-plugins/")
VARY_304 = b"Cookie, Authorization, Accept-Encoding"  # what Datasette and this module put on the 200 answer


def do_not_store(request) -> None:
    """Keep the response to this request out of every cache (call it when the page is shown with less than usual
    because SQL failed or timed out). Works from any plugin: the state travels in the request's ASGI scope."""
    state = request.scope.get(SCOPE_KEY)
    if state is not None:
        state["store"] = False


def code_fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def packages_fingerprint() -> str:
    names = sorted({f"{d.metadata['Name']}=={d.version}".lower() for d in importlib.metadata.distributions()})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def served_databases(datasette) -> list:
    return [db for name, db in datasette.databases.items() if name != "_internal"]


def build_version(datasette) -> str | None:
    """The version every ETag is made from, or None when any served database is mutable (nothing is cacheable)."""
    databases = served_databases(datasette)
    if not databases or any(db.is_mutable or db.is_memory for db in databases):
        return None
    parts = {
        "databases": {db.name: db.hash for db in databases},
        "metadata": datasette.metadata(),
        "settings": datasette.settings_dict(),
        "datasette": __version__,
        "packages": packages_fingerprint(),
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _header(headers, name: bytes) -> bytes | None:
    for key, value in headers or ():
        if key.lower() == name:
            return value
    return None


def request_kind(scope) -> str | None:
    """"public" for a request whose answer gets caching headers, "personal" when it carries a cookie or credentials,
    None when it is left alone."""
    if scope["type"] != "http" or scope.get("method", "GET") not in ("GET", "HEAD"):
        return None
    path = scope.get("path", "")
    if path.startswith("/-/") and not path.startswith(STATIC_PREFIXES):
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    if query and any(name in LEFT_ALONE_PARAMETERS for name, _ in parse_qsl(query, keep_blank_values=True)):
        return None
    headers = scope.get("headers")
    if _header(headers, b"authorization") is not None or _header(headers, b"cookie") is not None:
        return "personal"  # Datasette answers these `private, no-store`
    return "public"


def etag_for(scope, version: str) -> bytes:
    accepts_gzip = b"gzip" in (_header(scope.get("headers"), b"accept-encoding") or b"").lower()
    return f'"{version}-gzip"'.encode() if accepts_gzip else f'"{version}"'.encode()


def matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")]
    return b"*" in tags or etag in tags


def carries_version(scope, version: str) -> bool:
    query = scope.get("query_string", b"").decode("latin-1")
    return (VERSION_PARAMETER, version) in parse_qsl(query, keep_blank_values=True)


def max_age(cache_control: bytes | None, default: int) -> int | None:
    """The page's own max-age, the default when it set none, None when it asked not to be cached."""
    if cache_control is None:
        return default
    directives = [d.strip().lower() for d in cache_control.decode("latin-1").split(",")]
    if any(d in ("no-cache", "no-store", "private") for d in directives):
        return None
    for d in directives:
        if d.startswith("max-age=") and d[8:].isdigit():
            return int(d[8:])
    return default


def public_headers(scope, version: str, seconds: int) -> list[tuple[bytes, bytes]]:
    if carries_version(scope, version):
        control = f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
    elif seconds > 0:
        control = f"public, max-age={seconds}"
    else:
        control = "no-cache"
    return [(b"cache-control", control.encode()), (b"etag", etag_for(scope, version))]


def with_vary(headers: list) -> list:
    vary = _header(headers, b"vary")
    if vary is not None and b"accept-encoding" in vary.lower():
        return headers
    rest = [(k, v) for k, v in headers if k.lower() != b"vary"]
    return [*rest, (b"vary", vary + b", Accept-Encoding" if vary else b"Accept-Encoding")]


def rewrite(headers: list, status: int, scope, kind: str, version: str, store: bool, default_ttl: int) -> list:
    """The response headers with this module's caching headers in place of the page's own."""
    own = _header(headers, b"cache-control")
    rest = [(k, v) for k, v in headers if k.lower() not in (b"cache-control", b"etag")]
    if status in (301, 302, 303, 307, 308):
        return headers
    if status != 200:
        return rest  # errors: no Cache-Control at all
    if _header(headers, b"set-cookie") is not None:
        return [*rest, (b"cache-control", b"private, no-store")]
    if not store:
        return [*rest, (b"cache-control", b"no-store")]
    if kind != "public":
        return headers
    seconds = max_age(own, default_ttl)
    if seconds is None:
        return headers
    return with_vary([*rest, *public_headers(scope, version, seconds)])


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    def wrap(app):
        known: dict[str, str | None] = {}

        def version() -> str | None:
            if "version" not in known:
                known["version"] = build_version(datasette)
            return known["version"]

        async def caching(scope, receive, send):
            kind = request_kind(scope)
            current = version() if kind else None
            if current is None:
                await app(scope, receive, send)
                return
            etag = etag_for(scope, current)
            if kind == "public" and matches(_header(scope.get("headers"), b"if-none-match"), etag):
                seconds = datasette.setting("default_cache_ttl")
                headers = [*public_headers(scope, current, seconds), (b"vary", VARY_304)]
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
            state = {"store": True}
            ttl = datasette.setting("default_cache_ttl")

            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    headers = rewrite(list(message.get("headers") or []), message["status"], scope, kind, current,
                                      state["store"], ttl)
                    message = {**message, "headers": headers}
                await send(message)

            await app({**scope, SCOPE_KEY: state}, receive, send_with_headers)

        caching.build_version = version  # for tests and the benchmark
        return caching

    return wrap
