"""The whole story on one page (issue 17): the JSON of the service and provider pages, and the decision page.

- /<db>/-/service/<service_id>.json: the service page's content (Datasette's own row JSON, /<db>/services/<id>.json,
  stays as Datasette makes it: this companion holds the joined record);
- /<db>/-/provider/<organization_id>.json: the provider page's content;
- /<db>/-/decision?reference=PCD+1560 (HTML) and /<db>/-/decision.json?reference=PCD+1560: every row of a decision.

The shapes are documented in docs/pages-json.md. The data comes from plugins/view_models/{services,providers,
decisions}.py; this file only routes and renders."""

from datasette import hookimpl
from datasette.utils.asgi import Response

from plugins.view_models import decisions, providers, services


async def _database(datasette, request):
    try:
        db = datasette.get_database(request.url_vars["database"])
    except KeyError:
        return None
    return db if "service_funding" in await db.table_names() else None


def _missing(what: str) -> Response:
    return Response.json({"ok": False, "error": what}, status=404)


async def _record_json(datasette, request, detail_of, as_json, kind: str):
    """A record page's JSON: detail_of(conn, id) is the page's data (None: no such record), as_json shapes it."""
    db = await _database(datasette, request)
    if db is None:
        return _missing("No such database, or it has no services directory")
    key = request.url_vars["id"]
    detail = await db.execute_fn(lambda conn: detail_of(conn, key))
    if detail is None:
        return _missing(f"No {kind} {key!r} in {db.name}")
    return Response.json({"ok": True, **as_json(detail, db.name)}, default=str)


async def service_json(datasette, request):
    return await _record_json(datasette, request, services.service_detail, services.service_json, "service")


async def provider_json(datasette, request):
    return await _record_json(datasette, request, providers.provider_detail, providers.provider_json, "organisation")


async def decision_page(datasette, request):
    db = await _database(datasette, request)
    as_json = request.url_vars.get("format") == "json"
    if db is None:
        return _missing("No such database, or it has no funding decisions") if as_json else \
            Response.text("No such database, or it has no funding decisions", status=404)
    reference = (request.args.get("reference") or "").strip()
    detail = await db.execute_fn(lambda conn: decisions.decision_detail(conn, reference)) if reference else None
    if as_json:
        if detail is None:
            return _missing(f"No funding decision with reference {reference!r} in {db.name}")
        return Response.json({"ok": True, "database": db.name, **decisions.json_shape(detail)}, default=str)
    context = {"database": db.name, "reference": reference, "decision_page": detail}
    if detail is None:
        context["references"] = [r[0] for r in await db.execute(
            "select reference from funding_decisions group by reference order by reference")]
    html = await datasette.render_template("decision_page.html", context, request=request)
    return Response.html(html, status=200 if detail else 404)


@hookimpl
def register_routes():
    return [
        (r"^/(?P<database>[^/.]+)/-/service/(?P<id>[^/]+)\.json$", service_json),
        (r"^/(?P<database>[^/.]+)/-/provider/(?P<id>[^/]+)\.json$", provider_json),
        (r"^/(?P<database>[^/.]+)/-/decision(\.(?P<format>json))?$", decision_page),
    ]
