"""The /coverage page (issue 13): data from plugins/view_models/coverage.py; the template only displays it."""

from datasette import hookimpl

from plugins.view_models import coverage


@hookimpl
def extra_template_vars(template, request, datasette):
    if template != "pages/coverage.html" or request is None:
        return {}

    async def inner():
        usable = [name for name in datasette.databases if name != "_internal"
                  and "publication_coverage" in await datasette.get_database(name).table_names()]
        if not usable:
            return {"coverage": None}
        chosen = request.args.get("db")
        db_name = chosen if chosen in usable else ("commissioning" if "commissioning" in usable else usable[0])
        sections = await datasette.get_database(db_name).execute_fn(coverage.coverage_sections)
        return {"coverage": {"db": db_name, "databases": usable, "sections": sections,
                             "synthetic": db_name != "commissioning"}}

    return inner
