"""The instance pages say nothing about the server's files or build (issue 15).

- `/-/databases` and `/-/databases.json`: each database's `path` is its file name only (`commissioning.db`), never
  the absolute path on the server.
- `/-/versions` and `/-/versions.json`: no SQLite `compile_options` and no Python build string (`python.full`); the
  versions of Python, Datasette, uvicorn, SQLite and its FTS and JSON support stay.
- `/-/threads` and `/-/threads.json`: the directories in the task descriptions are dropped (file names stay).

Datasette builds these from its own state; this rewrites their JSON as it leaves (the HTML pages show the same JSON
in the `<pre>` block of Datasette's show_json.html, which is rewritten the same way).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import PurePath

from datasette import hookimpl

PAGES = re.compile(r"^/-/(databases|versions|threads)(\.json)?$")
# An absolute path's directories (not the relative "uvicorn/server.py" Datasette already shortened).
DIRECTORIES = re.compile(r"(?<![\w.])(?:/[^\s/:'\"<>()\[\]]+)+/(?=[^\s/:'\"<>()\[\]]+)")
PRE = re.compile(r"<pre>(.*?)</pre>", re.S)


def sanitise(page: str, data):
    if page == "databases" and isinstance(data, list):
        return [{**d, "path": PurePath(d["path"]).name} if isinstance(d, dict) and d.get("path") else d for d in data]
    if page == "versions" and isinstance(data, dict):
        data = dict(data)
        if isinstance(data.get("sqlite"), dict):
            data["sqlite"] = {k: v for k, v in data["sqlite"].items() if k != "compile_options"}
        if isinstance(data.get("python"), dict):
            data["python"] = {k: v for k, v in data["python"].items() if k != "full"}
        return data
    if page == "threads" and isinstance(data, dict):
        return {**data, "tasks": [DIRECTORIES.sub("", str(t)) for t in data.get("tasks") or []]}
    return data


async def capture(app, scope, receive) -> tuple[int, list, bytes]:
    state = {"status": 500, "headers": [], "body": []}

    async def collect(message):
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["headers"] = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            state["body"].append(message.get("body", b""))

    await app(scope, receive, collect)
    return state["status"], state["headers"], b"".join(state["body"])


def sanitise_html(page: str, html_page: str) -> str:
    """Datasette's show_json.html page with the JSON in its <pre> block sanitised."""
    match = PRE.search(html_page)
    if match is None:
        return html_page
    data = sanitise(page, json.loads(html.unescape(match.group(1))))
    shown = html.escape(json.dumps(data, indent=4), quote=True)
    return html_page[:match.start(1)] + shown + html_page[match.end(1):]


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def hidden(scope, receive, send):
            match = PAGES.match(scope.get("path", "")) if scope["type"] == "http" else None
            if match is None or scope.get("method", "GET") not in ("GET", "HEAD"):
                await app(scope, receive, send)
                return
            page, as_json = match.group(1), bool(match.group(2))
            status, headers, body = await capture(app, {**scope, "method": "GET"}, receive)
            if status == 200:
                text = body.decode("utf-8")
                if as_json:
                    body = json.dumps(sanitise(page, json.loads(text))).encode("utf-8")
                else:
                    body = sanitise_html(page, text).encode("utf-8")
            kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            await send({"type": "http.response.start", "status": status, "headers": kept})
            await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})

        return hidden

    return wrap
