"""The publication is read-only: every HTTP method other than GET, HEAD and OPTIONS is refused with 405 (issue 9).

Datasette 0.65 has no write API, and the databases are opened immutable; this closes the remaining POST handlers
(debug pages such as /-/messages, log out) so that no request can change anything, not even a cookie.
"""

from datasette import hookimpl

ALLOWED = {"GET", "HEAD", "OPTIONS"}
BODY = b"Method not allowed: this publication is read-only. Use GET.\n"


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope.get("method", "GET").upper() not in ALLOWED:
                await send({
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [
                        (b"allow", b"GET, HEAD, OPTIONS"),
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(BODY)).encode()),
                    ],
                })
                await send({"type": "http.response.body", "body": BODY})
                return
            await app(scope, receive, send)

        return read_only

    return wrap
