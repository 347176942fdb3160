"""Services directory (issue 3): /<database>/-/services-near-me?q=SE1 (HTML) and .json, from a London postcode
district or a latitude,longitude point. Unknown or non-London input gets HTTP 400 with a plain-English message."""

from dataclasses import asdict

from datasette import hookimpl
from datasette.utils.asgi import Response

from plugins.view_models import services


async def services_near_me(datasette, request):
    database = request.url_vars["database"]
    as_json = request.url_vars.get("format") == "json"
    try:
        db = datasette.get_database(database)
    except KeyError:
        return Response.text("Database not found", status=404)
    if "service_areas" not in await db.table_names():
        return Response.text("This database has no services directory", status=404)
    query = request.args.get("q", "").strip()
    area = request.args.get("service_area") or None
    labels = {r[0]: r[1] for r in await db.execute("SELECT service_area, label FROM service_area_taxonomy")}
    areas = list(labels)
    error, result, status = None, None, 200
    if area and area not in areas:
        error, status = f"'{area}' is not a service area. Choose one of: {', '.join(areas)}.", 400
    elif query or as_json:
        try:
            result = await db.execute_fn(lambda conn: services.services_near(conn, query, area))
        except services.NearMeError as exc:
            error, status = str(exc), 400
    if as_json:
        body = {"ok": False, "error": error} if error else {"ok": True, **asdict(result)}
        return Response.json(body, status=status)
    html = await datasette.render_template(
        "services_near_me.html",
        {"database": database, "query": query, "area": area, "areas": labels, "error": error, "result": result},
        request=request,
    )
    return Response.html(html, status=status)


@hookimpl
def register_routes():
    return [(r"^/(?P<database>[^/.]+)/-/services-near-me(\.(?P<format>json))?$", services_near_me)]
