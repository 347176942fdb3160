"""Atom feeds of SQL results: the `.atom` output renderer (Datasette's public register_output_renderer hook), built
with feedgen (issue 16; replaces datasette-atom 0.9, which answered HTTP 500 on a feed with no rows).

A query or table can be rendered as Atom when it returns the columns `atom_id`, `atom_updated` and `atom_title`
(optional: `atom_content` as text, `atom_link`, `atom_author_name`, `atom_author_uri`, `atom_author_email`), the
same columns datasette-atom read, so the canned queries `opportunities_feed` and `changes_feed` and their `.atom`
addresses are unchanged. The feed's title is the canned query's title (else `_feed_title`, else the SQL, as
datasette-atom did); its `updated` is the newest entry's, or for a feed with no rows midnight UTC of the database's
build date (build_info), so an empty feed is a valid Atom document with zero entries. Served as
`application/atom+xml`. HTML content (`atom_content_html`) is not offered: no feed needs it and it would need
sanitising.

The hook is `trylast` so that this renderer is the one registered for `.atom` even where datasette-atom is still
installed (Datasette keeps the last renderer registered for an extension).
"""

from __future__ import annotations

import datetime as dt

from datasette import __version__, hookimpl
from datasette.utils.asgi import Response
from feedgen.feed import FeedGenerator

REQUIRED_COLUMNS = {"atom_id", "atom_updated", "atom_title"}
CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def can_render(columns) -> bool:
    return REQUIRED_COLUMNS.issubset(columns)


async def build_date(datasette, database: str) -> dt.datetime:
    """Midnight UTC of the build date in build_info, or now when the database has none."""
    db = datasette.get_database(database)
    if "build_info" in await db.table_names():
        row = (await db.execute("select value from build_info where key = 'build_date'")).first()
        if row and row[0]:
            try:
                return dt.datetime.fromisoformat(row[0][:10]).replace(tzinfo=dt.UTC)
            except ValueError:
                pass
    return dt.datetime.now(dt.UTC)


def feed_title(datasette, request, sql, database, table, query_name, data) -> str:
    """The canned query's title, else _feed_title or the SQL (with the table and filter description)."""
    if query_name:
        query = ((datasette.metadata(database=database) or {}).get("queries") or {}).get(query_name) or {}
        if isinstance(query, dict) and query.get("title"):
            return query["title"]
    title = request.args.get("_feed_title", sql) or ""
    if table:
        title += "/" + table
    if data.get("human_description_en"):
        title += ": " + data["human_description_en"]
    return title


def add_entry(fg: FeedGenerator, row, columns) -> None:
    entry = fg.add_entry(order="append")
    entry.id(str(row["atom_id"]))
    entry.title(str(row["atom_title"]))
    entry.updated(row["atom_updated"])
    if "atom_content" in columns and row["atom_content"] is not None:
        entry.content(str(row["atom_content"]), type="text")
    if "atom_link" in columns and row["atom_link"]:
        entry.link(href=row["atom_link"])
    if "atom_author_name" in columns and row["atom_author_name"]:
        author = {"name": row["atom_author_name"]}
        for key in ("uri", "email"):
            if f"atom_author_{key}" in columns and row[f"atom_author_{key}"]:
                author[key] = row[f"atom_author_{key}"]
        entry.author(author)


async def render_atom(datasette, request, sql, columns, rows, database, table, query_name, data):
    if not can_render(columns):
        return Response.text(f"An Atom feed needs the columns {', '.join(sorted(REQUIRED_COLUMNS))}", status=400)
    fg = FeedGenerator()
    fg.generator(generator="Datasette", version=__version__, uri="https://github.com/simonw/datasette")
    fg.id(request.url)
    fg.link(href=request.url, rel="self")
    fg.title(feed_title(datasette, request, sql, database, table, query_name, data))
    for row in rows:  # in the query's order: newest first where the query says so
        add_entry(fg, row, columns)
    if rows:
        fg.updated(max(entry.updated() for entry in fg.entry()))
    else:
        fg.updated(await build_date(datasette, database))
    return Response(fg.atom_str(pretty=True), content_type=CONTENT_TYPE, status=200)


@hookimpl(trylast=True)
def register_output_renderer():
    return {"extension": "atom", "render": render_atom, "can_render": can_render}
