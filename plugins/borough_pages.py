"""Template functions for the borough pages (issue 8): templates/pages/boroughs.html and boroughs/{borough}.html.

`borough_page(text, db)` and `borough_list(db)` run plugins/view_models/borough_feeds.py on the named database
(`?db=synthetic_demo` on the page address; the real commissioning database by default).
"""

from datasette import hookimpl

from plugins.view_models import borough_feeds

DEFAULT_DATABASE = "commissioning"


def database_name(datasette, wanted) -> str:
    names = [n for n in datasette.databases if n != "_internal"]
    if wanted in names:
        return wanted
    return DEFAULT_DATABASE if DEFAULT_DATABASE in names else names[0]


@hookimpl
def extra_template_vars(datasette, view_name):
    if view_name != "page":
        return {}

    async def borough_page(text, db=None):
        name = database_name(datasette, db)
        return await datasette.get_database(name).execute_fn(lambda conn: borough_feeds.borough_page(conn, text, name))

    async def borough_list(db=None):
        name = database_name(datasette, db)
        return await datasette.get_database(name).execute_fn(borough_feeds.borough_list)

    return {"borough_page": borough_page, "borough_list": borough_list, "borough_database": database_name}
