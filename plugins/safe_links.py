"""A stored `javascript:`, `vbscript:` or `data:` address is never a link (issue 15).

Datasette's own cells link only values that start with http:// or https://, but the custom pages and row templates
write addresses from the data straight into `href` (a service's web page, an organisation's website, every
`source_url`), so a database changed by hand could make a link that runs script when clicked (the Content Security
Policy allows inline script for Datasette's own pages, so it would not stop it). Every HTML response is checked as it
leaves: an `href`, `src`, `action`, `formaction` or `xlink:href` attribute whose address, read as a browser reads it
(entities decoded, leading spaces and control characters dropped, tabs and line breaks removed anywhere), has one of
those schemes is removed, so `<a href="javascript:...">text</a>` shows as plain text. Nothing the site's templates
write uses those schemes, so no other link changes.
"""

from __future__ import annotations

import html
import re

from datasette import hookimpl

UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")
IGNORED = re.compile(r"[\t\n\r]")
SPACE_AND_CONTROLS = "".join(chr(c) for c in range(0x21))
SAFE_STARTS = ("/", "#", "?", "http://", "https://")
ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href")


def is_unsafe(address: str) -> bool:
    if address.startswith(SAFE_STARTS):
        return False
    value = IGNORED.sub("", html.unescape(address)).lstrip(SPACE_AND_CONTROLS).lower()
    return value.startswith(UNSAFE_SCHEMES)


def unsafe_spans(page: str) -> list[tuple[int, int]]:
    """(start, end) of each ` name="address"` attribute with an unsafe address. Templates write attribute names in
    lower case and values in quotes (Jinja escapes quotes in data), so plain string search finds every one."""
    spans = []
    for name in ATTRIBUTES:
        for quote in ('"', "'"):
            needle = f"{name}={quote}"
            i = page.find(needle)
            while i != -1:
                value_start = i + len(needle)
                value_end = page.find(quote, value_start)
                if value_end == -1:
                    break
                before = page[i - 1] if i else ""
                if before.isspace() and is_unsafe(page[value_start:value_end]):
                    spans.append((i - 1, value_end + 1))
                i = page.find(needle, value_end + 1)
    return sorted(spans)


def strip_unsafe_links(page: str) -> tuple[str, int]:
    """The page without unsafe address attributes, and how many were removed."""
    spans = unsafe_spans(page)
    if not spans:
        return page, 0
    parts, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        parts += [page[last:start], " "]
        last = end
    parts.append(page[last:])
    return "".join(parts), len(spans)


def is_html(headers) -> bool:
    return any(k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def safe(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            state = {"start": None, "chunks": []}

            async def filtered(message):
                if message["type"] == "http.response.start":
                    if not is_html(message.get("headers") or []):
                        await send(message)
                        return
                    state["start"] = message
                    return
                if state["start"] is None or message["type"] != "http.response.body":
                    await send(message)
                    return
                state["chunks"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(state["chunks"])
                page = body.decode("utf-8", "surrogateescape")
                cleaned, removed = strip_unsafe_links(page)
                start = state["start"]
                if removed:
                    body = cleaned.encode("utf-8", "surrogateescape")
                    start = {**start, "headers": [(k, v) for k, v in start.get("headers") or []
                                                  if k.lower() != b"content-length"]}
                await send(start)
                await send({"type": "http.response.body", "body": body})

            await app(scope, receive, filtered)

        return safe

    return wrap
