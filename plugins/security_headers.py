"""Security headers on every response, and the right content type for Atom feeds (issue 15).

Every response (pages, JSON, CSV, feeds, static files, errors) gets:
- `Content-Security-Policy`: POLICY below. Scripts, styles, data and frames come only from this site; images also
  from OpenStreetMap's tile servers (the Leaflet maps of datasette-cluster-map, datasette-leaflet-geojson and
  static/services-maps.js) and from data:/blob: URLs (Leaflet and vega-embed make those); no plugins (`object-src`),
  no `<base>` elsewhere, forms submit only here, and no other site may frame a page (`frame-ancestors 'none'`).
  Two allowances are needed by what Datasette 0.65 and its plugins send, and are the only ones:
  `'unsafe-inline'` for scripts and styles (Datasette's templates, datasette-cluster-map, datasette-leaflet-geojson
  and datasette-dashboards write their per-page settings, chart specifications and editor set-up as inline
  `<script>` blocks, and Leaflet and Vega set inline styles; 0.65 has no nonces for them), and `'unsafe-eval'` for
  scripts (Vega compiles chart expressions with `new Function`, in datasette-dashboards and datasette-vega).
  Script in the data is escaped by Datasette's templates (tests/test_security.py); the policy is the second line.
- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`.
- `Referrer-Policy: strict-origin-when-cross-origin`, replacing Datasette's `no-referrer` on its data pages: another
  site learns at most this site's origin, never a path or a query, and OpenStreetMap's tile servers, which refuse
  requests without a referrer, still draw the maps.

Atom feeds (`.atom` addresses, datasette-atom) are sent as `application/atom+xml; charset=utf-8` instead of
`application/xml`.

The policy can be replaced in metadata.yml: `plugins: security-headers: content_security_policy: "..."`.
"""

from __future__ import annotations

from datasette import hookimpl

PLUGIN = "security-headers"
TILES = "https://*.tile.openstreetmap.org"
POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    f"img-src 'self' data: blob: {TILES}",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
ATOM = b"application/atom+xml; charset=utf-8"


def security_headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", policy.encode("ascii")),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]


def with_headers(path: str, headers: list, added: list[tuple[bytes, bytes]]) -> list:
    """The response headers with ours set (replacing any of the same name) and an Atom feed's content type fixed."""
    names = {name for name, _ in added}
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower in names:
            continue
        if lower == b"content-type" and path.endswith(".atom") and value.lower().startswith(b"application/xml"):
            value = ATOM
        kept.append((name, value))
    return kept + added


def security_wrapper(datasette):
    policy = (datasette.plugin_config(PLUGIN) or {}).get("content_security_policy") or POLICY
    added = security_headers(policy)

    def wrap(app):
        async def secured(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": with_headers(scope.get("path", ""), message.get("headers") or [],
                                                                  added)}
                await send(message)

            await app(scope, receive, send_with_headers)

        secured.__dict__.update(getattr(app, "__dict__", {}))  # keep what inner wrappers expose (build_version)
        return secured

    return wrap


@hookimpl(hookwrapper=True)
def asgi_wrapper(datasette):
    """Added after every other plugin's wrapper (a pluggy hook wrapper), so Datasette applies it last: the outermost,
    and responses that other wrappers answer themselves (a 304 from plugins/http_caching.py, a 405 from
    plugins/read_only.py, a 400 from plugins/request_parameters.py) get the headers too."""
    outcome = yield
    outcome.get_result().append(security_wrapper(datasette))
