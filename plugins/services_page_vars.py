"""Services directory (issue 3): data for the services table page (coverage map, summary, table alternative) and
for each service's page. The logic lives in scripts/publication/domains/services.py; templates only display it."""

from datasette import hookimpl
from datasette.utils import tilde_decode

from scripts.publication.domains import services


@hookimpl
def extra_template_vars(database, table, view_name, request, datasette):
    if table != "services" or view_name not in ("table", "row") or request is None:
        return {}

    async def inner():
        db = datasette.get_database(database)
        tables = await db.table_names()
        if "service_areas" not in tables:
            return {}
        if view_name == "table":
            # Plain equality filters of the directory (?service_area=vawg) narrow the coverage map and its table.
            filters = {c: request.args.get(c) for c in services.FILTER_COLUMNS if request.args.get(c)}
            summary = await db.execute_fn(lambda conn: services.coverage_summary(conn, filters))
            return {"services_coverage": summary}
        service_id = tilde_decode(request.url_vars.get("pks", ""))
        detail = await db.execute_fn(lambda conn: services.service_detail(conn, service_id))
        return {"service_page": detail}

    return inner
