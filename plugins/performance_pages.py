"""Performance and RAG ratings (issue 5): data for /performance, /performance/committee-pack and
/performance/service. The logic lives in plugins/view_models/performance.py; templates only display it."""

from datasette import hookimpl

from plugins.view_models import performance
from plugins.view_models.databases import chosen_database


@hookimpl
def extra_template_vars(template, request, datasette):
    if not template.startswith("pages/performance") or request is None:
        return {}

    async def inner():
        db_name, usable = await chosen_database(datasette, request, "committee_pack")
        if db_name is None:
            return {"perf": None}
        db = datasette.get_database(db_name)
        descriptions = {
            table: datasette.table_metadata(db_name, table).get("columns", {})
            for table in performance.TEMPLATE_TABLES
        }
        perf = await db.execute_fn(
            lambda conn: performance.page_context(
                conn,
                template.removeprefix("pages/").removesuffix(".html"),
                request.args.get("period"),
                request.args.get("service_id"),
                request.args.get("commissioner"),
                descriptions,
            )
        )
        perf["db"] = db_name
        perf["databases"] = usable
        return {"perf": perf}

    return inner
