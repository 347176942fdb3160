"""VRU programme page (issue 6): /<database>/-/vru-programme?programme=NAME shows the description, target group,
money over time, boroughs, KPIs, reach and cost-benefit with its method. The data comes from
plugins/view_models/vru.py (programme_profile); this file only routes and renders."""

from datasette import hookimpl
from datasette.utils.asgi import Response

from plugins.view_models import vru


async def vru_programme(datasette, request):
    try:
        db = datasette.get_database(request.url_vars["database"])
    except KeyError:
        return Response.text("No such database", status=404)
    if "vru_funding" not in await db.table_names():
        return Response.text("This database has no VRU tables", status=404)
    name = request.args.get("programme") or ""
    profile = await db.execute_fn(lambda conn: vru.programme_profile(conn, name))
    if profile is None:
        names = [r[0] for r in await db.execute("select programme from vru_programmes order by programme")]
        html = await datasette.render_template(
            "vru_programme.html", {"database": db.name, "missing": name, "programmes": names}, request=request
        )
        return Response.html(html, status=404)
    html = await datasette.render_template(
        "vru_programme.html", {"database": db.name, "p": profile, "money": vru.money}, request=request
    )
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/(?P<database>[^/.]+)/-/vru-programme$", vru_programme)]
