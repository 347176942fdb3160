"""The provider page (issue 17): data for /<db>/organizations/<id>: the services it delivers or is a partner in,
the decisions that name it, its money by financial year and by commissioner, and the boroughs it works in. The
logic lives in plugins/view_models/providers.py; templates/row-*-organizations.html only displays it."""

from datasette import hookimpl
from datasette.utils import tilde_decode

from plugins.view_models import providers


@hookimpl
def extra_template_vars(database, table, view_name, request, datasette):
    if table != "organizations" or view_name != "row" or request is None:
        return {}

    async def inner():
        db = datasette.get_database(database)
        if "service_funding" not in await db.table_names():
            return {}
        organization_id = tilde_decode(request.url_vars.get("pks", ""))
        return {"provider_page": await db.execute_fn(lambda conn: providers.provider_detail(conn, organization_id))}

    return inner
