"""A cap on the size of any response body (issue 15), the last line behind plugins/sql_limits.py.

A response that Datasette or a plugin sends in one piece (every page, JSON, a CSV without `_stream`) and that is
larger than `max_mb` (32 MB by default) is replaced by HTTP 400 with a message (JSON for an address ending in .json,
Datasette's error page otherwise): ask for fewer rows or columns. A streamed response (`_stream=1` CSV) is already
limited by Datasette's `max_csv_mb` setting, which ends the file with an error line; past that plus 1 MB this stops
the stream.

Setting in metadata.yml: `plugins: response-limit: max_mb: 32`.
"""

from __future__ import annotations

from datasette import hookimpl

from plugins.hardening.errors import error_response

PLUGIN = "response-limit"
DEFAULT_MAX_MB = 32


def too_large_message(max_bytes: int) -> str:
    return (f"The response would be larger than {max_bytes // 2**20} MB, the most this site sends at once. Ask for "
            f"fewer rows (_size, a LIMIT) or fewer columns, or download a whole table as CSV with _stream=1.")


@hookimpl
def asgi_wrapper(datasette):
    max_bytes = int(float((datasette.plugin_config(PLUGIN) or {}).get("max_mb", DEFAULT_MAX_MB)) * 2**20)
    stream_max_bytes = max(max_bytes, (int(datasette.setting("max_csv_mb") or 0) + 1) * 2**20)

    def wrap(app):
        async def limited(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            state = {"start": None, "sent": 0, "streaming": False, "closed": False}

            async def refuse():
                response = await error_response(datasette, scope.get("path", ""), too_large_message(max_bytes))
                await response.asgi_send(send)

            async def capped(message):
                if state["closed"]:
                    return
                if message["type"] == "http.response.start":
                    state["start"] = message  # held until the first body message shows whether it streams
                    return
                if message["type"] != "http.response.body":
                    await send(message)
                    return
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if state["start"] is not None:
                    start, state["start"] = state["start"], None
                    if not more and len(body) > max_bytes:
                        state["closed"] = True
                        await refuse()
                        return
                    state["streaming"] = more
                    await send(start)
                state["sent"] += len(body)
                if state["streaming"] and state["sent"] > stream_max_bytes:
                    state["closed"] = True
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                await send(message)

            await app(scope, receive, capped)

        return limited

    return wrap
