"""Funding opportunities (issue 4): data for the /opportunities page. The logic lives in
plugins/view_models/opportunities.py; the template only displays it."""

from datasette import hookimpl

from plugins.view_models import opportunities


@hookimpl
def extra_template_vars(template, request, datasette):
    if template != "pages/opportunities.html" or request is None:
        return {}

    async def inner():
        usable = []
        for name in datasette.databases:
            tables = [] if name == "_internal" else await datasette.get_database(name).table_names()
            if "opportunity_eligible_boroughs" in tables:
                usable.append(name)
        if not usable:
            return {"opps": None}
        chosen = request.args.get("db")
        db_name = chosen if chosen in usable else ("commissioning" if "commissioning" in usable else usable[0])
        context = await datasette.get_database(db_name).execute_fn(
            lambda conn: opportunities.page_context(conn, request.args, db_name)
        )
        context.update({"db": db_name, "databases": usable, "synthetic": db_name != "commissioning"})
        return {"opps": context}

    return inner
