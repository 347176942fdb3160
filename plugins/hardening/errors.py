"""Client errors as Datasette shows its own: `{"ok": false, "error": ..., "status": 400}` for an address ending in
.json, Datasette's error.html page (through the site's templates) for anything else."""

from __future__ import annotations

from datasette.utils import add_cors_headers
from datasette.utils.asgi import Response


class BadParameter(ValueError):
    """A query-string parameter the page cannot use; plugins/client_errors.py answers it with HTTP 400."""

    client_error_status = 400


async def error_response(datasette, path: str, message: str, status: int = 400, request=None) -> Response:
    info = {"ok": False, "error": message, "status": status, "title": None}
    headers = {}
    if datasette.cors:
        add_cors_headers(headers)
    if path.endswith(".json"):
        return Response.json(info, status=status, headers=headers)
    html = await datasette.render_template([f"{status}.html", "error.html"], info, request=request)
    return Response.html(html, status=status, headers=headers)
