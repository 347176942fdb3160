"""LCPF (issue 7): /<database>/-/lcpf (allocations against crime and population, map, charts, trend) and
/<database>/-/lcpf-explorer with .json and .csv (the what-if formula, modelled, not actual). Logic is in
plugins/view_models/lcpf.py; this file only routes and renders."""

from datasette import hookimpl
from datasette.utils.asgi import Response

from plugins.view_models import lcpf


async def _database(datasette, request):
    try:
        db = datasette.get_database(request.url_vars["database"])
    except KeyError:
        return None
    return db if "lcpf_borough_need" in await db.table_names() else None


async def lcpf_overview(datasette, request):
    db = await _database(datasette, request)
    if db is None:
        return Response.text("This database has no LCPF tables", status=404)
    year = request.args.get("year") or None
    highlight = request.args.get("borough") or None
    context = await db.execute_fn(lambda conn: lcpf.overview_context(conn, year, highlight))
    status = 404 if year and context["selected"] is None else 200
    html = await datasette.render_template(
        "lcpf_overview.html", {**context, "database": db.name, "money": lcpf.money}, request=request)
    return Response.html(html, status=status)


async def lcpf_explorer(datasette, request):
    db = await _database(datasette, request)
    if db is None:
        return Response.text("This database has no LCPF tables", status=404)
    context = await db.execute_fn(lambda conn: lcpf.explorer_context(conn, request.args))
    status = 400 if context["errors"] else 200
    fmt = request.url_vars.get("format")
    if fmt == "json":
        keys = ("label", "parameters", "errors", "rows", "inner_outer")
        return Response.json({k: context.get(k) for k in keys}, status=status)
    if fmt == "csv":
        return Response(lcpf.explorer_csv(context), status=status, content_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="lcpf-modelled-allocations.csv"'})
    query = request.query_string
    html = await datasette.render_template(
        "lcpf_explorer.html",
        {**context, "database": db.name, "money": lcpf.money, "query": ("?" + query) if query else ""},
        request=request,
    )
    return Response.html(html, status=status)


@hookimpl
def register_routes():
    return [
        (r"^/(?P<database>[^/.]+)/-/lcpf$", lcpf_overview),
        (r"^/(?P<database>[^/.]+)/-/lcpf-explorer(\.(?P<format>json|csv))?$", lcpf_explorer),
    ]
