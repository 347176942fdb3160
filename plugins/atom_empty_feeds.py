"""Atom feeds with no entries. datasette-atom 0.9 answers HTTP 500 when a feed's query returns no rows (it takes
max() of the entries' updated times). This wraps the registered .atom renderer at startup: a feed with no rows is a
valid Atom document with zero entries, updated at the database's build date; any other feed is rendered by
datasette-atom unchanged."""

from __future__ import annotations

import datetime as dt

from datasette import __version__, hookimpl
from datasette.utils.asgi import Response
from feedgen.feed import FeedGenerator

REQUIRED_COLUMNS = {"atom_id", "atom_updated", "atom_title"}


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
    """The same title datasette-atom gives a feed: the canned query's title, else _feed_title or the SQL."""
    if query_name:
        title = ((datasette.metadata(database=database) or {}).get("queries") or {}).get(query_name) or {}
        if isinstance(title, dict) and title.get("title"):
            return title["title"]
    title = request.args.get("_feed_title", sql) or ""
    if table:
        title += "/" + table
    if data.get("human_description_en"):
        title += ": " + data["human_description_en"]
    return title


async def empty_feed(datasette, request, sql, database, table, query_name, data) -> Response:
    fg = FeedGenerator()
    fg.generator(generator="Datasette", version=__version__, uri="https://github.com/simonw/datasette")
    fg.id(request.url)
    fg.link(href=request.url, rel="self")
    fg.title(feed_title(datasette, request, sql, database, table, query_name, data))
    fg.updated(await build_date(datasette, database))
    return Response(fg.atom_str(pretty=True), content_type="application/xml; charset=utf-8", status=200)


@hookimpl
def startup(datasette):
    registered = datasette.renderers.get("atom")
    if registered is None:
        return
    render, can_render = registered

    async def render_atom(datasette, request, sql, columns, rows, database, table, query_name, view_name, data):
        if not rows and REQUIRED_COLUMNS.issubset(columns):
            return await empty_feed(datasette, request, sql, database, table, query_name, data)
        return render(datasette, request, sql, columns, rows, database, table, query_name, view_name, data)

    datasette.renderers["atom"] = (render_atom, can_render)
