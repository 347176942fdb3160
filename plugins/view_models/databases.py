"""Which served database a custom page shows: the one asked for (?db=), else the real one, among those that hold
the page's table."""

from __future__ import annotations

REAL = "commissioning"


async def databases_with(datasette, table: str, views: bool = False) -> list[str]:
    found = []
    for name in datasette.databases:
        if name == "_internal":
            continue
        database = datasette.get_database(name)
        names = await (database.view_names() if views else database.table_names())
        if table in names:
            found.append(name)
    return found


async def chosen_database(datasette, request, table: str, views: bool = False) -> tuple[str | None, list[str]]:
    """(the database to show, every database that can be shown); (None, []) when none holds `table`."""
    usable = await databases_with(datasette, table, views)
    if not usable:
        return None, []
    asked = request.args.get("db")
    return (asked if asked in usable else (REAL if REAL in usable else usable[0])), usable
