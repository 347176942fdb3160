"""Services directory (issue 3): data for the services table page (coverage map, summary, table alternative) and
for each service's page. The logic lives in plugins/view_models/services.py; templates only display it."""

import sqlite3

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils import sqlite_timelimit, tilde_decode

from plugins.http_caching import do_not_store
from plugins.view_models import services
from scripts.common.services import FILTER_COLUMNS

# Shown instead of the maps when the coverage summary cannot be computed for this request; the table is unaffected.
COVERAGE_UNAVAILABLE = (
    "The borough coverage summary and maps could not be computed for this request ({reason}). The list of services "
    "below is complete; reload the page to try again."
)


def limited_coverage_summary(conn, filters: dict, time_limit_ms: int) -> dict:
    """services.coverage_summary under the site's SQL time limit (execute_fn has none of its own), so that one slow
    summary cannot hold a SQL thread; raises QueryInterrupted when the limit is reached."""
    with sqlite_timelimit(conn, time_limit_ms):
        try:
            return services.coverage_summary(conn, filters)
        except sqlite3.OperationalError as e:
            if e.args == ("interrupted",):
                raise QueryInterrupted(e, "coverage_summary", filters) from e
            raise


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
            filters = {c: request.args.get(c) for c in FILTER_COLUMNS if request.args.get(c)}
            limit = datasette.setting("sql_time_limit_ms")
            try:
                summary = await db.execute_fn(lambda conn: limited_coverage_summary(conn, filters, limit))
            except QueryInterrupted:
                do_not_store(request)  # a page with less on it than usual: no cache may keep it
                reason = f"it took longer than the site's {limit / 1000:g}-second limit"
                return {"services_coverage": None, "services_coverage_unavailable": COVERAGE_UNAVAILABLE.format(
                    reason=reason)}
            except sqlite3.DatabaseError as e:
                do_not_store(request)
                return {"services_coverage": None, "services_coverage_unavailable": COVERAGE_UNAVAILABLE.format(
                    reason=f"the database answered: {e}")}
            return {"services_coverage": summary}
        service_id = tilde_decode(request.url_vars.get("pks", ""))
        detail = await db.execute_fn(lambda conn: services.service_detail(conn, service_id))
        return {"service_page": detail}

    return inner
