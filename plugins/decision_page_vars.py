"""The decision page (issue 17) on each funding_decisions row page: every row of the same decision (reference), what
each funds, the source's words and the services that cite it, with this row highlighted. The logic lives in
plugins/view_models/decisions.py; templates/row-*-funding_decisions.html only displays it."""

from datasette import hookimpl
from datasette.utils import tilde_decode

from plugins.view_models import decisions


@hookimpl
def extra_template_vars(database, table, view_name, request, datasette):
    if table != "funding_decisions" or view_name != "row" or request is None:
        return {}

    async def inner():
        db = datasette.get_database(database)
        if "service_funding" not in await db.table_names():
            return {}
        pk = tilde_decode(request.url_vars.get("pks", ""))
        if not pk.isdigit():
            return {}
        found = (await db.execute("select reference from funding_decisions where record_id = ?", [int(pk)])).first()
        if found is None:
            return {}
        detail = await db.execute_fn(lambda conn: decisions.decision_detail(conn, found[0], highlight=int(pk)))
        return {"decision_page": detail}

    return inner
