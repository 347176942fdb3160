"""Read-only Open Referral UK API under /openreferral/ (issue 8). The logic is in plugins/view_models/openreferral.py.

    /openreferral/                     version, profile, OpenAPI address (real data: the commissioning database)
    /openreferral/openapi.json         OpenAPI description
    /openreferral/services             paged services: page, per_page, search, taxonomy_term_id, modified_after,
                                       borough, postcode_district
    /openreferral/services/{id}        one fully nested service (UUID or slug)
    /openreferral/taxonomies           /openreferral/taxonomy_terms
    /<database>/openreferral/...       the same for another database, e.g. /synthetic_demo/openreferral/services
"""

from __future__ import annotations

import json

from datasette import hookimpl
from datasette.utils import add_cors_headers
from datasette.utils.asgi import Response

from plugins.view_models import openreferral as oruk

PREFIX = r"^/(?:(?P<database>[A-Za-z0-9_-]+)/)?openreferral"
DEFAULT_DATABASE = "commissioning"


def json_response(body, status: int = 200) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    add_cors_headers(response.headers)
    response.headers["Cache-Control"] = "max-age=300"
    return response


def pick_database(datasette, request):
    name = request.url_vars.get("database")
    if not name:
        names = [n for n in datasette.databases if n != "_internal"]
        name = DEFAULT_DATABASE if DEFAULT_DATABASE in names else (names[0] if names else None)
    if name is None or name not in datasette.databases:
        return None, f"unknown database {name!r}"
    return datasette.get_database(name), name


def base_url(datasette, request, name: str) -> str:
    prefix = "" if request.url_vars.get("database") is None else f"/{name}"
    return datasette.absolute_url(request, f"{prefix}/openreferral")


async def run(datasette, request, work):
    """Run work(conn) on the chosen database; 404 for an unknown database, 400 for a bad parameter."""
    db, name = pick_database(datasette, request)
    if db is None:
        return json_response({"error": name}, 404)
    try:
        return json_response(await db.execute_fn(lambda conn: work(conn, name)))
    except oruk.QueryError as error:
        return json_response({"error": str(error)}, 400)


async def index(datasette, request):
    return await run(datasette, request, lambda conn, name: oruk.api_index(
        base_url(datasette, request, name), datasette.absolute_url(request, "/borough-feeds")
    ))


async def openapi(datasette, request):
    return await run(datasette, request, lambda conn, name: oruk.openapi_document(base_url(datasette, request, name)))


async def services(datasette, request):
    try:
        query = oruk.parse_service_query(request.args)
    except oruk.QueryError as error:
        return json_response({"error": str(error)}, 400)
    return await run(datasette, request, lambda conn, name: oruk.list_services(conn, query))


async def service(datasette, request):
    wanted = request.url_vars["id"]

    def work(conn, name):
        found = oruk.service_detail(conn, wanted)
        if found is None:
            raise LookupError(wanted)
        return found

    try:
        return await run(datasette, request, work)
    except LookupError:
        return json_response({"error": f"no service with id {wanted!r}"}, 404)


def paged_list(list_function):
    """A route answering one page of list_function(conn, page, per_page), with 400 for a bad page or per_page."""

    async def route(datasette, request):
        try:
            page = oruk.positive_int(request.args, "page", 1)
            per_page = oruk.positive_int(request.args, "per_page", oruk.DEFAULT_PER_PAGE, oruk.MAX_PER_PAGE)
        except oruk.QueryError as error:
            return json_response({"error": str(error)}, 400)
        return await run(datasette, request, lambda conn, name: list_function(conn, page, per_page))

    return route


taxonomies = paged_list(oruk.list_taxonomies)
taxonomy_terms = paged_list(oruk.list_taxonomy_terms)


@hookimpl
def register_routes():
    return [
        (PREFIX + r"/?$", index),
        (PREFIX + r"/openapi\.json$", openapi),
        (PREFIX + r"/services/?$", services),
        (PREFIX + r"/services/(?P<id>[^/]+)$", service),
        (PREFIX + r"/taxonomies/?$", taxonomies),
        (PREFIX + r"/taxonomy_terms/?$", taxonomy_terms),
    ]
