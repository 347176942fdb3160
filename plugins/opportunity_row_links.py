"""Funding opportunities (issue 4): each opportunity's row page links to the map of the area it is open to and to
the services already funded like it. Addresses come from plugins/view_models/opportunities.row_links."""

import datetime as dt

from datasette import hookimpl
from datasette.utils import tilde_decode

from plugins.view_models import opportunities


@hookimpl
def extra_template_vars(database, table, view_name, request, datasette):
    if table != "funding_opportunities" or view_name != "row" or request is None:
        return {}

    async def inner():
        reference = tilde_decode(request.url_vars.get("pks", ""))
        db = datasette.get_database(database)
        found = (await db.execute(
            "select title, service_area, eligible_area, eligible_borough_count, last_verified, review_due "
            "from funding_opportunities where reference = ?", [reference])).first()
        if found is None:
            return {}
        row = dict(found)
        return {"opportunity_row": {**row, "links": opportunities.row_links(database, reference),
                                    "review": opportunities.review_note(row, dt.date.today())}}

    return inner
