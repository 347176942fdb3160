"""Funding opportunities (issue 4): data for the /opportunities page. The logic lives in
plugins/view_models/opportunities.py; the template only displays it."""

from datasette import hookimpl

from plugins.view_models import opportunities
from plugins.view_models.databases import REAL, chosen_database


@hookimpl
def extra_template_vars(template, request, datasette):
    if template != "pages/opportunities.html" or request is None:
        return {}

    async def inner():
        db_name, usable = await chosen_database(datasette, request, "opportunity_eligible_boroughs")
        if db_name is None:
            return {"opps": None}
        context = await datasette.get_database(db_name).execute_fn(
            lambda conn: opportunities.page_context(conn, request.args, db_name)
        )
        context.update({"db": db_name, "databases": usable, "synthetic": db_name != REAL})
        return {"opps": context}

    return inner
