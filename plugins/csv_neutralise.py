"""Every CSV the site sends is safe to open in a spreadsheet: CSV injection (issue 15, OWASP "CSV Injection").

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and Google
Sheets as a formula (`=HYPERLINK(...)`, `=cmd|...`), so such a cell gets a leading single quote, as OWASP advises:
`=1+2` is sent as `'=1+2`. A cell that is a plain number (`-5`, `+3.2`, `-1.5e3`) is left as it is, and so is every
other cell. Header cells (column names, which ad-hoc SQL can choose) are treated the same way.

This covers every CSV response, whoever made it: Datasette's table, view, canned-query and SQL `.csv` (plain,
`_dl=1` attachments, `_stream=1` streams of the whole table) and the custom pages' downloads (for example
`/<db>/-/lcpf-explorer.csv`). A response is CSV when its content type is `text/csv`, or it is `text/plain` for an
address ending in `.csv` (Datasette's CSV without `_dl`). Streams are rewritten record by record as they pass (a
record may span chunks and hold quoted line breaks), so nothing is buffered beyond one record; records with no cell
to change go out byte for byte.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from datasette import hookimpl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# A record that may hold a cell starting with a trigger: at the start of the record or after a comma, maybe quoted.
MAYBE = re.compile(r'(?:^|,)"?[=+\-@\t\r]')


def neutralise_cell(value: str) -> str:
    """The cell as it should be written: with a leading ' if a spreadsheet would read it as a formula."""
    if value and value[0] in TRIGGERS and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_record(record: str) -> str:
    """One complete CSV record (with its line ending, if any) with every formula-leading cell neutralised."""
    if not MAYBE.search(record):
        return record
    rows = list(csv.reader(io.StringIO(record, newline="")))
    changed = [[neutralise_cell(cell) for cell in row] for row in rows]
    if changed == rows:
        return record
    out = io.StringIO(newline="")
    ending = "\r\n" if record.endswith("\r\n") else "\n"
    csv.writer(out, lineterminator=ending).writerows(changed)
    text = out.getvalue()
    return text if record.endswith(("\n", "\r")) else text[: -len(ending)]


class CsvNeutraliser:
    """Rewrites a CSV byte stream fed in chunks of any size (UTF-8; undecodable bytes pass through unchanged)."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.pending = ""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        text = self.pending + self.decoder.decode(data, final)
        parts = text.split("\n")
        out, current, in_quotes = [], [], False
        for part in parts[:-1]:
            current.append(part)
            if part.count('"') % 2:
                in_quotes = not in_quotes
            if not in_quotes:
                out.append(neutralise_record("\n".join(current) + "\n"))
                current = []
        current.append(parts[-1])
        self.pending = "\n".join(current)
        if final and self.pending:
            out.append(neutralise_record(self.pending))
            self.pending = ""
        return "".join(out).encode("utf-8", "surrogateescape")


def is_csv(scope, headers) -> bool:
    content_type = b""
    for key, value in headers:
        if key.lower() == b"content-type":
            content_type = value.lower()
    if content_type.startswith(b"text/csv"):
        return True
    return content_type.startswith(b"text/plain") and scope.get("path", "").endswith(".csv")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def neutralising(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            state = {"rewriter": None}

            async def rewrite(message):
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers") or [])
                    if is_csv(scope, headers):
                        state["rewriter"] = CsvNeutraliser()
                        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                        message = {**message, "headers": headers}
                elif message["type"] == "http.response.body" and state["rewriter"] is not None:
                    more = message.get("more_body", False)
                    message = {**message, "body": state["rewriter"].feed(message.get("body", b""), final=not more)}
                await send(message)

            await app(scope, receive, rewrite)

        return neutralising

    return wrap
